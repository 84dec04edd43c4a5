//! Prometheus text exposition of the server's counters and gauges, served
//! over a minimal HTTP/1.1 endpoint.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use fulmar_turn::{ServerGauges, ServerStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// Answer every HTTP request on `l` with the current page.
pub async fn serve(l: TcpListener, text: Arc<Mutex<String>>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let text = text.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf)).await;
            let body = text.lock().map(|t| t.clone()).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
            let _ = s.shutdown().await;
        });
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
}
