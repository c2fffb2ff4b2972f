//! Sharing with consuming applications: onboarding (registration, evaluation, approval,
//! sandbox, live), agreements, credentials and access tokens, the policy applied on every
//! data call, rate limits and quotas, the access log, and scraping detection.
//!
//! The building blocks that need no storage are in `sangam-access`; this module keeps their
//! state in the store and applies them to the registry.

pub mod access_log;
pub mod consumer;
pub mod credentials;
pub mod fields;
pub mod gate;
pub mod model;
pub mod onboarding;
pub mod reports;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sangam_access::limits::Limiter;
use sangam_access::network::AllowList;
use sangam_access::scraping::{Detector, ScrapingPolicy};
use sangam_access::secrets::SecretHasher;
use sangam_access::tokens::TokenKeys;
use sangam_store::StoredApplication;

use crate::{Hub, HubError, HubResult};
use model::{ApplicationDoc, ApplicationStatus};

/// How long an application's state is trusted before it is read again. A change made by this
/// process takes effect at once; one made by another process sharing the database, within this.
const APPLICATION_TTL: Duration = Duration::from_secs(1);

/// How long the decoy list is trusted before it is read again.
const HONEYTOKENS_TTL: Duration = Duration::from_secs(30);

/// A new identifier of a sharing record (`app-`, `mou-`, `sec_`, `cl_`, `rq-`): 64 random
/// bits, so ids neither collide nor reveal how many came before.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::random::<u64>())
}

/// An application as the gate needs it, parsed once per load.
#[derive(Debug)]
pub struct ActiveApplication {
    pub id: String,
    pub organisation: String,
    pub client_id: Option<String>,
    pub status: ApplicationStatus,
    pub version: i64,
    pub doc: ApplicationDoc,
    pub allow_list: AllowList,
    pub scraping: ScrapingPolicy,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    loaded: Instant,
}

impl ActiveApplication {
    fn from_stored(stored: &StoredApplication) -> HubResult<Self> {
        let status = ApplicationStatus::parse(&stored.status).ok_or_else(|| {
            HubError::Internal(format!(
                "application {} has an unknown status {:?}",
                stored.id, stored.status
            ))
        })?;
        let doc: ApplicationDoc = serde_json::from_str(&stored.doc).map_err(|e| {
            HubError::Internal(format!("application {} is unreadable: {e}", stored.id))
        })?;
        let allow_list = AllowList::parse(&doc.form.public_ips).map_err(|e| {
            HubError::Internal(format!(
                "application {} has an invalid allow-list: {e}",
                stored.id
            ))
        })?;
        let scraping = ScrapingPolicy::from_approved_volume(
            doc.agreement().map_or(0, |a| a.approved_daily_records),
        );
        Ok(ActiveApplication {
            id: stored.id.clone(),
            organisation: stored.organisation.clone(),
            client_id: stored.client_id.clone(),
            status,
            version: stored.version,
            doc,
            allow_list,
            scraping,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            loaded: Instant::now(),
        })
    }
}

/// What the hub keeps in memory for sharing.
#[derive(Default)]
pub struct SharingState {
    keys: tokio::sync::OnceCell<Keys>,
    applications: RwLock<HashMap<String, Arc<ActiveApplication>>>,
    limiter: Limiter,
    detector: Detector,
    honeytokens: RwLock<Option<(Instant, Arc<HashSet<String>>)>>,
    access_log: access_log::AccessLog,
    /// The sandbox's own demonstration hub, made on first use.
    sandbox: tokio::sync::OnceCell<Sandbox>,
    seeded: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for SharingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharingState").finish_non_exhaustive()
    }
}

/// The token signing keys and the key that hashes client secrets.
pub(crate) struct Keys {
    tokens: TokenKeys,
    secrets: SecretHasher,
}

/// A demonstration hub for sandbox credentials, in a directory of its own.
struct Sandbox {
    hub: Hub,
    _dir: tempfile::TempDir,
}

impl Hub {
    pub(crate) fn sharing(&self) -> &SharingState {
        &self.sharing
    }

    /// The application, from memory while fresh.
    pub async fn active_application(&self, id: &str) -> HubResult<Arc<ActiveApplication>> {
        let cached = self
            .sharing
            .applications
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(app) = cached
            && app.loaded.elapsed() < APPLICATION_TTL
        {
            return Ok(app);
        }
        let stored = self
            .store
            .application(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("application {id}")))?;
        self.remember(&stored)
    }

    /// Parses and caches an application just read or written.
    fn remember(&self, stored: &StoredApplication) -> HubResult<Arc<ActiveApplication>> {
        let app = Arc::new(ActiveApplication::from_stored(stored)?);
        self.sharing
            .applications
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(app.id.clone(), app.clone());
        Ok(app)
    }

    /// The decoy residents' ids.
    pub(crate) async fn honeytoken_set(&self) -> HubResult<Arc<HashSet<String>>> {
        if let Some((at, set)) = self
            .sharing
            .honeytokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < HONEYTOKENS_TTL
        {
            return Ok(set.clone());
        }
        let set: Arc<HashSet<String>> =
            Arc::new(self.store.honeytokens().await?.into_iter().collect());
        *self
            .sharing
            .honeytokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), set.clone()));
        Ok(set)
    }

    pub(crate) fn forget_honeytokens(&self) {
        *self
            .sharing
            .honeytokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}
