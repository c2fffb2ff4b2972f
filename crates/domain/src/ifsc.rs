//! Indian Financial System Codes, which identify the bank branch of a beneficiary's account.
//!
//! Direct benefit transfers fail when the IFSC is malformed, so the shape is checked at
//! upload time; whether the branch exists is a code-list question for another layer.

use crate::error::ValidationError;

/// An IFSC in upper case: four letters (the bank), `0`, then six letters or digits (branch).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ifsc(String);

impl Ifsc {
    /// Parses an IFSC, ignoring case and surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let ok = b.len() == 11
            && b[..4].iter().all(u8::is_ascii_uppercase)
            && b[4] == b'0'
            && b[5..].iter().all(u8::is_ascii_alphanumeric);
        if ok {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "ifsc.format",
                "an IFSC must be 11 characters: four letters for the bank, the digit 0, then six letters or digits for the branch",
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first four letters, which identify the bank.
    pub fn bank_code(&self) -> &str {
        self.0.get(..4).unwrap_or_default()
    }

    /// The last six characters, which identify the branch.
    pub fn branch_code(&self) -> &str {
        self.0.get(5..).unwrap_or_default()
    }
}

text_type_impls!(Ifsc);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        let i = Ifsc::parse(" sbin0001234 ").expect("ok");
        assert_eq!(i.as_str(), "SBIN0001234");
        assert_eq!(i.bank_code(), "SBIN");
        assert_eq!(i.branch_code(), "001234");
        assert!(Ifsc::parse("HDFC0ABC123").is_ok());
        assert_eq!(serde_json::to_string(&i).expect("ser"), "\"SBIN0001234\"");
        assert_eq!(
            serde_json::from_str::<Ifsc>("\"sbin0001234\"").expect("de"),
            i
        );
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "SBIN001234",
            "SBIN00012345",
            "SBI10001234",
            "SBIN1001234",
            "SBIN000123-",
            "SBIN 001234",
            "ŚBIN0001234",
        ] {
            assert_eq!(Ifsc::parse(s).expect_err(s).code, "ifsc.format", "{s:?}");
        }
    }
}
