//! The data APIs for consuming applications: a resident by reference key or by ID number, a
//! household by ration card, a resident's 360-degree view, search by name, date of birth and
//! village, eKYC status, and enrolment of a resident missing from the hub.
//!
//! Every operation passes the gate first ([`Hub::authorize`]); every record it serves is
//! projected onto the fields approved for the call's purpose, logged before it is sent, and
//! shown to the scraping detector, which may suspend the application on the spot.

use std::sync::Arc;

use sangam_access::scraping::Access;
use sangam_domain::{IdNumber, RationCardNumber, RefKey};
use sangam_store::{AuditDraft, Resident, ResidentRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::fields::{self, Extras};
use super::gate::{Caller, Denial};
use super::model::Environment;
use super::{Sandbox, SharingState};
use crate::audit::AuditEvent;
use crate::linking::subjects::claimed_record;
use crate::{Hub, HubError, HubResult};
use sangam_matching::roles::Role as MatchRole;

/// Most residents a search returns.
pub const SEARCH_CAP: usize = 10;
/// Households in the sandbox's demonstration registry.
const SANDBOX_HOUSEHOLDS: u64 = 200;

/// A search by details.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SearchQuery {
    pub name: String,
    /// `YYYY-MM-DD`, `DD-MM-YYYY` or a year.
    #[serde(default)]
    pub dob: Option<String>,
    /// LGD village code.
    #[serde(default)]
    pub village: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A resident missing from the hub, as the consuming application knows them.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
pub struct EnrolmentRequest {
    pub name: String,
    #[serde(default)]
    pub relative_name: Option<String>,
    pub gender: String,
    pub dob: String,
    #[serde(default)]
    pub card_number: Option<String>,
    #[serde(default)]
    pub village_code: Option<String>,
    /// Sealed at once; never shown back.
    #[serde(default)]
    pub id_number: Option<String>,
    /// The consent form number or e-consent id for the ID number.
    #[serde(default)]
    pub consent_ref: Option<String>,
}

impl std::fmt::Debug for EnrolmentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolmentRequest").finish_non_exhaustive()
    }
}

/// What a queued enrolment request answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentQueued {
    pub request_id: String,
    /// Always `pending_verification`.
    pub status: &'static str,
}

fn resident_not_found() -> HubError {
    HubError::NotFound("resident".into())
}

/// The digits of an identifier that can be walked (a ration card's number part).
fn walk_key(text: &str) -> Option<u64> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let tail = &digits[digits.len().saturating_sub(18)..];
    tail.parse().ok()
}

impl SharingState {
    async fn sandbox(&self) -> HubResult<&Sandbox> {
        self.sandbox
            .get_or_try_init(|| async {
                let dir = tempfile::tempdir()
                    .map_err(|e| HubError::Internal(format!("sandbox directory: {e}")))?;
                let store = sangam_store_sqlite::SqliteStore::open(dir.path()).await?;
                let hub = Hub::open(
                    Arc::new(store),
                    &sangam_vault::MasterKey::generate(),
                    Arc::new(crate::clock::SystemClock),
                )
                .await?;
                hub.seed_demo(SANDBOX_HOUSEHOLDS, 7, |_| {}).await?;
                Ok::<_, HubError>(Sandbox { hub, _dir: dir })
            })
            .await
    }
}

impl Hub {
    /// The registry the caller sees: the hub's own, or the sandbox's demonstration data.
    async fn registry_for(&self, caller: &Caller) -> HubResult<Hub> {
        Ok(match caller.environment {
            Environment::Live => self.clone(),
            Environment::Sandbox => self.sharing().sandbox().await?.hub.clone(),
        })
    }

    /// Projects `residents`, shows them to the scraping detector, logs them, and returns them;
    /// or refuses if serving them got the application suspended.
    async fn serve(
        &self,
        caller: &Caller,
        registry: &Hub,
        operation: &'static str,
        residents: Vec<Resident>,
        walk: Option<u64>,
    ) -> HubResult<Vec<Map<String, Value>>> {
        let honeytokens = registry.honeytoken_set().await?;
        let touched_decoy = residents
            .iter()
            .any(|r| honeytokens.contains(&r.resident_id));
        let ids: Vec<&str> = residents.iter().map(|r| r.resident_id.as_str()).collect();
        let app = &caller.application;
        let alerts = self.sharing().detector.observe(
            &app.id,
            &app.scraping,
            &Access {
                at: self.now(),
                records: &ids,
                walk_key: walk,
                found: !residents.is_empty(),
                honeytoken: touched_decoy,
            },
        );
        if !alerts.is_empty() {
            let mut suspend = false;
            for alert in &alerts {
                self.audit(
                    "system",
                    AuditEvent::ScrapingDetected {
                        application_id: app.id.clone(),
                        kind: alert.kind.code().into(),
                        detail: alert.detail.clone(),
                        suspended: app.scraping.suspend,
                    },
                )
                .await?;
                suspend |= app.scraping.suspend;
                tracing::warn!(application = %app.id, kind = alert.kind.code(), "scraping detected");
            }
            if suspend {
                let reason = format!(
                    "suspended automatically: {}",
                    alerts
                        .iter()
                        .map(|a| a.kind.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.suspend_automatically(&app.id, reason).await?;
                return Err(Denial::forbidden(
                    "application.suspended",
                    "the application was suspended for a pattern of access that looks like \
                     harvesting; the hub team has been alerted",
                )
                .into());
            }
        }
        let fields = &caller.purpose.fields;
        let mut out = Vec::with_capacity(residents.len());
        for resident in &residents {
            out.push(registry.project(resident, fields, caller.reveal).await?);
        }
        if caller.environment == Environment::Live {
            let at = self.now();
            let actor = format!("app:{}", app.id);
            let drafts = residents
                .iter()
                .map(|r| {
                    let event = AuditEvent::RecordServed {
                        application_id: app.id.clone(),
                        resident_id: r.resident_id.clone(),
                        operation: operation.into(),
                        fields: fields.clone(),
                        purpose: caller.purpose.code.clone(),
                        request_id: caller.request_id.clone(),
                        client_ip: caller.client_ip.clone(),
                    };
                    AuditDraft {
                        at,
                        actor: actor.clone(),
                        action: event.action().into(),
                        target: event.target(),
                        details: event.details(),
                    }
                })
                .collect();
            self.log_access(drafts).await?;
        }
        Ok(out)
    }

    /// The resident as `fields` show them, with what those fields need from the household,
    /// the vault and the enrolments.
    async fn project(
        &self,
        resident: &Resident,
        fields: &[String],
        reveal: bool,
    ) -> HubResult<Map<String, Value>> {
        let wants = |f: &str| fields.iter().any(|x| x == f);
        let household = if wants("village_code") || wants("address") {
            self.store().household(&resident.card_number).await?
        } else {
            None
        };
        let id_number = match (&resident.id_ref_key, wants("id_number")) {
            (Some(key), true) => self.vault().open(key).await?,
            _ => None,
        };
        let enrolments = if wants("enrolments") {
            let linked = self
                .store()
                .active_enrolments_of_residents(std::slice::from_ref(&resident.resident_id), None)
                .await?;
            Some(Value::Array(
                linked
                    .iter()
                    .map(|e| serde_json::json!({ "dataset": e.dataset }))
                    .collect(),
            ))
        } else {
            None
        };
        Ok(fields::project(
            resident,
            fields,
            reveal,
            &Extras {
                household: household.as_ref(),
                id_number: id_number.as_ref(),
                enrolments,
            },
        ))
    }

    /// One resident by the reference key of their ID number.
    pub async fn consumer_resident(
        &self,
        caller: &Caller,
        ref_key: &str,
    ) -> HubResult<Map<String, Value>> {
        self.resident_for(caller, ref_key, "resident").await
    }

    /// The resident with `ref_key`, served to `caller` as `operation` (the access log's word
    /// for what was asked).
    async fn resident_for(
        &self,
        caller: &Caller,
        ref_key: &str,
        operation: &'static str,
    ) -> HubResult<Map<String, Value>> {
        let key = RefKey::parse(ref_key).map_err(|e| HubError::invalid("ref_key", e))?;
        let registry = self.registry_for(caller).await?;
        let found = registry.store().resident_by_ref_key(&key).await?;
        let served = self
            .serve(
                caller,
                &registry,
                operation,
                found.into_iter().collect(),
                None,
            )
            .await?;
        served.into_iter().next().ok_or_else(resident_not_found)
    }

    /// One resident by ID number, looked up through the blind index. The number is not echoed.
    pub async fn consumer_resident_by_id_number(
        &self,
        caller: &Caller,
        id_number: &str,
    ) -> HubResult<Map<String, Value>> {
        let id = IdNumber::parse(id_number).map_err(|e| HubError::invalid("id_number", e))?;
        let registry = self.registry_for(caller).await?;
        let found = match registry.vault().find(&id).await? {
            Some(key) => registry.store().resident_by_ref_key(&key).await?,
            None => None,
        };
        let served = self
            .serve(
                caller,
                &registry,
                "resident_by_id_number",
                found.into_iter().collect(),
                None,
            )
            .await?;
        served.into_iter().next().ok_or_else(resident_not_found)
    }

    /// A household by ration card: its members, each projected.
    pub async fn consumer_household(&self, caller: &Caller, card_number: &str) -> HubResult<Value> {
        let card = RationCardNumber::parse(card_number)
            .map_err(|e| HubError::invalid("card_number", e))?;
        let registry = self.registry_for(caller).await?;
        let members = registry.store().residents_of(&card).await?;
        let served = self
            .serve(
                caller,
                &registry,
                "household",
                members,
                walk_key(card.as_str()),
            )
            .await?;
        if served.is_empty() {
            return Err(HubError::NotFound("household".into()));
        }
        Ok(serde_json::json!({ "card_number": card.as_str(), "members": served }))
    }

    /// A resident's 360-degree view: their fields and, if approved, their enrolments.
    pub async fn consumer_profile(
        &self,
        caller: &Caller,
        ref_key: &str,
    ) -> HubResult<Map<String, Value>> {
        self.resident_for(caller, ref_key, "profile").await
    }

    /// eKYC status (and life status), if the purpose sees them.
    pub async fn consumer_ekyc(
        &self,
        caller: &Caller,
        ref_key: &str,
    ) -> HubResult<Map<String, Value>> {
        let mut narrowed = caller.clone();
        narrowed
            .purpose
            .fields
            .retain(|f| f == "ekyc_status" || f == "life_status");
        if narrowed.purpose.fields.is_empty() {
            return Err(Denial::forbidden(
                "field.not_approved",
                "the purpose does not approve the eKYC status",
            )
            .into());
        }
        self.resident_for(&narrowed, ref_key, "ekyc").await
    }

    /// Residents like the given details, best first, at most [`SEARCH_CAP`]. Decoys never
    /// come back from a search.
    pub async fn consumer_search(
        &self,
        caller: &Caller,
        q: &SearchQuery,
    ) -> HubResult<Vec<Map<String, Value>>> {
        if q.name.trim().chars().filter(|c| c.is_alphabetic()).count() < 2 {
            return Err(HubError::Invalid {
                field: "name".into(),
                code: "search.name",
                message: "give the name to search for".into(),
            });
        }
        let limit = q.limit.unwrap_or(SEARCH_CAP).clamp(1, SEARCH_CAP);
        let registry = self.registry_for(caller).await?;
        let mut details: Vec<(MatchRole, &str)> = vec![(MatchRole::FullName, q.name.as_str())];
        if let Some(dob) = q.dob.as_deref().filter(|d| !d.trim().is_empty()) {
            details.push((MatchRole::BirthDate, dob));
        }
        if let Some(village) = q.village.as_deref().filter(|v| !v.trim().is_empty()) {
            details.push((MatchRole::VillageCode, village));
        }
        let Some(index) = registry.link_index().await? else {
            return Ok(Vec::new());
        };
        let record = claimed_record(&details, None, self.now().date_naive());
        let honeytokens = registry.honeytoken_set().await?;
        let found = index.lookup(&record, limit * 2);
        let ids: Vec<String> = found
            .iter()
            // Ranked, not thresholded: with only a name and a date the model's probabilities
            // are low even for the right person, and the candidates already share a
            // blocking key with the query.
            .filter(|(id, _)| !honeytokens.contains(*id))
            .map(|(id, _)| (*id).to_owned())
            .take(limit)
            .collect();
        let mut residents = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(r) = registry.store().resident(id).await? {
                residents.push(r);
            }
        }
        self.serve(caller, &registry, "search", residents, None)
            .await
    }

    /// Queues a resident missing from the hub for verification; the details are sealed.
    pub async fn consumer_enrol(
        &self,
        caller: &Caller,
        request: &EnrolmentRequest,
    ) -> HubResult<EnrolmentQueued> {
        sangam_domain::PersonName::parse(&request.name)
            .map_err(|e| HubError::invalid("name", e))?;
        sangam_domain::Gender::parse(&request.gender)
            .map_err(|e| HubError::invalid("gender", e))?;
        sangam_domain::DateOfBirth::parse(&request.dob, self.now().date_naive())
            .map_err(|e| HubError::invalid("dob", e))?;
        if let Some(id) = request.id_number.as_deref() {
            IdNumber::parse(id).map_err(|e| HubError::invalid("id_number", e))?;
            if request
                .consent_ref
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            {
                return Err(HubError::Invalid {
                    field: "consent_ref".into(),
                    code: "consent.required",
                    message: "an ID number needs the consent reference it was collected under"
                        .into(),
                });
            }
        }
        let id = super::new_id("rq-");
        let plain = serde_json::to_vec(request).map_err(|e| HubError::Internal(e.to_string()))?;
        let ring = self.vault().sealing_ring().await?;
        let sealed = ring.seal_record("resident_request", &id, &plain);
        self.store()
            .insert_resident_request(&ResidentRequest {
                id: id.clone(),
                application_id: caller.application.id.clone(),
                status: "pending_verification".into(),
                key_version: sealed.key_version,
                sealed: sealed.blob,
                created_at: self.now(),
            })
            .await?;
        self.audit(
            &format!("app:{}", caller.application.id),
            AuditEvent::ResidentRequested {
                application_id: caller.application.id.clone(),
                request_id: id.clone(),
            },
        )
        .await?;
        Ok(EnrolmentQueued {
            request_id: id,
            status: "pending_verification",
        })
    }

    /// Marks residents as decoys: any application that asks for one is harvesting.
    pub async fn plant_honeytokens(&self, resident_ids: &[String], actor: &str) -> HubResult<()> {
        for id in resident_ids {
            if self.store().resident(id).await?.is_none() {
                return Err(HubError::NotFound(format!("resident {id}")));
            }
        }
        self.store()
            .add_honeytokens(resident_ids, self.now())
            .await?;
        self.forget_honeytokens();
        self.audit(
            actor,
            AuditEvent::HoneytokensPlanted {
                count: resident_ids.len() as u64,
            },
        )
        .await?;
        Ok(())
    }
}

impl Hub {
    /// The resident lookup of [`Hub::consumer_resident`] with no gate, no scraping detector
    /// and no access log: only for the sharing benchmark's baseline, which measures what
    /// the policy and the log cost.
    #[doc(hidden)]
    pub async fn resident_projection_unguarded(
        &self,
        ref_key: &str,
        fields: &[String],
    ) -> HubResult<Map<String, Value>> {
        let key = RefKey::parse(ref_key).map_err(|e| HubError::invalid("ref_key", e))?;
        let resident = self
            .store()
            .resident_by_ref_key(&key)
            .await?
            .ok_or_else(resident_not_found)?;
        self.project(&resident, fields, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::walk_key;

    #[test]
    fn walk_keys_are_the_digits_of_an_identifier() {
        assert_eq!(walk_key("PY0012345678"), Some(12_345_678));
        assert_eq!(walk_key("ABC"), None);
    }
}
