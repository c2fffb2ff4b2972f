//! Receiving an uploaded file: the body is streamed to a temporary file while its SHA-256 is
//! computed, so that memory stays flat whatever the size, the checksum is known before any
//! row is read (for idempotency), and XLSX (which needs random access) can be opened.
//! A multipart body's text fields are collected alongside.

use std::collections::HashMap;
use std::path::Path;

use axum::body::Body;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::problem::ApiError;

/// Largest text field of a multipart form.
const MAX_FIELD_BYTES: usize = 4096;

/// A file received and kept until dropped.
#[derive(Debug)]
pub struct Spooled {
    pub file: tempfile::TempPath,
    pub sha256: String,
    pub bytes: u64,
    /// The name the client gave the file, if any.
    pub file_name: Option<String>,
    /// The multipart form's text fields (empty for a raw body).
    pub fields: HashMap<String, String>,
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "The file is too large",
        format!("this hub accepts files of at most {limit} bytes per upload"),
    )
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "cannot spool an upload");
    ApiError::new(
        axum::http::StatusCode::INSUFFICIENT_STORAGE,
        "spool",
        "The hub cannot store the file",
        "the hub could not write the file to its temporary storage; quote the request id to the help desk",
    )
}

/// The extension the readers recognise, from a client's file name (anything else is dropped:
/// the readers sniff the content in any case).
fn safe_extension(file_name: &str) -> &'static str {
    const KNOWN: [&str; 7] = [
        ".csv", ".tsv", ".txt", ".xlsx", ".jsonl", ".ndjson", ".json",
    ];
    let lower = file_name.to_ascii_lowercase();
    KNOWN
        .into_iter()
        .find(|ext| lower.ends_with(ext))
        .unwrap_or("")
}

struct Writer {
    file: tokio::fs::File,
    path: tempfile::TempPath,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
}

impl Writer {
    fn new(dir: &Path, file_name: Option<&str>, limit: u64) -> Result<Self, ApiError> {
        let named = tempfile::Builder::new()
            .prefix("sangam-upload-")
            .suffix(file_name.map_or("", safe_extension))
            .tempfile_in(dir)
            .map_err(io_error)?;
        let (file, path) = named.into_parts();
        Ok(Writer {
            file: tokio::fs::File::from_std(file),
            path,
            hasher: Sha256::new(),
            bytes: 0,
            limit,
        })
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.bytes += chunk.len() as u64;
        if self.bytes > self.limit {
            return Err(too_large(self.limit));
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await.map_err(io_error)
    }

    async fn finish(
        mut self,
        file_name: Option<String>,
        fields: HashMap<String, String>,
    ) -> Result<Spooled, ApiError> {
        self.file.flush().await.map_err(io_error)?;
        self.file.sync_all().await.map_err(io_error)?;
        Ok(Spooled {
            file: self.path,
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
            file_name,
            fields,
        })
    }
}

/// Spools a raw body (the file itself).
pub async fn raw(
    body: Body,
    dir: &Path,
    file_name: Option<String>,
    limit: u64,
) -> Result<Spooled, ApiError> {
    let mut writer = Writer::new(dir, file_name.as_deref(), limit)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("the body broke off: {e}")))?;
        writer.write(&chunk).await?;
    }
    writer.finish(file_name, HashMap::new()).await
}

/// Spools the `file` part of a multipart form and collects its other (text) parts.
pub async fn multipart(
    body: Body,
    boundary: String,
    dir: &Path,
    limit: u64,
) -> Result<Spooled, ApiError> {
    let bad =
        |e: multer::Error| ApiError::bad_request(format!("the multipart form is malformed: {e}"));
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut fields = HashMap::new();
    let mut spooled: Option<Writer> = None;
    let mut file_name = None;
    while let Some(mut part) = form.next_field().await.map_err(bad)? {
        let name = part.name().unwrap_or_default().to_owned();
        if name == "file" {
            if spooled.is_some() {
                return Err(ApiError::bad_request(
                    "the form has more than one `file` part",
                ));
            }
            file_name = part.file_name().map(str::to_owned);
            let mut writer = Writer::new(dir, file_name.as_deref(), limit)?;
            while let Some(chunk) = part.chunk().await.map_err(bad)? {
                writer.write(&chunk).await?;
            }
            spooled = Some(writer);
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = part.chunk().await.map_err(bad)? {
                value.extend_from_slice(&chunk);
                if value.len() > MAX_FIELD_BYTES {
                    return Err(ApiError::bad_request(format!(
                        "the form field `{name}` is longer than {MAX_FIELD_BYTES} bytes"
                    )));
                }
            }
            let value = String::from_utf8(value).map_err(|_| {
                ApiError::bad_request(format!("the form field `{name}` is not UTF-8 text"))
            })?;
            fields.insert(name, value);
        }
    }
    let writer = spooled
        .ok_or_else(|| ApiError::bad_request("the form has no `file` part with the data"))?;
    writer.finish(file_name, fields).await
}
