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
/// | `round_decimal` | `amount: Decimal`, `places: i64` | `rounded: Decimal`, `amount` to `places` digits after the point (tens, hundreds, ... when negative), half away from zero |
///
/// `round_decimal` rounds a midpoint away from zero (`2.345` to `2.35`, `-2.345` to
/// `-2.35`), as SQL's `ROUND` on decimals does (PostgreSQL, MySQL, SQL Server) and as a
/// spreadsheet's does, so totals match the database's and the invoice's; banker's
/// rounding (half to even) is only how a value with more than 18 digits after the point
/// is stored (see the `Decimal128(38, 18)` of a written `rust_decimal::Decimal`).
///
/// Constant arguments (a format, a unit, a number of places) are bound in the file's `[bind]` table and
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
///     ["char_count", "clean_text", "count_words", "hash_hex", "parse_timestamp", "round_decimal", "shout", "sum", "truncate_timestamp"]
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
            .register(cleaning::hash_hex::node())
            .register(builtins::round_decimal::node());
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
    use rust_decimal::{Decimal, RoundingStrategy};

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

    /// `amount` rounded to `places` digits after the point, a midpoint away from zero; a
    /// negative `places` rounds to tens (`-1`), hundreds (`-2`), ... An `amount` with no
    /// more than `places` digits after the point is returned as it is.
    #[node(output = "rounded")]
    pub fn round_decimal(amount: Decimal, places: i64) -> Decimal {
        if let Ok(places) = u32::try_from(places) {
            return amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
        }
        // To 10^k: the mantissa rounded to a multiple of 10^(scale + k), exactly. A
        // mantissa holds fewer than 30 digits: past that the result is 0.
        let shift = u64::from(amount.scale()) + places.unsigned_abs();
        if shift >= 30 {
            return Decimal::ZERO;
        }
        let unit = 10_i128.pow(shift as u32);
        let (m, r) = (amount.mantissa() / unit, amount.mantissa() % unit);
        let m = m + i128::from(2 * r.abs() >= unit) * r.signum();
        let k = places.unsigned_abs() as u32;
        Decimal::try_from_i128_with_scale(m * 10_i128.pow(k), 0)
            .unwrap_or_else(|_| panic!("{amount} rounded to 10^{k} is beyond rust_decimal::Decimal's range"))
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::builtins::{count_words, round_decimal};

    #[test]
    fn round_decimal_rounds_half_away_from_zero() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let round = |s: &str, places| round_decimal(d(s), places).to_string();
        assert_eq!(round("2.345", 2), "2.35");
        assert_eq!(round("-2.345", 2), "-2.35");
        assert_eq!(round("2.344", 2), "2.34");
        assert_eq!(round("2.5", 0), "3");
        assert_eq!(round("1.5", 5), "1.5");
        assert_eq!(round("1250", -2), "1300");
        assert_eq!(round("-1249.99", -2), "-1200");
        assert_eq!(round("-1250.00", -2), "-1300");
        assert_eq!(round("4.9999", -1), "0");
        assert_eq!(round("5", -1), "10");
        assert_eq!(round("79228162514264337593543950335", -30), "0");
    }

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
