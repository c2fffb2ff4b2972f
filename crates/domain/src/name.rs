//! Person names as written on ration cards and scheme forms, in any script.
//!
//! The hub keeps a name as given (case and spelling are evidence for matching and for the
//! resident), but in one canonical Unicode form (NFC) with tidy spacing, so that the same name
//! typed on two systems compares equal byte for byte.

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::error::ValidationError;

/// Longest name accepted, in Unicode characters after normalisation.
pub const MAX_NAME_CHARS: usize = 150;

const ZERO_WIDTH_NON_JOINER: char = '\u{200C}';
const ZERO_WIDTH_JOINER: char = '\u{200D}';

/// A non-empty person name: NFC, trimmed, internal whitespace folded to single spaces.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonName(String);

impl PersonName {
    /// Normalises and validates a name. Allowed: letters and combining marks of any script,
    /// space, and `. ' - / ( ) ,`. Zero-width joiner and non-joiner are allowed too, because
    /// Malayalam, Kannada and Devanagari spellings need them to select conjunct forms.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        // Fold before normalising: NFC never creates whitespace, so the result is both
        // folded and NFC, which makes parse idempotent. Most names arrive folded and in NFC
        // (all ASCII ones do) and are taken as they are: a million-row upload spent a
        // twentieth of its time rebuilding names that did not change.
        let folded: Cow<'_, str> = if is_folded(input) {
            Cow::Borrowed(input)
        } else {
            Cow::Owned(input.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        let name: String = if folded.is_ascii() || is_nfc_quick(folded.chars()) == IsNormalized::Yes
        {
            folded.into_owned()
        } else {
            folded.nfc().collect()
        };
        if name.is_empty() {
            return Err(ValidationError::new(
                "name.empty",
                "a name is required and must contain at least one letter",
            ));
        }
        for (i, c) in name.chars().enumerate() {
            if !is_allowed(c) {
                return Err(ValidationError::new(
                    "name.invalid_character",
                    format!(
                        "character {} (counting after surrounding spaces are removed and repeated spaces are merged) is {}; a name may contain only letters and marks of any script, spaces and . ' - / ( ) ,",
                        i + 1,
                        describe(c)
                    ),
                ));
            }
        }
        let len = name.chars().count();
        if len > MAX_NAME_CHARS {
            return Err(ValidationError::new(
                "name.too_long",
                format!(
                    "a name may be at most {MAX_NAME_CHARS} characters long; this one has {len}"
                ),
            ));
        }
        if !name.chars().any(|c| c.is_alphabetic()) {
            return Err(ValidationError::new(
                "name.empty",
                "a name is required and must contain at least one letter",
            ));
        }
        Ok(Self(name))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` has no whitespace but single spaces between other characters.
fn is_folded(s: &str) -> bool {
    let mut after_space = true;
    for c in s.chars() {
        if c.is_whitespace() {
            if c != ' ' || after_space {
                return false;
            }
            after_space = true;
        } else {
            after_space = false;
        }
    }
    !after_space || s.is_empty()
}

fn is_allowed(c: char) -> bool {
    c.is_alphabetic()
        || is_combining_mark(c)
        || matches!(
            c,
            ' ' | '.'
                | '\''
                | '-'
                | '/'
                | '('
                | ')'
                | ','
                | ZERO_WIDTH_JOINER
                | ZERO_WIDTH_NON_JOINER
        )
}

/// A category for a rejected character, so the message helps without quoting the input.
fn describe(c: char) -> &'static str {
    if c.is_numeric() {
        "a digit"
    } else if c.is_control() {
        "a control character"
    } else if c.is_ascii_punctuation() {
        "a punctuation mark or symbol that is not allowed"
    } else {
        "a symbol or other character that is not allowed"
    }
}

text_type_impls!(PersonName);

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        PersonName::parse(input).expect("valid").as_str().to_owned()
    }

    fn err(input: &str) -> ValidationError {
        PersonName::parse(input).expect_err("invalid")
    }

    #[test]
    fn keeps_case_and_tidies_spaces() {
        assert_eq!(
            ok("  Ramesh   KUMAR\t s/o  Suresh "),
            "Ramesh KUMAR s/o Suresh"
        );
        assert_eq!(ok("D'Souza, Mary (Jr.)"), "D'Souza, Mary (Jr.)");
        assert_eq!(ok("Anne-Marie"), "Anne-Marie");
    }

    #[test]
    fn indian_scripts() {
        assert_eq!(ok("रमेश कुमार"), "रमेश कुमार");
        assert_eq!(ok("சுப்பிரமணியன்"), "சுப்பிரமணியன்");
        assert_eq!(ok("ಕೃಷ್ಣ"), "ಕೃಷ್ಣ");
        assert_eq!(ok("അന്‍വര്‍"), "അന്‍വര്‍");
        assert_eq!(ok("ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ"), "ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ");
    }

    #[test]
    fn normalises_to_nfc() {
        // "é" as e + combining acute becomes the single precomposed character.
        assert_eq!(ok("Re\u{301}my"), "R\u{e9}my");
        // Devanagari QA written as KA + NUKTA stays as is (it is a composition exclusion).
        assert_eq!(ok("\u{915}\u{93c}"), "\u{915}\u{93c}");
    }

    #[test]
    fn empty() {
        assert_eq!(err("").code, "name.empty");
        assert_eq!(err(" \t\n ").code, "name.empty");
        assert_eq!(err("..").code, "name.empty");
    }

    #[test]
    fn too_long() {
        assert!(PersonName::parse(&"a".repeat(150)).is_ok());
        assert_eq!(err(&"a".repeat(151)).code, "name.too_long");
        // Characters, not bytes: 150 Devanagari letters are 450 bytes and still fine.
        assert!(PersonName::parse(&"क".repeat(150)).is_ok());
    }

    #[test]
    fn invalid_characters_report_position_not_value() {
        let e = err("Ram3sh");
        assert_eq!(e.code, "name.invalid_character");
        assert!(e.message.contains("character 4 "), "{}", e.message);
        assert!(e.message.contains("a digit"));
        assert!(!e.message.contains("Ram3sh"));
        assert_eq!(err("  Ram  @x").message.split(' ').nth(1), Some("5"));
        assert_eq!(err("Ram\u{0}").code, "name.invalid_character");
        assert_eq!(err("Ram😀").code, "name.invalid_character");
        assert_eq!(err("Ram_x").code, "name.invalid_character");
        assert_eq!(err("रमेश।").code, "name.invalid_character");
        assert_eq!(err("राम २").code, "name.invalid_character");
    }

    #[test]
    fn serde_validates() {
        let n: PersonName = serde_json::from_str("\" Sita  Devi \"").expect("valid");
        assert_eq!(n.as_str(), "Sita Devi");
        assert_eq!(serde_json::to_string(&n).expect("ser"), "\"Sita Devi\"");
        assert!(serde_json::from_str::<PersonName>("\"R2D2\"").is_err());
    }
}
