//! Gender as recorded on ration cards and scheme forms.
//!
//! Three values, matching the categories Indian government forms use. Free text such as
//! "other" is refused rather than guessed, so that an upload's mapping mistakes surface.

use crate::error::ValidationError;

/// Recorded gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gender {
    /// `F`.
    Female,
    /// `M`.
    Male,
    /// `T`: transgender or third gender.
    Transgender,
}

impl Gender {
    /// All values, in code order.
    pub const ALL: [Gender; 3] = [Gender::Female, Gender::Male, Gender::Transgender];

    /// Parses `F`/`M`/`T`, `female`/`male`/`transgender`, `TG` and `third gender`, ignoring
    /// case, surrounding whitespace, and spaces, hyphens or underscores inside.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let key: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
            .flat_map(char::to_uppercase)
            .collect();
        match key.as_str() {
            "F" | "FEMALE" | "WOMAN" => Ok(Self::Female),
            "M" | "MALE" | "MAN" => Ok(Self::Male),
            "T" | "TG" | "TRANSGENDER" | "THIRDGENDER" => Ok(Self::Transgender),
            _ => Err(ValidationError::new(
                "gender.unknown",
                "gender must be F (female), M (male) or T (transgender / third gender)",
            )),
        }
    }

    /// The one-letter code: `F`, `M` or `T`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Female => "F",
            Self::Male => "M",
            Self::Transgender => "T",
        }
    }
}

code_enum_impls!(Gender);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_words() {
        for (input, expected) in [
            ("F", Gender::Female),
            (" female ", Gender::Female),
            ("Female", Gender::Female),
            ("m", Gender::Male),
            ("MALE", Gender::Male),
            ("t", Gender::Transgender),
            ("TG", Gender::Transgender),
            ("Transgender", Gender::Transgender),
            ("third gender", Gender::Transgender),
            ("Third-Gender", Gender::Transgender),
        ] {
            assert_eq!(Gender::parse(input).expect(input), expected, "{input}");
        }
        for g in Gender::ALL {
            assert_eq!(Gender::parse(g.code()).expect("code"), g);
        }
    }

    #[test]
    fn rejects_unknown() {
        for input in ["", "other", "O", "X", "fem", "1"] {
            assert_eq!(
                Gender::parse(input).expect_err(input).code,
                "gender.unknown"
            );
        }
    }

    #[test]
    fn serde_as_code() {
        assert_eq!(serde_json::to_string(&Gender::Male).expect("ser"), "\"M\"");
        assert_eq!(
            serde_json::from_str::<Gender>("\"female\"").expect("de"),
            Gender::Female
        );
        assert!(serde_json::from_str::<Gender>("\"other\"").is_err());
    }
}
