//! The HTTP side of `correlation-service`: the web UI (served from the binary, no CDN),
//! the insights API (`/api/v1/insights`, and `/api/v1/insights/stream` as server-sent
//! events), `/metrics` for Prometheus and `/healthz`. With a token configured, every
//! route but `/healthz` and the UI's static files needs `Authorization: Bearer <token>`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use tapio_domain::{Insight, InsightReport};
use tokio::sync::{broadcast, watch};

use crate::tls::TlsFiles;

/// New or changed insights kept for slow stream readers before they miss some.
const STREAM_BUFFER: usize = 1024;

/// What the API serves; the engine side updates it.
pub struct ApiState {
    report: watch::Sender<InsightReport>,
    insights: broadcast::Sender<Insight>,
    metrics: Box<dyn Fn() -> String + Send + Sync>,
    token: Option<String>,
}

impl ApiState {
    /// State whose `/metrics` renders with `metrics`, guarded by `token` if given.
    pub fn new(token: Option<String>, metrics: Box<dyn Fn() -> String + Send + Sync>) -> Arc<Self> {
        Arc::new(Self {
            report: watch::Sender::new(InsightReport::default()),
            insights: broadcast::channel(STREAM_BUFFER).0,
            metrics,
            token,
        })
    }

    /// The current report.
    pub fn report(&self) -> InsightReport {
        self.report.borrow().clone()
    }

    /// New and changed insights from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Insight> {
        self.insights.subscribe()
    }

    /// Replaces the current report; `new` are the insights that are new or changed in
    /// it, sent to every stream reader.
    pub fn publish(&self, report: InsightReport, new: &[Insight]) {
        self.report.send_replace(report);
        for i in new {
            let _ = self.insights.send(i.clone());
        }
    }
}

/// Whether binding `addr` needs a token: anything beyond loopback does.
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// Serves the API and UI on `listener` (HTTPS with `tls`) until the process ends.
pub async fn serve(
    listener: std::net::TcpListener,
    state: Arc<ApiState>,
    tls: Option<TlsFiles>,
) -> Result<()> {
    listener.set_nonblocking(true)?;
    let Some(tls) = tls else {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        return axum::serve(listener, router(state))
            .await
            .context("HTTP server failed");
    };
    crate::tls::install_provider();
    let (cert, key) = tls.read()?;
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(cert, key)
        .await
        .context("the TLS certificate or key is not usable")?;
    axum_server::from_tcp_rustls(listener, config)?
        .serve(router(state).into_make_service())
        .await
        .context("HTTPS server failed")
}

/// The routes, for serving or testing.
pub fn router(state: Arc<ApiState>) -> Router {
    let guarded = Router::new()
        .route("/api/v1/insights", get(report))
        .route("/insights", get(report))
        .route("/api/v1/insights/stream", get(stream))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", UI_INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { page("text/javascript; charset=utf-8", UI_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { page("text/css; charset=utf-8", UI_CSS) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(guarded)
        .with_state(state)
}

const UI_INDEX: &str = include_str!("../ui/index.html");
const UI_JS: &str = include_str!("../ui/app.js");
const UI_CSS: &str = include_str!("../ui/app.css");

fn page(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Compares in time independent of where the strings differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn require_token(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_secret(g, expected)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required (Authorization: Bearer <token>)\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn report(State(state): State<Arc<ApiState>>) -> axum::Json<InsightReport> {
    axum::Json(state.report.borrow().clone())
}

async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        (state.metrics)(),
    )
        .into_response()
}

/// Every insight of the current report first, then each new or changed one as it comes.
async fn stream(
    State(state): State<Arc<ApiState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.insights.subscribe();
    let current: Vec<Insight> = state.report.borrow().insights.clone();
    let backlog = futures_util::stream::iter(current.into_iter().map(|i| Ok(insight_event(&i))));
    let live = futures_util::stream::unfold(receiver, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(i) => insight_event(&i),
            // A reader that fell behind is told how many it missed, and goes on.
            Err(broadcast::error::RecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Sse::new(futures_util::StreamExt::chain(backlog, live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn insight_event(i: &Insight) -> Event {
    Event::default()
        .event("insight")
        .id(i.id.clone())
        .data(serde_json::to_string(i).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(needs_token(&"0.0.0.0:1".parse().unwrap()));
        assert!(!needs_token(&"127.0.0.1:1".parse().unwrap()));
        assert!(!needs_token(&"[::1]:1".parse().unwrap()));
    }
}
