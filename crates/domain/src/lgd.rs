//! Local Government Directory (LGD) codes for states, districts, sub-districts and villages.
//!
//! LGD codes are the national keys for places. Files often carry them zero-padded (`09`) or
//! as spreadsheet numbers; the types keep the number itself, so `09` and `9` are one state.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

macro_rules! lgd_code {
    ($(#[$doc:meta])* $name:ident, $max_digits:expr, $code:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u32);

        impl $name {
            /// Most significant digits the code may have.
            pub const MAX_DIGITS: u32 = $max_digits;

            /// Parses decimal digits (leading zeros allowed and dropped); the value must be
            /// non-zero and fit in `MAX_DIGITS` digits.
            pub fn parse(input: &str) -> Result<Self, ValidationError> {
                let s = input.trim();
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Self::error());
                }
                let significant = s.trim_start_matches('0');
                if significant.len() > Self::MAX_DIGITS as usize {
                    return Err(Self::error());
                }
                let value: u32 = if significant.is_empty() {
                    0
                } else {
                    significant.parse().map_err(|_| Self::error())?
                };
                Self::new(value)
            }

            /// Checks a number: non-zero and at most `MAX_DIGITS` digits.
            pub fn new(value: u32) -> Result<Self, ValidationError> {
                if value == 0 || value >= 10u32.pow(Self::MAX_DIGITS) {
                    Err(Self::error())
                } else {
                    Ok(Self(value))
                }
            }

            /// The code as a number.
            pub fn get(self) -> u32 {
                self.0
            }

            fn error() -> ValidationError {
                ValidationError::new(
                    $code,
                    concat!(
                        "an LGD ", $what, " code must be a non-zero number of at most ",
                        stringify!($max_digits), " digits (leading zeros are allowed)"
                    ),
                )
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl Serialize for $name {
            /// Written as a string so that JSON and CSV agree and no one is tempted to do
            /// arithmetic on a code.
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            /// Accepts the canonical string and, for leniency with spreadsheet exports,
            /// a JSON number too; both are validated.
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct CodeVisitor;

                impl Visitor<'_> for CodeVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("an LGD ", $what, " code"))
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).map_err(E::custom)
                    }

                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        u32::try_from(v)
                            .map_err(|_| $name::error())
                            .and_then($name::new)
                            .map_err(E::custom)
                    }

                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        u32::try_from(v)
                            .map_err(|_| $name::error())
                            .and_then($name::new)
                            .map_err(E::custom)
                    }
                }

                deserializer.deserialize_any(CodeVisitor)
            }
        }
    };
}

lgd_code!(
    /// LGD state (or union territory) code: up to 2 digits.
    StateCode,
    2,
    "state_code.format",
    "state"
);
lgd_code!(
    /// LGD district code: up to 3 digits.
    DistrictCode,
    3,
    "district_code.format",
    "district"
);
lgd_code!(
    /// LGD sub-district (tehsil, taluk, mandal) code: up to 4 digits.
    SubDistrictCode,
    4,
    "sub_district_code.format",
    "sub-district"
);
lgd_code!(
    /// LGD village code: up to 6 digits.
    VillageCode,
    6,
    "village_code.format",
    "village"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_leading_zeros() {
        assert_eq!(StateCode::parse("09").expect("ok").get(), 9);
        assert_eq!(StateCode::parse(" 34 ").expect("ok").get(), 34);
        assert_eq!(DistrictCode::parse("0603").expect("ok").get(), 603);
        assert_eq!(SubDistrictCode::parse("5678").expect("ok").get(), 5678);
        assert_eq!(VillageCode::parse("000123456").expect("ok").get(), 123456);
        assert_eq!(
            VillageCode::parse("644250").expect("ok").to_string(),
            "644250"
        );
    }

    #[test]
    fn errors() {
        for s in ["", "0", "00", "100", "1a", "-1", "+1", "1.0", "९"] {
            assert_eq!(
                StateCode::parse(s).expect_err(s).code,
                "state_code.format",
                "{s:?}"
            );
        }
        assert_eq!(
            DistrictCode::parse("1000").expect_err("long").code,
            "district_code.format"
        );
        assert_eq!(
            SubDistrictCode::parse("10000").expect_err("long").code,
            "sub_district_code.format"
        );
        assert_eq!(
            VillageCode::parse("1000000").expect_err("long").code,
            "village_code.format"
        );
        assert_eq!(
            VillageCode::parse("99999999999999999999999")
                .expect_err("huge")
                .code,
            "village_code.format"
        );
        assert!(VillageCode::new(0).is_err());
        assert!(VillageCode::new(999_999).is_ok());
    }

    #[test]
    fn serde_as_string_accepts_numbers() {
        let code = DistrictCode::parse("603").expect("ok");
        assert_eq!(serde_json::to_string(&code).expect("ser"), "\"603\"");
        assert_eq!(
            serde_json::from_str::<DistrictCode>("\"0603\"").expect("de"),
            code
        );
        assert_eq!(
            serde_json::from_str::<DistrictCode>("603").expect("de"),
            code
        );
        assert!(serde_json::from_str::<DistrictCode>("6030").is_err());
        assert!(serde_json::from_str::<DistrictCode>("-3").is_err());
        assert!(serde_json::from_str::<DistrictCode>("true").is_err());
    }
}
