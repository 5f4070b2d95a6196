//! The expansion of `#[node]`: option parsing, signature analysis, code generation.

use std::cell::RefCell;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, ItemFn, LitBool, LitStr, Pat, ReturnType, Type};

const OPTIONS: &str = "output, name, cache, version, batch";

/// Collects every error of one expansion so they are reported together
/// (after serde_derive's `Ctxt`).
#[derive(Default)]
struct Errors {
    errors: RefCell<Vec<syn::Error>>,
}

impl Errors {
    fn push(&self, span: Span, message: impl std::fmt::Display) {
        self.errors.borrow_mut().push(syn::Error::new(span, message));
    }

    fn add(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    fn into_result(self) -> Result<(), syn::Error> {
        let mut errors = self.errors.into_inner().into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                for e in errors {
                    first.combine(e);
                }
                Err(first)
            }
        }
    }
}

/// The parsed options.
#[derive(Default)]
struct Options {
    outputs: Option<(Vec<String>, Span)>,
    name: Option<String>,
    cache: Option<bool>,
    version: Option<String>,
    batch: Option<syn::Path>,
}

fn parse_options(attr: TokenStream, errors: &Errors) -> Options {
    let mut opts = Options::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        let duplicate = || meta.error(format_args!("duplicate #[node] option `{key}`"));
        match key.as_str() {
            "output" => {
                if opts.outputs.is_some() {
                    return Err(duplicate());
                }
                let value = meta.value()?;
                let span = value.span();
                let names = if value.peek(syn::token::Paren) {
                    let content;
                    syn::parenthesized!(content in value);
                    let lits = content.parse_terminated(|s| s.parse::<LitStr>(), syn::Token![,])?;
                    lits.iter().map(LitStr::value).collect()
                } else {
                    vec![value.parse::<LitStr>()?.value()]
                };
                opts.outputs = Some((names, span));
            }
            "name" => {
                if opts.name.is_some() {
                    return Err(duplicate());
                }
                opts.name = Some(meta.value()?.parse::<LitStr>()?.value());
            }
            "cache" => {
                if opts.cache.is_some() {
                    return Err(duplicate());
                }
                opts.cache = Some(meta.value()?.parse::<LitBool>()?.value);
            }
            "batch" => {
                if opts.batch.is_some() {
                    return Err(duplicate());
                }
                opts.batch = Some(meta.value()?.parse::<syn::Path>()?);
            }
            "version" => {
                if opts.version.is_some() {
                    return Err(duplicate());
                }
                opts.version = Some(meta.value()?.parse::<LitStr>()?.value());
            }
            _ => {
                let shown = meta.path.to_token_stream().to_string().replace(' ', "");
                return Err(meta.error(format_args!(
                    "unknown #[node] option `{shown}`; valid options: {OPTIONS}"
                )));
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
        errors.add(e);
    }
    opts
}

/// How a parameter is read from its value.
enum Read {
    /// `&str`: a `String` value borrowed as `&str`.
    Str,
    /// `&[T]`: a `Vec<T>` value borrowed as a slice.
    Slice,
    /// `&T`: borrowed.
    Ref,
    /// `T`: cloned.
    Clone,
}

struct Param {
    name: String,
    ident: syn::Ident,
    stored: Type,
    read: Read,
}

fn analyze_param(arg: &FnArg, errors: &Errors) -> Option<Param> {
    let typed = match arg {
        FnArg::Receiver(r) => {
            errors.push(
                r.span(),
                "#[node] goes on a free function: `self` parameters are not supported",
            );
            return None;
        }
        FnArg::Typed(t) => t,
    };
    let ident = match &*typed.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
        other => {
            errors.push(
                other.span(),
                "#[node] parameters must be plain names (the name is the input it reads), not patterns",
            );
            return None;
        }
    };
    let name = ident.to_string().trim_start_matches("r#").to_string();
    let (stored, read) = match &*typed.ty {
        Type::Reference(r) if r.mutability.is_some() => {
            errors.push(
                r.span(),
                "#[node] parameters cannot be `&mut`: inputs are shared between nodes",
            );
            return None;
        }
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
                (syn::parse_quote!(::std::string::String), Read::Str)
            }
            Type::Slice(slice) => {
                let elem = &slice.elem;
                (syn::parse_quote!(::std::vec::Vec<#elem>), Read::Slice)
            }
            elem => (elem.clone(), Read::Ref),
        },
        Type::ImplTrait(t) => {
            errors.push(t.span(), "#[node] parameters need concrete types, not `impl Trait`");
            return None;
        }
        ty => (ty.clone(), Read::Clone),
    };
    Some(Param {
        name,
        ident,
        stored,
        read,
    })
}

/// The value type of a return type, and whether it is a `Result`.
fn value_type(ret: &Type) -> (Type, bool) {
    if let Type::Path(p) = ret {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "Result" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(ok)) = args.args.first() {
                        return (ok.clone(), true);
                    }
                }
            }
        }
    }
    (ret.clone(), false)
}

/// Expands `#[node(attr)] item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new(Span::call_site(), "#[node] goes on a free function");
            let compile_error = err.to_compile_error();
            return quote!(#compile_error #item);
        }
    };
    match expand_fn(attr, &func) {
        Ok(tokens) => tokens,
        Err(err) => {
            let compile_error = err.to_compile_error();
            quote!(#func #compile_error)
        }
    }
}

fn expand_fn(attr: TokenStream, func: &ItemFn) -> Result<TokenStream, syn::Error> {
    let errors = Errors::default();
    let opts = parse_options(attr, &errors);
    let sig = &func.sig;
    let fn_ident = &sig.ident;
    let fn_name = fn_ident.to_string().trim_start_matches("r#").to_string();

    for g in &sig.generics.params {
        if !matches!(g, GenericParam::Lifetime(_)) {
            errors.push(
                g.span(),
                "#[node] functions cannot be generic: a node's types must be concrete",
            );
        }
    }
    if let Some(v) = &sig.variadic {
        errors.push(v.span(), "#[node] functions cannot be variadic");
    }
    let params: Vec<Param> = sig.inputs.iter().filter_map(|a| analyze_param(a, &errors)).collect();

    let (outputs, outputs_span) = opts
        .outputs
        .clone()
        .unwrap_or_else(|| (vec![fn_name.clone()], sig.ident.span()));
    for (i, name) in outputs.iter().enumerate() {
        if name.is_empty() {
            errors.push(outputs_span, "#[node] output names cannot be empty");
        } else if outputs[..i].contains(name) {
            errors.push(outputs_span, format_args!("#[node] output `{name}` is named twice"));
        }
    }
    if outputs.is_empty() {
        errors.push(outputs_span, "#[node] needs at least one output name");
    }

    let (value_ty, fallible) = match &sig.output {
        ReturnType::Default => {
            errors.push(sig.span(), "a node must return a value: add a return type");
            (syn::parse_quote!(()), false)
        }
        ReturnType::Type(_, ty) => value_type(ty),
    };
    let output_types: Vec<Type> = if outputs.len() > 1 {
        match &value_ty {
            Type::Tuple(t) if t.elems.len() == outputs.len() => t.elems.iter().cloned().collect(),
            other => {
                let shown = other.to_token_stream().to_string();
                errors.push(
                    other.span(),
                    format_args!(
                        "node declares {} outputs ({}) but returns `{shown}`; return a tuple of {} values",
                        outputs.len(),
                        outputs.join(", "),
                        outputs.len()
                    ),
                );
                Vec::new()
            }
        }
    } else {
        vec![value_ty.clone()]
    };
    errors.into_result()?;

    // The code hash: the function's tokens, the version, and the options that change
    // what the node means.
    let mut hasher = blake3::Hasher::new();
    hasher.update(func.to_token_stream().to_string().as_bytes());
    let batch_name = opts
        .batch
        .as_ref()
        .map(|b| b.to_token_stream().to_string())
        .unwrap_or_default();
    for part in [
        opts.version.as_deref().unwrap_or(""),
        &outputs.join(","),
        opts.name.as_deref().unwrap_or(""),
        &batch_name,
    ] {
        hasher.update(b"\0").update(part.as_bytes());
    }
    let code_hash = hasher.finalize().to_hex().to_string();

    let node_name = opts.name.clone().unwrap_or_else(|| fn_name.clone());
    let cache = opts.cache.unwrap_or(true);
    let param_names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let param_types: Vec<&Type> = params.iter().map(|p| &p.stored).collect();
    let vis = &func.vis;
    let is_async = sig.asyncness.is_some();

    let pv = quote!(::hypernodes::__private);
    let reads = params.iter().enumerate().map(|(i, p)| {
        let ident = &p.ident;
        let stored = &p.stored;
        let arg = if is_async {
            quote!(&__args[#i])
        } else {
            quote!(__args[#i])
        };
        let span = p.stored.span();
        match p.read {
            Read::Str => quote_spanned!(span=> let #ident: &str = #pv::arg_str(#arg)?;),
            Read::Slice => quote_spanned!(span=> let #ident = #pv::arg_ref::<#stored>(#arg)?.as_slice();),
            Read::Ref => quote_spanned!(span=> let #ident: &#stored = #pv::arg_ref::<#stored>(#arg)?;),
            Read::Clone => quote_spanned!(span=> let #ident: #stored = #pv::arg_clone::<#stored>(#arg)?;),
        }
    });
    let reads: Vec<TokenStream> = reads.collect();
    let call_args = params.iter().map(|p| &p.ident);
    let awaited = if is_async { quote!(.await) } else { quote!() };
    let call = if fallible {
        quote!(#fn_ident(#(#call_args),*)#awaited.map_err(#pv::box_err)?)
    } else {
        quote!(#fn_ident(#(#call_args),*)#awaited)
    };
    let wrap = if outputs.len() == 1 {
        quote!(#pv::NodeOutputs::from_iter([#pv::Value::new(__out)]))
    } else {
        let parts: Vec<_> = (0..outputs.len()).map(|i| format_ident!("__out{}", i)).collect();
        quote!({
            let (#(#parts,)*) = __out;
            #pv::NodeOutputs::from_iter([#(#pv::Value::new(#parts)),*])
        })
    };
    // The columnar kernel: a glue closure taking what a lifted loop reads from Arrow
    // arrays (`&str` borrowed, other values owned), probed at compile time.
    let kernel = if let Some(batch) = &opts.batch {
        // A batch implementation written by the user (the "dual node").
        quote! {
            #pv::batch_kernel(
                ::std::vec![#(<#output_types as #pv::Columnar>::data_type()),*],
                |__batch| #batch(__batch),
            )
        }
    } else if is_async {
        quote!(::std::option::Option::None)
    } else {
        let kinds = params.iter().map(|p| {
            let stored = &p.stored;
            match p.read {
                Read::Str => quote!(#pv::Str),
                _ => quote!(#pv::Own<#stored>),
            }
        });
        let glue_params = params.iter().map(|p| {
            let ident = &p.ident;
            let stored = &p.stored;
            match p.read {
                Read::Str => quote!(#ident: &str),
                _ => quote!(#ident: #stored),
            }
        });
        let glue_args = params.iter().map(|p| {
            let ident = &p.ident;
            match p.read {
                Read::Str | Read::Clone => quote!(#ident),
                Read::Ref | Read::Slice => quote!(&#ident),
            }
        });
        let outs = if outputs.len() == 1 {
            quote!(#pv::One<#value_ty>)
        } else {
            quote!(#pv::Many<(#(#output_types,)*)>)
        };
        let glue_call = if fallible {
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
            param_types: ::std::vec![#((&&#pv::TypeProbe::<#param_types>::new()).type_info()),*],
            outputs: &[#(#outputs),*],
            output_types: ::std::vec![#((&&#pv::TypeProbe::<#output_types>::new()).type_info()),*],
            code_hash: #code_hash,
            cache: #cache,
            kernel: #kernel,
        }
    };
    let result = quote!(::std::result::Result<#pv::NodeOutputs, #pv::BoxError>);
    let make = if is_async {
        quote! {
            #pv::async_node(#spec, |__args: ::std::vec::Vec<#pv::Value>| -> #pv::BoxFuture {
                ::std::boxed::Box::pin(async move {
                    #(#reads)*
                    let __out = #call;
                    ::std::result::Result::Ok(#wrap)
                })
            })
        }
    } else {
        quote! {
            #pv::sync_node(#spec, |__args: &[&#pv::Value]| -> #result {
                #(#reads)*
                let __out = #call;
                ::std::result::Result::Ok(#wrap)
            })
        }
    };
    let doc = format!("The pipeline node of [`{fn_name}`](fn@{fn_ident}): call `{fn_ident}::node()`.");
    Ok(quote! {
        #func

        #[allow(non_camel_case_types)]
        #[doc = #doc]
        #vis struct #fn_ident {}

        impl #fn_ident {
            /// Returns this function as a pipeline node.
            #[allow(clippy::needless_borrow)]
            #vis fn node() -> ::hypernodes::Node {
                #[allow(unused_imports)]
                use ::hypernodes::__private::{ViaAnyType as _, ViaColumnarType as _, ViaKernel as _, ViaNoKernel as _};
                #make
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: TokenStream, item: TokenStream) -> String {
        expand(attr, item).to_string()
    }

    /// The messages of the `compile_error!`s in an expansion.
    fn errors_of(attr: TokenStream, item: TokenStream) -> Vec<String> {
        let out = expand_str(attr, item);
        out.split("compile_error !")
            .skip(1)
            .map(|rest| {
                let start = rest.find('"').expect("a message") + 1;
                let end = rest[start..]
                    .find("\" }")
                    .or_else(|| rest[start..].find("\")"))
                    .expect("end")
                    + start;
                rest[start..end].replace("\\\"", "\"")
            })
            .collect()
    }

    fn hash_of(out: &str) -> String {
        let at = out.find("code_hash :").expect("a hash");
        out[at..].split('"').nth(1).expect("quoted").to_string()
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
        assert!(out.contains("pub fn node () -> :: hypernodes :: Node"), "{out}");
        assert!(
            out.contains("let passage : & str = :: hypernodes :: __private :: arg_str (__args [0usize]) ?"),
            "{out}"
        );
        assert!(
            out.contains(
                "let n : & Vec < i64 > = :: hypernodes :: __private :: arg_ref :: < Vec < i64 > > (__args [1usize]) ?"
            ),
            "{out}"
        );
        assert!(
            out.contains("let k : i64 = :: hypernodes :: __private :: arg_clone :: < i64 > (__args [2usize]) ?"),
            "{out}"
        );
        assert!(out.contains("let s = :: hypernodes :: __private :: arg_ref :: < :: std :: vec :: Vec < u8 > > (__args [3usize]) ? . as_slice ()"), "{out}");
        assert!(
            out.contains("params : & [\"passage\" , \"n\" , \"k\" , \"s\"]"),
            "{out}"
        );
        assert!(out.contains("outputs : & [\"cleaned_text\"]"), "{out}");
        assert!(out.contains("cache : true"), "{out}");
    }

    #[test]
    fn output_defaults_to_the_function_name_and_options_apply() {
        let out = expand_str(
            quote!(cache = false, name = "renamed"),
            quote!(
                fn shout(t: String) -> String {
                    t
                }
            ),
        );
        assert!(out.contains("outputs : & [\"shout\"]"), "{out}");
        assert!(out.contains("name : \"renamed\""), "{out}");
        assert!(out.contains("cache : false"), "{out}");
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
        assert!(out.contains("let (__out0 , __out1 ,) = __out"), "{out}");
        assert!(
            out.contains("TypeProbe :: < i64 > :: new ()) . type_info () , (&& :: hypernodes :: __private :: TypeProbe :: < u8 > :: new ()) . type_info ()"),
            "{out}"
        );
        assert!(
            out.contains("KernelProbe :: < (:: hypernodes :: __private :: Own < i64 > , :: hypernodes :: __private :: Own < i64 > ,) , :: hypernodes :: __private :: Many < (i64 , u8 ,) > , _ >"),
            "{out}"
        );
        assert!(
            out.contains("map_err (:: hypernodes :: __private :: box_err) ?"),
            "{out}"
        );
    }

    #[test]
    fn async_functions_use_async_node() {
        let out = expand_str(
            quote!(),
            quote!(
                async fn wait(x: i64) -> i64 {
                    x
                }
            ),
        );
        assert!(out.contains("async_node"), "{out}");
        assert!(out.contains("arg_clone :: < i64 > (& __args [0usize])"), "{out}");
        assert!(out.contains("wait (x) . await"), "{out}");
    }

    #[test]
    fn option_errors() {
        assert_eq!(
            errors_of(
                quote!(outptu = "x"),
                quote!(
                    fn f(a: i64) -> i64 {
                        a
                    }
                )
            ),
            ["unknown #[node] option `outptu`; valid options: output, name, cache, version, batch"]
        );
        assert_eq!(
            errors_of(
                quote!(output = "x", output = "y"),
                quote!(
                    fn f(a: i64) -> i64 {
                        a
                    }
                )
            ),
            ["duplicate #[node] option `output`"]
        );
        assert_eq!(
            errors_of(
                quote!(output = ("x", "x")),
                quote!(
                    fn f(a: i64) -> (i64, i64) {
                        (a, a)
                    }
                )
            ),
            ["#[node] output `x` is named twice"]
        );
        assert_eq!(
            errors_of(
                quote!(output = ""),
                quote!(
                    fn f(a: i64) -> i64 {
                        a
                    }
                )
            ),
            ["#[node] output names cannot be empty"]
        );
    }

    #[test]
    fn signature_errors_are_all_reported() {
        assert_eq!(
            errors_of(
                quote!(),
                quote!(
                    fn f(a: i64) {}
                )
            ),
            ["a node must return a value: add a return type"]
        );
        assert_eq!(
            errors_of(
                quote!(output = ("q", "r")),
                quote!(
                    fn f(a: i64) -> i64 {
                        a
                    }
                )
            ),
            ["node declares 2 outputs (q, r) but returns `i64`; return a tuple of 2 values"]
        );
        assert_eq!(
            errors_of(
                quote!(output = ("q", "r")),
                quote!(
                    fn f(a: i64) -> (i64, i64, i64) {
                        (a, a, a)
                    }
                )
            ),
            ["node declares 2 outputs (q, r) but returns `(i64 , i64 , i64)`; return a tuple of 2 values"]
        );
        assert_eq!(
            errors_of(
                quote!(),
                quote!(
                    fn f<T: Clone>(a: &mut i64, (b, c): (i64, i64)) -> i64 {
                        1
                    }
                )
            ),
            [
                "#[node] functions cannot be generic: a node's types must be concrete",
                "#[node] parameters cannot be `&mut`: inputs are shared between nodes",
                "#[node] parameters must be plain names (the name is the input it reads), not patterns",
            ]
        );
        assert_eq!(
            errors_of(
                quote!(),
                quote!(
                    fn f(&self) -> i64 {
                        1
                    }
                )
            ),
            ["#[node] goes on a free function: `self` parameters are not supported"]
        );
        assert_eq!(
            errors_of(
                quote!(),
                quote!(
                    struct S;
                )
            ),
            ["#[node] goes on a free function"]
        );
        assert_eq!(
            errors_of(
                quote!(),
                quote!(
                    fn f(x: impl Clone) -> i64 {
                        1
                    }
                )
            ),
            ["#[node] parameters need concrete types, not `impl Trait`"]
        );
    }

    #[test]
    fn on_error_the_function_is_still_emitted() {
        let out = expand_str(
            quote!(bogus = 1),
            quote!(
                fn keep_me(a: i64) -> i64 {
                    a
                }
            ),
        );
        assert!(out.starts_with("fn keep_me"), "{out}");
        assert!(!out.contains("struct keep_me"), "{out}");
    }

    #[test]
    fn code_hash_follows_tokens_and_version() {
        let a = hash_of(&expand_str(
            quote!(),
            quote!(
                fn f(a: i64) -> i64 {
                    a + 1
                }
            ),
        ));
        let spaced = hash_of(&expand_str(
            quote!(),
            quote!(
                fn f(a: i64) -> i64 {
                    a + 1
                }
            ),
        ));
        let versioned = hash_of(&expand_str(
            quote!(version = "2"),
            quote!(
                fn f(a: i64) -> i64 {
                    a + 1
                }
            ),
        ));
        let body = hash_of(&expand_str(
            quote!(),
            quote!(
                fn f(a: i64) -> i64 {
                    a + 2
                }
            ),
        ));
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, spaced);
        assert_ne!(a, versioned);
        assert_ne!(a, body);
    }
}
