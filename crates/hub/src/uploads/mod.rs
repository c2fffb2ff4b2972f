//! Uploads of department data: the batch (idempotency, status, counts, the one load
//! transaction it loads in) for every dataset. What a row becomes is the dataset's own: for
//! the base registry (ration cards and their members), `base.rs` loads members in full,
//! `base_changes.rs` applies a month's changes to them, and `cards.rs` loads a cards file
//! (the form of a base file is told from its header: one row per member, cards, or members;
//! `base_rows.rs` reads any of them); `scheme.rs` does a scheme's beneficiaries.
//! `pipeline.rs` reads a file ahead of the writing, and `reports.rs` keeps and hands back what
//! the uploader gets: rejected rows and the reference-key mapping. `retention.rs` removes the
//! rejected rows once their upload is older than the retention period.
//!
//! A file is read as a stream and handled in chunks, all inside one load transaction of the
//! store: a crash at any moment leaves nothing of the upload behind, and the upload is then
//! reported as interrupted and can be run again. Every row is validated; a rejected row goes to
//! the caller's sink with its line, its original values and its reasons, is kept sealed for
//! the rejection report, and the rest loads. ID numbers go to the vault inside the same
//! transaction; the registry keeps reference keys, and the uploader gets the mapping.

mod base;
mod base_changes;
mod base_rows;
mod cards;
mod pipeline;
pub mod reports;
pub mod retention;
mod scheme;

use std::sync::Arc;

use chrono::NaiveDate;
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::{RejectedRow, RowProblem};
use sangam_ingest::spec::{self, BaseForm, Validator};
use sangam_store::{RegistryLoad, UploadCounts, UploadRecord, UploadStatus};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::jobs::JobKind;
use crate::{Hub, HubError, HubResult};
use pipeline::LoadTarget;
use reports::StoringSink;

/// Rows read, validated and loaded per step.
pub const CHUNK_ROWS: usize = 10_000;
/// Accepted rows after which an upload refreshes the store's planner statistics.
const STATISTICS_AFTER_ROWS: u64 = 10_000;
/// The dataset name of the base registry.
pub const BASE_DATASET: &str = "base";
pub(crate) use scheme::ENROLMENT_KIND;
pub use scheme::{MASS_REMOVAL_MIN, MASS_REMOVAL_SHARE, REMOVALS_UNCONFIRMED};

/// Whether a file is the dataset's whole content or a set of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// The whole dataset: for a scheme, records the hub holds that the file lacks are removed.
    #[default]
    Full,
    /// Rows carry an operation (add, modify, delete) keyed by the record key (for a scheme's
    /// modify and delete rows, or by the reference key of an earlier upload's mapping).
    Incremental,
}

impl UploadMode {
    pub fn code(self) -> &'static str {
        match self {
            UploadMode::Full => "full",
            UploadMode::Incremental => "incremental",
        }
    }

    pub fn parse(text: &str) -> HubResult<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(UploadMode::Full),
            "incremental" => Ok(UploadMode::Incremental),
            _ => Err(HubError::Invalid {
                field: "mode".into(),
                code: "mode.unknown",
                message: "the mode is `full` or `incremental`".into(),
            }),
        }
    }
}

/// What the uploader says about an upload.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub dataset: String,
    pub mode: UploadMode,
    /// The organisation sending it; the dataset's own when not given.
    pub organisation: Option<String>,
    pub uploaded_by: String,
    pub file_name: String,
    /// SHA-256 of the file's bytes, hex: with the idempotency key, the file never loads twice.
    pub file_sha256: String,
    pub idempotency_key: String,
    /// The upload whose rejected rows this one corrects.
    pub corrects: Option<String>,
    /// A full upload of a scheme may remove more of the records the hub holds than
    /// [`scheme::MASS_REMOVAL_SHARE`] allows (the uploader has checked the file is whole).
    pub confirm_removals: bool,
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UploadOutcome {
    /// Loaded now.
    Loaded {
        upload: UploadRecord,
        unknown_columns: Vec<String>,
    },
    /// The same file with the same idempotency key was loaded before: nothing was done.
    AlreadyLoaded { upload: UploadRecord },
}

impl UploadOutcome {
    pub fn upload(&self) -> &UploadRecord {
        match self {
            UploadOutcome::Loaded { upload, .. } | UploadOutcome::AlreadyLoaded { upload } => {
                upload
            }
        }
    }
}

/// Where rejected rows go (a report file, a stored report).
pub trait RejectionSink: Send {
    fn reject(&mut self, row: RejectedRow) -> HubResult<()>;
}

pub(crate) fn problem(column: Option<&str>, code: &str, message: impl Into<String>) -> RowProblem {
    RowProblem {
        column: column.map(str::to_owned),
        code: code.to_owned(),
        message: message.into(),
    }
}

/// An upload that has passed the checks of the whole file and is marked validating: what
/// [`Hub::load_prepared`] needs to read, check and load its rows.
pub struct PreparedUpload {
    upload: UploadRecord,
    mode: UploadMode,
    is_base: bool,
    form: Option<BaseForm>,
    source: Box<dyn RecordSource>,
    validator: Arc<Validator>,
    removals: Option<scheme::RemovalGuard>,
    unknown_columns: Vec<String>,
    /// Begun before the upload is handed back, so that from then on the upload is seen as
    /// being loaded (a live load holds its lock), never as interrupted.
    load: Box<dyn RegistryLoad>,
}

impl std::fmt::Debug for PreparedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedUpload")
            .field("upload", &self.upload.id)
            .field("dataset", &self.upload.dataset)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl PreparedUpload {
    /// The upload, marked validating.
    pub fn upload(&self) -> &UploadRecord {
        &self.upload
    }

    /// Columns of the file that the dataset's spec does not have (ignored).
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown_columns
    }
}

/// What [`Hub::prepare_upload`] found.
#[derive(Debug)]
pub enum Prepared {
    /// Ready to load.
    Ready(PreparedUpload),
    /// The same file with the same idempotency key was loaded before: nothing to do.
    AlreadyLoaded(UploadRecord),
}

impl Hub {
    /// Loads a file of a dataset as one upload: the base registry (a file of one row per
    /// member, a cards file or a members file) or a scheme's beneficiaries. Rejected rows go
    /// to `sink` as well as to the stored report.
    pub async fn run_upload(
        &self,
        request: UploadRequest,
        source: Box<dyn RecordSource>,
        sink: &mut dyn RejectionSink,
        progress: &(dyn Fn(u64) + Sync),
    ) -> HubResult<UploadOutcome> {
        match self.prepare_upload(request, source).await? {
            Prepared::AlreadyLoaded(upload) => Ok(UploadOutcome::AlreadyLoaded { upload }),
            Prepared::Ready(prepared) => self.load_prepared(prepared, sink, progress).await,
        }
    }

    /// The first half of [`Hub::run_upload`]: the checks of the request and of the whole file
    /// (dataset, organisation, correction, idempotency, header), the upload recorded and
    /// marked validating. The API answers an upload it runs in the background from here, so
    /// that a file refused whole is still refused in the answer.
    pub async fn prepare_upload(
        &self,
        request: UploadRequest,
        source: Box<dyn RecordSource>,
    ) -> HubResult<Prepared> {
        let target = self.dataset(&request.dataset).await?;
        let organisation = request
            .organisation
            .clone()
            .unwrap_or_else(|| target.dataset.organisation.clone());
        if organisation != target.dataset.organisation {
            return Err(HubError::Forbidden(format!(
                "dataset {} is uploaded by {}, not {organisation}",
                target.dataset.name, target.dataset.organisation
            )));
        }
        let is_base = target.dataset.name == BASE_DATASET;
        if let Some(corrected) = &request.corrects {
            let earlier = self
                .upload(corrected)
                .await
                .map_err(|_| HubError::Invalid {
                    field: "corrects".into(),
                    code: "corrects.unknown",
                    message: format!("there is no upload {corrected} to correct"),
                })?;
            if earlier.dataset != request.dataset || earlier.organisation != organisation {
                return Err(HubError::Invalid {
                    field: "corrects".into(),
                    code: "corrects.other_dataset",
                    message: format!(
                        "upload {corrected} is of another dataset or organisation; a correction \
                         goes to the same dataset"
                    ),
                });
            }
        }
        self.store.reap_interrupted_uploads(self.now()).await?;
        let upload = match self
            .store
            .find_upload(
                &request.dataset,
                &organisation,
                &request.file_sha256,
                &request.idempotency_key,
            )
            .await?
        {
            Some(existing) if existing.status == UploadStatus::Committed => {
                return Ok(Prepared::AlreadyLoaded(existing));
            }
            Some(existing) if existing.status == UploadStatus::Validating => {
                return Err(HubError::Conflict(format!(
                    "this file is being loaded now as upload {} (if the process loading it has \
                     stopped, run the upload again in a minute)",
                    existing.id
                )));
            }
            // A failed or interrupted upload of the same file is run again under its own id.
            Some(mut retry) => {
                retry.status = UploadStatus::Received;
                retry.counts = UploadCounts::default();
                retry.error = None;
                retry.finished_at = None;
                self.store.update_upload(&retry).await?;
                retry
            }
            None => {
                let upload = UploadRecord {
                    id: crate::ids::new_id(),
                    dataset: request.dataset.clone(),
                    organisation: organisation.clone(),
                    uploaded_by: request.uploaded_by.clone(),
                    file_name: request.file_name.clone(),
                    file_sha256: request.file_sha256.clone(),
                    idempotency_key: request.idempotency_key.clone(),
                    mode: request.mode.code().into(),
                    status: UploadStatus::Received,
                    counts: UploadCounts::default(),
                    corrects: request.corrects.clone(),
                    error: None,
                    received_at: self.now(),
                    finished_at: None,
                    rejections_purged_at: None,
                };
                self.store.insert_upload(&upload).await?;
                upload
            }
        };

        // A base file's form (one row per member, cards, members) decides its columns.
        let (spec, form) = if is_base {
            match BaseForm::of(source.header()) {
                Ok(form) => (
                    form.spec(request.mode == UploadMode::Incremental),
                    Some(form),
                ),
                Err(e) => return Err(self.fail_upload(upload, &e.to_string()).await),
            }
        } else {
            // Every scheme also takes the columns it need not declare (a reference key).
            (target.spec.with_implicit_columns(), None)
        };
        let header_map = match spec::match_header(&spec, source.header()) {
            Ok(map) => map,
            Err(e) => return Err(self.fail_upload(upload, &e.to_string()).await),
        };
        let unknown_columns = header_map
            .unknown
            .iter()
            .map(|u| u.header.clone())
            .collect();
        if request.mode == UploadMode::Incremental {
            let operation = spec
                .columns
                .iter()
                .position(|c| c.kind == spec::ColumnKind::Operation);
            let reason = match operation {
                None => Some(format!(
                    "the spec of {} has no operation column, so it cannot take incremental \
                     uploads",
                    request.dataset
                )),
                Some(i) if !header_map.has(i) => Some(
                    "an incremental upload needs the operation column (add, modify or delete \
                     on each row)"
                        .to_owned(),
                ),
                Some(_) => None,
            };
            if let Some(reason) = reason {
                return Err(self.fail_upload(upload, &reason).await);
            }
        }
        let header = source.header().to_vec();
        let lists = self.loaded_code_lists().await?;
        let validator = Validator::new(spec, header_map, self.today(), lists).map_err(|e| {
            HubError::Internal(format!("the spec of {} is invalid: {e}", request.dataset))
        })?;
        let validator = Arc::new(validator);

        // What a full upload of a scheme may remove unconfirmed is a share of what the hub
        // held before it.
        let removals = if !is_base && request.mode == UploadMode::Full {
            Some(scheme::RemovalGuard {
                held: self.store.count_active_enrolments(&request.dataset).await?,
                confirmed: request.confirm_removals,
            })
        } else {
            None
        };

        let mut validating = upload;
        validating.status = UploadStatus::Validating;
        self.store.update_upload(&validating).await?;
        if is_base {
            // New or changed residents may be the people schemes' records were not found as.
            // The relink is queued before the load begins, in the store, so that it is not
            // lost if the process dies between the load's commit and the relink; it waits
            // while the upload loads and does nothing if it never commits.
            self.enqueue(JobKind::RelinkAfterUpload {
                upload_id: validating.id.clone(),
            })
            .await?;
        }
        let mut load = self.store.begin_registry_load(&validating.id).await?;
        load.put_header(header).await?;
        Ok(Prepared::Ready(PreparedUpload {
            upload: validating,
            mode: request.mode,
            is_base,
            form,
            load,
            source,
            validator,
            removals,
            unknown_columns,
        }))
    }

    /// The second half of [`Hub::run_upload`]: reads, checks and loads the rows of a
    /// prepared upload, and commits it whole or not at all.
    pub async fn load_prepared(
        &self,
        prepared: PreparedUpload,
        sink: &mut dyn RejectionSink,
        progress: &(dyn Fn(u64) + Sync),
    ) -> HubResult<UploadOutcome> {
        let PreparedUpload {
            upload: validating,
            mode,
            is_base,
            form,
            source,
            validator,
            removals,
            unknown_columns,
            mut load,
        } = prepared;
        let upload = &validating;
        // The load seals everything (accepted numbers, rejected rows) with the keys it begins
        // with, and never asks the store for keys again while it holds the write lock: with
        // the rollback journal (`sangam ingest`) no other connection can read until it
        // commits. A key rotated meanwhile finds this upload's entries at the old version,
        // which is not retired while anything uses it.
        let ring = self.vault.sealing_ring().await?;
        let mut sink = StoringSink::new(sink, ring.clone(), &upload.id);
        let mut target = LoadTarget {
            upload: &validating,
            ring,
            load: &mut *load,
            sink: &mut sink,
            progress,
        };
        let loaded = match form {
            None => {
                self.load_scheme_chunks(&mut target, mode, source, validator, removals)
                    .await
            }
            Some(BaseForm::Cards) => {
                self.load_card_chunks(&mut target, mode, source, validator)
                    .await
            }
            Some(form) if mode == UploadMode::Full => {
                self.load_base_chunks(&mut target, form, source, validator)
                    .await
            }
            Some(form) => {
                self.load_base_changes(&mut target, form, source, validator)
                    .await
            }
        };
        let counts = match loaded {
            Ok(counts) => counts,
            Err(e) => {
                drop(load);
                if let HubError::Invalid {
                    code: REMOVALS_UNCONFIRMED,
                    message,
                    ..
                } = &e
                {
                    // Kept as it is, so that the uploader can tell it from a broken file.
                    self.mark_failed(validating, message).await?;
                    return Err(e);
                }
                return Err(self.fail_upload(validating, &e.to_string()).await);
            }
        };
        let mut done = validating.clone();
        done.status = UploadStatus::Committed;
        done.counts = counts;
        done.finished_at = Some(self.now());
        if let Err(e) = load.commit(done.clone()).await {
            // The store refused the whole load at the end (a deferred constraint, a lost
            // connection): nothing of it is kept, and the upload says so rather than waiting to
            // be found interrupted.
            self.mark_failed(validating, "the store could not commit the upload")
                .await?;
            return Err(e.into());
        }
        self.audit(
            &done.uploaded_by,
            AuditEvent::UploadCommitted {
                upload_id: done.id.clone(),
                dataset: done.dataset.clone(),
                organisation: done.organisation.clone(),
                rows: done.counts.rows,
                accepted: done.counts.accepted,
                rejected: done.counts.rejected,
            },
        )
        .await?;
        if done.counts.accepted >= STATISTICS_AFTER_ROWS {
            // Not fatal: the data is in; only the planner's estimates are stale.
            if let Err(e) = self.store.refresh_statistics().await {
                tracing::warn!(error = %e, "could not refresh the store's statistics");
            }
        }
        if !is_base {
            // Rows without an exact link wait for the link job. Queued after the commit: if the
            // process dies in between, the rows stay pending and the dataset's next upload (or a
            // relink) queues the job again.
            self.queue_linking(&done.dataset).await?;
        }
        // A base upload's relink of the schemes' records not found is the job queued when
        // it was prepared (see `prepare_upload`), run by the worker now that it committed.
        Ok(UploadOutcome::Loaded {
            upload: done,
            unknown_columns,
        })
    }

    /// Uploads, newest first; of one organisation when given.
    pub async fn uploads(
        &self,
        organisation: Option<&str>,
        limit: u32,
    ) -> HubResult<Vec<UploadRecord>> {
        if !(1..=500).contains(&limit) {
            return Err(HubError::Invalid {
                field: "limit".into(),
                code: "limit.range",
                message: "must be between 1 and 500".into(),
            });
        }
        // Listing is also when an upload whose process died is seen to be interrupted.
        self.store.reap_interrupted_uploads(self.now()).await?;
        Ok(self.store.uploads(organisation, limit).await?)
    }

    pub async fn upload(&self, id: &str) -> HubResult<UploadRecord> {
        let found =
            |u: Option<UploadRecord>| u.ok_or_else(|| HubError::NotFound(format!("upload {id}")));
        let upload = found(self.store.upload(id).await?)?;
        if upload.status != UploadStatus::Validating {
            return Ok(upload);
        }
        // Read while loading, or left so by a process that died: which one, the reaper tells.
        self.store.reap_interrupted_uploads(self.now()).await?;
        found(self.store.upload(id).await?)
    }

    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Records an upload as failed (nothing of it kept), with the reason, in the audit log too.
    async fn mark_failed(&self, mut upload: UploadRecord, reason: &str) -> HubResult<()> {
        upload.status = UploadStatus::Failed;
        upload.error = Some(reason.to_owned());
        upload.finished_at = Some(self.now());
        let event = AuditEvent::UploadFailed {
            upload_id: upload.id.clone(),
            dataset: upload.dataset.clone(),
            organisation: upload.organisation.clone(),
        };
        self.store.update_upload(&upload).await?;
        self.audit(&upload.uploaded_by, event).await?;
        Ok(())
    }

    /// Records an upload as failed and returns the error to report to the uploader.
    async fn fail_upload(&self, upload: UploadRecord, reason: &str) -> HubError {
        if let Err(e) = self.mark_failed(upload, reason).await {
            return e;
        }
        HubError::Invalid {
            field: "file".into(),
            code: "upload.failed",
            message: reason.to_owned(),
        }
    }
}
