//! The API's routes, one module per resource.

pub mod audit;
pub mod code_lists;
pub mod conflicts;
pub mod datasets;
pub mod download;
pub mod health;
pub mod linking;
pub mod registry;
pub mod session;
pub mod uploads;
pub mod validate;
pub mod vault;
pub mod verify;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every documented route. `/openapi.json` is generated from exactly these.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(registry::household))
        .routes(routes!(registry::resident, registry::update_resident))
        .routes(routes!(registry::resident_by_ref_key))
        .routes(routes!(registry::resident_history))
        .routes(routes!(registry::counts))
        .routes(routes!(vault::status))
        .routes(routes!(vault::rotate))
        .routes(routes!(vault::retire))
        .routes(routes!(vault::reveal))
        .routes(routes!(uploads::list, uploads::create))
        .routes(routes!(uploads::get))
        .routes(routes!(uploads::rejections))
        .routes(routes!(uploads::mapping))
        .routes(routes!(datasets::list, datasets::create))
        .routes(routes!(datasets::overdue))
        .routes(routes!(datasets::get))
        .routes(routes!(datasets::add_spec))
        .routes(routes!(audit::entries))
        .routes(routes!(audit::verify))
        .routes(routes!(verify::verify))
        .routes(routes!(validate::validate))
        .routes(routes!(linking::counts))
        .routes(routes!(linking::not_found))
        .routes(routes!(linking::relink))
        .routes(routes!(linking::list))
        .routes(routes!(linking::get))
        .routes(routes!(linking::decide))
        .routes(routes!(linking::explain))
        .routes(routes!(code_lists::list))
        .routes(routes!(code_lists::load))
        .routes(routes!(conflicts::dataset))
        .routes(routes!(conflicts::resident))
        .routes(routes!(conflicts::resident_by_ref_key))
}
