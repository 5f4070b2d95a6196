//! The expansion of `#[node]`: signature analysis here, code generation in
//! [`generate`].

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::{FnArg, GenericParam, ItemFn, LitStr, Pat, ReturnType, Type};

mod generate;
#[cfg(test)]
mod tests;

use crate::errors::{Errors, shown};
use crate::options::Options;
use generate::generate;

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
    if let Type::Path(p) = peel(ret)
        && let Some(last) = p.path.segments.last().filter(|s| s.ident == "Result")
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(ok)) = args.args.first()
    {
        return (ok.clone(), true);
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
