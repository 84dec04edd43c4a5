//! Prometheus text exposition of the server's counters and gauges, served
//! by axum at `GET /metrics`.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use fulmar_turn::{ServerGauges, ServerStats};
use tokio::net::TcpListener;

/// The path the page is served at.
pub const PATH: &str = "/metrics";
/// The Prometheus text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The metrics page.
pub fn render(s: &ServerStats, g: &ServerGauges) -> String {
    let mut o = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, v: u64| {
        let _ = writeln!(o, "# HELP fulmar_turn_{name} {help}");
        let _ = writeln!(o, "# TYPE fulmar_turn_{name} {kind}");
        let _ = writeln!(o, "fulmar_turn_{name} {v}");
    };
    metric(
        "allocations",
        "gauge",
        "Live allocations.",
        g.allocations as u64,
    );
    metric(
        "permissions",
        "gauge",
        "Live permissions.",
        g.permissions as u64,
    );
    metric(
        "channels",
        "gauge",
        "Live channel bindings.",
        g.channels as u64,
    );
    metric(
        "requests_total",
        "counter",
        "STUN requests received.",
        s.requests,
    );
    metric(
        "binding_requests_total",
        "counter",
        "Binding requests answered.",
        s.binding_requests,
    );
    metric(
        "allocations_created_total",
        "counter",
        "Allocations created.",
        s.allocations_created,
    );
    metric(
        "allocations_deleted_total",
        "counter",
        "Allocations deleted by clients.",
        s.allocations_deleted,
    );
    metric(
        "allocations_expired_total",
        "counter",
        "Allocations expired.",
        s.allocations_expired,
    );
    metric(
        "permissions_created_total",
        "counter",
        "Permissions installed.",
        s.permissions_created,
    );
    metric(
        "channels_bound_total",
        "counter",
        "Channels bound.",
        s.channels_bound,
    );
    metric(
        "challenges_total",
        "counter",
        "401 challenges to requests without credentials.",
        s.challenges,
    );
    metric(
        "auth_failures_total",
        "counter",
        "Requests with wrong credentials.",
        s.auth_failures,
    );
    metric(
        "stale_nonces_total",
        "counter",
        "438 Stale Nonce answers.",
        s.stale_nonces,
    );
    metric(
        "quota_rejections_total",
        "counter",
        "Allocations refused by quotas.",
        s.quota_rejections,
    );
    metric(
        "peer_denied_total",
        "counter",
        "Peers refused by the address policy.",
        s.peer_denied,
    );
    metric(
        "error_responses_total",
        "counter",
        "Error responses sent.",
        s.error_responses,
    );
    metric(
        "malformed_total",
        "counter",
        "Malformed datagrams dropped.",
        s.malformed,
    );
    metric(
        "dropped_no_permission_total",
        "counter",
        "Data dropped without allocation, permission or channel.",
        s.dropped_no_permission,
    );
    metric(
        "dropped_bandwidth_total",
        "counter",
        "Data dropped by the bandwidth limit.",
        s.dropped_bandwidth,
    );
    metric(
        "packets_to_peer_total",
        "counter",
        "Packets relayed to peers.",
        s.packets_to_peer,
    );
    metric(
        "bytes_to_peer_total",
        "counter",
        "Bytes relayed to peers.",
        s.bytes_to_peer,
    );
    metric(
        "packets_to_client_total",
        "counter",
        "Packets relayed to clients.",
        s.packets_to_client,
    );
    metric(
        "bytes_to_client_total",
        "counter",
        "Bytes relayed to clients.",
        s.bytes_to_client,
    );
    o
}

/// The metrics route: `GET /metrics` answers with the last published page.
pub fn router(text: Arc<Mutex<String>>) -> Router {
    Router::new().route(PATH, get(page)).with_state(text)
}

async fn page(State(text): State<Arc<Mutex<String>>>) -> impl IntoResponse {
    let body = text.lock().map(|t| t.clone()).unwrap_or_default();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

/// Serve [`router`] on `l` until the task is aborted.
pub async fn serve(l: TcpListener, text: Arc<Mutex<String>>) {
    if let Err(e) = axum::serve(l, router(text)).await {
        tracing::warn!(error = %e, "metrics server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter() {
        let s = ServerStats {
            packets_to_peer: 7,
            ..ServerStats::default()
        };
        let t = render(&s, &ServerGauges::default());
        assert!(t.contains("fulmar_turn_packets_to_peer_total 7\n"));
        assert!(t.contains("# TYPE fulmar_turn_allocations gauge"));
    }

    #[tokio::test]
    async fn serves_the_published_page_at_metrics() {
        let text = Arc::new(Mutex::new(String::new()));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let server = tokio::spawn(serve(l, text.clone()));
        *text.lock().unwrap() = render(
            &ServerStats {
                bytes_to_client: 42,
                ..ServerStats::default()
            },
            &ServerGauges::default(),
        );
        let client = reqwest::Client::new();
        let res = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        assert_eq!(res.headers()["content-type"], CONTENT_TYPE);
        let body = res.text().await.unwrap();
        assert_eq!(body, *text.lock().unwrap());
        assert!(body.contains("fulmar_turn_bytes_to_client_total 42\n"));
        let res = client.get(format!("{base}/other")).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::NOT_FOUND);
        server.abort();
    }
}
