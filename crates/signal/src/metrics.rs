//! Prometheus metrics (OpenMetrics text, by the `prometheus-client`
//! crate): connections, sessions, rooms, messages relayed, resumes, errors.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The server's metrics, updated by the hub and the transports.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    /// Open connections (WebSocket and Socket.IO).
    pub connections: Gauge,
    /// Sessions, attached or waiting to be resumed.
    pub sessions: Gauge,
    /// Rooms with at least one session.
    pub rooms: Gauge,
    /// Joins accepted.
    pub joins: Counter,
    /// Offers, answers, candidates and broadcasts relayed (one per recipient).
    pub messages_relayed: Counter,
    /// Sessions resumed.
    pub resumes: Counter,
    /// Error replies sent.
    pub errors: Counter,
    /// Connections closed for repeated abuse or for not reading.
    pub closed_for_abuse: Counter,
}

impl Metrics {
    /// The registry that exposes these metrics under `fulmar_signal_`.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("fulmar_signal");
        r.register("connections", "Open connections", self.connections.clone());
        r.register(
            "sessions",
            "Sessions, attached or resumable",
            self.sessions.clone(),
        );
        r.register(
            "rooms",
            "Rooms with at least one session",
            self.rooms.clone(),
        );
        r.register("joins", "Joins accepted", self.joins.clone());
        r.register(
            "messages_relayed",
            "Offers, answers, candidates and broadcasts relayed, per recipient",
            self.messages_relayed.clone(),
        );
        r.register("resumes", "Sessions resumed", self.resumes.clone());
        r.register("errors", "Error replies sent", self.errors.clone());
        r.register(
            "closed_for_abuse",
            "Connections closed for repeated abuse or for not reading",
            self.closed_for_abuse.clone(),
        );
        r
    }
}

/// The OpenMetrics text of `registry`.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, registry);
    out
}
