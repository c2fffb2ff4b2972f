//! Scheme codes: the short identifiers welfare schemes are known by in uploads and the API.

use crate::error::ValidationError;

/// A scheme code: 1 to 32 of `A-Z a-z 0-9 _ -`, kept exactly as given (case matters, because
/// departments already publish codes and the hub must not rename them).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemeCode(String);

impl SchemeCode {
    /// Parses a scheme code, ignoring surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "scheme_code.format",
                "a scheme code must be 1 to 32 characters of letters A-Z, digits, '_' or '-'",
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type_impls!(SchemeCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(
            SchemeCode::parse(" PMAY-G ").expect("ok").as_str(),
            "PMAY-G"
        );
        assert!(SchemeCode::parse("old_age_pension_2").is_ok());
        assert!(SchemeCode::parse(&"A".repeat(32)).is_ok());
        for s in ["", "  ", "PM KISAN", "A.B", "É", &"A".repeat(33)] {
            assert_eq!(
                SchemeCode::parse(s).expect_err(s).code,
                "scheme_code.format",
                "{s:?}"
            );
        }
    }
}
