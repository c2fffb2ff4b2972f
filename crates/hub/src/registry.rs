//! The base registry: loading households with their members, reading them, and changing a
//! resident with a history of every field.

use chrono::{DateTime, Utc};
use sangam_domain::{
    CardType, ConsentRef, DateOfBirth, EkycStatus, Gender, IdNumber, LifeStatus, MobileNumber,
    PersonName, RationCardNumber, RefKey, Relationship, VillageCode,
};
use sangam_store::{
    Address, ChangeContext, EntityKind, FieldChange, HistoryEntry, Household, RegistryCounts,
    Resident,
};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// What a ration card says of a household, validated.
#[derive(Debug, Clone)]
pub struct HouseholdDetails {
    pub card_number: RationCardNumber,
    pub card_type: CardType,
    pub address: Address,
    pub village_code: VillageCode,
}

/// What the registry keeps of a member as given (the ID number goes to the vault instead).
#[derive(Debug, Clone)]
pub struct MemberDetails {
    pub name: PersonName,
    pub relative_name: Option<PersonName>,
    pub gender: Gender,
    pub dob: DateOfBirth,
    pub relationship: Relationship,
    pub mobile: Option<MobileNumber>,
    pub life_status: LifeStatus,
}

/// A household to load, with its members.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    pub details: HouseholdDetails,
    pub members: Vec<NewMember>,
}

/// A member to load. The ID number goes to the vault; only its reference key is kept.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub details: MemberDetails,
    pub id_number: Option<(IdNumber, ConsentRef)>,
}

/// A household and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdView {
    pub household: Household,
    pub members: Vec<Resident>,
}

/// What a load added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LoadCounts {
    pub households: u64,
    pub residents: u64,
    pub id_numbers: u64,
}

/// A change to a resident: fields left `None` stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ResidentPatch {
    pub name: Option<PersonName>,
    pub relative_name: Option<Option<PersonName>>,
    pub gender: Option<Gender>,
    pub dob: Option<DateOfBirth>,
    pub relationship: Option<Relationship>,
    pub mobile: Option<Option<MobileNumber>>,
    pub ekyc_status: Option<EkycStatus>,
    pub life_status: Option<LifeStatus>,
}

/// Records a change of one field if the value differs.
fn diff<T: PartialEq>(
    changes: &mut Vec<FieldChange>,
    field: &'static str,
    old: &T,
    new: &T,
    show: impl Fn(&T) -> Option<String>,
) {
    if old != new {
        changes.push(FieldChange {
            field,
            old_value: show(old),
            new_value: show(new),
        });
    }
}

/// The fields that differ between two states of a resident, as the history records them
/// (mobile numbers only masked).
pub(crate) fn resident_changes(old: &Resident, new: &Resident) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    diff(&mut changes, "name", &old.name, &new.name, |v| {
        Some(v.as_str().to_owned())
    });
    diff(
        &mut changes,
        "relative_name",
        &old.relative_name,
        &new.relative_name,
        |v| v.as_ref().map(|n| n.as_str().to_owned()),
    );
    diff(&mut changes, "gender", &old.gender, &new.gender, |v| {
        Some(v.code().to_owned())
    });
    diff(&mut changes, "dob", &old.dob, &new.dob, |v| {
        Some(v.to_storage())
    });
    diff(
        &mut changes,
        "relationship",
        &old.relationship,
        &new.relationship,
        |v| Some(v.code().to_owned()),
    );
    // The masked form alone cannot tell two numbers with the same last digits apart, so
    // the change is detected on the blind index and recorded masked.
    if old.mobile_blind_index != new.mobile_blind_index {
        changes.push(FieldChange {
            field: "mobile",
            old_value: old.mobile_masked.clone(),
            new_value: new.mobile_masked.clone(),
        });
    }
    diff(
        &mut changes,
        "ekyc_status",
        &old.ekyc_status,
        &new.ekyc_status,
        |v| Some(v.code().to_owned()),
    );
    diff(
        &mut changes,
        "life_status",
        &old.life_status,
        &new.life_status,
        |v| Some(v.code().to_owned()),
    );
    changes
}

/// Writes into `household` what a ration card's row says of it (the card type, the village,
/// and each address line the row fills: an empty one leaves the stored line as it is), and
/// returns the fields that changed, for the history.
pub(crate) fn apply_household_details(
    household: &mut Household,
    given: &HouseholdDetails,
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let old = household.clone();
    household.card_type = given.card_type.clone();
    household.village_code = given.village_code;
    let a = &given.address;
    for (line, value) in [
        (&mut household.address.house_no, &a.house_no),
        (&mut household.address.street, &a.street),
        (&mut household.address.locality, &a.locality),
        (&mut household.address.pincode, &a.pincode),
    ] {
        if value.is_some() {
            line.clone_from(value);
        }
    }
    diff(
        &mut changes,
        "card_type",
        &old.card_type,
        &household.card_type,
        |v| Some(v.code().to_owned()),
    );
    diff(
        &mut changes,
        "village_code",
        &old.village_code,
        &household.village_code,
        |v| Some(v.to_string()),
    );
    let (o, n) = (&old.address, &household.address);
    for (field, old_line, new_line) in [
        ("house_no", &o.house_no, &n.house_no),
        ("street", &o.street, &n.street),
        ("locality", &o.locality, &n.locality),
        ("pincode", &o.pincode, &n.pincode),
    ] {
        diff(&mut changes, field, old_line, new_line, Clone::clone);
    }
    changes
}

/// The record of a household added now.
pub(crate) fn household_record(
    h: HouseholdDetails,
    head_resident_id: Option<String>,
    now: DateTime<Utc>,
) -> Household {
    Household {
        card_number: h.card_number,
        card_type: h.card_type,
        address: h.address,
        village_code: h.village_code,
        head_resident_id,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

impl Hub {
    /// Loads households and their members in one transaction: ID numbers into the vault,
    /// everything else into the registry. The caller records the load in the audit log once.
    pub async fn load_households(&self, households: Vec<NewHousehold>) -> HubResult<LoadCounts> {
        let now = self.now();
        let ids: Vec<(IdNumber, ConsentRef)> = households
            .iter()
            .flat_map(|h| h.members.iter().filter_map(|m| m.id_number.clone()))
            .collect();
        let id_count = ids.len() as u64;
        let mut ref_keys = self.vault.put_many(ids).await?.into_iter();

        let mut household_rows = Vec::with_capacity(households.len());
        let mut resident_rows = Vec::new();
        for h in households {
            let mut head = None;
            for m in h.members {
                let resident_id = crate::ids::new_id();
                if m.details.relationship == Relationship::Head && head.is_none() {
                    head = Some(resident_id.clone());
                }
                let id_ref_key = match m.id_number {
                    Some(_) => Some(ref_keys.next().ok_or_else(|| {
                        HubError::Internal("the vault returned too few reference keys".into())
                    })?),
                    None => None,
                };
                let card = h.details.card_number.clone();
                resident_rows.push(self.resident_record(
                    resident_id,
                    card,
                    m.details,
                    id_ref_key,
                    now,
                ));
            }
            household_rows.push(household_record(h.details, head, now));
        }
        self.store
            .insert_registry(&household_rows, &resident_rows)
            .await?;
        Ok(LoadCounts {
            households: household_rows.len() as u64,
            residents: resident_rows.len() as u64,
            id_numbers: id_count,
        })
    }

    /// The record of a member added now: the mobile number kept only masked and as a
    /// keyed index, the ID number only as its reference key.
    pub(crate) fn resident_record(
        &self,
        resident_id: String,
        card_number: RationCardNumber,
        m: MemberDetails,
        id_ref_key: Option<RefKey>,
        now: DateTime<Utc>,
    ) -> Resident {
        Resident {
            resident_id,
            card_number,
            name: m.name,
            relative_name: m.relative_name,
            gender: m.gender,
            dob: m.dob,
            relationship: m.relationship,
            mobile_masked: m.mobile.as_ref().map(MobileNumber::masked),
            mobile_blind_index: m.mobile.as_ref().map(|n| self.vault.mobile_blind_index(n)),
            id_ref_key,
            ekyc_status: EkycStatus::default(),
            life_status: m.life_status,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    pub async fn household(&self, card: &RationCardNumber) -> HubResult<HouseholdView> {
        let household = self
            .store
            .household(card)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("ration card {card}")))?;
        let members = self.store.residents_of(card).await?;
        Ok(HouseholdView { household, members })
    }

    pub async fn resident(&self, resident_id: &str) -> HubResult<Resident> {
        self.store
            .resident(resident_id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("resident {resident_id}")))
    }

    pub async fn resident_by_ref_key(&self, ref_key: &RefKey) -> HubResult<Resident> {
        self.store
            .resident_by_ref_key(ref_key)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("a resident with reference key {ref_key}")))
    }

    /// The resident whose ID number this is, found through the blind index; the number itself
    /// is neither stored nor returned.
    pub async fn resident_by_id_number(&self, id: &IdNumber) -> HubResult<Resident> {
        let ref_key = self
            .vault
            .find(id)
            .await?
            .ok_or_else(|| HubError::NotFound("a resident with that ID number".into()))?;
        self.resident_by_ref_key(&ref_key).await
    }

    /// Applies a change, records every changed field in the history (mobile numbers only
    /// masked) and the change in the audit log. Returns the updated resident.
    pub async fn update_resident(
        &self,
        resident_id: &str,
        patch: ResidentPatch,
        actor: &str,
        reason: Option<String>,
    ) -> HubResult<Resident> {
        let old = self.resident(resident_id).await?;
        let mut new = old.clone();
        if let Some(v) = patch.name {
            new.name = v;
        }
        if let Some(v) = patch.relative_name {
            new.relative_name = v;
        }
        if let Some(v) = patch.gender {
            new.gender = v;
        }
        if let Some(v) = patch.dob {
            new.dob = v;
        }
        if let Some(v) = patch.relationship {
            new.relationship = v;
        }
        if let Some(v) = patch.mobile {
            new.mobile_masked = v.as_ref().map(MobileNumber::masked);
            new.mobile_blind_index = v.as_ref().map(|n| self.vault.mobile_blind_index(n));
        }
        if let Some(v) = patch.ekyc_status {
            new.ekyc_status = v;
        }
        if let Some(v) = patch.life_status {
            new.life_status = v;
        }

        let changes = resident_changes(&old, &new);
        if changes.is_empty() {
            return Ok(old);
        }

        let ctx = ChangeContext {
            actor: actor.to_owned(),
            reason,
            at: self.now(),
        };
        new.version = old.version + 1;
        new.updated_at = ctx.at;
        self.store
            .update_resident(&new, &changes, &ctx)
            .await
            .map_err(|e| match e {
                sangam_store::StoreError::Conflict(m) => HubError::Conflict(m),
                other => other.into(),
            })?;
        let fields = changes.iter().map(|c| c.field.to_owned()).collect();
        self.audit(
            actor,
            AuditEvent::ResidentUpdated {
                resident_id: resident_id.into(),
                fields,
            },
        )
        .await?;
        Ok(new)
    }

    pub async fn resident_history(&self, resident_id: &str) -> HubResult<Vec<HistoryEntry>> {
        self.resident(resident_id).await?;
        Ok(self
            .store
            .history(EntityKind::Resident, resident_id)
            .await?)
    }

    pub async fn registry_counts(&self) -> HubResult<RegistryCounts> {
        Ok(self.store.registry_counts().await?)
    }
}
