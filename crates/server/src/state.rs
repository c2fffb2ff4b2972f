//! What every handler shares.

use std::sync::Arc;

use sangam_access::network::TrustedProxies;
use sangam_hub::Hub;

use crate::metrics::Metrics;

#[derive(Clone, Debug)]
pub struct AppState {
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    /// Proxies whose `X-Forwarded-For` is believed; see
    /// [`sangam_access::network::client_ip`].
    pub trusted_proxies: Arc<TrustedProxies>,
}
