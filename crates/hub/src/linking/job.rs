//! The link job: a dataset's pending records looked up in the resident index, a page per
//! step, each linked, queued for review or reported not found.

use std::collections::HashMap;

use rayon::prelude::*;
use sangam_store::{LinkDecision, LinkStatus, NewReview};
use serde::{Deserialize, Serialize};

use super::LinkPolicy;
use super::subjects::SpecRoles;
use crate::jobs::JobKind;
use crate::{Hub, HubError, HubResult};

/// Records looked up per step.
const STEP_RECORDS: u32 = 2_000;

/// What the link job has done so far for a dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSummary {
    pub linked: u64,
    pub review: u64,
    pub not_found: u64,
}

/// One step's outcome: the counts, and where the next step starts (`None`: done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStep {
    pub summary: LinkSummary,
    pub next: Option<String>,
}

impl Hub {
    /// The thresholds in force.
    pub fn link_policy(&self) -> LinkPolicy {
        self.link_policy.read().map(|p| *p).unwrap_or_default()
    }

    /// Changes the thresholds (configuration, tests). `review_at` must not exceed `link_at`.
    pub fn set_link_policy(&self, policy: LinkPolicy) -> HubResult<()> {
        policy.check()?;
        if let Ok(mut p) = self.link_policy.write() {
            *p = policy;
        }
        Ok(())
    }

    /// Queues the link job for a dataset's pending records.
    pub async fn queue_linking(&self, dataset: &str) -> HubResult<i64> {
        self.enqueue(JobKind::LinkEnrolments {
            dataset: dataset.to_owned(),
            after: None,
            summary: LinkSummary::default(),
        })
        .await
    }

    /// Sends a dataset's records that were not found back to be linked again (after the
    /// registry grew, say), and queues the job. Returns how many records go again.
    pub async fn relink_not_found(
        &self,
        dataset: &str,
        user: &sangam_store::User,
    ) -> HubResult<u64> {
        self.scheme_for(dataset, user).await?;
        let actor = user.username.as_str();
        let n = self
            .store
            .requeue_links(dataset, LinkStatus::NotFound)
            .await?;
        self.queue_linking(dataset).await?;
        self.audit(
            actor,
            crate::audit::AuditEvent::RelinkRequested {
                dataset: dataset.to_owned(),
                records: n,
            },
        )
        .await?;
        Ok(n)
    }

    /// After a committed base upload that added or changed residents: the records of every
    /// scheme that were not found go back to be linked, and each such dataset's link job is
    /// queued, for the new residents may be the people they waited for. The hub acts on its
    /// own here (no user's authority over the datasets to check), so the audit names
    /// `system` and the upload. A dataset with nothing not found costs one indexed update that
    /// changes nothing, and no job. Returns how many records go again.
    ///
    /// Run after the upload's commit: if the process dies in between, the records stay not
    /// found until the next base upload or a relink (`relink_not_found`).
    pub(crate) async fn relink_after_registry_change(&self, upload_id: &str) -> HubResult<u64> {
        let mut total = 0;
        for dataset in self.store.datasets().await? {
            if dataset.name == crate::uploads::BASE_DATASET {
                continue;
            }
            let records = self
                .store
                .requeue_links(&dataset.name, LinkStatus::NotFound)
                .await?;
            if records == 0 {
                continue;
            }
            self.queue_linking(&dataset.name).await?;
            self.audit(
                "system",
                crate::audit::AuditEvent::RelinkAfterRegistryChange {
                    dataset: dataset.name,
                    records,
                    upload_id: upload_id.to_owned(),
                },
            )
            .await?;
            total += records;
        }
        Ok(total)
    }

    /// Links one page of a dataset's pending records, those with a record key after `after`.
    /// The first step links exactly, in one statement, the records whose ID number's
    /// reference key a resident holds now (one who joined the registry after the upload), so
    /// that the model sees only the rest.
    pub async fn link_step(&self, dataset: &str, after: Option<&str>) -> HubResult<LinkStep> {
        let exact = match after {
            None => self.store.link_pending_by_ref_key(dataset).await?,
            Some(_) => 0,
        };
        let mut step = self.link_page(dataset, after).await?;
        step.summary.linked += exact;
        Ok(step)
    }

    /// Links one page of pending records through the resident index and its model.
    async fn link_page(&self, dataset: &str, after: Option<&str>) -> HubResult<LinkStep> {
        let page = self
            .store
            .enrolments_by_link_status(dataset, LinkStatus::Pending, after, STEP_RECORDS)
            .await?;
        let Some(last) = page.last().map(|e| e.record_key.clone()) else {
            return Ok(LinkStep {
                summary: LinkSummary::default(),
                next: None,
            });
        };
        let index = self.fresh_link_index().await?;
        let today = self.now().date_naive();
        let now = self.now();
        let policy = self.link_policy();
        let mut roles: HashMap<u32, SpecRoles> = HashMap::new();
        for e in &page {
            if let std::collections::hash_map::Entry::Vacant(slot) = roles.entry(e.spec_version) {
                let spec = self.dataset_spec(dataset, e.spec_version).await?;
                slot.insert(SpecRoles::of(&spec));
            }
        }
        // A pair a reviewer rejected is never proposed again, linked or queued.
        let keys: Vec<String> = page.iter().map(|e| e.record_key.clone()).collect();
        let mut rejected: HashMap<String, Vec<String>> = HashMap::new();
        for (key, resident) in self.store.rejected_pairs(dataset, &keys).await? {
            rejected.entry(key).or_default().push(resident);
        }
        let decisions: Vec<LinkDecision> = tokio::task::spawn_blocking(move || {
            page.par_iter()
                .map(|e| {
                    let not_found = |probability| LinkDecision {
                        dataset: e.dataset.clone(),
                        record_key: e.record_key.clone(),
                        version: e.version,
                        status: LinkStatus::NotFound,
                        resident_id: None,
                        probability,
                        reviews: Vec::new(),
                    };
                    let Some(index) = &index else {
                        return not_found(None);
                    };
                    let record = roles[&e.spec_version].record(e, today);
                    let refused = rejected.get(&e.record_key).map_or(&[][..], Vec::as_slice);
                    let found: Vec<(&str, f64)> = index
                        .lookup(&record, policy.review_candidates + refused.len())
                        .into_iter()
                        .filter(|(id, _)| !refused.iter().any(|r| r == id))
                        .take(policy.review_candidates)
                        .collect();
                    let Some((best, p)) = found.first().map(|(id, p)| ((*id).to_owned(), *p))
                    else {
                        return not_found(None);
                    };
                    if p >= policy.link_at {
                        return LinkDecision {
                            status: LinkStatus::Linked,
                            resident_id: Some(best),
                            probability: Some(p),
                            ..not_found(None)
                        };
                    }
                    if p < policy.review_at {
                        return not_found(Some(p));
                    }
                    let reviews = found
                        .iter()
                        .filter(|(_, p)| *p >= policy.review_at)
                        .filter_map(|(id, p)| {
                            let target = &index.records[index.position(id)? as usize];
                            let explanation = index.engine.explain(&record, target);
                            Some(NewReview {
                                id: crate::ids::new_id(),
                                resident_id: (*id).to_owned(),
                                probability: *p,
                                explanation: serde_json::to_value(&explanation).ok()?,
                                created_at: now,
                            })
                        })
                        .collect();
                    LinkDecision {
                        status: LinkStatus::Review,
                        probability: Some(p),
                        reviews,
                        ..not_found(None)
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| HubError::Internal(format!("the link step failed: {e}")))?;
        let mut summary = LinkSummary::default();
        for d in &decisions {
            match d.status {
                LinkStatus::Linked => summary.linked += 1,
                LinkStatus::Review => summary.review += 1,
                _ => summary.not_found += 1,
            }
        }
        self.store.apply_link_decisions(&decisions).await?;
        Ok(LinkStep {
            summary,
            next: Some(last),
        })
    }
}
