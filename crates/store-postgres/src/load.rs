//! One upload's loading transaction ([`RegistryLoad`]).
//!
//! The load's connection belongs to a task of its own, which runs the load's steps one after
//! another, in the order the caller sent them. A step that answers nothing (rows inserted,
//! the mapping, rejections, enrolments written) is queued and the caller goes on at once, so
//! that the hub reads, checks and seals the next chunk while the server writes this one; a
//! step that answers waits for the writes queued before it, then runs. The queue is short
//! (see [`QUEUE`]), so the caller runs at most about a chunk ahead and memory stays bounded.
//! The first queued write that fails poisons the load: the next step that answers gets the
//! failure instead of running, the task ends there, and dropping the connection rolls the
//! transaction back. A load that would answer from memory (a first load, see `first_load`)
//! asks the connection instead once a write has failed, so the failure still comes back at
//! the next step that answers.
//!
//! A load that ends without a commit (dropped, or after an error) stops its task, which takes
//! the connection out of the pool for good and closes it, so the server rolls the transaction
//! back and releases the upload's lock.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use rustc_hash::FxHashSet;
use sangam_domain::RefKey;
use sangam_store::mapping_block;
use sangam_store::raw::{RawHousehold, RawResident};
use sangam_store::{
    ChangeContext, Enrolment, EnrolmentState, Household, MappingEntry, NewVaultEntry, RegistryLoad,
    RegistryUpdate, Resident, StoreError, StoreResult, StoredRejection, UploadRecord,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::datasets;
use crate::first_load::{Card, Deferred, Remembered};
use crate::registry::copy_registry;
use crate::sql::{execute, get, map_err, query, query_opt};
use crate::uploads::{DetachOnDrop, UPLOAD_LOCK, write_final};
use crate::vault::{append_entries, put_entries};

/// Commands that may wait in a load's queue. A queued write holds one chunk's rows (a few
/// MB for 10,000 members, as vault entries, registry rows and a mapping block), so the
/// caller may prepare about one chunk ahead of the server, and no more.
const QUEUE: usize = 4;

type StepFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The load's connection and what it put off until its commit, owned by the load's task.
struct Conn {
    client: DetachOnDrop,
    deferred: Deferred,
}

/// A write that answers nothing.
type Write = Box<dyn for<'a> FnOnce(&'a mut Conn) -> StepFuture<'a, StoreResult<()>> + Send>;
/// A step that answers for itself, given the connection or the failure of a queued write.
type Ask = Box<dyn for<'a> FnOnce(StoreResult<&'a mut Conn>) -> StepFuture<'a, ()> + Send>;

enum Command {
    Write(Write),
    Ask(Ask),
}

fn ended() -> StoreError {
    StoreError::Backend("the load's transaction has ended".into())
}

/// Gives an `Ask` closure its higher-ranked type.
fn ask_step<F>(step: F) -> Ask
where
    F: for<'a> FnOnce(StoreResult<&'a mut Conn>) -> StepFuture<'a, ()> + Send + 'static,
{
    Box::new(step)
}

/// The load's task: runs the steps in order (see the module comment).
async fn run(mut conn: Conn, mut inbox: mpsc::Receiver<Command>, failed: Arc<AtomicBool>) {
    let mut failure = None;
    while let Some(command) = inbox.recv().await {
        match command {
            Command::Write(write) => {
                // After a failure, queued writes are skipped: the load cannot commit.
                if failure.is_none()
                    && let Err(e) = write(&mut conn).await
                {
                    failure = Some(e);
                    failed.store(true, Ordering::Release);
                }
            }
            Command::Ask(ask) => match failure.take() {
                None => ask(Ok(&mut conn)).await,
                Some(e) => {
                    // The load ends here; dropping the connection rolls it back.
                    ask(Err(e)).await;
                    return;
                }
            },
        }
    }
}

/// Opens a load on `client`, a connection of the pool taken for it: takes the upload's lock,
/// begins the transaction, marks the upload `validating`, and in a first load drops what it
/// defers (see `first_load`).
pub(crate) async fn begin(client: Object, upload_id: &str) -> StoreResult<Box<dyn RegistryLoad>> {
    // From here, leaving early drops the connection, which closes it.
    let client = DetachOnDrop(Some(client));
    let c = client.get()?;
    execute(
        c,
        "SELECT pg_advisory_lock($1, hashtext($2))",
        &[&UPLOAD_LOCK, &upload_id],
    )
    .await?;
    c.batch_execute("BEGIN").await.map_err(map_err)?;
    let n = execute(
        c,
        "UPDATE uploads SET status = 'validating' WHERE id = $1",
        &[&upload_id],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("upload {upload_id}")));
    }
    compress_with_lz4(c).await?;
    let (deferred, remembered) = match Deferred::begin(c).await? {
        Some((deferred, remembered)) => (deferred, Some(remembered)),
        None => (Deferred::none(), None),
    };
    let (commands, inbox) = mpsc::channel(QUEUE);
    let failed = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(run(Conn { client, deferred }, inbox, failed.clone()));
    Ok(Box::new(PgLoad {
        upload_id: upload_id.to_owned(),
        commands,
        task,
        failed,
        poisoned: false,
        remembered,
        fresh_keys: FxHashSet::default(),
    }))
}

/// Has the values this load stores out of line (a chunk's mapping block is a JSON array of
/// about a megabyte) compressed with LZ4 instead of PostgreSQL's own pglz, when the server
/// was built with it: measured on a million-row load, pglz took about 1.6 s of the server's
/// time to compress the mapping and LZ4 about 0.4 s, for the same size. `SET LOCAL`, so the
/// setting ends with the load's transaction; values are read back the same either way.
async fn compress_with_lz4(c: &Object) -> StoreResult<()> {
    let lz4 = query_opt(
        c,
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
        &[],
    )
    .await?;
    if let Some(row) = lz4
        && get::<Option<bool>>("pg_settings", &row, 0)? == Some(true)
    {
        c.batch_execute("SET LOCAL default_toast_compression = 'lz4'")
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

/// One upload's loading transaction: the caller's end of it.
struct PgLoad {
    /// The upload whose lock the connection holds.
    upload_id: String,
    commands: mpsc::Sender<Command>,
    /// The task that owns the connection; stopped when the load is dropped.
    task: JoinHandle<()>,
    /// Set by the task when a queued write fails.
    failed: Arc<AtomicBool>,
    /// Set while a step runs and left set if it fails or is abandoned midway (its future
    /// dropped): the transaction is then aborted, or in a state the caller does not know, and
    /// the load can only be dropped. (A `COMMIT` of an aborted transaction would silently
    /// roll back.)
    poisoned: bool,
    /// In a first load, what the load remembers of what it wrote (see `first_load`).
    remembered: Option<Remembered>,
    /// The reference keys the last `put_vault` stored for the first time, until residents are
    /// next inserted. No resident can hold one of them (the foreign key to the vault, checked
    /// row by row or at the commit, would refuse it), so `ref_keys_in_use` need not look
    /// them up.
    /// Hashed with Fx, not SipHash: the keys are the vault's own random ones, nothing an
    /// uploader chooses, and hashing them took a tenth of a SQLite load thread's time.
    fresh_keys: FxHashSet<RefKey>,
}

impl Drop for PgLoad {
    fn drop(&mut self) {
        // Without a commit, this drops the connection mid-step if need be, which closes it.
        self.task.abort();
    }
}

impl PgLoad {
    fn begin_step(&mut self) -> StoreResult<()> {
        if self.poisoned {
            return Err(StoreError::Backend(
                "an earlier step of this load failed or was abandoned, so it was rolled back"
                    .into(),
            ));
        }
        self.poisoned = true;
        Ok(())
    }

    /// Ends a step: the load can go on only if it succeeded.
    fn end_step<T>(&mut self, result: StoreResult<T>) -> StoreResult<T> {
        if result.is_ok() {
            self.poisoned = false;
        }
        result
    }

    /// Runs `step` on the connection once the writes queued before it are done, and returns
    /// its answer (or the failure of one of those writes).
    async fn ask<T, F>(&mut self, step: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Conn) -> StepFuture<'a, StoreResult<T>> + Send + 'static,
    {
        self.begin_step()?;
        let (reply, answer) = oneshot::channel();
        let ask = ask_step(move |conn| {
            Box::pin(async move {
                let result = match conn {
                    Ok(conn) => step(conn).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            })
        });
        let result = match self.commands.send(Command::Ask(ask)).await {
            Ok(()) => answer.await.unwrap_or_else(|_| Err(ended())),
            Err(_) => Err(ended()),
        };
        self.end_step(result)
    }

    /// Queues `write` after the steps before it, without waiting for it.
    async fn queue<F>(&mut self, write: F) -> StoreResult<()>
    where
        F: for<'a> FnOnce(&'a mut Conn) -> StepFuture<'a, StoreResult<()>> + Send + 'static,
    {
        self.begin_step()?;
        let result = self
            .commands
            .send(Command::Write(Box::new(write)))
            .await
            .map_err(|_| ended());
        self.end_step(result)
    }

    /// What the load remembers, if it may answer from it: in a first load, while no queued
    /// write has failed.
    fn remembered(&mut self) -> Option<&mut Remembered> {
        if self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.remembered.as_mut()
    }
}

/// The strings among `candidates` that `sql` (`... = ANY($1::text[])`, returning the
/// matching value) finds.
async fn existing(c: &Object, sql: &str, candidates: &[String]) -> StoreResult<HashSet<String>> {
    query(c, sql, &[&candidates])
        .await?
        .iter()
        .map(|row| get("existing", row, 0))
        .collect()
}

#[async_trait]
impl RegistryLoad for PgLoad {
    async fn put_vault(&mut self, entries: Vec<NewVaultEntry>) -> StoreResult<Vec<RefKey>> {
        self.fresh_keys.clear();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let offered: Vec<RefKey> = entries.iter().map(|e| e.ref_key.clone()).collect();
        let keys = if self.remembered().is_some_and(|r| r.unseen(&entries)) {
            // No number of the batch can be in the vault: each keeps its own key.
            self.queue(move |c| {
                Box::pin(async move { append_entries(c.client.get()?, &entries).await })
            })
            .await?;
            offered.clone()
        } else {
            self.ask(move |c| {
                Box::pin(async move {
                    let client = c.client.get()?;
                    c.deferred.build(client, &["blind_index"]).await?;
                    put_entries(client, &entries).await
                })
            })
            .await?
        };
        self.fresh_keys.extend(
            offered
                .into_iter()
                .zip(&keys)
                .filter(|(offered, stored)| offered == *stored)
                .map(|(offered, _)| offered),
        );
        Ok(keys)
    }

    async fn existing_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<String>> {
        let mut found: HashSet<String> = HashSet::new();
        let unsure: Vec<String> = match self.remembered() {
            Some(r) => {
                let mut unsure = Vec::new();
                for card in &cards {
                    match r.card(card) {
                        Card::Absent => {}
                        Card::Present => {
                            found.insert(card.clone());
                        }
                        Card::Unsure => unsure.push(card.clone()),
                    }
                }
                unsure
            }
            None => cards.clone(),
        };
        if !unsure.is_empty() {
            found.extend(
                self.ask(move |c| {
                    Box::pin(async move {
                        existing(
                            c.client.get()?,
                            "SELECT card_number FROM households \
                             WHERE card_number = ANY($1::text[])",
                            &unsure,
                        )
                        .await
                    })
                })
                .await?,
            );
        }
        // In the order asked.
        Ok(cards.into_iter().filter(|c| found.contains(c)).collect())
    }

    async fn ref_keys_in_use(&mut self, keys: Vec<RefKey>) -> StoreResult<Vec<RefKey>> {
        let wanted: Vec<String> = keys
            .iter()
            .filter(|k| !self.fresh_keys.contains(*k))
            .map(|k| k.as_str().to_owned())
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let found = self
            .ask(move |c| {
                Box::pin(async move {
                    let client = c.client.get()?;
                    c.deferred.build(client, &["id_ref_key"]).await?;
                    existing(
                        client,
                        "SELECT id_ref_key FROM residents WHERE id_ref_key = ANY($1::text[])",
                        &wanted,
                    )
                    .await
                })
            })
            .await?;
        Ok(keys
            .into_iter()
            .filter(|k| found.contains(k.as_str()))
            .collect())
    }

    async fn insert(
        &mut self,
        households: Vec<Household>,
        residents: Vec<Resident>,
    ) -> StoreResult<()> {
        let households: Vec<RawHousehold> =
            households.iter().map(RawHousehold::from_record).collect();
        let residents: Vec<RawResident> = residents.iter().map(RawResident::from_record).collect();
        // From here a resident may hold any key of the vault.
        self.fresh_keys.clear();
        if let Some(r) = &mut self.remembered {
            r.inserted(households.iter().map(|h| h.card_number.as_str()));
        }
        self.queue(move |c| {
            Box::pin(async move { copy_registry(c.client.get()?, &households, &residents).await })
        })
        .await
    }

    async fn put_header(&mut self, header: Vec<String>) -> StoreResult<()> {
        let id = self.upload_id.clone();
        self.queue(move |c| {
            Box::pin(async move { datasets::put_header(c.client.get()?, &id, &header).await })
        })
        .await
    }

    async fn put_rejections(&mut self, rows: Vec<StoredRejection>) -> StoreResult<()> {
        let id = self.upload_id.clone();
        self.queue(move |c| {
            Box::pin(async move { datasets::put_rejections(c.client.get()?, &id, &rows).await })
        })
        .await
    }

    async fn put_mapping(&mut self, rows: Vec<MappingEntry>) -> StoreResult<()> {
        // Encoded here, by the caller, not by the load's task.
        let Some(block) = mapping_block::encode(&rows)? else {
            return Ok(());
        };
        let id = self.upload_id.clone();
        self.queue(move |c| {
            Box::pin(async move { datasets::put_mapping(c.client.get()?, &id, &block).await })
        })
        .await
    }

    async fn residents_by_ref_keys(
        &mut self,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<(RefKey, String)>> {
        self.ask(move |c| {
            Box::pin(async move {
                let client = c.client.get()?;
                c.deferred.build(client, &["id_ref_key"]).await?;
                datasets::residents_by_ref_keys(client, &keys).await
            })
        })
        .await
    }

    async fn enrolment_states(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
    ) -> StoreResult<Vec<EnrolmentState>> {
        let dataset = dataset.to_owned();
        self.ask(move |c| {
            Box::pin(
                async move { datasets::enrolment_states(c.client.get()?, &dataset, &keys).await },
            )
        })
        .await
    }

    async fn active_enrolments_by_ref_keys(
        &mut self,
        dataset: &str,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<EnrolmentState>> {
        let dataset = dataset.to_owned();
        self.ask(move |c| {
            Box::pin(async move {
                datasets::active_enrolments_by_ref_keys(c.client.get()?, &dataset, &keys).await
            })
        })
        .await
    }

    async fn upsert_enrolments(&mut self, rows: Vec<Enrolment>) -> StoreResult<()> {
        self.queue(move |c| {
            Box::pin(async move { datasets::upsert_enrolments(c.client.get()?, &rows).await })
        })
        .await
    }

    async fn touch_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
    ) -> StoreResult<()> {
        let (dataset, upload_id) = (dataset.to_owned(), upload_id.to_owned());
        self.queue(move |c| {
            Box::pin(async move {
                datasets::touch_enrolments(c.client.get()?, &dataset, &keys, &upload_id).await
            })
        })
        .await
    }

    async fn remove_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        let (dataset, upload_id) = (dataset.to_owned(), upload_id.to_owned());
        self.ask(move |c| {
            Box::pin(async move {
                datasets::remove_enrolments(c.client.get()?, &dataset, &keys, &upload_id, now).await
            })
        })
        .await
    }

    async fn remove_enrolments_not_seen(
        &mut self,
        dataset: &str,
        upload_id: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        let (dataset, upload_id) = (dataset.to_owned(), upload_id.to_owned());
        self.ask(move |c| {
            Box::pin(async move {
                datasets::remove_enrolments_not_seen(
                    c.client.get()?,
                    &dataset,
                    &upload_id,
                    now,
                    limit,
                )
                .await
            })
        })
        .await
    }

    async fn commit(mut self: Box<Self>, upload: UploadRecord) -> StoreResult<()> {
        if upload.id != self.upload_id {
            return Err(StoreError::Backend(format!(
                "the load of upload {} cannot commit as upload {}",
                self.upload_id, upload.id
            )));
        }
        let upload_id = self.upload_id.clone();
        self.ask(move |c| {
            Box::pin(async move {
                let client = c.client.get()?;
                c.deferred.finish(client).await?;
                write_final(client, &upload).await?;
                client.batch_execute("COMMIT").await.map_err(map_err)?;
                // Committed. Hand the connection back to the pool only once the lock is
                // released; if that fails, dropping it closes the connection, which releases
                // the lock too.
                let unlocked = query_opt(
                    client,
                    "SELECT pg_advisory_unlock($1, hashtext($2))",
                    &[&UPLOAD_LOCK, &upload_id],
                )
                .await;
                if let Ok(Some(row)) = unlocked
                    && get::<bool>("pg_advisory_unlock", &row, 0).unwrap_or(false)
                {
                    drop(c.client.0.take());
                }
                Ok(())
            })
        })
        .await
    }

    async fn households_of(&mut self, cards: Vec<String>) -> StoreResult<Vec<Household>> {
        self.ask(move |c| {
            Box::pin(async move { crate::registry::households_of(c.client.get()?, &cards).await })
        })
        .await
    }

    async fn residents_of_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<Resident>> {
        self.ask(move |c| {
            Box::pin(
                async move { crate::registry::residents_of_cards(c.client.get()?, &cards).await },
            )
        })
        .await
    }

    async fn residents_by_blind_indexes(
        &mut self,
        blind_indexes: Vec<[u8; 32]>,
    ) -> StoreResult<Vec<([u8; 32], Resident)>> {
        self.ask(move |c| {
            Box::pin(async move {
                let client = c.client.get()?;
                c.deferred
                    .build(client, &["blind_index", "id_ref_key"])
                    .await?;
                crate::registry::residents_by_blind_indexes(client, &blind_indexes).await
            })
        })
        .await
    }

    async fn update_registry(
        &mut self,
        households: Vec<RegistryUpdate<Household>>,
        residents: Vec<RegistryUpdate<Resident>>,
        ctx: ChangeContext,
    ) -> StoreResult<()> {
        self.ask(move |c| {
            Box::pin(async move {
                let client = c.client.get()?;
                c.deferred.build(client, &["resident_id"]).await?;
                crate::registry::update_registry(client, &households, &residents, &ctx).await
            })
        })
        .await
    }
}
