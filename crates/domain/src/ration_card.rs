//! Ration card numbers and card types, the keys of the household registry.
//!
//! Each state numbers its cards its own way, so the number's rule is deliberately loose
//! (letters, digits, single `/` or `-` separators); the card type folds the national
//! categories' many spellings onto AAY, PHH and NPHH and keeps state-specific types as given.

use crate::error::ValidationError;

/// Shortest and longest accepted card number, in characters after spaces are removed.
const MIN_LEN: usize = 4;
const MAX_LEN: usize = 24;

/// A ration card number in canonical form: no spaces, upper case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RationCardNumber(String);

impl RationCardNumber {
    /// Removes all spaces, uppercases, and checks: 4 to 24 characters of ASCII letters and
    /// digits with optional single `/` or `-` separators between them, at least one digit.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let fail = |message: &str| Err(ValidationError::new("ration_card.format", message));
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'-')
        {
            return fail(
                "a ration card number may contain only letters A-Z, digits and '/' or '-' separators",
            );
        }
        let len = s.len();
        if !(MIN_LEN..=MAX_LEN).contains(&len) {
            return fail(
                "a ration card number must be 4 to 24 characters long, not counting spaces",
            );
        }
        let is_sep = |b: u8| b == b'/' || b == b'-';
        let bytes = s.as_bytes();
        let bad_separator = bytes.first().copied().is_some_and(is_sep)
            || bytes.last().copied().is_some_and(is_sep)
            || bytes.windows(2).any(|w| is_sep(w[0]) && is_sep(w[1]));
        if bad_separator {
            return fail(
                "in a ration card number, '/' and '-' may appear only singly between letters or digits",
            );
        }
        if !bytes.iter().any(u8::is_ascii_digit) {
            return fail("a ration card number must contain at least one digit");
        }
        Ok(Self(s))
    }

    /// The canonical number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type_impls!(RationCardNumber);

/// The category of a ration card under the National Food Security Act, or a state's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CardType {
    /// Antyodaya Anna Yojana: the poorest households.
    Aay,
    /// Priority household (formerly BPL).
    Phh,
    /// Non-priority household (formerly APL).
    Nphh,
    /// A state-specific type, kept as its upper-case code (1 to 10 of A-Z, 0-9, `_`, `-`).
    Other(String),
}

impl CardType {
    /// Parses a card type, ignoring case. `AAY`/`ANTYODAYA` → AAY, `PHH`/`PRIORITY`/`BPL` →
    /// PHH, `NPHH`/`NON-PRIORITY`/`APL` → NPHH; any other short code becomes `Other`.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let upper = input.trim().to_ascii_uppercase();
        let key: String = upper
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_'))
            .collect();
        let known = match key.as_str() {
            "AAY" | "ANTYODAYA" | "ANTYODAYAANNAYOJANA" => Some(Self::Aay),
            "PHH" | "PRIORITY" | "PRIORITYHOUSEHOLD" | "BPL" => Some(Self::Phh),
            "NPHH" | "NONPRIORITY" | "NONPRIORITYHOUSEHOLD" | "APL" => Some(Self::Nphh),
            _ => None,
        };
        if let Some(t) = known {
            return Ok(t);
        }
        let valid_other = (1..=10).contains(&upper.len())
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid_other {
            Ok(Self::Other(upper))
        } else {
            Err(ValidationError::new(
                "card_type.unknown",
                "card type must be AAY, PHH, NPHH, or a state code of 1 to 10 letters, digits, '_' or '-'",
            ))
        }
    }

    /// `AAY`, `PHH`, `NPHH`, or the state-specific code.
    pub fn code(&self) -> &str {
        match self {
            Self::Aay => "AAY",
            Self::Phh => "PHH",
            Self::Nphh => "NPHH",
            Self::Other(code) => code,
        }
    }
}

code_enum_impls!(CardType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers() {
        for (input, expected) in [
            ("pdy 0123 4567", "PDY01234567"),
            ("WAP/123/4567", "WAP/123/4567"),
            ("ab-12", "AB-12"),
            ("1234", "1234"),
            ("123456789012345678901234", "123456789012345678901234"),
        ] {
            assert_eq!(
                RationCardNumber::parse(input).expect(input).as_str(),
                expected
            );
        }
        for input in [
            "",
            "12 3",
            "1234567890123456789012345",
            "ABCDEF",
            "/1234",
            "1234-",
            "12//34",
            "12-/34",
            "12_34",
            "१२३४५",
            "12.34",
        ] {
            assert_eq!(
                RationCardNumber::parse(input).expect_err(input).code,
                "ration_card.format",
                "{input:?}"
            );
        }
    }

    #[test]
    fn card_types() {
        for (input, expected) in [
            ("aay", CardType::Aay),
            ("Antyodaya", CardType::Aay),
            ("PHH", CardType::Phh),
            ("priority", CardType::Phh),
            ("bpl", CardType::Phh),
            ("nphh", CardType::Nphh),
            ("Non-Priority", CardType::Nphh),
            ("APL", CardType::Nphh),
            ("sphh", CardType::Other("SPHH".to_owned())),
            ("state_1", CardType::Other("STATE_1".to_owned())),
        ] {
            assert_eq!(CardType::parse(input).expect(input), expected, "{input}");
        }
        for input in ["", "TOO LONG CODE", "ABCDEFGHIJK", "A.B", "अन्त्योदय"] {
            assert_eq!(
                CardType::parse(input).expect_err(input).code,
                "card_type.unknown",
                "{input:?}"
            );
        }
        assert_eq!(CardType::Other("SPHH".to_owned()).code(), "SPHH");
        assert_eq!(
            serde_json::to_string(&CardType::Nphh).expect("ser"),
            "\"NPHH\""
        );
        assert_eq!(
            serde_json::from_str::<CardType>("\"bpl\"").expect("de"),
            CardType::Phh
        );
    }
}
