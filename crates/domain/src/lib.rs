//! Validated domain types of the Sangam hub.
//!
//! Every value that crosses into the hub from outside is parsed into one of these types first,
//! so that the rest of the code never handles an unchecked ID number, date or code. Parsing
//! errors carry a stable code (for example `id_number.checksum`) and a plain message, and never
//! echo the offending value: callers attach the field name and row. Nothing here does I/O.

#[macro_use]
mod macros;

pub mod verhoeff;

pub mod code_list;
pub mod consent;
pub mod dob;
pub mod error;
pub mod gender;
pub mod id_number;
pub mod ifsc;
pub mod lgd;
pub mod mask;
pub mod mobile;
pub mod name;
pub mod ration_card;
pub mod ref_key;
pub mod relationship;
pub mod scheme;
pub mod status;
pub mod yes_no;

pub use code_list::{
    BankBranch, CodeListError, IfscDirectory, LgdDirectory, SchemeCodeList, SchemeEntry, Village,
};
pub use consent::ConsentRef;
pub use dob::DateOfBirth;
pub use error::ValidationError;
pub use gender::Gender;
pub use id_number::IdNumber;
pub use ifsc::Ifsc;
pub use lgd::{DistrictCode, StateCode, SubDistrictCode, VillageCode};
pub use mask::mask_keep_last;
pub use mobile::MobileNumber;
pub use name::PersonName;
pub use ration_card::{CardType, RationCardNumber};
pub use ref_key::RefKey;
pub use relationship::Relationship;
pub use scheme::SchemeCode;
pub use status::{EkycStatus, LifeStatus};
pub use yes_no::parse_yes_no;
