//! The HTTP side: one axum router serving the plain WebSocket endpoint,
//! Socket.IO, metrics and a health check over one shared [`Hub`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::auth::Auth;
use crate::hub::Hub;
use crate::limits::Limits;
use crate::metrics::{self, Metrics};
use crate::{socketio, ws};

/// How often detached sessions are checked for expiry.
const EXPIRY_TICK: Duration = Duration::from_millis(250);

/// The server's shared state: the hub and the metrics.
pub struct Signal {
    hub: Mutex<Hub>,
    metrics: Metrics,
    registry: Registry,
    limits: Limits,
}

impl Signal {
    /// A server with these limits and this auth mode.
    pub fn new(limits: Limits, auth: Auth) -> Arc<Self> {
        let metrics = Metrics::default();
        let registry = metrics.registry();
        Arc::new(Signal {
            hub: Mutex::new(Hub::new(limits.clone(), auth, metrics.clone())),
            metrics,
            registry,
            limits,
        })
    }

    /// The hub, locked (never held across an await).
    pub fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The router: `/` (the demo page), `/ws` (plain WebSocket JSON),
    /// `/socket.io/` (Socket.IO v4/v5), `/metrics` and `/healthz`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", get(demo_page))
            .route(ws::PATH, get(ws::upgrade))
            .route("/metrics", get(metrics_page))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(self.clone())
            .layer(socketio::layer(self))
    }

    /// Ends expired sessions until the server is dropped.
    pub fn spawn_expiry(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_TICK);
            loop {
                tick.tick().await;
                let Some(s) = weak.upgrade() else { return };
                s.hub().expire(Instant::now());
            }
        });
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        self.spawn_expiry();
        let app = self.router();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The demo: tabs in one room call each other (mesh), with chat and stats.
const DEMO_PAGE: &str = include_str!("../static/index.html");

async fn demo_page() -> impl IntoResponse {
    axum::response::Html(DEMO_PAGE)
}

async fn metrics_page(State(s): State<Arc<Signal>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::render(&s.registry),
    )
}
