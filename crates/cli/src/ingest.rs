//! `sangam ingest`: loads a department's file straight into the store, for first-time
//! migrations of large files, and writes the rejected rows to a report file it names.

#![allow(
    clippy::print_stdout,
    reason = "the command ends with one JSON line on standard output"
)]

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sangam_hub::uploads::{RejectionSink, UploadMode, UploadOutcome, UploadRequest};
use sangam_hub::{Hub, HubError, HubResult};
use sangam_ingest::report::{RejectedRow, RejectionCsvWriter};
use sha2::{Digest, Sha256};

/// What the command was asked.
#[derive(Debug)]
pub struct IngestArgs {
    pub dataset: String,
    pub mode: UploadMode,
    pub file: PathBuf,
    /// The organisation the data comes from; the dataset's own when not given.
    pub organisation: Option<String>,
    pub idempotency_key: String,
    pub report: Option<PathBuf>,
    pub sheet: Option<String>,
    pub confirm_removals: bool,
}

struct CsvSink {
    writer: RejectionCsvWriter<BufWriter<File>>,
}

impl RejectionSink for CsvSink {
    fn reject(&mut self, row: RejectedRow) -> HubResult<()> {
        self.writer
            .write(&row)
            .map_err(|e| HubError::Internal(format!("cannot write the rejection report: {e}")))
    }
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// `cards.csv` → `cards.rejected.csv` beside it.
fn default_report_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "upload".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.rejected.csv"))
}

pub async fn run(hub: &Hub, args: IngestArgs) -> anyhow::Result<()> {
    let sha = sha256_of(&args.file)?;
    let (_, source) = sangam_ingest::read::open_file(&args.file, args.sheet.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(&args.file));
    // Written aside and renamed when the upload has loaded, so that a run which loads nothing
    // (the file was loaded before, or the upload failed) never clobbers an earlier report.
    let partial = report_path.with_extension("csv.partial");
    let report_file = File::create(&partial)
        .with_context(|| format!("cannot create the rejection report {}", partial.display()))?;
    let writer = RejectionCsvWriter::new(BufWriter::new(report_file), source.header())
        .map_err(|e| anyhow::anyhow!("cannot write the rejection report: {e}"))?;
    let mut sink = CsvSink { writer };

    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows read ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let request = UploadRequest {
        dataset: args.dataset.clone(),
        mode: args.mode,
        organisation: args.organisation.clone(),
        uploaded_by: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "operator".into())
        ),
        file_name: args
            .file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        file_sha256: sha,
        idempotency_key: args.idempotency_key.clone(),
        corrects: None,
        confirm_removals: args.confirm_removals,
    };
    let outcome = hub
        .run_upload(request, source, &mut sink, &|rows| bar.set_position(rows))
        .await;
    bar.finish_and_clear();
    let writer = sink.writer;
    let rejected_written = writer.rows();
    writer
        .finish()
        .map_err(|e| anyhow::anyhow!("cannot finish the rejection report: {e}"))?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    let upload = outcome.upload();
    let c = &upload.counts;
    let mut line = serde_json::json!({
        "rows": c.rows,
        "accepted": c.accepted,
        "rejected": c.rejected,
        "added": c.added,
        "modified": c.modified,
        "deleted": c.deleted,
        "unchanged": c.unchanged,
        "upload_id": upload.id,
        "status": upload.status.code(),
    });
    match &outcome {
        UploadOutcome::Loaded {
            unknown_columns, ..
        } => {
            std::fs::rename(&partial, &report_path).with_context(|| {
                format!(
                    "cannot write the rejection report {}",
                    report_path.display()
                )
            })?;
            line["report"] = serde_json::json!(report_path.display().to_string());
            line["unknown_columns"] = serde_json::json!(unknown_columns);
            if !unknown_columns.is_empty() {
                eprintln!(
                    "columns not in the {} spec, ignored: {}",
                    args.dataset,
                    unknown_columns.join(", ")
                );
            }
            eprintln!(
                "upload {}: {} rows, {} accepted, {} rejected (report: {})",
                upload.id,
                c.rows,
                c.accepted,
                rejected_written,
                report_path.display()
            );
        }
        UploadOutcome::AlreadyLoaded { upload } => {
            let _ = std::fs::remove_file(&partial);
            line["already_loaded"] = serde_json::json!(true);
            eprintln!(
                "this file was loaded before as upload {} (same checksum and idempotency key); nothing was done",
                upload.id
            );
        }
    }
    println!("{line}");
    Ok(())
}
