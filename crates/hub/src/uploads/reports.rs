//! What an upload hands back to the organisation that sent it: the rejected rows with their
//! reasons (kept sealed in the store, since they hold ID, mobile and bank numbers as typed)
//! and the reference-key mapping of the accepted rows. Both are written inside the upload's
//! load transaction, so they exist exactly when the upload committed. The rejected rows are
//! re-sealed when the vault's key rotates, and removed after the retention period
//! (`retention.rs`); the report of an upload whose rows were removed answers "gone".

use std::sync::Arc;

use sangam_ingest::report::{RejectedRow, RejectionCsvWriter, RowProblem, SafeCsvWriter};
use sangam_store::{
    MappingEntry, RegistryLoad, RejectionEntry, RejectionReseal, StoredRejection, UploadRecord,
    User,
};
use sangam_vault::{KeyRing, Sealed};
use serde::{Deserialize, Serialize};

use super::RejectionSink;
use crate::audit::AuditEvent;
use crate::datasets::acts_for;
use crate::{Hub, HubError, HubResult};

/// The kind of sealed record a rejected row is (part of its associated data).
const REJECTION_KIND: &str = "upload_rejection";
/// Rows read from the store per page when a report is built.
const PAGE: u32 = 5_000;

fn rejection_id(upload_id: &str, line: u64) -> String {
    format!("{upload_id}:{line}")
}

/// A stored rejected row sealed again under the ring's active key, as the same record (key
/// rotation); `None` when it is sealed with the active key already.
pub(crate) fn reseal_rejection(
    ring: &KeyRing,
    row: &RejectionEntry,
) -> HubResult<Option<RejectionReseal>> {
    let sealed = Sealed {
        key_version: row.key_version,
        blob: row.sealed.clone(),
    };
    let id = rejection_id(&row.upload_id, row.line);
    Ok(ring
        .reseal_record(REJECTION_KIND, &id, &sealed)?
        .map(|new| RejectionReseal {
            upload_id: row.upload_id.clone(),
            line: row.line,
            expected_version: row.key_version,
            new_version: new.key_version,
            sealed: new.blob,
        }))
}

/// A rejected row as sealed: what the report needs to show it again.
#[derive(Serialize, Deserialize)]
struct SealedRow {
    fields: Vec<String>,
    errors: Vec<SealedProblem>,
}

#[derive(Serialize, Deserialize)]
struct SealedProblem {
    column: Option<String>,
    code: String,
    message: String,
}

/// A sink that seals every rejected row for the store (written at the end of each chunk by
/// [`StoringSink::flush`]) and passes it on to the caller's own sink.
pub(crate) struct StoringSink<'a> {
    inner: &'a mut dyn RejectionSink,
    ring: Arc<KeyRing>,
    upload_id: String,
    pending: Vec<StoredRejection>,
}

impl<'a> StoringSink<'a> {
    pub(crate) fn new(
        inner: &'a mut dyn RejectionSink,
        ring: Arc<KeyRing>,
        upload_id: &str,
    ) -> Self {
        StoringSink {
            inner,
            ring,
            upload_id: upload_id.to_owned(),
            pending: Vec::new(),
        }
    }

    /// Writes the rows sealed since the last flush into the load.
    pub(crate) async fn flush(&mut self, load: &mut dyn RegistryLoad) -> HubResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        load.put_rejections(rows).await?;
        Ok(())
    }
}

impl RejectionSink for StoringSink<'_> {
    fn reject(&mut self, row: RejectedRow) -> HubResult<()> {
        let sealed_row = SealedRow {
            fields: row.fields.clone(),
            errors: row
                .errors
                .iter()
                .map(|p| SealedProblem {
                    column: p.column.clone(),
                    code: p.code.clone(),
                    message: p.message.clone(),
                })
                .collect(),
        };
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(&sealed_row)
                .map_err(|e| HubError::Internal(format!("cannot encode a rejected row: {e}")))?,
        );
        let sealed = self.ring.seal_record(
            REJECTION_KIND,
            &rejection_id(&self.upload_id, row.line),
            &plain,
        );
        self.pending.push(StoredRejection {
            line: row.line,
            key_version: sealed.key_version,
            sealed: sealed.blob,
        });
        self.inner.reject(row)
    }
}

/// A sink that keeps nothing (for callers that only want the stored report).
#[derive(Debug)]
pub struct DiscardRejections;

impl RejectionSink for DiscardRejections {
    fn reject(&mut self, _row: RejectedRow) -> HubResult<()> {
        Ok(())
    }
}

/// The format of a rejection report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Xlsx,
}

/// The report of an upload whose rejected rows the retention period removed is gone.
fn gone_if_purged(upload: &UploadRecord) -> HubResult<()> {
    match upload.rejections_purged_at {
        Some(purged_at) => Err(HubError::Gone(super::retention::purged_message(
            upload, purged_at,
        ))),
        None => Ok(()),
    }
}

impl Hub {
    /// An upload, if `user` may see it: administrators see every upload, a nodal officer
    /// those of their organisation.
    pub async fn upload_for(&self, id: &str, user: &User) -> HubResult<UploadRecord> {
        let upload = self.upload(id).await?;
        if !acts_for(user, &upload.organisation) {
            // Not found rather than forbidden: another organisation's upload ids are not
            // confirmed to exist.
            return Err(HubError::NotFound(format!("upload {id}")));
        }
        Ok(upload)
    }

    /// An upload whose rows `user` may have back: only the uploading organisation's own
    /// nodal officers, since the rows hold what the department typed, ID numbers included.
    async fn own_upload(&self, id: &str, user: &User) -> HubResult<UploadRecord> {
        let upload = self.upload_for(id, user).await?;
        if user.organisation.as_deref() != Some(upload.organisation.as_str()) {
            return Err(HubError::Forbidden(format!(
                "only nodal officers of {} may have this upload's rows back",
                upload.organisation
            )));
        }
        if upload.status != sangam_store::UploadStatus::Committed {
            return Err(HubError::Conflict(format!(
                "upload {id} is {}; its reports exist once it has committed",
                upload.status.code()
            )));
        }
        Ok(upload)
    }

    /// The rejected rows of an upload, opened, in line order.
    async fn rejected_rows(&self, upload_id: &str) -> HubResult<Vec<RejectedRow>> {
        let ring = self.vault.ring();
        let mut rows = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.upload_rejections(upload_id, after, PAGE).await?;
            let done = page.len() < PAGE as usize;
            for stored in page {
                after = stored.line;
                let plain = ring.open_record(
                    REJECTION_KIND,
                    &rejection_id(upload_id, stored.line),
                    &Sealed {
                        key_version: stored.key_version,
                        blob: stored.sealed,
                    },
                )?;
                let row: SealedRow = serde_json::from_slice(&plain).map_err(|e| {
                    HubError::Internal(format!("a stored rejected row does not decode: {e}"))
                })?;
                rows.push(RejectedRow {
                    line: stored.line,
                    fields: row.fields,
                    errors: row
                        .errors
                        .into_iter()
                        .map(|p| RowProblem {
                            column: p.column,
                            code: p.code,
                            message: p.message,
                        })
                        .collect(),
                });
            }
            if done {
                return Ok(rows);
            }
        }
    }

    /// The rejection report of an upload, for its own organisation: the original rows with
    /// their codes and messages, ready to fix and upload again. Every cell that could be read
    /// as a formula is neutralised. Once the retention period has removed the rows, the
    /// report is [`HubError::Gone`], saying when and why.
    pub async fn rejection_report(
        &self,
        upload_id: &str,
        format: ReportFormat,
        user: &User,
    ) -> HubResult<Vec<u8>> {
        let upload = self.own_upload(upload_id, user).await?;
        gone_if_purged(&upload)?;
        let header = self
            .store
            .upload_header(&upload.id)
            .await?
            .unwrap_or_default();
        let rows = self.rejected_rows(&upload.id).await?;
        // The purge may have taken the rows while they were read: a report missing some of
        // them must not pass for the whole one.
        gone_if_purged(&self.upload(&upload.id).await?)?;
        let count = rows.len() as u64;
        let report_error = |e: sangam_ingest::report::ReportError| HubError::Invalid {
            field: "format".into(),
            code: "report.unavailable",
            message: e.to_string(),
        };
        let bytes = match format {
            ReportFormat::Csv => {
                let mut writer =
                    RejectionCsvWriter::new(Vec::new(), &header).map_err(report_error)?;
                for row in &rows {
                    writer.write(row).map_err(report_error)?;
                }
                writer.finish().map_err(report_error)?
            }
            ReportFormat::Xlsx => {
                sangam_ingest::report::rejections_xlsx(&header, rows).map_err(report_error)?
            }
        };
        self.audit(
            &user.username,
            AuditEvent::RejectionsDownloaded {
                upload_id: upload.id,
                rows: count,
            },
        )
        .await?;
        Ok(bytes)
    }

    /// The reference-key mapping of an upload's accepted rows, for its own organisation,
    /// read whole (see [`Hub::upload_mapping_pages`] for one page at a time).
    pub async fn upload_mapping(
        &self,
        upload_id: &str,
        user: &User,
    ) -> HubResult<Vec<MappingEntry>> {
        let mut pages = self.upload_mapping_pages(upload_id, user).await?;
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// The same mapping, read a page at a time: a million-row upload's mapping is some
    /// hundreds of megabytes as entries, and a response can send each page as it is read.
    /// The download is audited here, with the entries the mapping holds, before any is read.
    pub async fn upload_mapping_pages(
        &self,
        upload_id: &str,
        user: &User,
    ) -> HubResult<MappingPages> {
        let upload = self.own_upload(upload_id, user).await?;
        let rows = self.store.upload_mapping_len(&upload.id).await?;
        self.audit(
            &user.username,
            AuditEvent::MappingDownloaded {
                upload_id: upload.id.clone(),
                rows,
            },
        )
        .await?;
        Ok(MappingPages {
            store: self.store.clone(),
            upload_id: upload.id,
            rows,
            after: 0,
            done: false,
        })
    }
}

/// An upload's mapping, read from the store a page at a time (see
/// [`Hub::upload_mapping_pages`]).
pub struct MappingPages {
    store: Arc<dyn sangam_store::Store>,
    upload_id: String,
    rows: u64,
    after: u64,
    done: bool,
}

impl std::fmt::Debug for MappingPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingPages")
            .field("upload_id", &self.upload_id)
            .field("rows", &self.rows)
            .field("after", &self.after)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl MappingPages {
    /// How many entries the mapping holds.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next page of entries, in order; `None` after the last. The first page comes even
    /// when the mapping is empty (as an empty page).
    pub async fn next_page(&mut self) -> HubResult<Option<Vec<MappingEntry>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .upload_mapping(&self.upload_id, self.after, PAGE)
            .await?;
        self.done = page.len() < PAGE as usize;
        if let Some(last) = page.last() {
            self.after = last.seq;
        }
        Ok(Some(page))
    }
}

/// The columns of the mapping as CSV.
const MAPPING_COLUMNS: [&str; 5] = [
    "record_key",
    "ref_key",
    "id_number_masked",
    "resident_id",
    "outcome",
];

/// The mapping as CSV: record key, reference key, masked ID number, resident, outcome.
pub fn mapping_csv(entries: &[MappingEntry]) -> HubResult<Vec<u8>> {
    mapping_csv_page(entries, true)
}

/// One page of the mapping as CSV; the first page (`first`) starts the file with its byte
/// order mark and header, and the pages after it go on from there.
pub fn mapping_csv_page(entries: &[MappingEntry], first: bool) -> HubResult<Vec<u8>> {
    let err = |e: sangam_ingest::report::ReportError| HubError::Internal(e.to_string());
    let mut writer = if first {
        SafeCsvWriter::new(Vec::new(), &MAPPING_COLUMNS).map_err(err)?
    } else {
        SafeCsvWriter::continuing(Vec::new(), MAPPING_COLUMNS.len())
    };
    for m in entries {
        writer
            .write_row(&[
                m.record_key.as_str(),
                m.ref_key.as_ref().map_or("", |k| k.as_str()),
                m.id_masked.as_deref().unwrap_or(""),
                m.resident_id.as_deref().unwrap_or(""),
                m.outcome.as_str(),
            ])
            .map_err(err)?;
    }
    writer.finish().map_err(err)
}
