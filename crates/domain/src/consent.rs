//! The consent reference kept with every ID number the hub collects.
//!
//! The law requires informed consent before an ID number is collected; the hub does not hold
//! the consent itself, only the paper form number or e-consent id that proves where it is.

use crate::error::ValidationError;

/// Longest consent reference accepted.
pub const MAX_CONSENT_REF_LEN: usize = 64;

/// A paper consent form number or e-consent id: 1 to 64 printable ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsentRef(String);

impl ConsentRef {
    /// Parses a consent reference; surrounding whitespace is dropped, internal spaces kept.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let ok = !s.is_empty()
            && s.len() <= MAX_CONSENT_REF_LEN
            && s.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "consent_ref.format",
                "a consent reference (consent form number or e-consent id) must be 1 to 64 printable ASCII characters and not blank",
            ))
        }
    }

    /// The reference as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type_impls!(ConsentRef);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        assert_eq!(
            ConsentRef::parse("  CF/2024/000123 ").expect("ok").as_str(),
            "CF/2024/000123"
        );
        assert!(ConsentRef::parse("e-consent 7f3a").is_ok());
        assert!(ConsentRef::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn invalid() {
        let long = "x".repeat(65);
        for s in [
            "",
            "   ",
            "\t",
            long.as_str(),
            "form\u{0}1",
            "फ़ॉर्म 1",
            "a\tb",
        ] {
            assert_eq!(
                ConsentRef::parse(s).expect_err(s).code,
                "consent_ref.format",
                "{s:?}"
            );
        }
    }
}
