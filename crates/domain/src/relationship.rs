//! A household member's relationship to the head of the household, as on the ration card.
//!
//! Sources spell these many ways (`HOF`, `Son-in-law`, `S/O`...); parsing folds the common
//! spellings onto one closed list so household structure can be compared across schemes.

use crate::error::ValidationError;

/// Relationship to the head of household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relationship {
    /// The head of household (`SELF`, `HOF`).
    Head,
    /// Wife or husband of the head.
    Spouse,
    /// Son.
    Son,
    /// Daughter.
    Daughter,
    /// Father.
    Father,
    /// Mother.
    Mother,
    /// Brother.
    Brother,
    /// Sister.
    Sister,
    /// Grandson.
    Grandson,
    /// Granddaughter.
    Granddaughter,
    /// Son-in-law.
    SonInLaw,
    /// Daughter-in-law.
    DaughterInLaw,
    /// Father-in-law.
    FatherInLaw,
    /// Mother-in-law.
    MotherInLaw,
    /// Grandfather.
    Grandfather,
    /// Grandmother.
    Grandmother,
    /// Any other relative or unrelated member.
    Other,
}

impl Relationship {
    /// All values, in declaration order.
    pub const ALL: [Relationship; 17] = [
        Self::Head,
        Self::Spouse,
        Self::Son,
        Self::Daughter,
        Self::Father,
        Self::Mother,
        Self::Brother,
        Self::Sister,
        Self::Grandson,
        Self::Granddaughter,
        Self::SonInLaw,
        Self::DaughterInLaw,
        Self::FatherInLaw,
        Self::MotherInLaw,
        Self::Grandfather,
        Self::Grandmother,
        Self::Other,
    ];

    /// Parses a relationship ignoring case, spaces, hyphens, underscores and dots, so
    /// `son-in-law`, `Son In Law` and `SON_IN_LAW` are the same. Aliases: `SELF`, `HOF`,
    /// `HEAD OF FAMILY` and `HEAD OF HOUSEHOLD` for the head; `WIFE` and `HUSBAND` for spouse.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let key: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
            .flat_map(char::to_uppercase)
            .collect();
        let value = match key.as_str() {
            "HEAD" | "SELF" | "HOF" | "HEADOFFAMILY" | "HEADOFHOUSEHOLD" => Self::Head,
            "SPOUSE" | "WIFE" | "HUSBAND" => Self::Spouse,
            "SON" => Self::Son,
            "DAUGHTER" => Self::Daughter,
            "FATHER" => Self::Father,
            "MOTHER" => Self::Mother,
            "BROTHER" => Self::Brother,
            "SISTER" => Self::Sister,
            "GRANDSON" => Self::Grandson,
            "GRANDDAUGHTER" => Self::Granddaughter,
            "SONINLAW" => Self::SonInLaw,
            "DAUGHTERINLAW" => Self::DaughterInLaw,
            "FATHERINLAW" => Self::FatherInLaw,
            "MOTHERINLAW" => Self::MotherInLaw,
            "GRANDFATHER" => Self::Grandfather,
            "GRANDMOTHER" => Self::Grandmother,
            "OTHER" | "OTHERS" => Self::Other,
            _ => {
                return Err(ValidationError::new(
                    "relationship.unknown",
                    "relationship to the head of household must be one of HEAD (or SELF, HOF), SPOUSE (or WIFE, HUSBAND), SON, DAUGHTER, FATHER, MOTHER, BROTHER, SISTER, GRANDSON, GRANDDAUGHTER, SON_IN_LAW, DAUGHTER_IN_LAW, FATHER_IN_LAW, MOTHER_IN_LAW, GRANDFATHER, GRANDMOTHER or OTHER",
                ));
            }
        };
        Ok(value)
    }

    /// The stable code, e.g. `HEAD` or `SON_IN_LAW`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Head => "HEAD",
            Self::Spouse => "SPOUSE",
            Self::Son => "SON",
            Self::Daughter => "DAUGHTER",
            Self::Father => "FATHER",
            Self::Mother => "MOTHER",
            Self::Brother => "BROTHER",
            Self::Sister => "SISTER",
            Self::Grandson => "GRANDSON",
            Self::Granddaughter => "GRANDDAUGHTER",
            Self::SonInLaw => "SON_IN_LAW",
            Self::DaughterInLaw => "DAUGHTER_IN_LAW",
            Self::FatherInLaw => "FATHER_IN_LAW",
            Self::MotherInLaw => "MOTHER_IN_LAW",
            Self::Grandfather => "GRANDFATHER",
            Self::Grandmother => "GRANDMOTHER",
            Self::Other => "OTHER",
        }
    }
}

code_enum_impls!(Relationship);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_roundtrip() {
        for r in Relationship::ALL {
            assert_eq!(Relationship::parse(r.code()).expect("code"), r);
            assert_eq!(
                Relationship::parse(&r.code().to_lowercase()).expect("lc"),
                r
            );
        }
    }

    #[test]
    fn aliases_and_spellings() {
        for (input, expected) in [
            ("SELF", Relationship::Head),
            ("hof", Relationship::Head),
            ("Head of Family", Relationship::Head),
            ("head", Relationship::Head),
            ("Wife", Relationship::Spouse),
            ("HUSBAND", Relationship::Spouse),
            ("son-in-law", Relationship::SonInLaw),
            ("Son In Law", Relationship::SonInLaw),
            ("daughter_in_law", Relationship::DaughterInLaw),
            ("Grand Daughter", Relationship::Granddaughter),
            ("others", Relationship::Other),
        ] {
            assert_eq!(
                Relationship::parse(input).expect(input),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn unknown() {
        for input in ["", "cousin", "S/O", "friend"] {
            assert_eq!(
                Relationship::parse(input).expect_err(input).code,
                "relationship.unknown"
            );
        }
    }

    #[test]
    fn serde_as_code() {
        assert_eq!(
            serde_json::to_string(&Relationship::SonInLaw).expect("ser"),
            "\"SON_IN_LAW\""
        );
        assert_eq!(
            serde_json::from_str::<Relationship>("\"wife\"").expect("de"),
            Relationship::Spouse
        );
    }
}
