//! Scheme codes: the short identifiers welfare schemes are known by in uploads and the API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

impl FromStr for SchemeCode {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SchemeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SchemeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchemeCode({})", self.0)
    }
}

impl Serialize for SchemeCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SchemeCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

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
