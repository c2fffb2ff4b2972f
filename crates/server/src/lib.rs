//! The Sangam hub's HTTP API.
//!
//! axum on tokio. `/openapi.json` is generated from the handlers themselves, so it cannot drift
//! from what is served. Errors are problem+json, mapped once in [`problem`]. Logs carry the
//! request id, method, route template, status and latency: never a path's values, a body or a
//! query string, which may hold personal data.

pub mod auth;
pub mod metrics;
pub mod problem;
pub mod routes;
mod spool;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sangam_access::network::TrustedProxies;
use sangam_hub::Hub;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::metrics::Metrics;
use crate::problem::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sangam",
        description = "The unified data hub of a state's welfare schemes: the base registry of \
            households and residents, the ID-number vault, and the audit log.",
    ),
    modifiers(&BearerAuth),
    components(schemas(problem::Problem, problem::FieldProblem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = routes::api().split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(api);
    doc
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not accept that method; see /openapi.json",
    )
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the hub could not complete the request; quote the request id to the help desk",
    )
    .into_response()
}

/// How the server is set up, beyond the hub it serves.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Reverse proxies whose `X-Forwarded-For` names the client; none by default, so the
    /// TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Mounts `GET /bench/baseline/residents/{ref_key}`: the consumer resident lookup with
    /// no authentication, policy or access log, projecting these fields. Only `sangam
    /// bench-share` sets it, to measure what the gate and the log cost; never in service.
    pub benchmark_baseline: Option<Vec<String>>,
}

/// The whole application: API, documentation, metrics and middleware.
pub fn app(hub: Hub) -> Router {
    app_with(hub, ServerOptions::default())
}

/// [`app`] with options.
pub fn app_with(hub: Hub, options: ServerOptions) -> Router {
    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        hub,
        metrics: metrics.clone(),
        trusted_proxies: Arc::new(options.trusted_proxies.clone()),
    };
    let (mut api, _) = routes::api().split_for_parts();
    if let Some(fields) = options.benchmark_baseline {
        api = api.route(
            "/bench/baseline/residents/{ref_key}",
            get(routes::share::baseline).layer(axum::Extension(Arc::new(fields))),
        );
    }
    let doc = openapi();
    let api = api
        .route("/openapi.json", get(move || async move { axum::Json(doc) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request| {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", method = %request.method(), route, request_id)
    });
    api.route("/metrics", get(metrics_text).with_state(metrics.clone()))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_timeout))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_response(security_headers))
}

/// How long a request may take, except sending a file: an upload is validated and loaded
/// before it answers, and a large one takes minutes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

async fn request_timeout(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_upload =
        request.method() == axum::http::Method::POST && request.uri().path() == "/v1/uploads";
    if is_upload {
        return next.run(request).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem::ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "The request took too long",
            "the hub stopped working on this request after 60 seconds",
        )
        .into_response(),
    }
}

async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A server started by [`start`].
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Asks the server to stop, lets requests in flight finish, and waits for it.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.handle.await.map_err(std::io::Error::other)?
    }

    /// Waits until the server stops (after a signal or [`Self::shutdown`]).
    pub async fn wait(self) -> std::io::Result<()> {
        self.handle.await.map_err(std::io::Error::other)?
    }

    /// A sender that stops the server when `true` is sent.
    pub fn shutdown_sender(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Binds `listen` (port 0 picks a free port), starts the API and the background worker.
pub async fn start(
    hub: Hub,
    listen: SocketAddr,
    run_worker: bool,
) -> std::io::Result<RunningServer> {
    start_with(hub, listen, run_worker, ServerOptions::default()).await
}

/// [`start`] with options.
pub async fn start_with(
    hub: Hub,
    listen: SocketAddr,
    run_worker: bool,
    options: ServerOptions,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, mut signal) = watch::channel(false);
    if run_worker {
        let worker_hub = hub.clone();
        let worker_signal = shutdown.subscribe();
        tokio::spawn(async move { worker_hub.run_worker(worker_signal).await });
    }
    let app = app_with(hub, options).into_make_service_with_connect_info::<SocketAddr>();
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        shutdown,
        handle,
    })
}
