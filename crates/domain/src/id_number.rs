//! The 12-digit national ID number (Aadhaar), validated and kept out of sight.
//!
//! The type exists so that a raw ID number can only be obtained by calling
//! [`IdNumber::expose_digits`], which is easy to find in review. Everything else (`Display`,
//! `Debug`, `Serialize`) shows the mask `XXXX XXXX 1234`, and the digits are wiped from memory
//! when the value is dropped.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::ValidationError;
use crate::mask::mask_keep_last;
use crate::verhoeff;

const FORMAT_MESSAGE: &str = "an ID number must be 12 digits, written either without separators or in three groups of four separated by single spaces or hyphens";

/// A valid 12-digit ID number: first digit 2-9 and a correct Verhoeff check digit.
///
/// Deliberately has no `Deserialize`: an ID number arriving in JSON or a form must go through
/// [`IdNumber::parse`] where the caller decides what to do with the error, and its `Serialize`
/// writes only the mask, so a serialize/deserialize round trip could never work anyway.
///
/// The digits are kept inline, not in a string of their own: uploads parse, seal and drop a
/// number a row, and an allocation for each was a measurable part of a load.
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct IdNumber {
    /// Always 12 ASCII digits.
    digits: [u8; 12],
}

impl IdNumber {
    /// Parses 12 digits, optionally grouped 4-4-4 by single spaces or single hyphens
    /// (`2345 6789 0124`, `2345-6789-0124`); surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let digits = strip_grouping(input.trim()).ok_or_else(format_error)?;
        Self::from_plain_digits(&digits[..])
    }

    /// Builds an ID number from its first 11 digits by appending the Verhoeff check digit.
    /// Used to generate synthetic numbers; the first digit must still be 2-9.
    pub fn from_eleven_digits(first11: &str) -> Result<IdNumber, ValidationError> {
        let first11 = first11.trim();
        if first11.len() != 11 || !first11.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(
                "id_number.format",
                "the first part of an ID number must be exactly 11 digits",
            ));
        }
        let check = verhoeff::check_digit(first11).ok_or_else(format_error)?;
        let mut digits = Zeroizing::new([0u8; 12]);
        digits[..11].copy_from_slice(first11.as_bytes());
        digits[11] = b'0' + check;
        Self::from_plain_digits(&digits[..])
    }

    /// Validates exactly 12 ASCII digits with no separators.
    fn from_plain_digits(digits: &[u8]) -> Result<Self, ValidationError> {
        let Ok(digits) = <[u8; 12]>::try_from(digits) else {
            return Err(format_error());
        };
        // Built before the checks, so that the digits are wiped (on drop) whichever fails.
        let number = Self { digits };
        if !number.digits.iter().all(u8::is_ascii_digit) {
            return Err(format_error());
        }
        let text = number.expose_digits();
        if text.starts_with(['0', '1']) {
            return Err(ValidationError::new(
                "id_number.first_digit",
                "an ID number never starts with 0 or 1; the first digit must be 2 to 9",
            ));
        }
        if !verhoeff::is_valid(text) {
            return Err(ValidationError::new(
                "id_number.checksum",
                "the ID number's check digit does not match (Verhoeff check failed); a digit is probably mistyped or two digits are swapped",
            ));
        }
        Ok(number)
    }

    /// The full 12 digits. Call only where the number must really leave the type (vault
    /// encryption, blind index, an approved disclosure); every call site is worth a review.
    pub fn expose_digits(&self) -> &str {
        // Always ASCII digits, so never the empty default.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// The masked form `XXXX XXXX 1234`, safe to show and log.
    pub fn masked(&self) -> String {
        mask_keep_last(self.expose_digits(), 4, Some(4))
    }

    /// The last four digits, which the hub is allowed to show alongside a name.
    pub fn last_four(&self) -> &str {
        self.expose_digits().get(8..).unwrap_or_default()
    }
}

/// Returns the 12 digits if `s` is either 12 plain digits or `dddd?dddd?dddd` with the same
/// single separator (space or hyphen) at both positions; `None` otherwise.
fn strip_grouping(s: &str) -> Option<Zeroizing<[u8; 12]>> {
    let bytes = s.as_bytes();
    let mut out = Zeroizing::new([0u8; 12]);
    match bytes.len() {
        12 => out.copy_from_slice(bytes),
        14 => {
            let sep = bytes[4];
            if !(sep == b' ' || sep == b'-') || bytes[9] != sep {
                return None;
            }
            let groups = bytes[..4].iter().chain(&bytes[5..9]).chain(&bytes[10..]);
            for (o, &b) in out.iter_mut().zip(groups) {
                *o = b;
            }
        }
        _ => return None,
    }
    out.iter().all(u8::is_ascii_digit).then_some(out)
}

fn format_error() -> ValidationError {
    ValidationError::new("id_number.format", FORMAT_MESSAGE)
}

impl FromStr for IdNumber {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl Serialize for IdNumber {
    /// Writes the mask only, so that an `IdNumber` inside any serialized structure cannot leak.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "234567890124";

    fn code(input: &str) -> &'static str {
        IdNumber::parse(input).expect_err("should be rejected").code
    }

    #[test]
    fn accepts_plain_and_grouped_forms() {
        assert!(verhoeff::is_valid(VALID));
        for input in [
            VALID,
            "2345 6789 0124",
            "2345-6789-0124",
            "  234567890124\t",
        ] {
            let id = IdNumber::parse(input).expect("valid");
            assert_eq!(id.expose_digits(), VALID);
        }
        assert_eq!(
            VALID.parse::<IdNumber>().expect("valid").last_four(),
            "0124"
        );
    }

    #[test]
    fn format_errors() {
        for input in [
            "",
            "23456789012",
            "2345678901245",
            "2345 6789-0124",
            "2345  6789 0124",
            "23456 789 0124",
            "2345a6789b0124",
            "2345 678a 0124",
            "२३४५६७८९०१२४",
            "+23456789012",
        ] {
            assert_eq!(code(input), "id_number.format", "{input:?}");
        }
    }

    #[test]
    fn first_digit_and_checksum_errors() {
        assert_eq!(code("034567890124"), "id_number.first_digit");
        assert_eq!(code("134567890124"), "id_number.first_digit");
        assert_eq!(code("234567890125"), "id_number.checksum");
        assert_eq!(code("324567890124"), "id_number.checksum");
    }

    #[test]
    fn from_eleven_digits_appends_check_digit() {
        let id = IdNumber::from_eleven_digits("23456789012").expect("valid");
        assert_eq!(id.expose_digits(), VALID);
        assert_eq!(
            IdNumber::from_eleven_digits("13456789012")
                .expect_err("first digit")
                .code,
            "id_number.first_digit"
        );
        assert_eq!(
            IdNumber::from_eleven_digits("2345678901")
                .expect_err("too short")
                .code,
            "id_number.format"
        );
        assert_eq!(
            IdNumber::from_eleven_digits("2345678901x")
                .expect_err("non-digit")
                .code,
            "id_number.format"
        );
    }

    #[test]
    fn display_debug_and_serialize_are_masked() {
        let id = IdNumber::parse(VALID).expect("valid");
        assert_eq!(id.masked(), "XXXX XXXX 0124");
        assert_eq!(id.to_string(), "XXXX XXXX 0124");
        assert_eq!(format!("{id:?}"), "IdNumber(XXXX XXXX 0124)");
        assert_eq!(
            serde_json::to_string(&id).expect("serialize"),
            "\"XXXX XXXX 0124\""
        );
    }

    #[test]
    fn error_messages_never_contain_the_input() {
        for input in [
            "234567890125",
            "034567890124",
            "2345678901",
            "2345 6789 0125",
            "98765432101x",
        ] {
            let err = IdNumber::parse(input).expect_err("invalid");
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            assert!(!err.message.contains(input), "{}", err.message);
            assert!(!err.message.contains(&digits[..digits.len().min(4)]));
            assert!(!format!("{err:?}").contains(&digits));
        }
    }
}
