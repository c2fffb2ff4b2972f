//! Files the hub hands back (rejection reports, mappings, not-found and conflict reports):
//! their content type and the name a browser saves them under. `Cache-Control: no-store`,
//! which keeps a department's data out of shared caches, is on every response already (the
//! server's middleware).

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub const CSV: &str = "text/csv; charset=utf-8";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `body` as a download named `file_name`.
pub fn attachment(body: impl Into<Body>, content_type: &'static str, file_name: &str) -> Response {
    let mut response = body.into().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
