//! Column values of registry records, and their conversion to and from the domain records.
//!
//! Both backends read and write these plain values, so the parsing of stored text back into
//! validated types (and the report of anything that no longer parses) is written once.

use chrono::{DateTime, Utc};
use sangam_domain::{
    CardType, DateOfBirth, EkycStatus, Gender, LifeStatus, PersonName, RationCardNumber, RefKey,
    Relationship, ValidationError, VillageCode,
};

use crate::records::{Address, Household, Resident};
use crate::{StoreError, StoreResult};

fn parsed<T>(what: &'static str, result: Result<T, ValidationError>) -> StoreResult<T> {
    result.map_err(|e| StoreError::corrupt(what, format!("{} ({})", e.message, e.code)))
}

fn blind_index(what: &'static str, bytes: Option<Vec<u8>>) -> StoreResult<Option<[u8; 32]>> {
    bytes
        .map(|b| {
            b.try_into()
                .map_err(|_| StoreError::corrupt(what, "blind index is not 32 bytes"))
        })
        .transpose()
}

/// A household's columns.
#[derive(Debug, Clone)]
pub struct RawHousehold {
    pub card_number: String,
    pub card_type: String,
    pub house_no: Option<String>,
    pub street: Option<String>,
    pub locality: Option<String>,
    pub pincode: Option<String>,
    pub village_code: i64,
    pub head_resident_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl RawHousehold {
    pub fn from_record(h: &Household) -> Self {
        RawHousehold {
            card_number: h.card_number.as_str().to_owned(),
            card_type: h.card_type.code().to_owned(),
            house_no: h.address.house_no.clone(),
            street: h.address.street.clone(),
            locality: h.address.locality.clone(),
            pincode: h.address.pincode.clone(),
            village_code: i64::from(h.village_code.get()),
            head_resident_id: h.head_resident_id.clone(),
            created_at: h.created_at,
            updated_at: h.updated_at,
            version: h.version,
        }
    }

    pub fn into_record(self) -> StoreResult<Household> {
        Ok(Household {
            card_number: parsed(
                "households.card_number",
                RationCardNumber::parse(&self.card_number),
            )?,
            card_type: parsed("households.card_type", CardType::parse(&self.card_type))?,
            address: Address {
                house_no: self.house_no,
                street: self.street,
                locality: self.locality,
                pincode: self.pincode,
            },
            village_code: parsed(
                "households.village_code",
                VillageCode::parse(&self.village_code.to_string()),
            )?,
            head_resident_id: self.head_resident_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// A resident's columns.
#[derive(Debug, Clone)]
pub struct RawResident {
    pub resident_id: String,
    pub card_number: String,
    pub name: String,
    pub relative_name: Option<String>,
    pub gender: String,
    pub dob: String,
    pub relationship: String,
    pub mobile_masked: Option<String>,
    pub mobile_blind_index: Option<Vec<u8>>,
    pub id_ref_key: Option<String>,
    pub ekyc_status: String,
    pub life_status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl RawResident {
    pub fn from_record(r: &Resident) -> Self {
        RawResident {
            resident_id: r.resident_id.clone(),
            card_number: r.card_number.as_str().to_owned(),
            name: r.name.as_str().to_owned(),
            relative_name: r.relative_name.as_ref().map(|n| n.as_str().to_owned()),
            gender: r.gender.code().to_owned(),
            dob: r.dob.to_storage(),
            relationship: r.relationship.code().to_owned(),
            mobile_masked: r.mobile_masked.clone(),
            mobile_blind_index: r.mobile_blind_index.map(|b| b.to_vec()),
            id_ref_key: r.id_ref_key.as_ref().map(|k| k.as_str().to_owned()),
            ekyc_status: r.ekyc_status.code().to_owned(),
            life_status: r.life_status.code().to_owned(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }

    pub fn into_record(self) -> StoreResult<Resident> {
        Ok(Resident {
            resident_id: self.resident_id,
            card_number: parsed(
                "residents.card_number",
                RationCardNumber::parse(&self.card_number),
            )?,
            name: parsed("residents.name", PersonName::parse(&self.name))?,
            relative_name: self
                .relative_name
                .map(|n| parsed("residents.relative_name", PersonName::parse(&n)))
                .transpose()?,
            gender: parsed("residents.gender", Gender::parse(&self.gender))?,
            dob: parsed("residents.dob", DateOfBirth::from_storage(&self.dob))?,
            relationship: parsed(
                "residents.relationship",
                Relationship::parse(&self.relationship),
            )?,
            mobile_masked: self.mobile_masked,
            mobile_blind_index: blind_index(
                "residents.mobile_blind_index",
                self.mobile_blind_index,
            )?,
            id_ref_key: self
                .id_ref_key
                .map(|k| parsed("residents.id_ref_key", RefKey::parse(&k)))
                .transpose()?,
            ekyc_status: parsed(
                "residents.ekyc_status",
                EkycStatus::parse(&self.ekyc_status),
            )?,
            life_status: parsed(
                "residents.life_status",
                LifeStatus::parse(&self.life_status),
            )?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// Converts a stored reference key, reporting a malformed one as corrupt.
pub fn ref_key(what: &'static str, text: &str) -> StoreResult<RefKey> {
    parsed(what, RefKey::parse(text))
}

/// Converts a stored 32-byte blind index.
pub fn blind_index_32(what: &'static str, bytes: Vec<u8>) -> StoreResult<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(what, "blind index is not 32 bytes"))
}
