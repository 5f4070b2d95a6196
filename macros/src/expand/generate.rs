//! The code `#[node]` generates: the function, unchanged, and its node struct.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr};

use super::{Read, Signature, code_hash, unraw};
use crate::options::Options;

/// A local of the generated code, invisible to (and unshadowable by) the user's names.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// The function, unchanged, and its node struct.
pub(super) fn generate(func: &ItemFn, item: &TokenStream, opts: &Options, sig: &Signature) -> TokenStream {
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
