//! Opening a hub from its location: which store backend, where the master key comes from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sangam_store::Store;
use sangam_store_postgres::PostgresStore;
use sangam_store_sqlite::{Journal, SqliteStore};
use sangam_vault::{KeyFileError, MasterKey};

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::{Hub, HubError, HubResult};

/// The embedded store's database file in the data directory.
pub const SQLITE_DATABASE_FILE: &str = sangam_store_sqlite::DATABASE_FILE;

/// The master key's file name in the data directory when no other source is configured.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Where the hub's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store, in this data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL server (the URL may hold a password: never print it).
    Postgres(String),
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// A key file; created with mode 0600 on first run when `create` is set.
    File { path: PathBuf, create: bool },
    /// The key itself, from the environment or a secret file already read.
    Inline { key: MasterKey },
}

/// What the process that opens the store will do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUse {
    /// Serve, or share the store with processes that do (the usual case).
    Shared,
    /// Load a large file on its own, with no one else expected (`sangam ingest`). The embedded
    /// store then writes its pages once instead of twice (see [`sangam_store_sqlite::Journal`]),
    /// and falls back to the shared way if another process has it open. PostgreSQL is the
    /// same either way.
    BulkLoad,
}

/// Opens the store and applies its migrations.
pub async fn open_store(location: &StoreLocation) -> HubResult<Arc<dyn Store>> {
    open_store_for(location, StoreUse::Shared).await
}

/// [`open_store`], for the use the process makes of it.
pub async fn open_store_for(
    location: &StoreLocation,
    usage: StoreUse,
) -> HubResult<Arc<dyn Store>> {
    let journal = match usage {
        StoreUse::Shared => Journal::Wal,
        StoreUse::BulkLoad => Journal::Rollback,
    };
    Ok(match location {
        StoreLocation::Sqlite(dir) => Arc::new(SqliteStore::open_with(dir, journal).await?),
        StoreLocation::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
    })
}

/// Reads (or creates) the master key.
pub fn load_master_key(source: &MasterKeySource) -> Result<(MasterKey, bool), KeyFileError> {
    match source {
        MasterKeySource::File { path, create: true } => MasterKey::load_or_create_file(path),
        MasterKeySource::File {
            path,
            create: false,
        } => Ok((MasterKey::load_file(path)?, false)),
        MasterKeySource::Inline { key } => Ok((key.clone(), false)),
    }
}

/// Makes sure the data directory exists and is writable, with a clear error if not.
pub fn prepare_data_dir(dir: &Path) -> HubResult<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        // The directory holds the master key and the registry: its owner only.
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        HubError::Internal(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    let probe = dir.join(".sangam-write-test");
    std::fs::write(&probe, b"").map_err(|e| {
        HubError::Internal(format!(
            "the data directory {} is not writable: {e}",
            dir.display()
        ))
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Opens the store, unlocks the vault and records the hub's first start in the audit log.
pub async fn open_hub(
    location: &StoreLocation,
    master_key: &MasterKey,
    clock: Arc<dyn Clock>,
) -> HubResult<Hub> {
    open_hub_for(location, StoreUse::Shared, master_key, clock).await
}

/// [`open_hub`], for the use the process makes of the store.
pub async fn open_hub_for(
    location: &StoreLocation,
    usage: StoreUse,
    master_key: &MasterKey,
    clock: Arc<dyn Clock>,
) -> HubResult<Hub> {
    let store = open_store_for(location, usage).await?;
    let first_start = store
        .get_meta(sangam_store::meta_keys::CREATED_AT)
        .await?
        .is_none();
    let hub = Hub::open(store, master_key, clock).await?;
    if first_start {
        let created = hub.now().to_rfc3339();
        let stored = hub
            .store()
            .init_meta(sangam_store::meta_keys::CREATED_AT, &created)
            .await?;
        if stored == created {
            hub.audit(
                "system",
                AuditEvent::HubInitialised {
                    backend: hub.store().backend_name().into(),
                    master_key_fingerprint: master_key.fingerprint().to_string(),
                },
            )
            .await?;
        }
    }
    Ok(hub)
}

/// Opens a hub that must exist already: for commands that inspect or maintain a hub, so that a
/// mistyped location is an error instead of a new, empty hub.
pub async fn open_existing_hub(
    location: &StoreLocation,
    master_key: &MasterKey,
    clock: Arc<dyn Clock>,
) -> HubResult<Hub> {
    if let StoreLocation::Sqlite(dir) = location {
        let file = dir.join(sangam_store_sqlite::DATABASE_FILE);
        if !file.exists() {
            return Err(HubError::NotFound(format!(
                "a hub in {} ({} does not exist; `sangam serve` or `sangam demo` creates one)",
                dir.display(),
                file.display()
            )));
        }
    }
    let store = open_store(location).await?;
    if store
        .get_meta(sangam_store::meta_keys::CREATED_AT)
        .await?
        .is_none()
    {
        return Err(HubError::NotFound(
            "a hub in this database (it was never started; `sangam serve` creates one)".into(),
        ));
    }
    Hub::open(store, master_key, clock).await
}
