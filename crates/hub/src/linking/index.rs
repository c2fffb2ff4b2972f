//! The resident index: every resident of the registry prepared for matching, with an engine
//! trained to link scheme records to them. It lives in memory beside the store, is built on
//! first use, and is rebuilt (while the old one keeps answering) when the registry changes or
//! the data it was trained on has grown a lot.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use sangam_matching::{Engine, Options, Record, Task};
use sangam_store::{EnrolmentStatus, RegistryStamp, ReviewStatus};

use super::subjects::{SpecRoles, resident_record};
use crate::{Hub, HubError, HubResult};

/// Residents read from the store per query while building.
const READ_PAGE: u32 = 20_000;
/// Scheme records the model trains on at most (the anchor pairs among them fit `m`).
const TRAINING_RECORDS: usize = 200_000;
/// Reviewer decisions used as labels at most.
const TRAINING_LABELS: u32 = 5_000;
/// How often a request may look whether the registry changed (each look counts residents).
const FRESHNESS_CHECK: Duration = Duration::from_secs(30);

/// What an index was built from: when this changes, it is rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexStamp {
    pub registry: RegistryStamp,
    /// Scheme records trained on, rounded down to a power of two: retrain when they double.
    pub training_scale: u32,
    /// Reviewer decisions, in fifties: retrain when fifty more are in.
    pub labels: usize,
}

/// The resident index and its trained engine.
#[derive(Debug)]
pub struct LinkIndex {
    pub(crate) engine: Engine,
    pub(crate) records: Vec<Record>,
    pub(crate) resident_ids: Vec<String>,
    positions: HashMap<String, u32>,
    pub(crate) stamp: IndexStamp,
}

impl LinkIndex {
    pub fn residents(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn position(&self, resident_id: &str) -> Option<u32> {
        self.positions.get(resident_id).copied()
    }

    /// The reference key of a resident's ID number, as the index holds it.
    pub fn ref_key_of(&self, resident_id: &str) -> Option<&str> {
        let i = self.position(resident_id)?;
        self.records[i as usize].id_number.as_deref()
    }

    /// The residents that could be `record`, best first, with their probabilities.
    pub fn lookup(&self, record: &Record, limit: usize) -> Vec<(&str, f64)> {
        self.engine
            .lookup(record, &self.records, limit)
            .into_iter()
            .map(|(i, p)| (self.resident_ids[i as usize].as_str(), p))
            .collect()
    }
}

/// Where the hub keeps its index: the current one, and a lock so that one build runs at once.
#[derive(Debug, Default)]
pub struct Linker {
    current: RwLock<Option<Arc<LinkIndex>>>,
    checked: RwLock<Option<Instant>>,
    building: tokio::sync::Mutex<()>,
}

impl Linker {
    fn get(&self) -> Option<Arc<LinkIndex>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    fn set(&self, index: Arc<LinkIndex>) {
        if let Ok(mut c) = self.current.write() {
            *c = Some(index);
        }
        self.mark_checked();
    }

    fn mark_checked(&self) {
        if let Ok(mut c) = self.checked.write() {
            *c = Some(Instant::now());
        }
    }

    fn due_for_check(&self) -> bool {
        self.checked
            .read()
            .ok()
            .and_then(|c| *c)
            .is_none_or(|at| at.elapsed() >= FRESHNESS_CHECK)
    }
}

impl Hub {
    /// The index for answering a request now: the current one, looked over at most every
    /// 30 seconds (a stale one is rebuilt in the background while it keeps answering). Only
    /// the first request of a hub waits for a build. `None` when the registry is empty.
    pub async fn link_index(&self) -> HubResult<Option<Arc<LinkIndex>>> {
        let Some(current) = self.linker.get() else {
            return self.fresh_link_index().await;
        };
        if self.linker.due_for_check() {
            self.linker.mark_checked();
            let hub = self.clone();
            tokio::spawn(async move {
                if let Err(e) = hub.fresh_link_index().await {
                    tracing::warn!(error = %e, "could not rebuild the resident index");
                }
            });
        }
        Ok(Some(current))
    }

    /// The index as of now: rebuilt first if anything it was built from has changed.
    pub async fn fresh_link_index(&self) -> HubResult<Option<Arc<LinkIndex>>> {
        let _one_build = self.linker.building.lock().await;
        let stamp = self.index_stamp().await?;
        if let Some(current) = self.linker.get()
            && current.stamp == stamp
        {
            self.linker.mark_checked();
            return Ok(Some(current));
        }
        if stamp.registry.residents == 0 {
            return Ok(None);
        }
        let started = Instant::now();
        let training = self.training_records().await?;
        let index = Arc::new(self.build_link_index(stamp, training).await?);
        tracing::info!(
            residents = index.records.len(),
            seconds = started.elapsed().as_secs_f64(),
            "resident index built"
        );
        self.linker.set(index.clone());
        Ok(Some(index))
    }

    /// The stamp of what an index would be built from now (a few counts, no records read).
    async fn index_stamp(&self) -> HubResult<IndexStamp> {
        let registry = self.store.registry_stamp().await?;
        let mut enrolments = 0u64;
        for dataset in self.store.datasets().await? {
            enrolments += self.store.count_active_enrolments(&dataset.name).await?;
        }
        let trained_on = enrolments.min(TRAINING_RECORDS as u64);
        let labels = self
            .store
            .decided_match_reviews(TRAINING_LABELS)
            .await?
            .len()
            / 50;
        Ok(IndexStamp {
            registry,
            training_scale: u64::BITS - trained_on.leading_zeros(),
            labels,
        })
    }

    /// The scheme records to train on, each with the spec roles of its dataset.
    async fn training_records(&self) -> HubResult<Vec<TrainingRecord>> {
        let mut training = Vec::new();
        for dataset in self.store.datasets().await? {
            let mut roles: HashMap<u32, SpecRoles> = HashMap::new();
            let mut after: Option<String> = None;
            while training.len() < TRAINING_RECORDS {
                let page = self
                    .store
                    .enrolments(&dataset.name, after.as_deref(), 5_000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.record_key.clone());
                for e in page {
                    if e.status != EnrolmentStatus::Active {
                        continue;
                    }
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        roles.entry(e.spec_version)
                    {
                        let spec = self.dataset_spec(&dataset.name, e.spec_version).await?;
                        slot.insert(SpecRoles::of(&spec));
                    }
                    training.push(TrainingRecord {
                        roles: roles[&e.spec_version].clone(),
                        enrolment: e,
                    });
                }
            }
        }
        training.truncate(TRAINING_RECORDS);
        Ok(training)
    }

    async fn build_link_index(
        &self,
        stamp: IndexStamp,
        training: Vec<TrainingRecord>,
    ) -> HubResult<LinkIndex> {
        let today = self.now().date_naive();
        let mut residents = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .matchable_residents(after.as_deref(), READ_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.resident.resident_id.clone());
            residents.extend(page);
        }
        let decided = self.store.decided_match_reviews(TRAINING_LABELS).await?;
        tokio::task::spawn_blocking(move || {
            let records: Vec<Record> = residents
                .par_iter()
                .map(|r| resident_record(r, today))
                .collect();
            let resident_ids: Vec<String> = residents
                .into_iter()
                .map(|r| r.resident.resident_id)
                .collect();
            let positions: HashMap<String, u32> = resident_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect();
            let queries: Vec<Record> = training
                .par_iter()
                .map(|t| t.roles.record(&t.enrolment, today))
                .collect();
            let labels = label_pairs(&decided, &training, &queries, &records, &positions);
            let labels: Vec<(&Record, &Record, bool)> =
                labels.iter().map(|(q, t, m)| (*q, *t, *m)).collect();
            let options = options(today);
            let usable = queries.iter().any(|q| q.name.is_some());
            let engine = if usable {
                Engine::train_with_labels(
                    Task::Link {
                        queries: &queries,
                        targets: &records,
                    },
                    options,
                    &labels,
                )
            } else {
                // No scheme data yet to learn from: the registry against itself.
                Engine::train(Task::Dedupe(&records), options)
            }
            .map_err(|e| HubError::Internal(format!("cannot train the matching model: {e}")))?;
            Ok(LinkIndex {
                engine,
                records,
                resident_ids,
                positions,
                stamp,
            })
        })
        .await
        .map_err(|e| HubError::Internal(format!("building the resident index failed: {e}")))?
    }
}

/// The engine's options in the hub: ages count to today.
pub(crate) fn options(today: NaiveDate) -> Options {
    Options {
        reference_date: today,
        ..Options::default()
    }
}

/// A scheme record to train on.
struct TrainingRecord {
    roles: SpecRoles,
    enrolment: sangam_store::Enrolment,
}

/// Reviewers' decisions as labelled pairs, for those whose record and resident are at hand.
fn label_pairs<'a>(
    decided: &[sangam_store::MatchReview],
    training: &[TrainingRecord],
    queries: &'a [Record],
    records: &'a [Record],
    positions: &HashMap<String, u32>,
) -> Vec<(&'a Record, &'a Record, bool)> {
    let by_key: HashMap<(&str, &str), usize> = training
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let e = &t.enrolment;
            ((e.dataset.as_str(), e.record_key.as_str()), i)
        })
        .collect();
    decided
        .iter()
        .filter_map(|r| {
            let q = by_key.get(&(r.dataset.as_str(), r.record_key.as_str()))?;
            let t = positions.get(&r.resident_id)?;
            Some((
                &queries[*q],
                &records[*t as usize],
                r.status == ReviewStatus::Accepted,
            ))
        })
        .collect()
}
