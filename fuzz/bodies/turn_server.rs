// Fuzz body for fulmar-turn's server core: an allocation with a permission
// and a channel (0x4000 to 192.0.2.9:7000) is set up by a real client, then
// the input drives the server as chunks `[kind][len: u16 BE][bytes]`:
//   kind % 4 == 0: a datagram from the allocation's client (5-tuple A)
//   kind % 4 == 1: a datagram from another client, over TCP
//   kind % 4 == 2: a datagram from a peer (192.0.2.9:7000) to the relayed address
//   kind % 4 == 3: time advances by bytes[0] seconds (+1), then handle_timeout
// The server must never panic, and its counts must stay within the quotas.

fn run(data: &[u8]) {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};
    use fulmar_turn::{
        Client, ClientConfig, FiveTuple, PeerPolicy, Server, ServerConfig, TransportProtocol,
    };
    use rand::{rngs::StdRng, SeedableRng};

    let server_addr: SocketAddr = SocketAddr::from(([198, 51, 100, 1], 3478));
    let peer: SocketAddr = SocketAddr::from(([192, 0, 2, 9], 7000));
    let mut now = Instant::now();
    let mut config = ServerConfig::new("fuzz.test", server_addr.ip()).with_user("alice", "secret");
    config.max_allocations = 4;
    config.max_allocations_per_user = 2;
    config.max_permissions = 8;
    config.max_channels = 8;
    config.bandwidth_limit = Some(100_000);
    config.peer_policy = PeerPolicy::default();
    let mut server = Server::new(config, now, StdRng::seed_from_u64(1));
    let a = FiveTuple {
        client: SocketAddr::from(([203, 0, 113, 1], 40000)),
        server: server_addr,
        protocol: TransportProtocol::Udp,
    };
    let b = FiveTuple {
        client: SocketAddr::from(([203, 0, 113, 2], 40001)),
        server: server_addr,
        protocol: TransportProtocol::Tcp,
    };

    // A real allocation, permission and channel.
    let mut client = Client::new(ClientConfig::new(server_addr, "alice", "secret"), StdRng::seed_from_u64(2));
    let pump = |client: &mut Client, server: &mut Server, now: Instant| {
        for _ in 0..16 {
            let mut moved = false;
            let mut buf = Vec::new();
            while client.poll_transmit(now, &mut buf).is_some() {
                moved = true;
                let _ = server.handle_client(now, a, &buf);
            }
            while let Some(t) = server.poll_transmit() {
                moved = true;
                let _ = client.handle_receive(now, server_addr, &t.payload);
            }
            if !moved {
                break;
            }
        }
    };
    let _ = client.allocate(now);
    pump(&mut client, &mut server, now);
    let _ = client.bind_channel(now, peer);
    pump(&mut client, &mut server, now);
    // The setup is deterministic: the channel must be bound.
    assert!(client.channel(peer).is_some(), "fuzz setup failed");
    let relayed = client
        .relayed_address()
        .unwrap_or(SocketAddr::from(([198, 51, 100, 1], 49152)));

    let mut out = vec![0u8; 70_000];
    let mut rest = data;
    let mut steps = 0;
    while rest.len() >= 3 && steps < 256 {
        steps += 1;
        let kind = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let end = (3 + len).min(rest.len());
        let chunk = &rest[3..end];
        rest = &rest[end..];
        match kind % 4 {
            0 => {
                if let Some(r) = server.handle_client(now, a, chunk) {
                    assert_eq!(r.relayed, relayed);
                    assert!(r.data.len() <= chunk.len());
                }
            }
            1 => {
                let _ = server.handle_client(now, b, chunk);
            }
            2 => {
                if let Some((ft, n)) = server.handle_peer(now, relayed, peer, chunk, &mut out) {
                    assert_eq!(ft, a);
                    assert!(n <= out.len() && n >= chunk.len());
                }
            }
            _ => {
                let secs = chunk.first().copied().unwrap_or(0);
                now += Duration::from_secs(u64::from(secs) + 1);
                server.handle_timeout(now);
            }
        }
        while let Some(t) = server.poll_transmit() {
            assert!(t.payload.len() <= 1024);
            let _ = client.handle_receive(now, server_addr, &t.payload);
        }
        while server.poll_event().is_some() {}
        client.handle_timeout(now);
        let mut buf = Vec::new();
        while client.poll_transmit(now, &mut buf).is_some() {}
        let g = server.gauges(now);
        assert!(g.allocations <= 4);
        assert!(g.permissions <= 4 * 8);
        assert!(g.channels <= 4 * 8);
    }
}
