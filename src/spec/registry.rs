//! The registry of named functions that pipeline files call, and the built-in ones.

mod cleaning;

use std::collections::BTreeMap;

use crate::node::Node;

/// Named functions that pipeline files can call (`function = "count_words"`).
///
/// [`Registry::new`] holds the built-in functions; [`Registry::register`] adds a Rust
/// user's own nodes (`#[node]` functions or any [`Node`]), by the node's name.
///
/// | function | parameters | output |
/// |---|---|---|
/// | `clean_text` | `text: String` | `cleaned_text: String`, trimmed and lower-cased |
/// | `count_words` | `text: String` | `word_count: i64`, whitespace-separated tokens |
/// | `char_count` | `text: String` | `char_count: i64`, Unicode scalar values |
/// | `sum` | `values: Vec<i64>` | `total: i64` |
/// | `parse_timestamp` | `text: String`, `format: String` | `timestamp: NaiveDateTime`, `text` parsed with the chrono (strftime) `format`; a row whose text does not match fails |
/// | `truncate_timestamp` | `timestamp: NaiveDateTime`, `unit: String` | `bucket: NaiveDateTime`, the start of its `minute`, `hour`, `day`, `week` (Monday) or `month` |
/// | `hash_hex` | `text: String` | `hash: String`, blake3 of the text, 64 hex digits |
///
/// Constant arguments (a format, a unit) are bound in the file's `[bind]` table and
/// passed by name: `inputs = { text = "raw", format = "day_format" }`.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::spec::Registry;
///
/// #[node(output = "shout")]
/// fn shout(text: &str) -> String { text.to_uppercase() }
///
/// let mut registry = Registry::new();
/// registry.register(shout::node());
/// assert!(registry.get("shout").is_some());
/// assert_eq!(
///     registry.names(),
///     ["char_count", "clean_text", "count_words", "hash_hex", "parse_timestamp", "shout", "sum", "truncate_timestamp"]
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Registry {
    functions: BTreeMap<String, Node>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// The built-in functions.
    pub fn new() -> Self {
        let mut r = Registry {
            functions: BTreeMap::new(),
        };
        r.register(builtins::clean_text::node())
            .register(builtins::count_words::node())
            .register(builtins::char_count::node())
            .register(builtins::sum::node())
            .register(cleaning::parse_timestamp::node())
            .register(cleaning::truncate_timestamp::node())
            .register(cleaning::hash_hex::node());
        r
    }

    /// No functions at all.
    pub fn empty() -> Self {
        Registry {
            functions: BTreeMap::new(),
        }
    }

    /// Adds `node` under its name, replacing a function of the same name.
    pub fn register(&mut self, node: Node) -> &mut Self {
        self.functions.insert(node.name().to_string(), node);
        self
    }

    /// The function named `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.functions.get(name)
    }

    /// The names of the functions, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.functions.keys().map(String::as_str).collect()
    }
}

/// The built-in registry functions.
mod builtins {
    use crate::node;

    /// Trimmed and lower-cased.
    #[node(output = "cleaned_text")]
    pub fn clean_text(text: &str) -> String {
        text.trim().to_lowercase()
    }

    /// The number of whitespace-separated tokens (as `split_whitespace` counts them;
    /// ASCII text is counted a byte at a time, without decoding characters).
    #[node(output = "word_count")]
    pub fn count_words(text: &str) -> i64 {
        if !text.is_ascii() {
            return text.split_whitespace().count() as i64;
        }
        // The ASCII characters `char::is_whitespace` accepts: space, and \t \n \x0B \x0C \r.
        // A word starts at every non-blank byte after a blank one (or first): counted
        // over byte pairs, a loop the compiler vectorizes.
        let blank = |b: u8| (b == b' ') | (b.wrapping_sub(b'\t') < 5);
        let bytes = text.as_bytes();
        let Some(&first) = bytes.first() else {
            return 0;
        };
        // Counted per 255 pairs in a byte, so that the vector lanes stay bytes wide.
        let pairs = bytes.len() - 1;
        let mut starts = usize::from(!blank(first));
        for (a, b) in bytes[..pairs].chunks(255).zip(bytes[1..].chunks(255)) {
            let n = a
                .iter()
                .zip(b)
                .fold(0u8, |n, (&a, &b)| n.wrapping_add(u8::from(blank(a) & !blank(b))));
            starts += usize::from(n);
        }
        starts as i64
    }

    /// The number of Unicode scalar values.
    #[node(output = "char_count")]
    pub fn char_count(text: &str) -> i64 {
        text.chars().count() as i64
    }

    /// The sum of the values.
    #[node(output = "total")]
    pub fn sum(values: Vec<i64>) -> i64 {
        values.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::builtins::count_words;

    #[test]
    fn count_words_counts_as_split_whitespace_does() {
        let texts = [
            "",
            " ",
            "one",
            "  two words  ",
            "a\tb\nc\x0Bd\x0Ce\rf",
            "x\x1Fy", // a control character that is not whitespace
            "trailing\n",
            "non\u{00A0}breaking and\u{3000}ideographic spaces",
            "é accents, ünïcödé",
        ];
        for text in texts {
            assert_eq!(count_words(text), text.split_whitespace().count() as i64, "{text:?}");
        }
        // Every ASCII byte, alone and between two letters.
        for b in 0u8..128 {
            let text = format!("a{}b", b as char);
            assert_eq!(count_words(&text), text.split_whitespace().count() as i64, "byte {b}");
        }
    }
}
