//! Online validation of a candidate beneficiary (`POST /v1/validate`): before enrolling
//! someone, a department asks whether the person is in the base data. The answer comes from
//! the ID number (through the blind index), a reference key, or the person's details matched
//! against the resident index without running any batch; it carries the resident's reference
//! key and the match probability, never the registry's values.

use sangam_domain::{IdNumber, RefKey, ValidationError};
use sangam_matching::roles::Role;
use serde::Serialize;

use sangam_store::User;

use super::subjects::claimed_record;
use crate::audit::AuditEvent;
use crate::conflicts::{Conflict, RuleOutcome, eligibility_on_resident};
use crate::{Hub, HubError, HubResult};

/// What a department knows of a candidate: an ID number, a reference key, or details.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// The scheme the candidate would join.
    pub dataset: String,
    pub id_number: Option<String>,
    pub ref_key: Option<String>,
    pub name: Option<String>,
    pub relative_name: Option<String>,
    pub dob: Option<String>,
    pub gender: Option<String>,
    pub village_code: Option<String>,
    pub pincode: Option<String>,
}

/// Whether the candidate is in the base data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Found: by the ID number or reference key, or a match at or above the link threshold.
    Yes,
    /// A match between the review and link thresholds: check before relying on it.
    Possible,
    No,
}

/// How the resident was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    IdNumber,
    RefKey,
    Model,
}

/// The answer about the person, before the scheme's own checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub in_base_data: Presence,
    pub found_by: Option<FoundBy>,
    pub resident_id: Option<String>,
    /// The reference key of the resident's ID number, when the registry holds one.
    pub ref_key: Option<String>,
    pub match_probability: Option<f64>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Hub {
    /// Finds the candidate in the base data. `Yes` by an exact ID number or reference key;
    /// otherwise by the model over the resident index.
    pub async fn find_candidate(&self, c: &Candidate) -> HubResult<Found> {
        let policy = self.link_policy();
        let found = |by, resident: &sangam_store::Resident, p| Found {
            in_base_data: Presence::Yes,
            found_by: Some(by),
            resident_id: Some(resident.resident_id.clone()),
            ref_key: resident.id_ref_key.as_ref().map(|k| k.as_str().to_owned()),
            match_probability: Some(p),
        };
        // The reference key the candidate's ID number has, if the vault knows the number.
        let mut known_key: Option<RefKey> = None;
        if let Some(raw) = given(&c.id_number) {
            let id = IdNumber::parse(raw).map_err(|e| HubError::invalid("id_number", e))?;
            if let Some(key) = self.vault.find(&id).await? {
                if let Some(r) = self.store.resident_by_ref_key(&key).await? {
                    return Ok(found(FoundBy::IdNumber, &r, 1.0));
                }
                known_key = Some(key);
            }
        }
        if let Some(raw) = given(&c.ref_key) {
            let key = RefKey::parse(raw).map_err(|e| HubError::invalid("ref_key", e))?;
            if let Some(r) = self.store.resident_by_ref_key(&key).await? {
                return Ok(found(FoundBy::RefKey, &r, 1.0));
            }
            known_key = known_key.or(Some(key));
        }
        let details: Vec<(Role, &str)> = [
            (Role::FullName, &c.name),
            (Role::RelativeName, &c.relative_name),
            (Role::BirthDate, &c.dob),
            (Role::Gender, &c.gender),
            (Role::VillageCode, &c.village_code),
            (Role::Pincode, &c.pincode),
        ]
        .into_iter()
        .filter_map(|(role, v)| given(v).map(|v| (role, v)))
        .collect();
        let not_found = Found {
            in_base_data: Presence::No,
            found_by: None,
            resident_id: None,
            ref_key: None,
            match_probability: None,
        };
        if !details.iter().any(|(r, _)| *r == Role::FullName) {
            if given(&c.id_number).is_some() || given(&c.ref_key).is_some() {
                return Ok(not_found);
            }
            return Err(HubError::invalid(
                "name",
                ValidationError::new(
                    "validate.nothing_to_match",
                    "send an ID number, a reference key, or at least the candidate's name (with \
                     the date of birth, gender, relative's name and village where known)",
                ),
            ));
        }
        let Some(index) = self.link_index().await? else {
            return Ok(not_found);
        };
        let record = claimed_record(
            &details,
            known_key.as_ref().map(RefKey::as_str),
            self.now().date_naive(),
        );
        let Some((resident_id, p)) = index
            .lookup(&record, 1)
            .first()
            .map(|(id, p)| ((*id).to_owned(), *p))
        else {
            return Ok(not_found);
        };
        let in_base_data = if p >= policy.link_at {
            Presence::Yes
        } else if p >= policy.review_at {
            Presence::Possible
        } else {
            return Ok(Found {
                match_probability: Some(p),
                ..not_found
            });
        };
        Ok(Found {
            in_base_data,
            found_by: Some(FoundBy::Model),
            ref_key: index.ref_key_of(&resident_id).map(str::to_owned),
            resident_id: Some(resident_id),
            match_probability: Some(p),
        })
    }
}

/// The whole answer of online validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    pub dataset: String,
    #[serde(flatten)]
    pub found: Found,
    /// What enrolling the resident found would break: already enrolled, in a scheme that
    /// excludes this one, a household member already enrolled in a one-per-household scheme,
    /// deceased. Records of other organisations' schemes are named by scheme only.
    pub conflicts: Vec<Conflict>,
    /// The scheme's eligibility rules on the resident's registry data (empty when no resident
    /// was found).
    pub eligibility: Vec<RuleOutcome>,
}

impl Hub {
    /// Validates a candidate for one of the user's schemes: whether the person is in the base
    /// data (see [`Hub::find_candidate`]), which enrolments would conflict, and which
    /// eligibility rules hold. Every call is audited with its outcome, never the details.
    pub async fn validate_candidate(&self, c: &Candidate, user: &User) -> HubResult<Validation> {
        let scheme = self.scheme_for(&c.dataset, user).await?;
        let spec = self
            .dataset_spec(&scheme.name, scheme.current_version)
            .await?;
        let found = self.find_candidate(c).await?;
        let (mut conflicts, mut eligibility) = (Vec::new(), Vec::new());
        if let Some(resident_id) = &found.resident_id {
            conflicts = self
                .conflicts_if_enrolled(resident_id, &scheme.name)
                .await?;
            let own: Vec<String> = self
                .store
                .datasets()
                .await?
                .into_iter()
                .filter(|d| d.organisation == scheme.organisation)
                .map(|d| d.name)
                .collect();
            for conflict in &mut conflicts {
                for record in &mut conflict.records {
                    if !own.contains(&record.dataset) {
                        record.record_key.clear();
                    }
                }
            }
            if let Some(resident) = self.store.resident(resident_id).await? {
                eligibility = eligibility_on_resident(&spec, &resident, self.now().date_naive());
            }
        }
        self.audit(
            &user.username,
            AuditEvent::CandidateValidated {
                dataset: scheme.name.clone(),
                found: found.in_base_data == Presence::Yes,
                conflicts: conflicts.len(),
            },
        )
        .await?;
        Ok(Validation {
            dataset: scheme.name,
            found,
            conflicts,
            eligibility,
        })
    }
}
