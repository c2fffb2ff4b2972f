//! CSV writer for the base registry (one row per member, card columns repeated).

use std::io::Write;

use crate::household::Generator;

/// Columns of the base registry CSV, in order.
pub const BASE_REGISTRY_HEADER: &[&str] = &[
    "ration_card_no",
    "card_type",
    "house_no",
    "street",
    "locality",
    "village_code",
    "pincode",
    "member_name",
    "relative_name",
    "gender",
    "dob",
    "relationship",
    "aadhaar",
    "mobile",
    "life_status",
];

/// Writes every household of `generator` as base-registry rows, one per member, and returns
/// the number of data rows written (the header not counted).
pub fn write_base_registry_csv<W: Write>(generator: &Generator, out: W) -> csv::Result<u64> {
    let mut wtr = csv::Writer::from_writer(out);
    wtr.write_record(BASE_REGISTRY_HEADER)?;
    let mut rows = 0u64;
    let mut dob = String::new();
    for h in generator.households() {
        let village_code = h.village.village_code.to_string();
        for m in &h.members {
            dob.clear();
            {
                use std::fmt::Write as _;
                let _ = write!(dob, "{}", m.dob);
            }
            wtr.write_record([
                h.card_number.as_str(),
                h.card_type.code(),
                h.address.house_no.as_str(),
                h.address.street.as_str(),
                h.address.locality.as_str(),
                village_code.as_str(),
                h.address.pincode.as_str(),
                m.name.as_str(),
                m.relative_name.as_str(),
                m.gender.code(),
                dob.as_str(),
                m.relationship.code(),
                m.id_number.as_deref().unwrap_or(""),
                m.mobile.as_deref().unwrap_or(""),
                m.life_status.code(),
            ])?;
            rows += 1;
        }
    }
    wtr.flush()?;
    Ok(rows)
}
