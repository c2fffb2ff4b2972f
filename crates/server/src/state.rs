//! What every handler shares.

use std::sync::Arc;

use sangam_hub::Hub;

use crate::metrics::Metrics;

#[derive(Clone, Debug)]
pub struct AppState {
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
}
