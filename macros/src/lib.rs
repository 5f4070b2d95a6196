//! The `#[node]` attribute of [hypernodes](https://docs.rs/hypernodes): makes a pipeline
//! node of a plain function. Use it through `hypernodes::node`; this crate is not meant
//! to be used on its own.
//!
//! ```ignore
//! use hypernodes::prelude::*;
//!
//! #[node(output = "cleaned_text")]
//! pub fn clean_text(passage: &str) -> String {
//!     passage.trim().to_lowercase()
//! }
//!
//! // The function is unchanged, and `clean_text::node()` is its node.
//! assert_eq!(clean_text(" A "), "a");
//! let node = clean_text::node();
//! ```
//!
//! The function is kept exactly as written. Next to it the attribute adds a brace struct
//! of the same name (a brace struct lives only in the type namespace, so it does not
//! clash with the function) whose associated `node()` returns a `hypernodes::Node`. The
//! struct and `node()` have the function's visibility.
//!
//! # Options
//!
//! - `output = "name"`, or `output = ("a", "b")` for a function returning a tuple of that
//!   many values. Default: one output named after the function. Names must be non-empty
//!   and distinct.
//! - `name = "..."`: the node's name (default: the function's name).
//! - `cache = false`: the node's results are never cached (default `true`).
//! - `version = "..."`: folded into the node's code hash, to invalidate cached results
//!   when something the tokens do not show has changed.
//! - `batch = path::to::kernel`: a batch implementation for the columnar engine, a
//!   `fn(BatchArgs) -> Result<Vec<ArrayRef>, BoxError>` called once per batch with mapped
//!   arguments as arrays and constants as scalars; it must give the function's results.
//!
//! An unknown or repeated option is an error; every bad option is reported at once.
//!
//! # Parameters
//!
//! Each parameter is an input named by its identifier (without `r#`). Its type says how
//! the input is read:
//!
//! - `&str` reads a `String` value;
//! - `&[T]` reads a `Vec<T>` value;
//! - `&T` borrows a `T` value;
//! - `T` clones a `T` value (so `T: Clone`).
//!
//! Lifetime parameters are fine (stored types read them as `'static`). Not allowed:
//! `&mut T`, patterns such as `(a, b): (i64, i64)`, `self`, `impl Trait`, type or const
//! generics, `unsafe fn` and variadics.
//!
//! # Results
//!
//! A function must return a value. When its return type's last path segment is `Result`
//! (`Result<T, E>`, `io::Result<T>`, ...), `Err` fails the node and the `Ok` type is the
//! value. With several outputs the value must be a tuple of as many elements, one per
//! output. `async fn` works the same way.
//!
//! # Code hash
//!
//! The node's code hash is the blake3 hash of the function's tokens (attributes and doc
//! comments included; whitespace and ordinary comments are not tokens), its `version`,
//! its output names, node name and batch implementation's path.
//!
//! # Errors
//!
//! All problems are reported together, each at its place in the source; the function is
//! still emitted unchanged so that no other error follows from them.

mod errors;
mod expand;
mod options;

use proc_macro::TokenStream;

/// Makes a pipeline node of a plain function; see the crate documentation.
#[proc_macro_attribute]
pub fn node(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}
