//! The options of `#[node(...)]`, parsed with `syn::meta::parser`.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::{LitBool, LitInt, LitStr, Token};

use crate::errors::Errors;

/// The valid option names, as listed in the "unknown option" error.
const VALID: &str = "output, name, cache, version, batch, retries, backoff, timeout";

/// The options as written; `None` when absent.
#[derive(Default)]
pub(crate) struct Options {
    /// `output = "a"` or `output = ("a", "b")`: the names, and the span of the value.
    pub(crate) outputs: Option<(Vec<LitStr>, Span)>,
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `cache = false`.
    pub(crate) cache: Option<bool>,
    /// `version = "..."`.
    pub(crate) version: Option<String>,
    /// `batch = path::to::kernel`.
    pub(crate) batch: Option<syn::Path>,
    /// `retries = 3`.
    pub(crate) retries: Option<u32>,
    /// `backoff = "100ms"`, in nanoseconds, and where it was written.
    pub(crate) backoff: Option<(u64, Span)>,
    /// `timeout = "2s"`, in nanoseconds.
    pub(crate) timeout: Option<u64>,
}

impl Options {
    /// Parses the attribute's arguments. Every bad option is pushed to `errors` and parsing
    /// goes on with the next one, so all of them are reported together.
    pub(crate) fn parse(attr: TokenStream, errors: &Errors) -> Options {
        let mut opts = Options::default();
        let parser = syn::meta::parser(|meta| {
            if let Err(error) = opts.parse_one(&meta) {
                errors.add(error);
                skip_to_comma(meta.input)?;
            }
            Ok(())
        });
        if let Err(error) = parser.parse2(attr) {
            errors.add(error);
        }
        if let (Some((_, span)), None) = (opts.backoff, opts.retries) {
            errors.push(
                span,
                "#[node] option `backoff` needs `retries`: the wait comes between retries",
            );
        }
        opts
    }

    fn parse_one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
        match key.as_str() {
            "output" => {
                let value = meta.value()?;
                let span = value.span();
                let names = if value.peek(syn::token::Paren) {
                    let content;
                    syn::parenthesized!(content in value);
                    let names = content.parse_terminated(|s| s.parse::<LitStr>(), Token![,])?;
                    names.into_iter().collect()
                } else {
                    vec![value.parse::<LitStr>()?]
                };
                set(&mut self.outputs, meta, &key, (names, span))
            }
            "name" => {
                let name: LitStr = meta.value()?.parse()?;
                set(&mut self.name, meta, &key, name)
            }
            "cache" => {
                let cache: LitBool = meta.value()?.parse()?;
                set(&mut self.cache, meta, &key, cache.value)
            }
            "version" => {
                let version: LitStr = meta.value()?.parse()?;
                set(&mut self.version, meta, &key, version.value())
            }
            "retries" => {
                let retries: LitInt = meta.value()?.parse()?;
                set(&mut self.retries, meta, &key, retries.base10_parse()?)
            }
            "backoff" => {
                let text: LitStr = meta.value()?.parse()?;
                set(&mut self.backoff, meta, &key, (duration(&text)?, text.span()))
            }
            "timeout" => {
                let text: LitStr = meta.value()?.parse()?;
                set(&mut self.timeout, meta, &key, duration(&text)?)
            }
            "batch" => {
                let batch: syn::Path = meta.value()?.parse()?;
                set(&mut self.batch, meta, &key, batch)
            }
            _ => {
                let shown = crate::errors::shown(&meta.path);
                Err(meta.error(format_args!("unknown #[node] option `{shown}`; valid options: {VALID}")))
            }
        }
    }
}

/// A duration written like `"100ms"` or `"2s"`, in nanoseconds; an error at the literal
/// otherwise.
fn duration(text: &LitStr) -> syn::Result<u64> {
    let value = text.value();
    let d = humantime::parse_duration(&value).map_err(|e| {
        syn::Error::new(
            text.span(),
            format_args!("cannot read \"{value}\" as a duration ({e}); write it like \"100ms\", \"2s\" or \"1m\""),
        )
    })?;
    u64::try_from(d.as_nanos()).map_err(|_| syn::Error::new(text.span(), "the duration is too long"))
}

/// Sets an option once; a second time is an error.
fn set<T>(slot: &mut Option<T>, meta: &ParseNestedMeta<'_>, key: &str, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format_args!("duplicate #[node] option `{key}`")));
    }
    *slot = Some(value);
    Ok(())
}

/// Skips what is left of a bad option, up to the comma before the next one.
fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            if matches!(&token, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
}
