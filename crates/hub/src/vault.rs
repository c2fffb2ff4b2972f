//! The vault service: the only way into and out of the ID-number vault.
//!
//! It unlocks the stored data keys with the master key (refusing a master key other than the
//! hub's own), seals numbers under the active key, finds them by blind index, and reveals one
//! only for a stated purpose, with an audit entry. Key rotation adds a version and re-encrypts
//! in steps from the job queue while the hub keeps serving: the vault's entries, and the
//! rejected rows uploads keep (sealed with the same data keys), each walked by a job of its
//! own; a version is retired only when neither uses it any more.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sangam_domain::{ConsentRef, IdNumber, MobileNumber, RefKey};
use sangam_store::{
    EnrolmentReseal, KeyStatus, NewVaultEntry, Reseal, Store, StoreError, StoredDataKey, meta_keys,
};
use sangam_vault::{BlindIndexKey, DataKey, KeyPurpose, KeyRing, MasterKey, Sealed, VaultError};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::jobs::{EnrolmentCursor, JobKind, RejectionCursor};
use crate::{Hub, HubError, HubResult};

/// Batches at least this large are sealed on all cores.
const PARALLEL_SEAL_THRESHOLD: usize = 512;

/// How long a process seals with the keys it loaded before looking for a rotation made by
/// another process. Entries sealed meanwhile under the older version are caught by the
/// re-encryption job, which runs until none is left.
const KEYS_MAX_AGE: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct LoadedRing {
    ring: Arc<KeyRing>,
    loaded: Instant,
}

/// The unlocked vault.
pub struct Vault {
    store: Arc<dyn Store>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    ring: RwLock<LoadedRing>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("active_version", &self.ring().active_version())
            .finish()
    }
}

/// One data-key version and how many entries (and rejected rows of uploads) it seals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyVersionStatus {
    pub version: u32,
    /// `active` (seals new entries), `decrypt_only` (still opens older entries) or `retired`.
    pub status: &'static str,
    pub entries: u64,
    /// Rejected rows kept for uploads' reports, sealed with this version.
    pub rejected_rows: u64,
}

/// The vault's keys at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultStatus {
    pub active_version: u32,
    pub master_key_fingerprint: String,
    pub versions: Vec<KeyVersionStatus>,
}

fn now_micros(clock: &dyn Clock) -> chrono::DateTime<chrono::Utc> {
    sangam_store::audit::truncate_to_micros(clock.now())
}

/// Unwraps every live key in `stored` into a ring.
fn build_ring(master: &MasterKey, stored: &[StoredDataKey]) -> HubResult<KeyRing> {
    let mut encryption = Vec::new();
    let mut blind = None;
    for key in stored.iter().filter(|k| k.status == KeyStatus::Active) {
        let purpose = KeyPurpose::from_code(&key.purpose)
            .ok_or_else(|| StoreError::corrupt("vault_keys.purpose", &key.purpose))?;
        let unwrapped = DataKey::unwrap(master, key.version, purpose, &key.wrapped)?;
        match purpose {
            KeyPurpose::Encryption => encryption.push(unwrapped),
            KeyPurpose::BlindIndex => blind = Some(unwrapped),
        }
    }
    let blind = blind.ok_or(VaultError::Malformed("the store holds no blind-index key"))?;
    Ok(KeyRing::new(encryption, BlindIndexKey::new(blind)?)?)
}

impl Vault {
    pub(crate) async fn unlock(
        store: Arc<dyn Store>,
        master: &MasterKey,
        clock: Arc<dyn Clock>,
    ) -> HubResult<Self> {
        let found = master.fingerprint();
        let expected = store
            .init_meta(meta_keys::MASTER_KEY_FINGERPRINT, found.as_str())
            .await?;
        if expected != found.as_str() {
            return Err(HubError::WrongMasterKey {
                expected,
                found: found.to_string(),
            });
        }
        let mut stored = store.vault_keys().await?;
        if stored.is_empty() {
            let now = now_micros(clock.as_ref());
            for purpose in [KeyPurpose::BlindIndex, KeyPurpose::Encryption] {
                let key = DataKey::generate(1, purpose);
                let record = StoredDataKey {
                    version: 1,
                    purpose: purpose.code().to_owned(),
                    wrapped: key.wrap(master),
                    status: KeyStatus::Active,
                    created_at: now,
                };
                match store.insert_vault_key(&record).await {
                    // Another process initialised the vault at the same moment: use its keys.
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            stored = store.vault_keys().await?;
        }
        let ring = build_ring(master, &stored)?;
        Ok(Vault {
            store,
            master: master.clone(),
            clock,
            ring: RwLock::new(LoadedRing {
                ring: Arc::new(ring),
                loaded: Instant::now(),
            }),
        })
    }

    pub(crate) fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ring
            .clone()
    }

    /// The ring to seal with: reloaded first when it may be stale.
    pub(crate) async fn sealing_ring(&self) -> HubResult<Arc<KeyRing>> {
        let stale = self
            .ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .loaded
            .elapsed()
            > KEYS_MAX_AGE;
        if stale {
            self.refresh().await?;
        }
        Ok(self.ring())
    }

    /// Reloads the keys from the store (another process may have rotated them).
    pub async fn refresh(&self) -> HubResult<()> {
        let stored = self.store.vault_keys().await?;
        let ring = build_ring(&self.master, &stored)?;
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = LoadedRing {
            ring: Arc::new(ring),
            loaded: Instant::now(),
        };
        Ok(())
    }

    pub fn active_version(&self) -> u32 {
        self.ring().active_version()
    }

    /// The blind index of an ID number, for exact lookups.
    pub fn blind_index(&self, id: &IdNumber) -> [u8; 32] {
        *self.ring().blind_index(id).as_bytes()
    }

    /// The blind index of a mobile number: the registry keeps this, never the number.
    pub fn mobile_blind_index(&self, mobile: &MobileNumber) -> [u8; 32] {
        *self.ring().blind_index_key().mobile(mobile).as_bytes()
    }

    /// Stores one ID number and returns its reference key (the existing one if stored before).
    pub async fn put(&self, id: &IdNumber, consent: &ConsentRef) -> HubResult<RefKey> {
        let mut keys = self.put_many(vec![(id.clone(), consent.clone())]).await?;
        keys.pop()
            .ok_or_else(|| HubError::Internal("the vault returned no reference key".into()))
    }

    /// Stores many ID numbers in one transaction; the reference keys come back in order.
    pub async fn put_many(&self, items: Vec<(IdNumber, ConsentRef)>) -> HubResult<Vec<RefKey>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let ring = self.sealing_ring().await?;
        let entries = self.seal_entries(ring, items).await?;
        Ok(self.store.vault_put(&entries).await?)
    }

    /// Seals ID numbers with `ring` into vault entries without storing them, on all cores for
    /// large batches: for callers that store them inside a transaction of their own. An
    /// upload seals with the ring it began with (see `Hub::load_prepared`).
    pub(crate) async fn seal_entries(
        &self,
        ring: Arc<KeyRing>,
        items: Vec<(IdNumber, ConsentRef)>,
    ) -> HubResult<Vec<NewVaultEntry>> {
        let now = now_micros(self.clock.as_ref());
        let seal = move |(id, consent): &(IdNumber, ConsentRef)| {
            let ref_key = RefKey::generate();
            let sealed = ring.seal(&ref_key, id);
            NewVaultEntry {
                blind_index: *ring.blind_index(id).as_bytes(),
                ref_key,
                key_version: sealed.key_version,
                sealed: sealed.blob,
                consent_ref: consent.as_str().to_owned(),
                created_at: now,
            }
        };
        if items.len() >= PARALLEL_SEAL_THRESHOLD {
            tokio::task::spawn_blocking(move || items.par_iter().map(seal).collect())
                .await
                .map_err(|e| HubError::Internal(format!("sealing failed: {e}")))
        } else {
            Ok(items.iter().map(seal).collect())
        }
    }

    /// The reference key of an ID number, if it is in the vault.
    pub async fn find(&self, id: &IdNumber) -> HubResult<Option<RefKey>> {
        Ok(self
            .store
            .vault_find(&self.blind_index(id))
            .await?
            .map(|e| e.ref_key))
    }

    /// Decrypts an entry. Only [`Hub::reveal_id_number`] (which audits) and key rotation call it.
    pub(crate) async fn open(&self, ref_key: &RefKey) -> HubResult<Option<IdNumber>> {
        let Some(entry) = self.store.vault_get(ref_key).await? else {
            return Ok(None);
        };
        let sealed = Sealed {
            key_version: entry.key_version,
            blob: entry.sealed,
        };
        match self.ring().open(ref_key, &sealed) {
            Err(VaultError::UnknownKeyVersion(_)) => {
                // Sealed by a process that rotated after we loaded our keys.
                self.refresh().await?;
                Ok(Some(self.ring().open(ref_key, &sealed)?))
            }
            other => Ok(Some(other?)),
        }
    }

    pub async fn status(&self) -> HubResult<VaultStatus> {
        let keys = self.store.vault_keys().await?;
        let counts = self.store.vault_count_by_version().await?;
        let rejected = self.store.rejection_count_by_version().await?;
        let of = |counts: &[(u32, u64)], version: u32| {
            counts
                .iter()
                .find(|(v, _)| *v == version)
                .map_or(0, |(_, n)| *n)
        };
        let active = self.active_version();
        let versions = keys
            .iter()
            .filter(|k| k.purpose == KeyPurpose::Encryption.code())
            .map(|k| KeyVersionStatus {
                version: k.version,
                status: match k.status {
                    KeyStatus::Retired => "retired",
                    KeyStatus::Active if k.version == active => "active",
                    KeyStatus::Active => "decrypt_only",
                },
                entries: of(&counts, k.version),
                rejected_rows: of(&rejected, k.version),
            })
            .collect();
        Ok(VaultStatus {
            active_version: self.active_version(),
            master_key_fingerprint: self.master.fingerprint().to_string(),
            versions,
        })
    }
}

/// Purposes are short codes such as `ekyc` or `grievance.redressal`, recorded with each reveal.
fn check_purpose(purpose: &str) -> HubResult<()> {
    let ok = (3..=64).contains(&purpose.len())
        && purpose
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid {
            field: "purpose".into(),
            code: "purpose.format",
            message: "a purpose is required: 3 to 64 characters of a-z, 0-9, '.', '_' or '-'"
                .into(),
        })
    }
}

/// How far one step of re-encryption got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReencryptStep {
    pub resealed: u64,
    /// Where the next step starts, when entries under older keys may remain after it.
    pub next: Option<String>,
}

/// How far one step of re-sealing scheme records got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentReencryptStep {
    pub resealed: u64,
    /// Where the next step starts, when records under older keys may remain after it.
    pub next: Option<EnrolmentCursor>,
}

/// How far one step of re-sealing rejected rows got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionReencryptStep {
    pub resealed: u64,
    /// Where the next step starts, when rows under older keys may remain after it.
    pub next: Option<RejectionCursor>,
}

impl Hub {
    /// Decrypts an ID number for a stated purpose and records who did it and why.
    pub async fn reveal_id_number(
        &self,
        ref_key: &RefKey,
        purpose: &str,
        actor: &str,
    ) -> HubResult<IdNumber> {
        check_purpose(purpose)?;
        let id = self
            .vault
            .open(ref_key)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("reference key {ref_key}")))?;
        self.audit(
            actor,
            AuditEvent::IdNumberRevealed {
                ref_key: ref_key.to_string(),
                purpose: purpose.into(),
            },
        )
        .await?;
        Ok(id)
    }

    /// Adds a new data-key version, makes it active, and queues the re-encryption of every
    /// entry under older versions. Returns the new version.
    pub async fn rotate_data_key(&self, actor: &str) -> HubResult<u32> {
        self.vault.refresh().await?;
        let stored = self.store.vault_keys().await?;
        let next = stored
            .iter()
            .filter(|k| k.purpose == KeyPurpose::Encryption.code())
            .map(|k| k.version)
            .max()
            .unwrap_or(0)
            + 1;
        let key = DataKey::generate(next, KeyPurpose::Encryption);
        self.store
            .insert_vault_key(&StoredDataKey {
                version: next,
                purpose: KeyPurpose::Encryption.code().to_owned(),
                wrapped: key.wrap(&self.vault.master),
                status: KeyStatus::Active,
                created_at: self.now(),
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    HubError::Conflict("another rotation added this key version first".into())
                }
                other => other.into(),
            })?;
        self.vault.refresh().await?;
        self.audit(actor, AuditEvent::DataKeyAdded { version: next })
            .await?;
        self.enqueue(JobKind::ReencryptVault {
            version: next,
            resealed: 0,
            after: None,
        })
        .await?;
        self.enqueue(JobKind::ReencryptRejections {
            version: next,
            resealed: 0,
            after: None,
        })
        .await?;
        self.enqueue(JobKind::ReencryptEnrolments {
            version: next,
            resealed: 0,
            after: None,
        })
        .await?;
        Ok(next)
    }

    /// Re-encrypts up to `limit` entries sealed under older versions with the active one.
    pub async fn reencrypt_step(
        &self,
        limit: u32,
        after: Option<&RefKey>,
    ) -> HubResult<ReencryptStep> {
        self.vault.refresh().await?;
        let ring = self.vault.ring();
        let active = ring.active_version();
        let entries = self
            .store
            .vault_entries_below_version(active, after, limit)
            .await?;
        let mut updates = Vec::with_capacity(entries.len());
        for entry in &entries {
            let sealed = Sealed {
                key_version: entry.key_version,
                blob: entry.sealed.clone(),
            };
            if let Some(new) = ring.reseal(&entry.ref_key, &sealed)? {
                updates.push(Reseal {
                    ref_key: entry.ref_key.clone(),
                    expected_version: entry.key_version,
                    new_version: new.key_version,
                    sealed: new.blob,
                });
            }
        }
        let resealed = self.store.vault_reseal(&updates).await?;
        let full_page = entries.len() as u64 >= u64::from(limit);
        Ok(ReencryptStep {
            resealed,
            next: entries
                .last()
                .filter(|_| full_page)
                .map(|e| e.ref_key.as_str().to_owned()),
        })
    }

    /// Re-seals up to `limit` rejected rows of uploads sealed under older versions with the
    /// active one, from the row after `after`. A row whose version is retired already cannot
    /// be opened by anyone any more: it is passed over (and named by upload and line in the
    /// log) rather than stopping the walk.
    pub async fn reencrypt_rejections_step(
        &self,
        limit: u32,
        after: Option<&RejectionCursor>,
    ) -> HubResult<RejectionReencryptStep> {
        self.vault.refresh().await?;
        let ring = self.vault.ring();
        let rows = self
            .store
            .rejections_below_version(
                ring.active_version(),
                after.map(|c| (c.upload_id.as_str(), c.line)),
                limit,
            )
            .await?;
        let mut updates = Vec::with_capacity(rows.len());
        for row in &rows {
            match crate::uploads::reports::reseal_rejection(&ring, row) {
                Ok(Some(update)) => updates.push(update),
                Ok(None) => {}
                Err(HubError::Vault(VaultError::UnknownKeyVersion(v))) => tracing::warn!(
                    upload_id = %row.upload_id,
                    line = row.line,
                    key_version = v,
                    "a rejected row is sealed with a retired key and cannot be re-sealed"
                ),
                Err(e) => return Err(e),
            }
        }
        let resealed = self.store.reseal_rejections(&updates).await?;
        let full_page = rows.len() as u64 >= u64::from(limit);
        Ok(RejectionReencryptStep {
            resealed,
            next: rows.last().filter(|_| full_page).map(|r| RejectionCursor {
                upload_id: r.upload_id.clone(),
                line: r.line,
            }),
        })
    }

    /// Re-seals up to `limit` scheme records' sensitive fields sealed under older versions
    /// with the active one, from the record after `after`. A record whose version is retired
    /// already cannot be opened by anyone: it is passed over (named in the log) rather than
    /// stopping the walk.
    pub async fn reencrypt_enrolments_step(
        &self,
        limit: u32,
        after: Option<&EnrolmentCursor>,
    ) -> HubResult<EnrolmentReencryptStep> {
        self.vault.refresh().await?;
        let ring = self.vault.ring();
        let records = self
            .store
            .enrolments_below_version(
                ring.active_version(),
                after.map(|c| (c.dataset.as_str(), c.record_key.as_str())),
                limit,
            )
            .await?;
        let mut updates = Vec::with_capacity(records.len());
        for r in &records {
            let sealed = Sealed {
                key_version: r.key_version,
                blob: r.sealed.clone(),
            };
            let id = format!("{}/{}", r.dataset, r.record_key);
            match ring.reseal_record(crate::uploads::ENROLMENT_KIND, &id, &sealed) {
                Ok(Some(new)) => updates.push(EnrolmentReseal {
                    dataset: r.dataset.clone(),
                    record_key: r.record_key.clone(),
                    expected_version: r.key_version,
                    new_version: new.key_version,
                    sealed: new.blob,
                }),
                Ok(None) => {}
                Err(VaultError::UnknownKeyVersion(v)) => tracing::warn!(
                    dataset = %r.dataset,
                    record_key = %r.record_key,
                    key_version = v,
                    "a scheme record is sealed with a retired key and cannot be re-sealed"
                ),
                Err(e) => return Err(e.into()),
            }
        }
        let resealed = self.store.reseal_enrolments(&updates).await?;
        let full_page = records.len() as u64 >= u64::from(limit);
        Ok(EnrolmentReencryptStep {
            resealed,
            next: records
                .last()
                .filter(|_| full_page)
                .map(|r| EnrolmentCursor {
                    dataset: r.dataset.clone(),
                    record_key: r.record_key.clone(),
                }),
        })
    }

    /// Retires a data-key version: it can no longer decrypt. Refused while vault entries,
    /// rejected rows of uploads or scheme records still use it, or while it is the active
    /// version; and while anything rotation does not re-seal yet uses it (residents
    /// applications asked to enrol, the hub's token keys), which would otherwise be lost for
    /// good.
    pub async fn retire_data_key(&self, version: u32, actor: &str) -> HubResult<()> {
        self.vault.refresh().await?;
        let active = self.vault.active_version();
        if version == active {
            return Err(HubError::Conflict(format!(
                "data key version {version} is the active version; rotate first"
            )));
        }
        // An upload seals with the keys it began with (see `Hub::load_prepared`), and what
        // it seals is invisible to the counts below until it commits: while one loads, no
        // version is retired.
        self.store.reap_interrupted_uploads(self.now()).await?;
        let loading = self.store.uploads_validating().await?;
        if !loading.is_empty() {
            let ids: Vec<&str> = loading.iter().map(|u| u.id.as_str()).collect();
            return Err(HubError::Conflict(format!(
                "{} upload(s) are loading ({}), and may seal with data key version {version}; \
                 retry when they have ended",
                ids.len(),
                ids.join(", ")
            )));
        }
        let in_use = |counts: Vec<(u32, u64)>| {
            counts
                .into_iter()
                .find(|(v, _)| *v == version)
                .map_or(0, |(_, n)| n)
        };
        let entries = in_use(self.store.vault_count_by_version().await?);
        let rejected = in_use(self.store.rejection_count_by_version().await?);
        let sealed = self.store.sealed_count_by_version().await?;
        let records = sealed
            .iter()
            .find(|(table, v, _)| *table == "enrolments" && *v == version)
            .map_or(0, |(_, _, n)| *n);
        // Any of them can be left behind by a process that sealed with keys it loaded before
        // the rotation (or an upload that committed after the walk passed): queue another
        // pass of what is left, so that a retry succeeds.
        let walks = [
            (
                entries,
                "entries",
                JobKind::ReencryptVault {
                    version: active,
                    resealed: 0,
                    after: None,
                },
            ),
            (
                rejected,
                "rejected rows of uploads",
                JobKind::ReencryptRejections {
                    version: active,
                    resealed: 0,
                    after: None,
                },
            ),
            (
                records,
                "scheme records",
                JobKind::ReencryptEnrolments {
                    version: active,
                    resealed: 0,
                    after: None,
                },
            ),
        ];
        let mut what = Vec::new();
        for (left, name, walk) in walks {
            if left > 0 {
                self.enqueue(walk).await?;
                what.push(format!("{left} {name}"));
            }
        }
        if !what.is_empty() {
            return Err(HubError::Conflict(format!(
                "data key version {version} still seals {}; a re-encryption job is queued, \
                 retry when it has run",
                what.join(" and ")
            )));
        }
        let mut kept: Vec<String> = sealed
            .into_iter()
            .filter(|(table, v, n)| *table != "enrolments" && *v == version && *n > 0)
            .map(|(table, _, n)| match table {
                "resident_requests" => format!("{n} residents applications asked to enrol"),
                other => format!("{n} rows of {other}"),
            })
            .collect();
        if self.sealed_meta_key_versions().await?.contains(&version) {
            kept.push("the keys that sign access tokens and hash client secrets".into());
        }
        if !kept.is_empty() {
            return Err(HubError::Conflict(format!(
                "data key version {version} still seals {}, which key rotation does not \
                 re-seal yet: retiring it would lose them, so it stays",
                kept.join(", ")
            )));
        }
        self.store
            .set_vault_key_status(KeyPurpose::Encryption.code(), version, KeyStatus::Retired)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => {
                    HubError::NotFound(format!("data key version {version}"))
                }
                other => other.into(),
            })?;
        self.vault.refresh().await?;
        self.audit(actor, AuditEvent::DataKeyRetired { version })
            .await?;
        Ok(())
    }
}
