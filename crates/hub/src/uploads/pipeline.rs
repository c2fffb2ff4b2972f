//! Reading an upload's file in chunks, ahead of the writing: while the store writes one chunk,
//! the next is read and validated on the blocking pool and prepared (for example, its ID
//! numbers sealed), so the file, the cores and the database work at the same time. Every
//! dataset's loader reads through here, and writes to the upload's [`LoadTarget`]; it only
//! says what a valid row becomes, how a chunk is prepared and what a chunk's rows do.

use std::future::Future;
use std::sync::Arc;

use sangam_ingest::Fields;
use sangam_ingest::read::RecordSource;
use sangam_ingest::report::RejectedRow;
use sangam_ingest::spec::{FieldProblem, ValidRow, Validator};
use sangam_ingest::{RawRecord, RecordError};
use sangam_store::{RegistryLoad, UploadCounts, UploadRecord};
use sangam_vault::KeyRing;
use tokio::task::JoinHandle;

use super::reports::StoringSink;
use super::{CHUNK_ROWS, RejectionSink, problem};
use crate::{HubError, HubResult};

/// Where an upload's chunks go, whatever the dataset: the upload, the one transaction it loads
/// in, the sink of its refused rows, and whom to tell how far it has got.
pub(crate) struct LoadTarget<'a, 's> {
    pub(crate) upload: &'a UploadRecord,
    /// The keys the load seals with, taken as it began (see `Hub::load_prepared`).
    pub(crate) ring: Arc<KeyRing>,
    pub(crate) load: &'a mut dyn RegistryLoad,
    pub(crate) sink: &'a mut StoringSink<'s>,
    pub(crate) progress: &'a (dyn Fn(u64) + Sync),
}

impl LoadTarget<'_, '_> {
    /// Ends a chunk: its refused rows go into the load with it, and the progress is told.
    pub(crate) async fn chunk_done(&mut self, counts: &UploadCounts) -> HubResult<()> {
        self.sink.flush(self.load).await?;
        (self.progress)(counts.rows);
        Ok(())
    }
}

/// One step of the file: the rows a loader took, and those refused on the way.
pub(crate) struct Chunk<T> {
    pub(crate) rows: Vec<T>,
    pub(crate) rejected: Vec<RejectedRow>,
    /// The record keys that refused rows name (where the key's cell could be read).
    pub(crate) refused_keys: Vec<String>,
    /// Records read, accepted or not.
    pub(crate) read: u64,
}

impl<T> Chunk<T> {
    /// Counts the chunk's records and hands its refused rows to `sink`; the rows stay.
    pub(crate) fn report(
        &mut self,
        counts: &mut UploadCounts,
        sink: &mut dyn RejectionSink,
    ) -> HubResult<()> {
        counts.rows += self.read;
        counts.rejected += self.rejected.len() as u64;
        for row in self.rejected.drain(..) {
            sink.reject(row)?;
        }
        Ok(())
    }
}

fn rejected_from_problems(record: RawRecord, problems: Vec<FieldProblem>) -> RejectedRow {
    RejectedRow {
        line: record.line,
        fields: record.fields.into(),
        errors: problems
            .into_iter()
            .map(|p| sangam_ingest::report::RowProblem {
                column: Some(p.column),
                code: p.code,
                message: p.message,
            })
            .collect(),
    }
}

fn rejected_from_read_error(e: &RecordError) -> RejectedRow {
    RejectedRow {
        line: e.line(),
        fields: Vec::new(),
        errors: vec![problem(None, e.code(), e.to_string())],
    }
}

/// Reads and validates up to [`CHUNK_ROWS`] records; whether the source is exhausted.
fn read_chunk<T>(
    source: &mut dyn RecordSource,
    validator: &Validator,
    convert: &dyn Fn(ValidRow, Fields) -> Result<T, RejectedRow>,
) -> (Chunk<T>, bool) {
    let mut chunk = Chunk {
        // Sized once: rows are large, and growing the vector would copy them over and over.
        rows: Vec::with_capacity(CHUNK_ROWS),
        rejected: Vec::new(),
        refused_keys: Vec::new(),
        read: 0,
    };
    while chunk.read < CHUNK_ROWS as u64 {
        let Some(next) = source.next() else {
            return (chunk, true);
        };
        chunk.read += 1;
        match next {
            Err(e) => chunk.rejected.push(rejected_from_read_error(&e)),
            Ok(record) => match validator.validate(&record) {
                Err(problems) => {
                    if let Some(key) = validator.record_key_cell(&record) {
                        chunk.refused_keys.push(key.to_owned());
                    }
                    chunk
                        .rejected
                        .push(rejected_from_problems(record, problems));
                }
                Ok(valid) => match convert(valid, record.fields) {
                    Ok(row) => chunk.rows.push(row),
                    Err(refused) => chunk.rejected.push(refused),
                },
            },
        }
    }
    (chunk, false)
}

type Step<T> = JoinHandle<HubResult<(Box<dyn RecordSource>, Chunk<T>, bool)>>;
type Convert<T> = Arc<dyn Fn(ValidRow, Fields) -> Result<T, RejectedRow> + Send + Sync>;

/// The chunks of a file, each read while the one before is written.
pub(crate) struct ChunkReader<T, P> {
    validator: Arc<Validator>,
    convert: Convert<T>,
    prepare: P,
    pending: Option<Step<T>>,
}

impl<T, P, F> ChunkReader<T, P>
where
    T: Send + 'static,
    P: Fn(Chunk<T>) -> F + Clone + Send + 'static,
    F: Future<Output = HubResult<Chunk<T>>> + Send + 'static,
{
    /// Starts reading the first chunk. `convert` turns a valid row into the loader's own row
    /// (or refuses it); `prepare` finishes a chunk off the writer's path.
    pub(crate) fn start(
        source: Box<dyn RecordSource>,
        validator: Arc<Validator>,
        convert: impl Fn(ValidRow, Fields) -> Result<T, RejectedRow> + Send + Sync + 'static,
        prepare: P,
    ) -> Self {
        let mut reader = ChunkReader {
            validator,
            convert: Arc::new(convert),
            prepare,
            pending: None,
        };
        reader.pending = Some(reader.spawn(source));
        reader
    }

    fn spawn(&self, mut source: Box<dyn RecordSource>) -> Step<T> {
        let validator = self.validator.clone();
        let convert = self.convert.clone();
        let prepare = self.prepare.clone();
        tokio::spawn(async move {
            let (source, chunk, exhausted) = tokio::task::spawn_blocking(move || {
                let (chunk, exhausted) = read_chunk(source.as_mut(), &validator, &*convert);
                (source, chunk, exhausted)
            })
            .await
            .map_err(|e| HubError::Internal(format!("reading the file failed: {e}")))?;
            Ok((source, prepare(chunk).await?, exhausted))
        })
    }

    /// The rows the loader takes from the next chunk, `None` after the last; the chunk's
    /// records are counted and its refused rows handed to the target's sink.
    pub(crate) async fn next_rows(
        &mut self,
        counts: &mut UploadCounts,
        target: &mut LoadTarget<'_, '_>,
    ) -> HubResult<Option<Vec<T>>> {
        Ok(self
            .next_rows_and_refused_keys(counts, target)
            .await?
            .map(|(rows, _)| rows))
    }

    /// [`ChunkReader::next_rows`], with the record keys that the chunk's refused rows name.
    pub(crate) async fn next_rows_and_refused_keys(
        &mut self,
        counts: &mut UploadCounts,
        target: &mut LoadTarget<'_, '_>,
    ) -> HubResult<Option<(Vec<T>, Vec<String>)>> {
        let Some(mut chunk) = self.next().await? else {
            return Ok(None);
        };
        chunk.report(counts, target.sink)?;
        Ok(Some((chunk.rows, chunk.refused_keys)))
    }

    /// The next chunk, `None` after the last. A reader that broke off (an I/O error, an
    /// unclosed quote) is an error, so that the upload fails whole rather than committing
    /// half a file.
    async fn next(&mut self) -> HubResult<Option<Chunk<T>>> {
        let Some(step) = self.pending.take() else {
            return Ok(None);
        };
        let (source, chunk, exhausted) = step
            .await
            .map_err(|e| HubError::Internal(format!("reading the file failed: {e}")))??;
        if exhausted {
            if let Some(stopped) = source.stopped() {
                return Err(HubError::Invalid {
                    field: "file".into(),
                    code: "file.unreadable",
                    message: format!("the file could not be read to its end: {stopped}"),
                });
            }
        } else {
            self.pending = Some(self.spawn(source));
        }
        Ok(Some(chunk))
    }
}
