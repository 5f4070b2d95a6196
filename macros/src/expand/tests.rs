//! The expansion's tests: generated code, code hashes and error messages.

use super::*;

/// An expansion as a string, tokens separated by spaces.
fn expand_str(attr: TokenStream, item: TokenStream) -> String {
    expand(attr, item).to_string()
}

/// The messages of the `compile_error!`s in an expansion.
fn errors_of(attr: TokenStream, item: TokenStream) -> Vec<String> {
    let tokens: Vec<TokenTree> = expand(attr, item).into_iter().collect();
    tokens
        .windows(3)
        .filter_map(|w| match w {
            [TokenTree::Ident(i), TokenTree::Punct(bang), TokenTree::Group(g)]
                if i == "compile_error" && bang.as_char() == '!' =>
            {
                Some(syn::parse2::<LitStr>(g.stream()).expect("a message").value())
            }
            _ => None,
        })
        .collect()
}

/// The `code_hash` of an expansion.
fn hash_of(attr: &str, item: &str) -> String {
    let out = expand_str(attr.parse().unwrap(), item.parse().unwrap());
    let at = out.find("code_hash :").expect("a hash");
    out[at..].split('"').nth(1).expect("quoted").to_string()
}

fn simple_fn() -> TokenStream {
    quote!(
        fn f(a: i64) -> i64 {
            a
        }
    )
}

#[test]
fn expands_to_function_plus_node_struct() {
    let out = expand_str(
        quote!(output = "cleaned_text"),
        quote!(
            pub fn clean_text(passage: &str, n: &Vec<i64>, k: i64, s: &[u8]) -> String {
                passage.to_string()
            }
        ),
    );
    assert!(out.starts_with("pub fn clean_text"), "{out}");
    assert!(out.contains("pub struct clean_text { }"), "{out}");
    assert!(out.contains("impl clean_text {"), "{out}");
    assert!(out.contains("pub fn node () -> :: hypernodes :: Node"), "{out}");
    assert!(out.contains(":: hypernodes :: __private :: sync_node"), "{out}");
    assert!(
        out.contains("let __arg0 : & str = :: hypernodes :: __private :: arg_str (__args [0usize]) ?"),
        "{out}"
    );
    assert!(
        out.contains(
            "let __arg1 : & Vec < i64 > = :: hypernodes :: __private :: arg_ref :: < Vec < i64 > > (__args [1usize]) ?"
        ),
        "{out}"
    );
    assert!(
        out.contains("let __arg2 : i64 = :: hypernodes :: __private :: arg_clone :: < i64 > (__args [2usize]) ?"),
        "{out}"
    );
    assert!(
        out.contains(
            "let __arg3 = :: hypernodes :: __private :: arg_ref :: < :: std :: vec :: Vec < u8 > > (__args [3usize]) ? . as_slice ()"
        ),
        "{out}"
    );
    assert!(
        out.contains("let __out = clean_text (__arg0 , __arg1 , __arg2 , __arg3) ;"),
        "{out}"
    );
    assert!(
        out.contains("params : & [\"passage\" , \"n\" , \"k\" , \"s\"]"),
        "{out}"
    );
    assert!(
        out.contains("with_hasher ((&& :: hypernodes :: __private :: TypeProbe :: < :: std :: string :: String > :: new ()) . type_info () , (&& & :: hypernodes :: __private :: HashProbe :: < :: std :: string :: String > :: new ()) . hasher ()) , :: hypernodes :: __private :: with_hasher ((&& :: hypernodes :: __private :: TypeProbe :: < Vec < i64 > >"),
        "{out}"
    );
    assert!(out.contains("outputs : & [\"cleaned_text\"]"), "{out}");
    assert!(out.contains("name : \"clean_text\""), "{out}");
    assert!(out.contains("cache : true"), "{out}");
    assert!(
        out.contains("NodeOutputs :: from_iter ([:: hypernodes :: __private :: Value :: new (__out)])"),
        "{out}"
    );
}

#[test]
fn lifetimes_become_static_and_raw_names_lose_their_prefix() {
    let out = expand_str(
        quote!(),
        quote!(
            fn r#match<'a>(r#type: &'a str, item: &'a Item<'a>, text: Cow<'a, str>) -> Cow<'a, str> {
                text
            }
        ),
    );
    let node = &out[out.find("struct r#match").expect("the struct")..];
    assert!(!node.contains("'a"), "{node}");
    assert!(node.contains("params : & [\"type\" , \"item\" , \"text\"]"), "{node}");
    assert!(node.contains("outputs : & [\"match\"]"), "{node}");
    assert!(node.contains("arg_str (__args [0usize])"), "{node}");
    assert!(
        node.contains("arg_ref :: < Item < 'static > > (__args [1usize])"),
        "{node}"
    );
    assert!(
        node.contains("arg_clone :: < Cow < 'static , str > > (__args [2usize])"),
        "{node}"
    );
    assert!(
        node.contains("TypeProbe :: < Cow < 'static , str > > :: new ()"),
        "{node}"
    );
    assert!(
        node.contains("let __out = r#match (__arg0 , __arg1 , __arg2)"),
        "{node}"
    );
}

#[test]
fn output_defaults_to_the_function_name_and_options_apply() {
    let out = expand_str(
        quote!(cache = false, name = "renamed"),
        quote!(
            pub(crate) fn shout(t: String) -> String {
                t
            }
        ),
    );
    assert!(out.contains("outputs : & [\"shout\"]"), "{out}");
    assert!(out.contains("name : \"renamed\""), "{out}");
    assert!(out.contains("cache : false"), "{out}");
    assert!(out.contains("pub (crate) struct shout { }"), "{out}");
    assert!(out.contains("pub (crate) fn node ()"), "{out}");
}

#[test]
fn tuples_split_and_results_propagate() {
    let out = expand_str(
        quote!(output = ("q", "r")),
        quote!(
            fn divmod(a: i64, b: i64) -> Result<(i64, u8), String> {
                Ok((a, 0))
            }
        ),
    );
    assert!(out.contains("outputs : & [\"q\" , \"r\"]"), "{out}");
    assert!(out.contains("let (__out0 , __out1 ,) = __out"), "{out}");
    assert!(
        out.contains("from_iter ([:: hypernodes :: __private :: Value :: new (__out0) , :: hypernodes :: __private :: Value :: new (__out1)])"),
        "{out}"
    );
    assert!(
        out.contains("output_types : :: std :: vec ! [:: hypernodes :: __private :: with_hasher ((&& :: hypernodes :: __private :: TypeProbe :: < i64 > :: new ()) . type_info () , (&& & :: hypernodes :: __private :: HashProbe :: < i64 > :: new ()) . hasher ()) , :: hypernodes :: __private :: with_hasher ((&& :: hypernodes :: __private :: TypeProbe :: < u8 > :: new ()) . type_info () , (&& & :: hypernodes :: __private :: HashProbe :: < u8 > :: new ()) . hasher ())]"),
        "{out}"
    );
    assert!(
        out.contains("KernelProbe :: < (:: hypernodes :: __private :: Own < i64 > , :: hypernodes :: __private :: Own < i64 > ,) , :: hypernodes :: __private :: Many < (i64 , u8 ,) > , _ >"),
        "{out}"
    );
    assert!(
        out.contains("let __out = divmod (__arg0 , __arg1) . map_err (:: hypernodes :: __private :: box_err) ?"),
        "{out}"
    );
}

#[test]
fn retries_backoff_and_timeout_reach_the_spec() {
    let out = expand(quote!(retries = 3, backoff = "100ms", timeout = "2s"), simple_fn()).to_string();
    assert!(
        out.contains("retry : :: std :: option :: Option :: Some (:: hypernodes :: __private :: Retry :: new (3u32 , :: std :: time :: Duration :: from_nanos (100000000u64)))"),
        "{out}"
    );
    assert!(
        out.contains(
            "timeout : :: std :: option :: Option :: Some (:: std :: time :: Duration :: from_nanos (2000000000u64))"
        ),
        "{out}"
    );
}

#[test]
fn async_functions_use_async_node() {
    let out = expand_str(
        quote!(),
        quote!(
            async fn fetch(url: &str) -> std::io::Result<String> {
                Ok(url.to_owned())
            }
        ),
    );
    assert!(out.contains(":: hypernodes :: __private :: async_node"), "{out}");
    assert!(
        out.contains("| __args : :: std :: vec :: Vec < :: hypernodes :: __private :: Value > | -> :: hypernodes :: __private :: BoxFuture"),
        "{out}"
    );
    assert!(out.contains(":: std :: boxed :: Box :: pin (async move {"), "{out}");
    assert!(
        out.contains("let __arg0 : & str = :: hypernodes :: __private :: arg_str (& __args [0usize]) ?"),
        "{out}"
    );
    assert!(
        out.contains("fetch (__arg0) . await . map_err (:: hypernodes :: __private :: box_err) ?"),
        "{out}"
    );
    assert!(out.contains("TypeProbe :: < String >"), "{out}");
    assert!(out.contains("kernel : :: std :: option :: Option :: None"), "{out}");
}

#[test]
fn a_batch_option_gives_a_batch_kernel() {
    let out = expand_str(
        quote!(batch = kernels::scale),
        quote!(
            fn scale(x: f64) -> f64 {
                x * 2.0
            }
        ),
    );
    assert!(
        out.contains("kernel : { :: hypernodes :: __private :: batch_param :: < f64 > () ; :: hypernodes :: __private :: batch_kernel (:: std :: vec ! [< f64 as :: hypernodes :: __private :: Columnar > :: data_type ()] , | __batch | kernels :: scale (__batch) ,) }"),
        "{out}"
    );
}

#[test]
fn cfg_attributes_apply_to_the_node_too() {
    let out = expand_str(
        quote!(),
        quote!(
            #[cfg(feature = "extra")]
            fn f(a: i64) -> i64 {
                a
            }
        ),
    );
    assert!(
        out.contains("# [cfg (feature = \"extra\")] # [allow (non_camel_case_types)]"),
        "{out}"
    );
    assert!(out.contains("# [cfg (feature = \"extra\")] impl f"), "{out}");
}

#[test]
fn option_errors() {
    assert_eq!(
        errors_of(quote!(outptu = "x"), simple_fn()),
        [
            "unknown #[node] option `outptu`; valid options: output, name, cache, version, batch, retries, backoff, timeout"
        ]
    );
    assert_eq!(
        errors_of(quote!(output = "x", output = "y"), simple_fn()),
        ["duplicate #[node] option `output`"]
    );
    assert_eq!(
        errors_of(
            quote!(output = ("x", "y", "x")),
            quote!(
                fn f(a: i64) -> (i64, i64, i64) {
                    (a, a, a)
                }
            )
        ),
        ["#[node] output `x` is named twice"]
    );
    assert_eq!(
        errors_of(quote!(output = ""), simple_fn()),
        ["#[node] output names cannot be empty"]
    );
    assert_eq!(
        errors_of(quote!(retries = 2, backoff = "100 parsecs"), simple_fn()),
        [
            "cannot read \"100 parsecs\" as a duration (unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); write it like \"100ms\", \"2s\" or \"1m\""
        ]
    );
    assert_eq!(
        errors_of(quote!(backoff = "1s"), simple_fn()),
        ["#[node] option `backoff` needs `retries`: the wait comes between retries"]
    );
    assert_eq!(
        errors_of(quote!(retries = -1), simple_fn()),
        ["invalid digit found in string"]
    );
    assert_eq!(
        errors_of(quote!(output = ()), simple_fn()),
        ["#[node] needs at least one output name"]
    );
    assert_eq!(
        errors_of(quote!(name = ""), simple_fn()),
        ["#[node] name cannot be empty"]
    );
    assert_eq!(
        errors_of(quote!(cache = "no"), simple_fn()),
        ["expected boolean literal"]
    );
}

#[test]
fn every_bad_option_is_reported_at_once() {
    assert_eq!(
        errors_of(
            quote!(a::b = 1, cache = false, cache = true, output = 5, version = "2"),
            simple_fn()
        ),
        [
            "unknown #[node] option `a::b`; valid options: output, name, cache, version, batch, retries, backoff, timeout",
            "duplicate #[node] option `cache`",
            "expected string literal",
        ]
    );
}

#[test]
fn signature_errors() {
    let cases = [
        (
            quote!(),
            quote!(
                fn f(a: i64) {}
            ),
            "a node must return a value: add a return type",
        ),
        (
            quote!(output = ("q", "r")),
            simple_fn(),
            "node declares 2 outputs (q, r) but returns `i64`; return a tuple of 2 values",
        ),
        (
            quote!(output = ("q", "r")),
            quote!(
                fn f(a: i64) -> Result<(i64, Vec<u8>, i64), E> {
                    Ok((a, Vec::new(), a))
                }
            ),
            "node declares 2 outputs (q, r) but returns `(i64, Vec<u8>, i64)`; return a tuple of 2 values",
        ),
        (
            quote!(),
            quote!(
                fn f(a: &mut i64) -> i64 {
                    1
                }
            ),
            "#[node] parameters cannot be `&mut`: inputs are shared between nodes",
        ),
        (
            quote!(),
            quote!(
                fn f((a, b): (i64, i64)) -> i64 {
                    a
                }
            ),
            "#[node] parameters must be plain names (the name is the input it reads), not patterns",
        ),
        (
            quote!(),
            quote!(
                fn f(&self) -> i64 {
                    1
                }
            ),
            "#[node] goes on a free function: `self` parameters are not supported",
        ),
        (
            quote!(),
            quote!(
                fn f<T: Clone>(a: T) -> i64 {
                    1
                }
            ),
            "#[node] functions cannot be generic: a node's types must be concrete",
        ),
        (
            quote!(),
            quote!(
                fn f<const N: usize>(a: [u8; N]) -> i64 {
                    1
                }
            ),
            "#[node] functions cannot be generic: a node's types must be concrete",
        ),
        (
            quote!(),
            quote!(
                fn f(x: &impl Clone) -> i64 {
                    1
                }
            ),
            "#[node] parameters need concrete types, not `impl Trait`",
        ),
        (
            quote!(),
            quote!(
                unsafe fn f(a: i64) -> i64 {
                    a
                }
            ),
            "#[node] functions cannot be `unsafe`: the node calls them from safe code",
        ),
        (
            quote!(),
            quote!(
                unsafe extern "C" fn f(a: i64, ...) -> i64 {
                    a
                }
            ),
            "#[node] functions cannot be variadic",
        ),
        (
            quote!(),
            quote!(
                struct S;
            ),
            "#[node] goes on a free function",
        ),
        (
            quote!(),
            quote!(
                impl S {}
            ),
            "#[node] goes on a free function",
        ),
    ];
    for (attr, item, expected) in cases {
        let errors = errors_of(attr, item.clone());
        assert!(errors.iter().any(|e| e == expected), "{item}: {errors:?}");
    }
}

#[test]
fn every_signature_error_is_reported_at_once() {
    assert_eq!(
        errors_of(
            quote!(output = ("x", "x"), nope = 1),
            quote!(
                fn f<T>(a: &mut i64, (b, c): (i64, i64)) {}
            )
        ),
        [
            "unknown #[node] option `nope`; valid options: output, name, cache, version, batch, retries, backoff, timeout",
            "#[node] functions cannot be generic: a node's types must be concrete",
            "#[node] parameters cannot be `&mut`: inputs are shared between nodes",
            "#[node] parameters must be plain names (the name is the input it reads), not patterns",
            "#[node] output `x` is named twice",
            "a node must return a value: add a return type",
        ]
    );
}

#[test]
fn on_error_only_the_function_and_the_errors_are_emitted() {
    let item = quote!(
        fn keep_me(a: i64) -> i64 {
            a
        }
    );
    let out = expand_str(quote!(bogus = 1), item.clone());
    let item = item.to_string();
    assert!(out.starts_with(&item), "{out}");
    assert!(
        out[item.len()..].trim_start().starts_with(":: core :: compile_error !"),
        "{out}"
    );
    assert!(!out.contains("struct keep_me"), "{out}");
}

#[test]
fn code_hash_follows_tokens_version_and_options() {
    let item = "fn f(a: i64) -> i64 { a + 1 }";
    let base = hash_of("", item);
    assert_eq!(base.len(), 64);
    assert!(
        base.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{base}"
    );
    // Same tokens: same hash.
    let respaced = "fn   f(\n    a:i64\n) -> i64 {\n    // one more\n    a+1 /* than a */\n}";
    assert_eq!(hash_of("", respaced), base);
    assert_eq!(hash_of("cache = false", item), base);
    // Anything that changes the meaning: another hash.
    let others = [
        hash_of("version = \"2\"", item),
        hash_of("", "fn f(a: i64) -> i64 { a + 2 }"),
        hash_of("", "/// Docs are attributes.\nfn f(a: i64) -> i64 { a + 1 }"),
        hash_of("output = \"g\"", item),
        hash_of("name = \"g\"", item),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(*other, base, "case {i}");
        assert!(others[..i].iter().all(|o| o != other), "case {i}");
    }
}
