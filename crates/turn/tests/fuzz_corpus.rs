//! Replays the checked-in corpora of the `turn_server`, `turn_client` and
//! `ice_server_url` fuzz targets (fuzz/corpus/<target>) through their bodies on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod turn_server {
    include!("../../../fuzz/bodies/turn_server.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod turn_client {
    include!("../../../fuzz/bodies/turn_client.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod ice_server_url {
    include!("../../../fuzz/bodies/ice_server_url.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn ice_server_url_corpus() {
    replay("ice_server_url", ice_server_url::entry);
}

#[test]
fn turn_server_corpus() {
    replay("turn_server", turn_server::entry);
}

#[test]
fn turn_client_corpus() {
    replay("turn_client", turn_client::entry);
}

/// Found by the `turnd_config` fuzz target (corpus file `huge-limits`): a
/// server configured with lifetimes beyond what Instant can add panicked
/// with "overflow when adding duration to instant" on the first Allocate.
/// Granted lifetimes are now capped at what LIFETIME can carry (u32
/// seconds), and the allocation works.
#[test]
fn huge_configured_lifetimes_do_not_overflow() {
    use fulmar_turn::{Client, ClientConfig, ClientEvent, FiveTuple, Server, ServerConfig};
    use rand::{rngs::StdRng, SeedableRng};
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    let server_addr = SocketAddr::from(([198, 51, 100, 1], 3478));
    let ft = FiveTuple {
        client: SocketAddr::from(([203, 0, 113, 1], 40000)),
        server: server_addr,
        protocol: fulmar_turn::TransportProtocol::Udp,
    };
    let mut config = ServerConfig::new("fuzz.test", server_addr.ip()).with_user("alice", "secret");
    config.default_lifetime = Duration::from_secs(i64::MAX as u64);
    config.max_lifetime = Duration::MAX;
    let now = Instant::now();
    let mut server = Server::new(config, now, StdRng::seed_from_u64(1));
    let mut client = Client::new(
        ClientConfig::new(server_addr, "alice", "secret"),
        StdRng::seed_from_u64(2),
    );
    client.allocate(now).unwrap();
    let mut granted = None;
    for _ in 0..4 {
        let mut buf = Vec::new();
        while client.poll_transmit(now, &mut buf).is_some() {
            let _ = server.handle_client(now, ft, &buf);
        }
        while let Some(t) = server.poll_transmit() {
            let _ = client.handle_receive(now, server_addr, &t.payload);
        }
        while let Some(e) = client.poll_event() {
            if let ClientEvent::Allocated { lifetime, .. } = e {
                granted = Some(lifetime);
            }
        }
    }
    assert_eq!(granted, Some(Duration::from_secs(u64::from(u32::MAX))));
    server.handle_timeout(now + Duration::from_secs(3600));
}
