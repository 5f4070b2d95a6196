//! The stable short code of each [`Error`] variant (`HN001`, ...), the one the command
//! line prints as `error[HN001]: ...` and docs/errors.md explains.

use super::Error;

/// Gives each variant its code, and makes [`Error::CODES`] from the same list, so the
/// match and the table cannot disagree; the match has no wildcard, so a new variant
/// does not compile without a code.
macro_rules! codes {
    ($($code:literal $variant:ident,)*) => {
        impl Error {
            /// Every code with the name of its variant, in code order (the table of
            /// docs/errors.md).
            pub const CODES: &'static [(&'static str, &'static str)] = &[$(($code, stringify!($variant))),*];

            /// The error's stable short code, `HN` and three digits: the same variant
            /// keeps the same code in every release, a code is never given to another
            /// variant, and docs/errors.md says what each means and how to fix it. The
            /// command line prints it as `error[HN006]: ...`.
            ///
            /// # Examples
            ///
            /// ```
            /// use hypernodes::prelude::*;
            ///
            /// #[node(output = "y")]
            /// fn double(x: i64) -> i64 { x * 2 }
            ///
            /// let err = Pipeline::new([double::node()]).run(&Inputs::new()).unwrap_err();
            /// assert_eq!(err.code(), "HN006");
            /// assert_eq!(err.to_string(), "Missing required input(s): ['x']. Required inputs: ['x']");
            /// ```
            pub fn code(&self) -> &'static str {
                match self {
                    $(Error::$variant { .. } => $code,)*
                }
            }
        }
    };
}

// Never renumber: append a new variant with the next free code, and leave the code of a
// removed variant unused.
codes! {
    "HN001" DuplicateOutput,
    "HN002" Cycle,
    "HN003" TypeMismatch,
    "HN004" InputTypeConflict,
    "HN005" InputType,
    "HN006" MissingInputs,
    "HN007" UnknownOutputs,
    "HN008" OutputType,
    "HN009" UnknownMapMode,
    "HN010" EmptyMapOver,
    "HN011" MapOverNotInput,
    "HN012" NotAList,
    "HN013" ZipLengthMismatch,
    "HN014" NodeFailed,
    "HN015" NodePanicked,
    "HN016" Timeout,
    "HN017" UnknownExecutor,
    "HN018" ResourceFailed,
    "HN019" Spec,
    "HN020" Io,
    "HN021" Data,
    "HN022" Cache,
    "HN023" Arrow,
    "HN024" Invalid,
    "HN025" Unfit,
    "HN026" Multiple,
    "HN027" Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each variant.
    fn one_of_each() -> Vec<Error> {
        let s = || Box::<str>::from("x");
        let boxed = || -> crate::error::BoxError { "x".into() };
        vec![
            Error::DuplicateOutput {
                output: s(),
                first: s(),
                second: s(),
            },
            Error::Cycle { path: vec![] },
            Error::TypeMismatch {
                value: s(),
                producer: s(),
                producer_type: s(),
                consumer: s(),
                consumer_type: s(),
            },
            Error::InputTypeConflict {
                input: s(),
                first: s(),
                first_type: s(),
                second: s(),
                second_type: s(),
            },
            Error::InputType {
                input: s(),
                node: s(),
                expected: s(),
                found: s(),
            },
            Error::MissingInputs {
                missing: vec![],
                required: vec![],
            },
            Error::UnknownOutputs {
                unknown: vec![],
                available: vec![],
                suggestion: None,
            },
            Error::OutputType {
                output: s(),
                expected: s(),
                found: s(),
            },
            Error::UnknownMapMode { mode: s() },
            Error::EmptyMapOver,
            Error::MapOverNotInput {
                name: s(),
                inputs: vec![],
                suggestion: None,
            },
            Error::NotAList {
                input: s(),
                expected: s(),
                found: s(),
            },
            Error::ZipLengthMismatch { lengths: vec![] },
            Error::NodeFailed {
                node: s(),
                item: None,
                source: boxed(),
            },
            Error::NodePanicked {
                node: s(),
                item: None,
                message: s(),
            },
            Error::Timeout {
                node: s(),
                item: None,
                after: std::time::Duration::ZERO,
            },
            Error::UnknownExecutor { name: s() },
            Error::ResourceFailed {
                input: s(),
                source: boxed(),
            },
            Error::Spec {
                file: s(),
                line: 1,
                message: s(),
            },
            Error::Io {
                action: "read",
                path: s(),
                source: std::io::Error::other("x"),
            },
            Error::Data {
                path: s(),
                message: s(),
            },
            Error::Cache {
                path: "x".into(),
                message: "x".into(),
            },
            Error::Arrow {
                context: s(),
                source: boxed(),
            },
            Error::Invalid("x".into()),
            Error::Unfit {
                target: s(),
                reasons: vec![],
            },
            Error::Multiple(vec![]),
            // Unreachable: a sample for this test, never returned.
            Error::Internal("x".into()),
        ]
    }

    /// The variant's name, as `Debug` starts with it.
    fn variant(e: &Error) -> String {
        format!("{e:?}")
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect()
    }

    #[test]
    fn every_variant_has_its_own_code_in_order() {
        let codes: Vec<String> = (1..=Error::CODES.len()).map(|i| format!("HN{i:03}")).collect();
        let table: Vec<&str> = Error::CODES.iter().map(|(code, _)| *code).collect();
        assert_eq!(table, codes, "codes are HN001 upwards, each once");
        let errors = one_of_each();
        let named: Vec<(&str, String)> = errors.iter().map(|e| (e.code(), variant(e))).collect();
        let expected: Vec<(&str, String)> = Error::CODES.iter().map(|(c, v)| (*c, v.to_string())).collect();
        assert_eq!(named, expected);
    }
}
