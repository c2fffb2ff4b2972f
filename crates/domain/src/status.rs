//! Small status enums kept on each resident: whether they are alive, and whether their ID
//! number has passed eKYC (electronic know-your-customer) verification.

use crate::error::ValidationError;

/// Lowercases and turns spaces and hyphens into underscores, so `Not Done` equals `not_done`.
fn key(input: &str) -> String {
    input
        .trim()
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        .to_lowercase()
}

/// Whether a resident is still part of the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LifeStatus {
    /// Living and resident (the default for a new record).
    #[default]
    Alive,
    /// Reported dead.
    Deceased,
    /// Moved out of the state.
    Migrated,
}

impl LifeStatus {
    /// Parses `alive`, `deceased` or `migrated` (any case; `dead` and `expired` also mean
    /// deceased, as death registers write them).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match key(input).as_str() {
            "alive" | "living" => Ok(Self::Alive),
            "deceased" | "dead" | "expired" => Ok(Self::Deceased),
            "migrated" => Ok(Self::Migrated),
            _ => Err(ValidationError::new(
                "life_status.unknown",
                "life status must be alive, deceased or migrated",
            )),
        }
    }

    /// `alive`, `deceased` or `migrated`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Deceased => "deceased",
            Self::Migrated => "migrated",
        }
    }
}

code_enum_impls!(LifeStatus);

/// Outcome of eKYC for a resident's ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EkycStatus {
    /// Not attempted yet (the default).
    #[default]
    NotDone,
    /// Verified against the national ID authority.
    Verified,
    /// Attempted and failed.
    Failed,
}

impl EkycStatus {
    /// Parses `not_done`, `verified` or `failed` (any case; spaces or hyphens may replace the
    /// underscore).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match key(input).as_str() {
            "not_done" | "notdone" | "pending" => Ok(Self::NotDone),
            "verified" => Ok(Self::Verified),
            "failed" => Ok(Self::Failed),
            _ => Err(ValidationError::new(
                "ekyc_status.unknown",
                "eKYC status must be not_done, verified or failed",
            )),
        }
    }

    /// `not_done`, `verified` or `failed`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotDone => "not_done",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }
}

code_enum_impls!(EkycStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_status() {
        assert_eq!(LifeStatus::default(), LifeStatus::Alive);
        for s in [
            LifeStatus::Alive,
            LifeStatus::Deceased,
            LifeStatus::Migrated,
        ] {
            assert_eq!(LifeStatus::parse(s.code()).expect("code"), s);
        }
        assert_eq!(
            LifeStatus::parse(" DEAD ").expect("dead"),
            LifeStatus::Deceased
        );
        assert_eq!(
            LifeStatus::parse("unknown").expect_err("bad").code,
            "life_status.unknown"
        );
        assert_eq!(
            serde_json::to_string(&LifeStatus::Migrated).expect("ser"),
            "\"migrated\""
        );
    }

    #[test]
    fn ekyc_status() {
        assert_eq!(EkycStatus::default(), EkycStatus::NotDone);
        for s in [
            EkycStatus::NotDone,
            EkycStatus::Verified,
            EkycStatus::Failed,
        ] {
            assert_eq!(EkycStatus::parse(s.code()).expect("code"), s);
        }
        assert_eq!(
            EkycStatus::parse("Not Done").expect("nd"),
            EkycStatus::NotDone
        );
        assert_eq!(
            EkycStatus::parse("not-done").expect("nd"),
            EkycStatus::NotDone
        );
        assert_eq!(
            EkycStatus::parse("").expect_err("bad").code,
            "ekyc_status.unknown"
        );
        assert_eq!(
            serde_json::from_str::<EkycStatus>("\"VERIFIED\"").expect("de"),
            EkycStatus::Verified
        );
    }
}
