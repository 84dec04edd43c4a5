// Body of the `turnd_config` fuzz target (shared with fulmar-turnd's
// tests/fuzz_corpus.rs): arbitrary text (lossily UTF-8) into fulmar-turnd's
// TOML configuration parser, then its validation. A configuration that
// validates starts a server core, and a client allocates on it with the
// first configured user (or a time-limited credential from auth_secret), so
// odd limits, lifetimes, realms and SOFTWARE values reach the server's
// request handling. `FileConfig` cannot be serialized, so there is no round
// trip: nothing may panic, and what validates keeps its invariants.

fn run(data: &[u8]) {
    use fulmar_turn::{Client, ClientConfig, FiveTuple, Server, TransportProtocol};
    use fulmar_turnd::config::FileConfig;
    use rand::{rngs::StdRng, SeedableRng};
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    let text = String::from_utf8_lossy(data);
    let Ok(file) = FileConfig::from_toml_str(&text) else {
        return;
    };
    let buffers = file.buffers();
    assert_eq!(buffers.listener, file.udp_buffer_bytes.unwrap_or(4 << 20));
    let Ok(config) = file.server_config(1_700_000_000) else {
        return;
    };
    assert_eq!(config.realm, file.realm);
    assert!(!config.realm.is_empty() && config.realm.len() <= 255);
    assert!(config.default_lifetime > Duration::ZERO);
    assert!(config.default_lifetime <= config.max_lifetime);
    assert!(!file.users.is_empty() || file.auth_secret.is_some());

    // Credentials the server accepts: a static user, or a time-limited one.
    let (user, password) = match file.users.iter().min() {
        Some((u, p)) => (u.clone(), p.clone()),
        None => ("1800000000:fuzz".to_owned(), "wrong".to_owned()),
    };
    let server_addr = SocketAddr::from(([198, 51, 100, 1], 3478));
    let tuple = FiveTuple {
        client: SocketAddr::from(([203, 0, 113, 1], 40000)),
        server: server_addr,
        protocol: TransportProtocol::Udp,
    };
    let now = Instant::now();
    let mut server = Server::new(config, now, StdRng::seed_from_u64(1));
    let mut client = Client::new(
        ClientConfig::new(server_addr, &user, &password),
        StdRng::seed_from_u64(2),
    );
    let _ = client.allocate(now);
    for _ in 0..8 {
        let mut moved = false;
        let mut buf = Vec::new();
        while client.poll_transmit(now, &mut buf).is_some() {
            moved = true;
            let _ = server.handle_client(now, tuple, &buf);
        }
        while let Some(t) = server.poll_transmit() {
            moved = true;
            let _ = client.handle_receive(now, server_addr, &t.payload);
        }
        while client.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    server.handle_timeout(now + Duration::from_secs(3600));
    let _ = server.stats();
}
