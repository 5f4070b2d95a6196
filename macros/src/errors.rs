//! The error collector of one expansion (after serde_derive's `Ctxt`): every problem is
//! pushed here and reported at once, so one compile shows them all.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Errors {
    errors: RefCell<Vec<syn::Error>>,
}

impl Errors {
    /// An error at `span`.
    pub(crate) fn push(&self, span: Span, message: impl Display) {
        self.add(syn::Error::new(span, message));
    }

    /// An error covering all of `tokens` (their first to their last token, even on stable).
    pub(crate) fn push_spanned(&self, tokens: impl ToTokens, message: impl Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    /// An error made elsewhere, such as by a parser.
    pub(crate) fn add(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// `Ok` when nothing was pushed, else every error combined into one.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            first.combine(error);
        }
        Err(first)
    }
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
