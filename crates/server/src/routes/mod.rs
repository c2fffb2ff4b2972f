//! The API's routes, one module per resource.

pub mod applications;
pub mod audit;
pub mod code_lists;
pub mod conflicts;
pub mod datasets;
pub mod download;
pub mod health;
pub mod linking;
pub mod oauth;
pub mod registry;
pub mod session;
pub mod share;
pub mod uploads;
pub mod validate;
pub mod vault;
pub mod verify;

use axum::extract::DefaultBodyLimit;
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
        .merge(
            OpenApiRouter::new()
                .routes(routes!(code_lists::load))
                .layer(DefaultBodyLimit::max(code_lists::MAX_CODE_LIST_BYTES)),
        )
        .routes(routes!(conflicts::dataset))
        .routes(routes!(conflicts::resident))
        .routes(routes!(conflicts::resident_by_ref_key))
        .routes(routes!(oauth::token))
        .routes(routes!(oauth::jwks))
        .routes(routes!(share::resident))
        .routes(routes!(share::lookup))
        .routes(routes!(share::household))
        .routes(routes!(share::profile))
        .routes(routes!(share::ekyc))
        .routes(routes!(share::search))
        .routes(routes!(share::enrol))
        .routes(routes!(share::usage))
        .routes(routes!(
            applications::register_organisation,
            applications::organisations
        ))
        .routes(routes!(applications::submit, applications::list))
        .routes(routes!(applications::get))
        .routes(routes!(applications::change_status))
        .routes(routes!(applications::add_note))
        .routes(routes!(applications::timeline))
        .routes(routes!(applications::approve))
        .routes(routes!(applications::renew))
        .routes(routes!(applications::terminate))
        .routes(routes!(applications::confirm_destruction))
        .routes(routes!(applications::issue_secret))
        .routes(routes!(applications::revoke_secret))
        .routes(routes!(applications::usage))
        .routes(routes!(applications::access_log))
        .routes(routes!(applications::access_counts))
        .routes(routes!(applications::resident_access_log))
        .routes(routes!(applications::alerts))
        .routes(routes!(applications::plant_honeytokens))
}
