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
use crate::cluster::{Cluster, ClusterError, RedisConfig};
use crate::hub::{ConnId, Hub};
use crate::limits::Limits;
use crate::metrics::{self, Metrics};
use crate::protocol::Parsed;
use crate::{socketio, ws};

/// How often detached sessions are checked for expiry.
const EXPIRY_TICK: Duration = Duration::from_millis(250);

/// The server's shared state: the hub and the metrics, and the Redis room
/// core when nodes share rooms.
pub struct Signal {
    hub: Mutex<Hub>,
    metrics: Metrics,
    registry: Registry,
    limits: Limits,
    cluster: Option<Cluster>,
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
            cluster: None,
        })
    }

    /// A node sharing rooms with the other nodes on the Redis at
    /// `redis.url`: it connects, registers and starts its heartbeat.
    pub async fn with_redis(
        limits: Limits,
        auth: Auth,
        redis: RedisConfig,
    ) -> Result<Arc<Self>, ClusterError> {
        let cluster = Cluster::connect(redis, limits.clone()).await?;
        let metrics = Metrics::default();
        let registry = metrics.registry();
        let s = Arc::new(Signal {
            hub: Mutex::new(Hub::new(limits.clone(), auth, metrics.clone())),
            metrics,
            registry,
            limits,
            cluster: Some(cluster),
        });
        if let Some(c) = &s.cluster {
            c.start(Arc::downgrade(&s)).await?;
        }
        Ok(s)
    }

    /// This node's id in Redis, when it shares rooms.
    pub fn node_id(&self) -> Option<&str> {
        self.cluster.as_ref().map(Cluster::node)
    }

    pub(crate) fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Handles one message from `conn` (the transports call it for each
    /// message, one at a time per connection). On one node it is the
    /// hub's synchronous [`Hub::receive`]; over Redis it awaits the
    /// shared state.
    pub async fn receive(&self, conn: ConnId, parsed: Parsed) {
        match &self.cluster {
            None => self.hub().receive(conn, parsed, Instant::now(), unix_ms()),
            Some(c) => {
                c.receive(self, conn, parsed, Instant::now(), unix_ms())
                    .await
            }
        }
    }

    /// `conn` closed: its session waits for a resume.
    pub async fn disconnect(&self, conn: ConnId) {
        let session = self.hub().disconnect(conn, Instant::now());
        if let (Some(c), Some(sid)) = (&self.cluster, session) {
            c.disconnect(&sid, conn, Instant::now()).await;
        }
    }

    /// Sets the sessions and rooms gauges from the Redis core's counts of
    /// sessions on this node and of the rooms they are in.
    pub(crate) fn update_gauges_cluster(&self, (sessions, rooms): (usize, usize)) {
        self.metrics.sessions.set(sessions as i64);
        self.metrics.rooms.set(rooms as i64);
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
            .layer(axum::middleware::map_request(socketio::detach_request))
    }

    /// Ends expired sessions until the server is dropped.
    pub fn spawn_expiry(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_TICK);
            loop {
                tick.tick().await;
                let Some(s) = weak.upgrade() else { return };
                match &s.cluster {
                    None => {
                        s.hub().expire(Instant::now());
                    }
                    Some(c) => c.expire(&s, Instant::now()).await,
                }
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
