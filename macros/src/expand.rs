//! The expansion of `#[node]`: signature analysis and code generation.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, ItemFn, LitStr, Pat, ReturnType, Type};

use crate::errors::Errors;
use crate::options::Options;

/// Expands `#[node(attr)] item`. On error the item is still emitted unchanged, next to
/// the errors, so that only the real problem shows.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            // Another kind of item; or, rarely, a function syn cannot parse, which its own
            // error describes best.
            let error = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(_) => syn::Error::new_spanned(&item, "#[node] goes on a free function"),
                Err(_) => error,
            };
            let compile_error = error.to_compile_error();
            return quote!(#item #compile_error);
        }
    };
    let errors = Errors::default();
    let opts = Options::parse(attr, &errors);
    let sig = Signature::analyze(&func, &opts, &errors);
    match errors.check() {
        Ok(()) => generate(&func, &item, &opts, &sig),
        Err(error) => {
            let compile_error = error.to_compile_error();
            quote!(#item #compile_error)
        }
    }
}

/// What the function's signature says about the node.
struct Signature {
    params: Vec<Param>,
    /// The output names.
    outputs: Vec<String>,
    /// The returned value (the `Ok` type of a `Result`).
    value_ty: Type,
    /// The type of each output: `value_ty`, or its elements for several outputs.
    output_types: Vec<Type>,
    /// Whether the function returns a `Result`.
    fallible: bool,
}

/// One parameter of the function.
struct Param {
    /// The input's name: the identifier as written, without `r#`.
    name: String,
    /// The type of the value the node reads.
    stored: Type,
    read: Read,
}

/// How a parameter is read from its value.
enum Read {
    /// `&str`: a `String` value borrowed as `&str`.
    Str,
    /// `&[T]`: a `Vec<T>` value borrowed as a slice (the element type, `T`).
    Slice(Box<Type>),
    /// `&T`: borrowed.
    Ref,
    /// `T`: cloned.
    Clone,
}

impl Signature {
    /// Checks the function against what a node can be, pushing every problem to `errors`.
    fn analyze(func: &ItemFn, opts: &Options, errors: &Errors) -> Signature {
        let sig = &func.sig;
        for param in &sig.generics.params {
            if !matches!(param, GenericParam::Lifetime(_)) {
                errors.push_spanned(
                    param,
                    "#[node] functions cannot be generic: a node's types must be concrete",
                );
            }
        }
        if let Some(unsafety) = &sig.unsafety {
            errors.push_spanned(
                unsafety,
                "#[node] functions cannot be `unsafe`: the node calls them from safe code",
            );
        }
        if let Some(variadic) = &sig.variadic {
            errors.push_spanned(variadic, "#[node] functions cannot be variadic");
        }
        if let Some(name) = opts.name.as_ref().filter(|n| n.value().is_empty()) {
            errors.push_spanned(name, "#[node] name cannot be empty");
        }
        // The function's own lifetimes are not in scope in `node()`: stored types read them
        // as `'static`, which values are anyway.
        let lifetimes: Vec<&Ident> = sig.generics.lifetimes().map(|l| &l.lifetime.ident).collect();
        let params = sig
            .inputs
            .iter()
            .filter_map(|arg| Param::analyze(arg, &lifetimes, errors))
            .collect();
        let outputs = output_names(func, opts, errors);
        let (value_ty, fallible) = match &sig.output {
            ReturnType::Default => {
                errors.push_spanned(sig, "a node must return a value: add a return type");
                (syn::parse_quote!(()), false)
            }
            ReturnType::Type(_, ty) => value_type(ty),
        };
        let value_ty = static_lifetimes(&value_ty, &lifetimes);
        // (Without a return type, that is the error; no arity error on top.)
        let output_types = if outputs.len() <= 1 || matches!(sig.output, ReturnType::Default) {
            vec![value_ty.clone()]
        } else {
            match peel(&value_ty) {
                Type::Tuple(tuple) if tuple.elems.len() == outputs.len() => tuple.elems.iter().cloned().collect(),
                other => {
                    let n = outputs.len();
                    errors.push_spanned(
                        other,
                        format_args!(
                            "node declares {n} outputs ({}) but returns `{}`; return a tuple of {n} values",
                            outputs.join(", "),
                            shown(other),
                        ),
                    );
                    Vec::new()
                }
            }
        };
        Signature {
            params,
            outputs,
            value_ty,
            output_types,
            fallible,
        }
    }
}

impl Param {
    fn analyze(arg: &FnArg, lifetimes: &[&Ident], errors: &Errors) -> Option<Param> {
        let typed = match arg {
            FnArg::Receiver(receiver) => {
                errors.push_spanned(
                    receiver,
                    "#[node] goes on a free function: `self` parameters are not supported",
                );
                return None;
            }
            FnArg::Typed(typed) => typed,
        };
        let name = match &*typed.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(unraw(&p.ident)),
            other => {
                errors.push_spanned(
                    other,
                    "#[node] parameters must be plain names (the name is the input it reads), not patterns",
                );
                None
            }
        };
        if contains_impl(typed.ty.to_token_stream()) {
            errors.push_spanned(&typed.ty, "#[node] parameters need concrete types, not `impl Trait`");
            return None;
        }
        let (stored, read) = match peel(&typed.ty) {
            Type::Reference(r) if r.mutability.is_some() => {
                errors.push_spanned(
                    r,
                    "#[node] parameters cannot be `&mut`: inputs are shared between nodes",
                );
                return None;
            }
            Type::Reference(r) => match peel(&r.elem) {
                Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
                    (syn::parse_quote!(::std::string::String), Read::Str)
                }
                Type::Slice(slice) => {
                    let elem = &slice.elem;
                    let elem = static_lifetimes(elem, lifetimes);
                    (syn::parse_quote!(::std::vec::Vec<#elem>), Read::Slice(Box::new(elem)))
                }
                elem => (elem.clone(), Read::Ref),
            },
            ty => (ty.clone(), Read::Clone),
        };
        Some(Param {
            name: name?,
            stored: static_lifetimes(&stored, lifetimes),
            read,
        })
    }
}

/// The output names (default: the function's name), checked.
fn output_names(func: &ItemFn, opts: &Options, errors: &Errors) -> Vec<String> {
    let ident = &func.sig.ident;
    let default;
    let (names, span) = match &opts.outputs {
        Some((names, span)) => (names.as_slice(), *span),
        None => {
            default = [LitStr::new(&unraw(ident), ident.span())];
            (&default[..], ident.span())
        }
    };
    if names.is_empty() {
        errors.push(span, "#[node] needs at least one output name");
    }
    for (i, lit) in names.iter().enumerate() {
        let name = lit.value();
        if name.is_empty() {
            errors.push_spanned(lit, "#[node] output names cannot be empty");
        } else if names[..i].iter().any(|earlier| earlier.value() == name) {
            errors.push_spanned(lit, format_args!("#[node] output `{name}` is named twice"));
        }
    }
    names.iter().map(LitStr::value).collect()
}

/// The value type of a return type, and whether it is a `Result` (by its last path
/// segment, so `io::Result<T>` and `anyhow::Result<T>` count).
fn value_type(ret: &Type) -> (Type, bool) {
    if let Type::Path(p) = peel(ret) {
        if let Some(last) = p.path.segments.last().filter(|s| s.ident == "Result") {
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                if let Some(syn::GenericArgument::Type(ok)) = args.args.first() {
                    return (ok.clone(), true);
                }
            }
        }
    }
    (ret.clone(), false)
}

/// A type without the invisible groups of `macro_rules!` fragments and redundant parens.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        ty => ty,
    }
}

/// An identifier as a name, without `r#`.
fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

/// Whether the tokens hold `impl` (in a type: an `impl Trait`).
fn contains_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}

/// `ty` with the given lifetimes replaced by `'static`.
fn static_lifetimes(ty: &Type, lifetimes: &[&Ident]) -> Type {
    fn replace(tokens: TokenStream, lifetimes: &[&Ident]) -> TokenStream {
        let mut after_apostrophe = false;
        tokens
            .into_iter()
            .map(|token| {
                let apostrophe = matches!(&token, TokenTree::Punct(p) if p.as_char() == '\'');
                let token = match token {
                    TokenTree::Ident(ident) if after_apostrophe && lifetimes.iter().any(|l| **l == ident) => {
                        Ident::new("static", ident.span()).into()
                    }
                    TokenTree::Group(group) => {
                        let mut replaced = Group::new(group.delimiter(), replace(group.stream(), lifetimes));
                        replaced.set_span(group.span());
                        replaced.into()
                    }
                    token => token,
                };
                after_apostrophe = apostrophe;
                token
            })
            .collect()
    }
    if lifetimes.is_empty() {
        return ty.clone();
    }
    syn::parse2(replace(ty.to_token_stream(), lifetimes)).unwrap_or_else(|_| ty.clone())
}

/// Tokens as a person would write them, for messages: `Vec<(i64, u8)>`, not
/// `Vec < (i64 , u8) >`.
pub(crate) fn shown(tokens: &impl ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// The code hash: blake3 of the function's tokens, then the version and the options that
/// change what the node means, each after a NUL. Whitespace and comments are not tokens.
fn code_hash(func: &ItemFn, opts: &Options, outputs: &[String]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(func.to_token_stream().to_string().as_bytes());
    let name = opts.name.as_ref().map(LitStr::value).unwrap_or_default();
    let batch = opts
        .batch
        .as_ref()
        .map(|b| b.to_token_stream().to_string())
        .unwrap_or_default();
    for part in [opts.version.as_deref().unwrap_or(""), &outputs.join(","), &name, &batch] {
        hasher.update(b"\0").update(part.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// A local of the generated code, invisible to (and unshadowable by) the user's names.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// The function, unchanged, and its node struct.
fn generate(func: &ItemFn, item: &TokenStream, opts: &Options, sig: &Signature) -> TokenStream {
    let pv = quote!(::hypernodes::__private);
    let fn_ident = &func.sig.ident;
    let fn_name = unraw(fn_ident);
    let is_async = func.sig.asyncness.is_some();
    let outputs = &sig.outputs;
    let output_types = &sig.output_types;
    let value_ty = &sig.value_ty;
    let node_name = opts.name.as_ref().map_or(fn_name.clone(), LitStr::value);
    let cache = opts.cache.unwrap_or(true);
    let retry = match (opts.retries, opts.backoff) {
        (Some(n), backoff) => {
            let backoff = backoff.map_or(0, |(ns, _)| ns);
            quote!(::std::option::Option::Some(#pv::Retry::new(#n, ::std::time::Duration::from_nanos(#backoff))))
        }
        (None, _) => quote!(::std::option::Option::None),
    };
    let timeout = match opts.timeout {
        Some(ns) => quote!(::std::option::Option::Some(::std::time::Duration::from_nanos(#ns))),
        None => quote!(::std::option::Option::None),
    };
    let code_hash = code_hash(func, opts, outputs);
    let param_names = sig.params.iter().map(|p| &p.name);
    let param_types = sig.params.iter().map(|p| &p.stored);

    let args = local("__args");
    let out = local("__out");
    let batch_args = local("__batch");
    let vars: Vec<Ident> = (0..sig.params.len()).map(|i| local(&format!("__arg{i}"))).collect();

    // Reading the arguments, spanned at each parameter's type so a missing `Clone` or a
    // wrong type points there.
    let reads = sig.params.iter().zip(&vars).enumerate().map(|(i, (p, var))| {
        let stored = &p.stored;
        let arg = if is_async {
            quote!(&#args[#i])
        } else {
            quote!(#args[#i])
        };
        let span = stored.span();
        match p.read {
            Read::Str => quote_spanned!(span=> let #var: &str = #pv::arg_str(#arg)?;),
            Read::Slice(_) => quote_spanned!(span=> let #var = #pv::arg_ref::<#stored>(#arg)?.as_slice();),
            Read::Ref => quote_spanned!(span=> let #var: &#stored = #pv::arg_ref::<#stored>(#arg)?;),
            Read::Clone => quote_spanned!(span=> let #var: #stored = #pv::arg_clone::<#stored>(#arg)?;),
        }
    });
    let awaited = if is_async { quote!(.await) } else { quote!() };
    let call = if sig.fallible {
        quote!(#fn_ident(#(#vars),*)#awaited.map_err(#pv::box_err)?)
    } else {
        quote!(#fn_ident(#(#vars),*)#awaited)
    };
    let wrap = if outputs.len() == 1 {
        quote!(#pv::NodeOutputs::from_iter([#pv::Value::new(#out)]))
    } else {
        let parts: Vec<Ident> = (0..outputs.len()).map(|i| local(&format!("__out{i}"))).collect();
        quote!({
            let (#(#parts,)*) = #out;
            #pv::NodeOutputs::from_iter([#(#pv::Value::new(#parts)),*])
        })
    };

    // The columnar kernel: a glue closure taking what a lifted loop reads from Arrow
    // arrays (`&str` borrowed, other values owned), probed at compile time.
    let kernel = if let Some(batch) = &opts.batch {
        // A batch implementation written by the user (the "dual node"). It receives every
        // argument in Arrow, so every parameter must be columnar: a compile error at the
        // parameter's type otherwise.
        let columnar = sig.params.iter().map(|p| {
            let stored = &p.stored;
            quote_spanned!(stored.span()=> #pv::batch_param::<#stored>();)
        });
        quote! {{
            #(#columnar)*
            #pv::batch_kernel(
                ::std::vec![#(<#output_types as #pv::Columnar>::data_type()),*],
                |#batch_args| #batch(#batch_args),
            )
        }}
    } else if is_async {
        quote!(::std::option::Option::None)
    } else {
        let kinds = sig.params.iter().map(|p| {
            let stored = &p.stored;
            match p.read {
                Read::Str => quote!(#pv::Str),
                Read::Slice(ref elem) => quote!(#pv::Slice<#elem>),
                _ => quote!(#pv::Own<#stored>),
            }
        });
        let glue_params = sig.params.iter().zip(&vars).map(|(p, var)| {
            let stored = &p.stored;
            match p.read {
                Read::Str => quote!(#var: &str),
                Read::Slice(ref elem) => quote!(#var: ::std::borrow::Cow<'_, [#elem]>),
                _ => quote!(#var: #stored),
            }
        });
        let glue_args = sig.params.iter().zip(&vars).map(|(p, var)| match p.read {
            Read::Str | Read::Clone => quote!(#var),
            Read::Ref | Read::Slice(_) => quote!(&#var),
        });
        let outs = if outputs.len() == 1 {
            quote!(#pv::One<#value_ty>)
        } else {
            quote!(#pv::Many<(#(#output_types,)*)>)
        };
        let glue_call = if sig.fallible {
            quote!(#fn_ident(#(#glue_args),*).map_err(#pv::box_err))
        } else {
            quote!(::std::result::Result::Ok(#fn_ident(#(#glue_args),*)))
        };
        quote! {
            (&&#pv::KernelProbe::<(#(#kinds,)*), #outs, _>::new(
                |#(#glue_params),*| -> ::std::result::Result<#value_ty, #pv::BoxError> { #glue_call },
            ))
            .kernel()
        }
    };

    let spec = quote! {
        #pv::NodeSpec {
            name: #node_name,
            params: &[#(#param_names),*],
            param_types: ::std::vec![#(#pv::with_hasher(
                (&&#pv::TypeProbe::<#param_types>::new()).type_info(),
                (&&&#pv::HashProbe::<#param_types>::new()).hasher()
            )),*],
            outputs: &[#(#outputs),*],
            output_types: ::std::vec![#(#pv::with_hasher(
                (&&#pv::TypeProbe::<#output_types>::new()).type_info(),
                (&&&#pv::HashProbe::<#output_types>::new()).hasher()
            )),*],
            code_hash: #code_hash,
            cache: #cache,
            kernel: #kernel,
            retry: #retry,
            timeout: #timeout,
        }
    };
    let make = if is_async {
        quote! {
            #pv::async_node(#spec, |#args: ::std::vec::Vec<#pv::Value>| -> #pv::BoxFuture {
                ::std::boxed::Box::pin(async move {
                    #(#reads)*
                    let #out = #call;
                    ::std::result::Result::Ok(#wrap)
                })
            })
        }
    } else {
        quote! {
            #pv::sync_node(#spec, |#args: &[&#pv::Value]| -> ::std::result::Result<#pv::NodeOutputs, #pv::BoxError> {
                #(#reads)*
                let #out = #call;
                ::std::result::Result::Ok(#wrap)
            })
        }
    };

    let vis = &func.vis;
    // A `#[cfg]` written after `#[node]` reaches the macro: the node follows the function.
    let cfgs = func.attrs.iter().filter(|a| a.path().is_ident("cfg"));
    let cfgs = quote!(#(#cfgs)*);
    let doc = format!("The pipeline node of [`{fn_name}`](fn@{fn_ident}): call `{fn_ident}::node()`.");
    quote! {
        #item

        #cfgs
        #[allow(non_camel_case_types)]
        #[doc = #doc]
        #vis struct #fn_ident {}

        #cfgs
        impl #fn_ident {
            /// Returns this function as a pipeline node.
            #[allow(clippy::needless_borrow)]
            #vis fn node() -> ::hypernodes::Node {
                #[allow(unused_imports)]
                use ::hypernodes::__private::{
                    ViaAnyType as _, ViaColumnarType as _, ViaKernel as _, ViaNoHash as _, ViaNoKernel as _,
                    ViaSerialize as _, ViaStableHash as _,
                };
                #make
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
            out.contains("timeout : :: std :: option :: Option :: Some (:: std :: time :: Duration :: from_nanos (2000000000u64))"),
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
            ["unknown #[node] option `outptu`; valid options: output, name, cache, version, batch, retries, backoff, timeout"]
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
            ["cannot read \"100 parsecs\" as a duration (unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); write it like \"100ms\", \"2s\" or \"1m\""]
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
}
