//! What a department reads of how its scheme's records link to residents: the counts by
//! link status, the report of records not found in the base data, and the model's
//! explanation for any pair of a record and a resident.

use sangam_ingest::report::SafeCsvWriter;
use sangam_store::{LinkStatus, User};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// Rows of the not-found report read per query.
const REPORT_PAGE: u32 = 5_000;

/// A dataset's records by link status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkCounts {
    pub dataset: String,
    pub pending: u64,
    pub linked: u64,
    pub review: u64,
    pub not_found: u64,
}

impl Hub {
    /// How many of a dataset's records are linked, in review, not found or still waiting.
    pub async fn link_counts(&self, dataset: &str, user: &User) -> HubResult<LinkCounts> {
        self.scheme_for(dataset, user).await?;
        let counts = self.store.link_counts(dataset).await?;
        let of = |s: LinkStatus| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
        Ok(LinkCounts {
            dataset: dataset.to_owned(),
            pending: of(LinkStatus::Pending),
            linked: of(LinkStatus::Linked),
            review: of(LinkStatus::Review),
            not_found: of(LinkStatus::NotFound),
        })
    }

    /// The dataset's records not found in the base data, as CSV: the record key, the upload
    /// that last sent it, and the record's plain fields (never the sealed ones), so the
    /// department can check them against its own files. Cells are neutralised.
    pub async fn not_found_report_csv(&self, dataset: &str, user: &User) -> HubResult<Vec<u8>> {
        self.scheme_for(dataset, user).await?;
        let spec = self.dataset(dataset).await?.spec;
        let columns: Vec<&str> = spec
            .columns
            .iter()
            .filter(|c| {
                !c.kind.is_sensitive()
                    && c.kind != sangam_ingest::spec::ColumnKind::Operation
                    && c.kind != sangam_ingest::spec::ColumnKind::RefKey
                    && Some(c.name.as_str()) != spec.record_key.as_deref()
            })
            .map(|c| c.name.as_str())
            .collect();
        let mut header = vec!["record_key", "upload_id"];
        header.extend(&columns);
        let err = |e: sangam_ingest::report::ReportError| HubError::Internal(e.to_string());
        let mut writer = SafeCsvWriter::new(Vec::new(), &header).map_err(err)?;
        let mut after: Option<String> = None;
        let mut rows = 0u64;
        loop {
            let page = self
                .store
                .enrolments_by_link_status(
                    dataset,
                    LinkStatus::NotFound,
                    after.as_deref(),
                    REPORT_PAGE,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record_key.clone());
            for e in &page {
                let values: Vec<String> = columns
                    .iter()
                    .map(|c| match e.fields.get(*c) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(serde_json::Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                let mut row = vec![e.record_key.as_str(), e.upload_id.as_str()];
                row.extend(values.iter().map(String::as_str));
                writer.write_row(&row).map_err(err)?;
                rows += 1;
            }
        }
        self.audit(
            &user.username,
            AuditEvent::NotFoundReportDownloaded {
                dataset: dataset.to_owned(),
                rows,
            },
        )
        .await?;
        writer.finish().map_err(err)
    }

    /// The model's explanation for any pair of a scheme record and a resident: each field's
    /// comparison level, m, u and weight, and the running total (a waterfall). ID numbers
    /// appear only as masked reference keys. Audited, since it shows how the registry spells
    /// the resident.
    pub async fn explain_pair(
        &self,
        dataset: &str,
        record_key: &str,
        resident_id: &str,
        user: &User,
    ) -> HubResult<sangam_matching::Explanation> {
        self.scheme_for(dataset, user).await?;
        let enrolment = self
            .store
            .enrolment(dataset, record_key)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("record {record_key} of {dataset}")))?;
        let index = self
            .link_index()
            .await?
            .ok_or_else(|| HubError::NotFound(format!("resident {resident_id}")))?;
        let position = index
            .position(resident_id)
            .ok_or_else(|| HubError::NotFound(format!("resident {resident_id}")))?;
        let spec = self.dataset_spec(dataset, enrolment.spec_version).await?;
        let record =
            super::subjects::SpecRoles::of(&spec).record(&enrolment, self.now().date_naive());
        let explanation = index
            .engine
            .explain(&record, &index.records[position as usize]);
        self.audit(
            &user.username,
            AuditEvent::PairExplained {
                dataset: dataset.to_owned(),
                record_key: record_key.to_owned(),
                resident_id: resident_id.to_owned(),
            },
        )
        .await?;
        Ok(explanation)
    }
}
