//! The Sangam hub's application services.
//!
//! Everything the HTTP server and the command line do to the hub goes through [`Hub`]: it
//! holds the store, the unlocked vault and the clock, and enforces the rules that hold
//! whatever the entry point: ID numbers only through the vault, every administrative action
//! and every reveal in the audit log, every registry change in the history.

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod clock;
pub mod code_lists;
pub mod conflicts;
pub mod datasets;
pub mod demo;
mod error;
mod ids;
pub mod jobs;
pub mod linking;
pub mod registry;
pub mod sharing;
pub mod uploads;
pub mod vault;
pub mod verify;

use std::sync::Arc;

use sangam_store::Store;

pub use error::{HubError, HubResult};

/// The hub: its store, its unlocked vault and its clock.
#[derive(Clone)]
pub struct Hub {
    store: Arc<dyn Store>,
    vault: Arc<vault::Vault>,
    clock: Arc<dyn clock::Clock>,
    /// The resident index for matching, built on first use.
    linker: Arc<linking::Linker>,
    link_policy: Arc<std::sync::RwLock<linking::LinkPolicy>>,
    retention: Arc<std::sync::RwLock<uploads::retention::RetentionPolicy>>,
    code_list_cache: Arc<std::sync::Mutex<code_lists::CodeListCache>>,
    sharing: Arc<sharing::SharingState>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("backend", &self.store.backend_name())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Unlocks the vault of `store` with `master_key` (creating the vault's keys on first use,
    /// refusing a key other than the one the hub was created with) and returns the hub.
    pub async fn open(
        store: Arc<dyn Store>,
        master_key: &sangam_vault::MasterKey,
        clock: Arc<dyn clock::Clock>,
    ) -> HubResult<Self> {
        let vault = vault::Vault::unlock(store.clone(), master_key, clock.clone()).await?;
        Ok(Hub {
            store,
            vault: Arc::new(vault),
            clock,
            linker: Arc::default(),
            link_policy: Arc::default(),
            retention: Arc::default(),
            code_list_cache: Arc::default(),
            sharing: Arc::default(),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn vault(&self) -> &vault::Vault {
        &self.vault
    }

    pub fn clock(&self) -> &Arc<dyn clock::Clock> {
        &self.clock
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        sangam_store::audit::truncate_to_micros(self.clock.now())
    }
}
