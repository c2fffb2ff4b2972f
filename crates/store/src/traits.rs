//! The store's traits, one per concern. A backend implements all of them; the hub holds an
//! `Arc<dyn Store>`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sangam_domain::{RationCardNumber, RefKey};

use crate::StoreResult;
use crate::linking::*;
use crate::records::*;
use crate::sharing::*;

/// Everything the hub needs from a storage backend.
pub trait Store:
    MetaStore
    + VaultStore
    + RegistryStore
    + UploadStore
    + DatasetStore
    + ConflictStore
    + AuditStore
    + JobStore
    + AccountStore
    + LinkStore
    + CodeListStore
    + SharingStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`, for logs and health checks.
    fn backend_name(&self) -> &'static str;
}

/// The tables besides the vault and the rejected rows whose rows are sealed with a data-key
/// version: scheme records' sensitive fields, and the residents applications asked to enrol.
pub const SEALED_TABLES: [&str; 2] = ["enrolments", "resident_requests"];

/// Hub-wide settings kept in the store.
#[async_trait]
pub trait MetaStore: Send + Sync {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets `key` unless it is set already; returns the value the store holds afterwards.
    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<String>;
    /// Whether the database answers a trivial query (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Refreshes the query planner's statistics after a bulk change (a large upload): without
    /// them PostgreSQL plans a freshly loaded million-row table as if it were empty.
    async fn refresh_statistics(&self) -> StoreResult<()>;
}

/// The vault's tables: wrapped data keys and sealed ID numbers.
#[async_trait]
pub trait VaultStore: Send + Sync {
    async fn vault_keys(&self) -> StoreResult<Vec<StoredDataKey>>;
    /// Adds a key version; `Conflict` if that (purpose, version) exists.
    async fn insert_vault_key(&self, key: &StoredDataKey) -> StoreResult<()>;
    async fn set_vault_key_status(
        &self,
        purpose: &str,
        version: u32,
        status: KeyStatus,
    ) -> StoreResult<()>;
    /// Stores each entry whose blind index is not in the vault yet, and returns, in order, the
    /// reference key the vault holds for each entry's blind index (the existing one for a
    /// number stored before, so storing a number twice gives the same reference key).
    async fn vault_put(&self, entries: &[NewVaultEntry]) -> StoreResult<Vec<RefKey>>;
    async fn vault_get(&self, ref_key: &RefKey) -> StoreResult<Option<VaultEntry>>;
    async fn vault_find(&self, blind_index: &[u8; 32]) -> StoreResult<Option<VaultEntry>>;
    /// Entries sealed with a key version below `version`, in reference-key order after
    /// `after`, at most `limit`: rotation walks the vault once with this cursor.
    async fn vault_entries_below_version(
        &self,
        version: u32,
        after: Option<&RefKey>,
        limit: u32,
    ) -> StoreResult<Vec<VaultEntry>>;
    /// Writes re-encrypted entries in one transaction, each only if it is still at its
    /// expected version. Returns how many were replaced.
    async fn vault_reseal(&self, updates: &[Reseal]) -> StoreResult<u64>;
    /// How many entries each key version seals.
    async fn vault_count_by_version(&self) -> StoreResult<Vec<(u32, u64)>>;
}

/// The base registry: households and residents, with history.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Inserts households and their residents in one transaction. `Conflict` names the first
    /// card number or resident that exists already.
    async fn insert_registry(
        &self,
        households: &[Household],
        residents: &[Resident],
    ) -> StoreResult<()>;
    async fn household(&self, card: &RationCardNumber) -> StoreResult<Option<Household>>;
    async fn residents_of(&self, card: &RationCardNumber) -> StoreResult<Vec<Resident>>;
    async fn resident(&self, resident_id: &str) -> StoreResult<Option<Resident>>;
    async fn resident_by_ref_key(&self, ref_key: &RefKey) -> StoreResult<Option<Resident>>;
    /// Writes `updated` if the stored version is still `updated.version - 1`, and records
    /// `changes` in the history, in one transaction. `Conflict` if someone changed it first.
    async fn update_resident(
        &self,
        updated: &Resident,
        changes: &[FieldChange],
        ctx: &ChangeContext,
    ) -> StoreResult<()>;
    /// The same for a household.
    async fn update_household(
        &self,
        updated: &Household,
        changes: &[FieldChange],
        ctx: &ChangeContext,
    ) -> StoreResult<()>;
    async fn history(&self, entity: EntityKind, entity_id: &str) -> StoreResult<Vec<HistoryEntry>>;
    async fn registry_counts(&self) -> StoreResult<RegistryCounts>;
}

/// Uploads (batches) and the transaction that loads one.
#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Records a new upload. `Conflict` if one with the same dataset, organisation, checksum
    /// and idempotency key exists.
    async fn insert_upload(&self, upload: &UploadRecord) -> StoreResult<()>;
    /// Rewrites an upload's status, counts, error and finish time (not inside a load).
    async fn update_upload(&self, upload: &UploadRecord) -> StoreResult<()>;
    async fn upload(&self, id: &str) -> StoreResult<Option<UploadRecord>>;
    /// The upload of this file with this idempotency key, if any.
    async fn find_upload(
        &self,
        dataset: &str,
        organisation: &str,
        file_sha256: &str,
        idempotency_key: &str,
    ) -> StoreResult<Option<UploadRecord>>;
    /// Newest first; of one organisation when given.
    async fn uploads(
        &self,
        organisation: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<UploadRecord>>;
    /// Uploads in status `validating`, oldest first: loading now, or left so by a process that
    /// died until [`UploadStore::reap_interrupted_uploads`] finds them.
    async fn uploads_validating(&self) -> StoreResult<Vec<UploadRecord>>;
    /// Marks `validating` uploads whose loading process is gone as `interrupted`, and returns
    /// how many. A live load holds a lock this can see, so a running upload is never touched.
    async fn reap_interrupted_uploads(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Opens the one transaction an upload loads in. Nothing of it is visible to anyone
    /// until [`RegistryLoad::commit`]; dropping it rolls everything back.
    async fn begin_registry_load(&self, upload_id: &str) -> StoreResult<Box<dyn RegistryLoad>>;
    /// The header of the uploaded file, as the load recorded it.
    async fn upload_header(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>>;
    /// An upload's rejected rows with `line > after`, in line order, at most `limit`.
    async fn upload_rejections(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredRejection>>;
    /// Rejected rows of any upload sealed with a key version below `version`, in
    /// (upload id, line) order after `after`, at most `limit`: rotation walks them once with
    /// this cursor, as it walks the vault.
    async fn rejections_below_version(
        &self,
        version: u32,
        after: Option<(&str, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<RejectionEntry>>;
    /// Writes re-encrypted rejected rows in one transaction, each only if it is still at its
    /// expected version (and still kept). Returns how many were replaced.
    async fn reseal_rejections(&self, updates: &[RejectionReseal]) -> StoreResult<u64>;
    /// How many rejected rows each key version seals.
    async fn rejection_count_by_version(&self) -> StoreResult<Vec<(u32, u64)>>;
    /// Up to `limit` scheme records (of every dataset, active or removed) whose sealed fields
    /// are under a key version below `version`, in (dataset, record key) order after `after`.
    async fn enrolments_below_version(
        &self,
        version: u32,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<SealedEnrolment>>;
    /// Writes re-sealed fields of scheme records in one transaction, each only if the record
    /// is still at its expected key version. Returns how many were replaced. The records'
    /// own versions do not change: their content has not.
    async fn reseal_enrolments(&self, updates: &[EnrolmentReseal]) -> StoreResult<u64>;
    /// How many rows of each other table that keeps sealed data (see [`SEALED_TABLES`]) each
    /// key version seals, as (table, version, rows), for a key version's retirement.
    async fn sealed_count_by_version(&self) -> StoreResult<Vec<(&'static str, u32, u64)>>;
    /// The retention purge, one batch: deletes the rejected rows and the header of committed
    /// uploads that finished before `finished_before` and are not purged yet, oldest first,
    /// at most `limit` rows and `limit` uploads. An upload whose rows are all gone is marked
    /// purged at `at`, in the same transaction as its last rows go.
    async fn purge_rejections(
        &self,
        finished_before: DateTime<Utc>,
        at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<RejectionPurge>;
    /// How many entries an upload's mapping holds (their sequence numbers run from 1).
    async fn upload_mapping_len(&self, upload_id: &str) -> StoreResult<u64>;
    /// An upload's reference-key mapping with `seq > after`, in order, at most `limit`.
    async fn upload_mapping(
        &self,
        upload_id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<MappingEntry>>;
}

/// Datasets (schemes' beneficiary lists), their specs and their enrolments.
#[async_trait]
pub trait DatasetStore: Send + Sync {
    /// Creates a dataset with its first spec version. `Conflict` if the name is taken.
    async fn insert_dataset(&self, dataset: &Dataset, spec: &DatasetSpecVersion)
    -> StoreResult<()>;
    /// Adds a spec version and makes it current, with the dataset's new title and update
    /// frequency. `Conflict` if that version exists; `NotFound` without the dataset.
    async fn add_spec_version(
        &self,
        dataset: &Dataset,
        spec: &DatasetSpecVersion,
    ) -> StoreResult<()>;
    async fn dataset(&self, name: &str) -> StoreResult<Option<Dataset>>;
    /// Every dataset, by name.
    async fn datasets(&self) -> StoreResult<Vec<Dataset>>;
    async fn spec_version(
        &self,
        dataset: &str,
        version: u32,
    ) -> StoreResult<Option<DatasetSpecVersion>>;
    /// The latest committed upload of every (dataset, organisation) that has one.
    async fn last_uploads(&self) -> StoreResult<Vec<LastUpload>>;
    async fn enrolment(&self, dataset: &str, record_key: &str) -> StoreResult<Option<Enrolment>>;
    /// A dataset's enrolments with `record_key > after`, in record-key order, at most `limit`.
    async fn enrolments(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Enrolment>>;
    /// How many enrolments of a dataset are active.
    async fn count_active_enrolments(&self, dataset: &str) -> StoreResult<u64>;
}

/// The reads conflict reports are made of: enrolments linked to residents, found by the
/// groups that make a conflict (a resident enrolled twice, a household enrolled twice, a
/// resident in two schemes), each read page by page so that a scheme of a million
/// enrolments is never held in memory at once. Only active enrolments linked to a resident
/// count; every list is in a stable order with a cursor (`after`) for the next page.
#[async_trait]
pub trait ConflictStore: Send + Sync {
    /// Active enrolments of `dataset` linked to a resident, each with its resident, in
    /// record-key order after `after`, at most `limit`.
    async fn linked_enrolments(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LinkedEnrolment>>;
    /// Residents with two or more active enrolments in `dataset`, in resident-id order after
    /// `after`, at most `limit`.
    async fn residents_enrolled_twice(
        &self,
        dataset: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>>;
    /// Ration cards of which two or more different residents have active enrolments in
    /// `dataset`, in card-number order after `after`, at most `limit`.
    async fn households_enrolled_twice(
        &self,
        dataset: &str,
        after: Option<&RationCardNumber>,
        limit: u32,
    ) -> StoreResult<Vec<RationCardNumber>>;
    /// Residents with an active enrolment in `dataset` and another in any of `others`, in
    /// resident-id order after `after`, at most `limit`.
    async fn residents_enrolled_in_both(
        &self,
        dataset: &str,
        others: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>>;
    /// Active enrolments of these residents (only in `datasets` when given), each with its
    /// resident, ordered by resident id, dataset and record key.
    async fn active_enrolments_of_residents(
        &self,
        resident_ids: &[String],
        datasets: Option<&[String]>,
    ) -> StoreResult<Vec<LinkedEnrolment>>;
    /// Active enrolments in `dataset` of the members of these households, each with its
    /// resident, ordered by card number, resident id and record key.
    async fn active_enrolments_of_households(
        &self,
        dataset: &str,
        cards: &[RationCardNumber],
    ) -> StoreResult<Vec<LinkedEnrolment>>;
}

/// One upload's loading transaction.
///
/// A step that answers nothing (`insert`, `put_rejections`, `put_mapping`,
/// `upsert_enrolments`, `touch_enrolments`) may return before its write is done, so that the
/// caller prepares the next chunk meanwhile; if the write fails, the next step that answers
/// (at the latest [`RegistryLoad::commit`]) returns the failure, and the load cannot commit.
#[async_trait]
pub trait RegistryLoad: Send {
    /// Stores vault entries as [`VaultStore::vault_put`] does, inside the load.
    async fn put_vault(&mut self, entries: Vec<NewVaultEntry>) -> StoreResult<Vec<RefKey>>;
    /// Of these card numbers, those that already have a household (loaded before, or by an
    /// earlier chunk of this load).
    async fn existing_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<String>>;
    /// Of these reference keys, those that already belong to a resident.
    async fn ref_keys_in_use(&mut self, keys: Vec<RefKey>) -> StoreResult<Vec<RefKey>>;
    async fn insert(
        &mut self,
        households: Vec<Household>,
        residents: Vec<Resident>,
    ) -> StoreResult<()>;
    /// Records the header of the uploaded file (for the rejection report).
    async fn put_header(&mut self, header: Vec<String>) -> StoreResult<()>;
    async fn put_rejections(&mut self, rows: Vec<StoredRejection>) -> StoreResult<()>;
    async fn put_mapping(&mut self, rows: Vec<MappingEntry>) -> StoreResult<()>;
    /// Residents holding these reference keys, as (reference key, resident id).
    async fn residents_by_ref_keys(
        &mut self,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<(RefKey, String)>>;
    /// Of these record keys of `dataset`, the enrolments that exist (active or removed).
    async fn enrolment_states(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
    ) -> StoreResult<Vec<EnrolmentState>>;
    /// The active enrolments of `dataset` that hold these reference keys (an incremental row
    /// may name its record by one). A key may be held by several records of the dataset (one
    /// person enrolled twice), and each is returned.
    async fn active_enrolments_by_ref_keys(
        &mut self,
        dataset: &str,
        keys: Vec<RefKey>,
    ) -> StoreResult<Vec<EnrolmentState>>;
    /// Inserts new enrolments and replaces existing ones (keeping `created_at`; the stored
    /// version becomes the given one).
    async fn upsert_enrolments(&mut self, rows: Vec<Enrolment>) -> StoreResult<()>;
    /// Marks these record keys of `dataset` as seen by `upload_id` without changing them (an
    /// unchanged row of a full upload).
    async fn touch_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
    ) -> StoreResult<()>;
    /// Marks these active enrolments removed by `upload_id`; returns the keys it removed.
    async fn remove_enrolments(
        &mut self,
        dataset: &str,
        keys: Vec<String>,
        upload_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>>;
    /// A full upload's end: marks removed every active enrolment of `dataset` that
    /// `upload_id` neither wrote nor touched, and returns their keys, at most `limit` at a
    /// time (call again until it returns fewer).
    async fn remove_enrolments_not_seen(
        &mut self,
        dataset: &str,
        upload_id: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<String>>;
    /// Writes the upload's final record and commits the whole load at once.
    async fn commit(self: Box<Self>, upload: UploadRecord) -> StoreResult<()>;
    /// The households of these card numbers that exist (loaded before, or earlier in this
    /// load), in no particular order.
    async fn households_of(&mut self, cards: Vec<String>) -> StoreResult<Vec<Household>>;
    /// Every resident of these card numbers (whatever their life status), by card, then in
    /// the order they were added.
    async fn residents_of_cards(&mut self, cards: Vec<String>) -> StoreResult<Vec<Resident>>;
    /// The residents whose ID numbers have these blind indexes, each with its blind index,
    /// found without storing anything in the vault (a number not there finds nobody).
    async fn residents_by_blind_indexes(
        &mut self,
        blind_indexes: Vec<[u8; 32]>,
    ) -> StoreResult<Vec<([u8; 32], Resident)>>;
    /// Writes changed households and residents, each only if its stored version is still the
    /// one before the given one (`Conflict` otherwise), and records every change in the
    /// registry history under `ctx`.
    async fn update_registry(
        &mut self,
        households: Vec<RegistryUpdate<Household>>,
        residents: Vec<RegistryUpdate<Resident>>,
        ctx: ChangeContext,
    ) -> StoreResult<()>;
}

/// The append-only, hash-chained audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry, chaining it to the last one atomically even with several hub
    /// processes writing at once.
    async fn append_audit(&self, draft: &AuditDraft) -> StoreResult<AuditEntry>;
    /// Entries with `seq > after`, in order, at most `limit`.
    async fn audit_entries(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// Appends many entries in one transaction, chained in order; returns the `seq` of the
    /// log's last entry afterwards.
    /// Records served to applications come in thousands a second: one commit each would not
    /// keep up.
    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> StoreResult<i64>;
    /// Entries matching `filter` with `seq` below `before` (0: from the newest), newest
    /// first.
    async fn search_audit(
        &self,
        filter: &AuditFilter,
        before: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
    /// For entries of `actor` with `action`: how many there are per target, most first.
    async fn audit_target_counts(
        &self,
        actor: &str,
        action: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, u64)>>;
}

/// The queue of background work.
#[async_trait]
pub trait JobStore: Send + Sync {
    async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Queues a job of which at most one may be queued or running at a time (recurring work
    /// that every hub process makes sure of at its start): its id, or `None` if such a job of
    /// `kind` is queued or running already. Several processes asking at once queue one.
    async fn enqueue_singleton_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
    /// Takes the next due job (queued and due, or running with an expired lease), marks it
    /// running until `lease_until`, and returns it. Several workers never get the same job.
    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>>;
    /// Marks a job done.
    async fn complete_job(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// Puts a job back in the queue to run again at `run_at`, with a new payload (a cursor
    /// for work done in steps) and, after a failure, the error. Without an error the step
    /// succeeded, and the job's attempts start again from zero: a job of many steps (or one
    /// that recurs) is given up after so many failures in a row, not after so many steps.
    async fn requeue_job(
        &self,
        id: i64,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()>;
    /// Marks a job failed for good.
    async fn fail_job(&self, id: i64, error: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn job(&self, id: i64) -> StoreResult<Option<Job>>;
    /// Jobs not done yet (queued, running or failed), oldest first.
    async fn pending_jobs(&self) -> StoreResult<Vec<Job>>;
}

/// People who sign in, their sessions, and the client credentials of applications.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates the user, or replaces its password hash, role and status.
    async fn upsert_user(&self, user: &User) -> StoreResult<()>;
    async fn user(&self, username: &str) -> StoreResult<Option<User>>;
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &[u8; 32]) -> StoreResult<()>;
}

/// Linking enrolments to residents: what the matching engine reads, and the review queue.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Residents with `resident_id > after`, in resident-id order, with their household's
    /// village code, at most `limit`.
    async fn matchable_residents(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<MatchableResident>>;
    /// How many residents there are and when one last changed.
    async fn registry_stamp(&self) -> StoreResult<RegistryStamp>;
    /// Active enrolments of `dataset` in `status`, with `record_key > after`, in record-key
    /// order, at most `limit`.
    async fn enrolments_by_link_status(
        &self,
        dataset: &str,
        status: LinkStatus,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Enrolment>>;
    /// The link of one enrolment.
    async fn enrolment_link(
        &self,
        dataset: &str,
        record_key: &str,
    ) -> StoreResult<Option<EnrolmentLink>>;
    /// How many active enrolments of `dataset` are in each link status that has any.
    async fn link_counts(&self, dataset: &str) -> StoreResult<Vec<(LinkStatus, u64)>>;
    /// Applies the link job's decisions in one transaction: each only to an enrolment still at
    /// its version and still pending; review candidates go into the queue. Returns how many
    /// enrolments it changed.
    async fn apply_link_decisions(&self, decisions: &[LinkDecision]) -> StoreResult<u64>;
    /// Links the active pending enrolments of `dataset` whose reference key a resident now
    /// holds, as an upload links them (method `id_number`, probability 1): for residents who
    /// joined the registry after the records came. Returns how many it linked.
    async fn link_pending_by_ref_key(&self, dataset: &str) -> StoreResult<u64>;
    /// Sends active enrolments of `dataset` in `status` back to pending (to link them again,
    /// say after the registry grew), and closes their pending reviews. Returns how many.
    async fn requeue_links(&self, dataset: &str, status: LinkStatus) -> StoreResult<u64>;
    /// Reviews, oldest first with `id > after`; of one dataset and one status when given.
    async fn match_reviews(
        &self,
        dataset: Option<&str>,
        status: Option<ReviewStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<MatchReview>>;
    async fn match_review(&self, id: &str) -> StoreResult<Option<MatchReview>>;
    /// Records a reviewer's verdict in one transaction. Accepted: the enrolment is linked to
    /// the resident (method `review`) and the record's other pending reviews are superseded.
    /// Rejected: when no pending review of the record is left, the enrolment is not found.
    /// `Conflict` if the review is no longer pending or its enrolment changed since.
    async fn decide_match_review(
        &self,
        id: &str,
        verdict: ReviewStatus,
        decided_by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<MatchReview>;
    /// Accepted and rejected reviews, newest first, at most `limit`: labels for training.
    async fn decided_match_reviews(&self, limit: u32) -> StoreResult<Vec<MatchReview>>;
    /// The (record key, resident id) pairs of these records of `dataset` that a reviewer
    /// rejected: the link job never proposes them again.
    async fn rejected_pairs(
        &self,
        dataset: &str,
        record_keys: &[String],
    ) -> StoreResult<Vec<(String, String)>>;
}

/// The code lists uploads are checked against.
#[async_trait]
pub trait CodeListStore: Send + Sync {
    /// Stores a list, replacing the one of that name.
    async fn put_code_list(&self, list: &StoredCodeList) -> StoreResult<()>;
    async fn code_list(&self, name: &str) -> StoreResult<Option<StoredCodeList>>;
    /// Every loaded list, by name, with an empty body.
    async fn code_lists(&self) -> StoreResult<Vec<StoredCodeList>>;
}

/// Organisations, consuming applications, their usage, decoys and enrolment requests.
#[async_trait]
pub trait SharingStore: Send + Sync {
    /// Inserts or replaces an organisation.
    async fn put_organisation(&self, organisation: &StoredOrganisation) -> StoreResult<()>;
    async fn organisation(&self, id: &str) -> StoreResult<Option<StoredOrganisation>>;
    async fn organisations(&self) -> StoreResult<Vec<StoredOrganisation>>;
    /// `Conflict` if the id (or the client id) is taken.
    async fn insert_application(&self, application: &StoredApplication) -> StoreResult<()>;
    /// Replaces the application if the stored version is `application.version - 1`;
    /// `Conflict` if another change came first.
    async fn update_application(&self, application: &StoredApplication) -> StoreResult<()>;
    async fn application(&self, id: &str) -> StoreResult<Option<StoredApplication>>;
    async fn application_by_client(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<StoredApplication>>;
    /// All applications, or one organisation's.
    async fn applications(&self, organisation: Option<&str>)
    -> StoreResult<Vec<StoredApplication>>;
    /// Adds requests to the stored daily counts.
    async fn add_usage(&self, deltas: &[DailyUsage]) -> StoreResult<()>;
    /// One application's counts for the days from `from` to `to`, inclusive.
    async fn usage(
        &self,
        application_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DailyUsage>>;
    /// Marks residents as decoys (honeytokens).
    async fn add_honeytokens(&self, resident_ids: &[String], at: DateTime<Utc>) -> StoreResult<()>;
    async fn honeytokens(&self) -> StoreResult<Vec<String>>;
    async fn insert_resident_request(&self, request: &ResidentRequest) -> StoreResult<()>;
    async fn resident_requests(&self, application_id: &str) -> StoreResult<Vec<ResidentRequest>>;
}
