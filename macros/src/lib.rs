//! The `#[node]` attribute of [hypernodes](https://docs.rs/hypernodes): makes a pipeline
//! node of a plain function. Use it through `hypernodes::node`; this crate is not meant
//! to be used on its own.
//!
//! ```ignore
//! use hypernodes::prelude::*;
//!
//! #[node(output = "cleaned_text")]
//! fn clean_text(passage: &str) -> String {
//!     passage.trim().to_lowercase()
//! }
//!
//! // The function is unchanged, and `clean_text::node()` is its node.
//! assert_eq!(clean_text(" A "), "a");
//! let node = clean_text::node();
//! ```
//!
//! Options:
//!
//! - `output = "name"`, or `output = ("a", "b")` for a function returning a tuple of that
//!   many values. Default: one output named after the function.
//! - `name = "..."`: the node's name (default: the function's name).
//! - `cache = false`: the node's results are never cached.
//! - `version = "..."`: folded into the node's code hash, which is otherwise the blake3
//!   hash of the function's tokens.
//! - `batch = path::to::kernel`: a batch implementation for the columnar engine, a
//!   `fn(BatchArgs) -> Result<Vec<ArrayRef>, BoxError>` called once per batch with mapped
//!   arguments as arrays and constants as scalars; it must give the function's results.
//!
//! Parameters may be `&str` (reads a `String` value), `&[T]` (reads a `Vec<T>`), `&T`
//! (borrows a `T`) or `T` (clones a `T`). A function returning `Result<T, E>` fails the run on `Err`; `async fn` works.

mod expand;

use proc_macro::TokenStream;

/// Makes a pipeline node of a plain function; see the crate documentation.
#[proc_macro_attribute]
pub fn node(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}
