// Fuzz body for fulmar-turn's client facing a hostile server. Two clients,
// one over UDP and one over a stream (TCP/TLS framing), first allocate and
// bind a channel to 192.0.2.9:7000 on a real server core; then the input
// drives them as chunks `[kind][len: u16 BE][bytes]`:
//   kind % 5 == 0: a datagram from the server to the UDP client
//   kind % 5 == 1: stream bytes from the server, split by StreamFramer, to
//                  the stream client (a framing loss starts a new stream)
//   kind % 5 == 2: a datagram from another address to the UDP client
//   kind % 5 == 3: the application sends the bytes to the peer, asks for a
//                  permission and a channel (both clients)
//   kind % 5 == 4: time advances by bytes[0] * 100 ms, then handle_timeout
// The clients must never panic, never hand out more peer data than they
// were given, and keep their output bounded.

fn run(data: &[u8]) {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};
    use fulmar_turn::{
        Client, ClientConfig, ClientTransport, FiveTuple, PeerPolicy, Received, Server,
        ServerConfig, StreamFramer, TransportProtocol,
    };
    use rand::{rngs::StdRng, SeedableRng};

    let server_addr: SocketAddr = SocketAddr::from(([198, 51, 100, 1], 3478));
    let other: SocketAddr = SocketAddr::from(([198, 51, 100, 2], 3478));
    let peer: SocketAddr = SocketAddr::from(([192, 0, 2, 9], 7000));
    let mut now = Instant::now();
    let mut config = ServerConfig::new("fuzz.test", server_addr.ip()).with_user("alice", "secret");
    config.peer_policy = PeerPolicy::default();
    let mut server = Server::new(config, now, StdRng::seed_from_u64(1));
    let tuples = [
        FiveTuple {
            client: SocketAddr::from(([203, 0, 113, 1], 40000)),
            server: server_addr,
            protocol: TransportProtocol::Udp,
        },
        FiveTuple {
            client: SocketAddr::from(([203, 0, 113, 1], 40001)),
            server: server_addr,
            protocol: TransportProtocol::Tcp,
        },
    ];
    let config = ClientConfig::new(server_addr, "alice", "secret");
    let mut clients = [
        Client::new(config.clone(), StdRng::seed_from_u64(2)),
        Client::new(
            config.with_transport(ClientTransport::Stream),
            StdRng::seed_from_u64(3),
        ),
    ];

    // A real allocation and channel for each, so the input reaches the
    // allocated states too.
    let pump = |clients: &mut [Client; 2], server: &mut Server, now: Instant| {
        for _ in 0..16 {
            let mut moved = false;
            for (client, ft) in clients.iter_mut().zip(tuples) {
                let mut buf = Vec::new();
                while client.poll_transmit(now, &mut buf).is_some() {
                    moved = true;
                    let _ = server.handle_client(now, ft, &buf);
                }
            }
            while let Some(t) = server.poll_transmit() {
                moved = true;
                if let Some(i) = tuples.iter().position(|ft| *ft == t.five_tuple) {
                    let _ = clients[i].handle_receive(now, server_addr, &t.payload);
                }
            }
            if !moved {
                break;
            }
        }
    };
    for c in clients.iter_mut() {
        let _ = c.allocate(now);
    }
    pump(&mut clients, &mut server, now);
    for c in clients.iter_mut() {
        let _ = c.bind_channel(now, peer);
    }
    pump(&mut clients, &mut server, now);
    // The setup is deterministic: both channels must be bound.
    assert!(clients.iter().all(|c| c.channel(peer).is_some()), "fuzz setup failed");

    let mut framer = StreamFramer::new();
    let mut rest = data;
    let mut steps = 0;
    while rest.len() >= 3 && steps < 256 {
        steps += 1;
        let kind = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let end = (3 + len).min(rest.len());
        let chunk = &rest[3..end];
        rest = &rest[end..];
        match kind % 5 {
            0 => {
                if let Received::PeerData { data, .. } =
                    clients[0].handle_receive(now, server_addr, chunk)
                {
                    assert!(data.len() <= chunk.len());
                }
            }
            1 => {
                framer.push(chunk);
                loop {
                    match framer.next_frame() {
                        Ok(Some(frame)) => {
                            let n = frame.len();
                            if let Received::PeerData { data, .. } =
                                clients[1].handle_receive(now, server_addr, frame)
                            {
                                assert!(data.len() <= n);
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            framer = StreamFramer::new();
                            break;
                        }
                    }
                }
                // A frame is at most a STUN message or ChannelData.
                assert!(framer.buffered() <= chunk.len().max(1) + 65_536 + 20);
            }
            2 => {
                assert!(matches!(
                    clients[0].handle_receive(now, other, chunk),
                    Received::NotFromServer
                ));
            }
            3 => {
                for c in clients.iter_mut() {
                    let mut out = Vec::new();
                    if let Ok(t) = c.send_to(now, peer, chunk, &mut out) {
                        // The wrapped data is whole and fits the frame limit.
                        assert_eq!(t.len, out.len());
                        assert!(t.len <= 65_536 + 36, "{}", t.len);
                    }
                    let _ = c.create_permission(now, peer.ip());
                    let _ = c.bind_channel(now, peer);
                }
            }
            _ => {
                let ms = u64::from(chunk.first().copied().unwrap_or(0)) * 100;
                now += Duration::from_millis(ms + 1);
                for c in clients.iter_mut() {
                    c.handle_timeout(now);
                }
            }
        }
        for c in clients.iter_mut() {
            let mut n = 0;
            let mut buf = Vec::new();
            while let Some(t) = c.poll_transmit(now, &mut buf) {
                n += 1;
                assert!(t.len <= 65_536 + 36, "{}", t.len);
            }
            assert!(n <= 64, "{n} transmits from one step");
            while c.poll_event().is_some() {}
        }
    }
}
