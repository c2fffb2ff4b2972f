//! Indian mobile numbers, validated and masked like ID numbers because they identify people.
//!
//! Only [`MobileNumber::expose_digits`] returns the number; `Display`, `Debug` and
//! `Serialize` give the mask `XXXXXX3210`, and the digits are wiped on drop.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::ValidationError;
use crate::mask::mask_keep_last;

/// A 10-digit Indian mobile number starting with 6, 7, 8 or 9, stored without prefix.
///
/// Like [`crate::IdNumber`] it has no `Deserialize`: `Serialize` writes only the mask, and
/// incoming numbers must go through [`MobileNumber::parse`] explicitly.
///
/// The digits are kept inline, not in a string of their own, for the same reason as an ID
/// number's: an upload parses one a row.
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct MobileNumber {
    /// Always 10 ASCII digits.
    digits: [u8; 10],
}

impl MobileNumber {
    /// Parses 10 digits starting 6-9, optionally prefixed by `+91`, `91` (only when that makes
    /// 12 digits in all) or `0`; spaces and hyphens anywhere are ignored.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        // "+91" and ten digits at most, all ASCII: anything longer or else is not a number.
        let mut buffer = Zeroizing::new([0u8; 13]);
        let mut len = 0;
        for c in input.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            let (Ok(byte), Some(slot)) = (u8::try_from(c), buffer.get_mut(len)) else {
                return Err(format_error());
            };
            *slot = byte;
            len += 1;
        }
        let compact = buffer
            .get(..len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(format_error)?;
        let (plus, rest) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact),
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format_error());
        }
        let national = match (plus, rest.len()) {
            (false, 10) => rest,
            (false, 11) => rest.strip_prefix('0').ok_or_else(format_error)?,
            (_, 12) => rest.strip_prefix("91").ok_or_else(format_error)?,
            _ => return Err(format_error()),
        };
        if !national.starts_with(['6', '7', '8', '9']) {
            return Err(format_error());
        }
        let digits = <[u8; 10]>::try_from(national.as_bytes()).map_err(|_| format_error())?;
        Ok(Self { digits })
    }

    /// The 10 digits. Every call site is a disclosure and worth a review.
    pub fn expose_digits(&self) -> &str {
        // Always ASCII digits, so never the empty default.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// The masked form `XXXXXX3210`, safe to show and log.
    pub fn masked(&self) -> String {
        mask_keep_last(self.expose_digits(), 4, None)
    }

    /// The last four digits.
    pub fn last_four(&self) -> &str {
        self.expose_digits().get(6..).unwrap_or_default()
    }
}

fn format_error() -> ValidationError {
    ValidationError::new(
        "mobile.format",
        "a mobile number must be 10 digits starting with 6, 7, 8 or 9, optionally preceded by +91, 91 or 0",
    )
}

impl FromStr for MobileNumber {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobileNumber({})", self.masked())
    }
}

impl Serialize for MobileNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        for input in [
            "9876543210",
            " 98765 43210 ",
            "98765-43210",
            "+91 98765 43210",
            "+919876543210",
            "919876543210",
            "09876543210",
            "+91-98765-43210",
        ] {
            assert_eq!(
                MobileNumber::parse(input).expect(input).expose_digits(),
                "9876543210",
                "{input}"
            );
        }
        assert!(MobileNumber::parse("6000000000").is_ok());
    }

    #[test]
    fn rejected_forms() {
        for input in [
            "",
            "5876543210",
            "987654321",
            "98765432100",
            "19876543210",
            "929876543210",
            "+9876543210",
            "+9109876543210",
            "+1 9876543210",
            "9876543210x",
            "(98765) 43210",
            "0919876543210",
            "00",
            "+",
        ] {
            assert_eq!(
                MobileNumber::parse(input).expect_err(input).code,
                "mobile.format",
                "{input:?}"
            );
        }
    }

    #[test]
    fn masked_everywhere() {
        let m = MobileNumber::parse("9876543210").expect("valid");
        assert_eq!(m.masked(), "XXXXXX3210");
        assert_eq!(m.to_string(), "XXXXXX3210");
        assert_eq!(format!("{m:?}"), "MobileNumber(XXXXXX3210)");
        assert_eq!(serde_json::to_string(&m).expect("ser"), "\"XXXXXX3210\"");
        assert_eq!(m.last_four(), "3210");
    }

    #[test]
    fn error_message_does_not_echo_input() {
        let e = MobileNumber::parse("5876543210").expect_err("bad");
        assert!(!e.message.contains("5876543210"));
    }
}
