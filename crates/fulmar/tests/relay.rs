//! Relay candidates (issue #9): a Fulmar peer allocates on a TURN server
//! (fulmar-turn's sans-IO server core behind a small UDP, TCP and TLS
//! shell, on 127.0.0.1, loopback peers allowed) over UDP, TCP or TLS, and
//! data flows through the relay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar::{rustls, Config, Message, PeerConnection, RelayProtocol, TurnConfigError, TurnServer};
use fulmar_turn::{
    FiveTuple, PeerPolicy, Server, ServerConfig, ServerEvent, StreamFramer, TransportProtocol,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

/// A TURN server on 127.0.0.1 with user `u`/`p`: fulmar-turn's core behind
/// a UDP socket and a TCP listener (TLS when given an acceptor).
#[derive(Clone)]
struct Turn {
    server: Arc<Mutex<Server>>,
    udp: Arc<UdpSocket>,
    /// Relayed sockets by relayed address.
    relays: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>,
    /// Writers of the TCP/TLS clients, by client address.
    streams: Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>,
    /// Datagrams relayed from peers to clients.
    relayed: Arc<Mutex<u64>>,
    /// Allocations still alive when their stream closed (not deleted by
    /// a Refresh with lifetime 0 first).
    ended_by_eof: Arc<Mutex<u64>>,
}

/// Where the test TURN server listens.
struct TurnAddrs {
    udp: SocketAddr,
    tcp: SocketAddr,
    turn: Turn,
}

impl TurnAddrs {
    /// Datagrams the server relayed from peers to clients.
    fn relayed(&self) -> u64 {
        *self.turn.relayed.lock().unwrap()
    }

    /// Live allocations.
    fn allocations(&self) -> usize {
        self.turn.server.lock().unwrap().allocation_count()
    }
}

/// Starts the server, relaying from `ports` (outside Linux's ephemeral
/// range, and one range per test, so binding the relayed port works).
async fn turn_server(ports: (u16, u16), tls: Option<tokio_rustls::TlsAcceptor>) -> TurnAddrs {
    let udp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = listener.local_addr().unwrap();
    let mut config =
        ServerConfig::new("fulmar.test", "127.0.0.1".parse().unwrap()).with_user("u", "p");
    config.peer_policy = PeerPolicy::allow_all();
    config.relay_ports = ports;
    let turn = Turn {
        server: Arc::new(Mutex::new(Server::new(
            config,
            Instant::now(),
            StdRng::seed_from_u64(7),
        ))),
        udp,
        relays: Arc::default(),
        streams: Arc::default(),
        relayed: Arc::default(),
        ended_by_eof: Arc::default(),
    };
    let t = turn.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            let (n, from) = tokio::select! {
                r = t.udp.recv_from(&mut buf) => match r { Ok(v) => v, Err(_) => continue },
                _ = tick.tick() => {
                    t.server.lock().unwrap().handle_timeout(Instant::now());
                    t.flush().await;
                    continue;
                }
            };
            let ft = FiveTuple {
                client: from,
                server: addr,
                protocol: TransportProtocol::Udp,
            };
            t.handle_client(ft, &buf[..n]).await;
        }
    });
    let t = turn.clone();
    tokio::spawn(async move {
        while let Ok((stream, client)) = listener.accept().await {
            let ft = FiveTuple {
                client,
                server: tcp,
                protocol: if tls.is_some() {
                    TransportProtocol::Tls
                } else {
                    TransportProtocol::Tcp
                },
            };
            let (t, tls) = (t.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => t.serve_stream(stream, ft).await,
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            t.serve_stream(s, ft).await;
                        }
                    }
                }
            });
        }
    });
    TurnAddrs {
        udp: addr,
        tcp,
        turn,
    }
}

impl Turn {
    /// A message from a client: to the core, and what it relays to the peer.
    async fn handle_client(&self, ft: FiveTuple, data: &[u8]) {
        let out = self
            .server
            .lock()
            .unwrap()
            .handle_client(Instant::now(), ft, data)
            .map(|r| (r.relayed, r.peer, r.data.to_vec()));
        if let Some((relayed, peer, data)) = out {
            let relay = self.relays.lock().unwrap().get(&relayed).cloned();
            if let Some(relay) = relay {
                let _ = relay.send_to(&data, peer).await;
            }
        }
        self.flush().await;
    }

    /// Bytes for a client, on its UDP 5-tuple or its stream.
    async fn to_client(&self, ft: FiveTuple, bytes: &[u8]) {
        if ft.protocol == TransportProtocol::Udp {
            let _ = self.udp.send_to(bytes, ft.client).await;
        } else if let Some(tx) = self.streams.lock().unwrap().get(&ft.client) {
            let _ = tx.send(bytes.to_vec());
        }
    }

    /// One TCP or TLS client: frames in (RFC 8656 §12.5), frames out; the
    /// allocation ends with the stream (RFC 8656 §3.1).
    async fn serve_stream<S: AsyncRead + AsyncWrite + Send + 'static>(
        &self,
        stream: S,
        ft: FiveTuple,
    ) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.streams.lock().unwrap().insert(ft.client, tx);
        let writer = tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if wr.write_all(&frame).await.is_err() || wr.flush().await.is_err() {
                    break;
                }
            }
        });
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 4096];
        while let Ok(n @ 1..) = rd.read(&mut buf).await {
            framer.push(&buf[..n]);
            while let Ok(Some(frame)) = framer.next_frame() {
                let frame = frame.to_vec();
                self.handle_client(ft, &frame).await;
            }
        }
        self.streams.lock().unwrap().remove(&ft.client);
        if self.server.lock().unwrap().delete_allocation(&ft) {
            *self.ended_by_eof.lock().unwrap() += 1;
        }
        writer.abort();
    }

    /// Sends the server's responses; opens relayed sockets for new allocations.
    async fn flush(&self) {
        let (transmits, events) = {
            let mut s = self.server.lock().unwrap();
            let mut t = Vec::new();
            while let Some(x) = s.poll_transmit() {
                t.push(x);
            }
            let mut e = Vec::new();
            while let Some(x) = s.poll_event() {
                e.push(x);
            }
            (t, e)
        };
        for t in transmits {
            self.to_client(t.five_tuple, &t.payload).await;
        }
        for e in events {
            if let ServerEvent::AllocationCreated { relayed, .. } = e {
                let relayed = relayed.first().unwrap();
                let relay = Arc::new(UdpSocket::bind(relayed).await.unwrap());
                self.relays.lock().unwrap().insert(relayed, relay.clone());
                let t = self.clone();
                // Peer -> client: Data indications or ChannelData.
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let mut out = vec![0u8; 65536 + 64];
                    while let Ok((n, peer)) = relay.recv_from(&mut buf).await {
                        let r = t.server.lock().unwrap().handle_peer(
                            Instant::now(),
                            relayed,
                            peer,
                            &buf[..n],
                            &mut out,
                        );
                        if let Some((ft, len)) = r {
                            *t.relayed.lock().unwrap() += 1;
                            t.to_client(ft, &out[..len]).await;
                        }
                    }
                });
            }
        }
    }
}

/// The offerer `a` may use only its relay candidate (on `turn`, relayed
/// from ports 61000 + `range` * 500 ..): ICE connects through the TURN
/// server, 1 MB of data crosses it to b, byte-exact, and an answer back.
async fn relay_only_exchange(
    turn: &TurnAddrs,
    range: u16,
    turn_transport: RelayProtocol,
    a: PeerConnection,
) {
    let low = 61000 + range * 500;
    let b = PeerConnection::new(Config::default()).await.unwrap();
    // The offer waits for nothing: gathering completes when the
    // allocation does, and the candidates trickle.
    let chat = a.create_data_channel("relay").await.unwrap();
    let offer = a.create_offer().await.unwrap();
    b.set_remote_description(offer).await.unwrap();
    // b's end-of-candidates reaches a only after a's gathering ended:
    // fulmar-ice declares failure on remote end-of-candidates with no
    // pair while local gathering is still running (reported).
    let answer = b.create_answer().await.unwrap().sdp.to_string();
    let answer: String = answer
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("a=end-of-candidates"))
        .collect();
    a.set_remote_description(fulmar::SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    let mut cands = Vec::new();
    while let Some(c) = a.next_local_candidate().await {
        b.add_ice_candidate(&c).await.unwrap();
        cands.push(c);
    }
    b.add_ice_candidate("").await.unwrap();
    a.add_ice_candidate("").await.unwrap();
    assert_eq!(cands.len(), 1, "{cands:?}");
    // `candidate:F 1 udp PRIO 127.0.0.1 PORT typ relay raddr ...`
    let fields: Vec<&str> = cands[0].split(' ').collect();
    assert_eq!(
        fields.get(4..8),
        Some(&["127.0.0.1", fields[5], "typ", "relay"][..])
    );
    // Type preference 0, local preference by the transport to the server
    // (UDP 65535, TCP 65534, TLS 65533), component 1 (RFC 8445 §5.1.2.1).
    let local_pref = match turn_transport {
        RelayProtocol::Udp => 65535u32,
        RelayProtocol::Tcp => 65534,
        _ => 65533,
    };
    assert_eq!(fields[3], (local_pref * 256 + 255).to_string(), "{cands:?}");
    let port: u16 = fields[5].parse().unwrap();
    assert!((low..low + 500).contains(&port), "{cands:?}");
    let remote = b.accept_data_channel().await.unwrap();
    let (local, _) = a.stats().selected_pair.unwrap();
    assert_eq!(
        local,
        SocketAddr::from(([127, 0, 0, 1], port)),
        "a's side of the pair is its relayed address"
    );
    let sent: Vec<Bytes> = (0..10u8)
        .map(|i| Bytes::from((0..100_000u32).map(|j| (j as u8) ^ i).collect::<Vec<u8>>()))
        .collect();
    for m in &sent {
        chat.send(m.clone()).await.unwrap();
    }
    for m in &sent {
        assert_eq!(remote.recv().await, Some(Message::Binary(m.clone())));
    }
    remote.send_text("back").await.unwrap();
    assert_eq!(chat.recv().await, Some(Message::Text("back".into())));
    assert!(turn.relayed() > 10, "the relay carried b's packets");
    assert_eq!(turn.allocations(), 1);
    a.close().await;
    a.closed().await;
}

/// Over UDP to the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_flows_through_the_relay() {
    let run = async {
        let turn = turn_server((61000, 61499), None).await;
        let server = TurnServer::new(turn.udp, "u", "p");
        relay_only_exchange(
            &turn,
            0,
            RelayProtocol::Udp,
            relay_only(server, Config::default()).await,
        )
        .await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// Over TCP to the server (RFC 8656 §3.1, RFC 7065 `transport=tcp`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_flows_through_a_relay_over_tcp() {
    let run = async {
        let turn = turn_server((62000, 62499), None).await;
        let url = format!("turn:{}?transport=tcp", turn.tcp);
        let server = fulmar::turn_server_from_url(&url, "u", "p").unwrap();
        assert_eq!(server.transport, RelayProtocol::Tcp);
        relay_only_exchange(
            &turn,
            2,
            RelayProtocol::Tcp,
            relay_only(server, Config::default()).await,
        )
        .await;
        wait_for_no_allocation(&turn, 1).await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// Over TLS to the server (`turns:`), trusting its self-signed certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_flows_through_a_relay_over_tls() {
    let run = async {
        let (acceptor, client) = tls_pair();
        let turn = turn_server((62500, 62999), Some(acceptor)).await;
        let url = format!("turns:{}?transport=tcp", turn.tcp);
        let server = fulmar::turn_server_from_url(&url, "u", "p").unwrap();
        assert_eq!(server.transport, RelayProtocol::Tls);
        let config = Config::default().with_turn_tls(client);
        relay_only_exchange(
            &turn,
            3,
            RelayProtocol::Tls,
            relay_only(server, config).await,
        )
        .await;
        wait_for_no_allocation(&turn, 1).await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// A connection offering only its relay on `server`.
async fn relay_only(server: TurnServer, config: Config) -> PeerConnection {
    PeerConnection::new(config.with_turn_server(server).with_relay_only())
        .await
        .unwrap()
}

/// On a shared endpoint a UDP relay works from the endpoint's socket, for
/// one connection per TURN server at a time (its allocation is the socket's
/// 5-tuple, RFC 8656 §2: a second one is refused); a TCP relay has a stream
/// of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_on_a_shared_endpoint() {
    let run = async {
        let turn = turn_server((63500, 63999), None).await;
        let endpoint = fulmar::Endpoint::bind(([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let udp = TurnServer::new(turn.udp, "u", "p");
        let config = Config::default().with_turn_server(udp.clone());
        let a = PeerConnection::new_on(&endpoint, config.clone().with_relay_only())
            .await
            .unwrap();
        let r = PeerConnection::new_on(&endpoint, config).await;
        assert!(
            matches!(
                r,
                Err(fulmar::Error::Endpoint(fulmar::EndpointError::RelayServerTaken(s))) if s == turn.udp
            ),
            "{r:?}"
        );
        relay_only_exchange(&turn, 5, RelayProtocol::Udp, a).await;
        wait_for_no_allocation(&turn, 1).await;
        let tcp = TurnServer::new(turn.tcp, "u", "p").with_transport(RelayProtocol::Tcp);
        let config = Config::default().with_turn_server(tcp).with_relay_only();
        let a = PeerConnection::new_on(&endpoint, config).await.unwrap();
        relay_only_exchange(&turn, 5, RelayProtocol::Tcp, a).await;
        wait_for_no_allocation(&turn, 2).await;
        assert_eq!(endpoint.connection_count(), 0);
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// Until the server holds no allocation; the client deleted it with a
/// Refresh of lifetime 0 (RFC 8656 §7.5) before it closed the stream, as
/// every one before it (`deleted` in all).
async fn wait_for_no_allocation(turn: &TurnAddrs, deleted: u64) {
    while turn.allocations() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = turn.turn.server.lock().unwrap().stats();
    assert_eq!(stats.allocations_deleted, deleted);
    assert_eq!(*turn.turn.ended_by_eof.lock().unwrap(), 0);
}

/// A TLS acceptor with a self-signed certificate for 127.0.0.1 and
/// localhost, and a client configuration trusting only it.
fn tls_pair() -> (tokio_rustls::TlsAcceptor, Arc<rustls::ClientConfig>) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        Arc::new(client),
    )
}

/// A refused URL says why, typed.
#[test]
fn refused_turn_urls_name_the_reason() {
    let err = |url: &str| match fulmar::turn_server_from_url(url, "u", "p") {
        Err(fulmar::Error::Turn(e)) => e,
        other => panic!("{url}: {other:?}"),
    };
    assert!(matches!(err("stun:127.0.0.1"), TurnConfigError::NotTurn(u) if u == "stun:127.0.0.1"));
    assert!(matches!(
        err("turns:127.0.0.1?transport=udp"),
        TurnConfigError::TurnsOverUdp(_)
    ));
    assert!(matches!(
        err("http://127.0.0.1"),
        TurnConfigError::Url { .. }
    ));
    assert!(matches!(err("turn:[::1"), TurnConfigError::Url { .. }));
}

/// A `turns:` server needs the application's trust configuration.
#[tokio::test]
async fn tls_without_trust_is_refused() {
    let server = fulmar::turn_server_from_url("turns:127.0.0.1:5349", "u", "p").unwrap();
    let r = PeerConnection::new(Config::default().with_turn_server(server)).await;
    assert!(
        matches!(r, Err(fulmar::Error::Turn(TurnConfigError::NoTlsRoots(a))) if a.port() == 5349),
        "{r:?}"
    );
}

/// A stream relay that cannot connect (nothing listens), or whose server
/// is not trusted, settles: gathering ends with the host candidate only.
#[tokio::test]
async fn failed_stream_relays_end_gathering() {
    let run = async {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);
        let (acceptor, _) = tls_pair();
        let (_, other_trust) = tls_pair();
        let turn = turn_server((63000, 63499), Some(acceptor)).await;
        let a = PeerConnection::new(
            Config::default()
                .with_turn_server(
                    TurnServer::new(closed_addr, "u", "p").with_transport(RelayProtocol::Tcp),
                )
                .with_turn_server(
                    TurnServer::new(turn.tcp, "u", "p")
                        .with_transport(RelayProtocol::Tls)
                        .with_server_name("localhost"),
                )
                .with_turn_tls(other_trust),
        )
        .await
        .unwrap();
        let _chat = a.create_data_channel("x").await.unwrap();
        let _offer = a.create_offer().await.unwrap();
        let host = a.next_local_candidate().await.unwrap();
        assert!(host.contains("typ host"), "{host}");
        assert_eq!(a.next_local_candidate().await, None);
        assert_eq!(turn.allocations(), 0);
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("finished in time");
}

/// With host and relay candidates, the peers still connect (host pair).
#[tokio::test]
async fn host_and_relay_candidates() {
    let run = async {
        let turn = turn_server((61500, 61999), None).await;
        let a = PeerConnection::new(
            Config::default().with_turn_server(
                fulmar::turn_server_from_url(&format!("turn:{}?transport=udp", turn.udp), "u", "p")
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
        let b = PeerConnection::new(Config::default()).await.unwrap();
        let (_chat, _remote) = connect_trickled(&a, &b).await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// Negotiates and trickles a's candidates (host and relay) to b.
async fn connect_trickled(
    a: &PeerConnection,
    b: &PeerConnection,
) -> (fulmar::DataChannel, fulmar::DataChannel) {
    let chat = a.create_data_channel("x").await.unwrap();
    let offer = a.create_offer().await.unwrap();
    b.set_remote_description(offer).await.unwrap();
    a.set_remote_description(b.create_answer().await.unwrap())
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while let Some(c) = a.next_local_candidate().await {
        kinds.push(
            c.split(" typ ")
                .nth(1)
                .unwrap_or("")
                .split(' ')
                .next()
                .unwrap_or("")
                .to_owned(),
        );
        b.add_ice_candidate(&c).await.unwrap();
    }
    b.add_ice_candidate("").await.unwrap();
    assert!(
        kinds.contains(&"host".to_owned()) && kinds.contains(&"relay".to_owned()),
        "{kinds:?}"
    );
    let remote = b.accept_data_channel().await.unwrap();
    chat.send_text("hi").await.unwrap();
    assert_eq!(remote.recv().await, Some(Message::Text("hi".into())));
    (chat, remote)
}
