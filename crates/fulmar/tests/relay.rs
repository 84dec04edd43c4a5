//! Relay candidates (issue #9): a Fulmar peer allocates on a TURN server
//! (fulmar-turn's sans-IO server core behind a small UDP shell, on
//! 127.0.0.1, loopback peers allowed) and data flows through the relay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar::{Config, Message, PeerConnection, TurnServer};
use fulmar_turn::{FiveTuple, PeerPolicy, Server, ServerConfig, ServerEvent, TransportProtocol};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::UdpSocket;

/// A TURN server on 127.0.0.1 with user `u`/`p`, relaying from `ports`
/// (outside Linux's ephemeral range, and one range per test, so binding
/// the relayed port works); returns its address and a
/// counter of datagrams it relayed from peers to clients.
async fn turn_server(ports: (u16, u16)) -> (SocketAddr, Arc<Mutex<u64>>) {
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = sock.local_addr().unwrap();
    let mut config =
        ServerConfig::new("fulmar.test", "127.0.0.1".parse().unwrap()).with_user("u", "p");
    config.peer_policy = PeerPolicy::allow_all();
    config.relay_ports = ports;
    let server = Arc::new(Mutex::new(Server::new(
        config,
        Instant::now(),
        StdRng::seed_from_u64(7),
    )));
    let relays: Relays = Arc::default();
    let relayed_count = Arc::new(Mutex::new(0u64));
    let (srv, socks, count) = (server.clone(), relays.clone(), relayed_count.clone());
    let client_sock = sock.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            let (n, from) = tokio::select! {
                r = client_sock.recv_from(&mut buf) => match r { Ok(v) => v, Err(_) => continue },
                _ = tick.tick() => {
                    srv.lock().unwrap().handle_timeout(Instant::now());
                    flush(&srv, &client_sock, &socks, &count).await;
                    continue;
                }
            };
            let ft = FiveTuple {
                client: from,
                server: addr,
                protocol: TransportProtocol::Udp,
            };
            let out = {
                let mut s = srv.lock().unwrap();
                s.handle_client(Instant::now(), ft, &buf[..n])
                    .map(|r| (r.relayed, r.peer, r.data.to_vec()))
            };
            if let Some((relayed, peer, data)) = out {
                let relay = socks.lock().unwrap().get(&relayed).cloned();
                if let Some(relay) = relay {
                    let _ = relay.send_to(&data, peer).await;
                }
            }
            flush(&srv, &client_sock, &socks, &count).await;
        }
    });
    (addr, relayed_count)
}

/// Relayed sockets by relayed address.
type Relays = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

/// Sends the server's responses; opens relayed sockets for new allocations.
async fn flush(
    server: &Arc<Mutex<Server>>,
    sock: &Arc<UdpSocket>,
    relays: &Relays,
    count: &Arc<Mutex<u64>>,
) {
    let (transmits, events) = {
        let mut s = server.lock().unwrap();
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
        let _ = sock.send_to(&t.payload, t.five_tuple.client).await;
    }
    for e in events {
        if let ServerEvent::AllocationCreated { relayed, .. } = e {
            let relayed = relayed.first().unwrap();
            let relay = Arc::new(UdpSocket::bind(relayed).await.unwrap());
            relays.lock().unwrap().insert(relayed, relay.clone());
            let (server, sock, count) = (server.clone(), sock.clone(), count.clone());
            // Peer -> client: Data indications or ChannelData.
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut out = vec![0u8; 65536 + 64];
                while let Ok((n, peer)) = relay.recv_from(&mut buf).await {
                    let r = server.lock().unwrap().handle_peer(
                        Instant::now(),
                        relayed,
                        peer,
                        &buf[..n],
                        &mut out,
                    );
                    if let Some((ft, len)) = r {
                        *count.lock().unwrap() += 1;
                        let _ = sock.send_to(&out[..len], ft.client).await;
                    }
                }
            });
        }
    }
}

/// The offerer may use only its relay candidate: ICE connects through the
/// TURN server and 1 MB of data crosses it both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_flows_through_the_relay() {
    let run = async {
        let (turn, relayed) = turn_server((61000, 61499)).await;
        let a = PeerConnection::new(
            Config::default()
                .with_turn_server(TurnServer::new(turn, "u", "p"))
                .with_relay_only(),
        )
        .await
        .unwrap();
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
        assert!(cands[0].contains("typ relay"), "{cands:?}");
        let remote = b.accept_data_channel().await.unwrap();
        let (local, _) = a.stats().selected_pair.unwrap();
        assert_eq!(
            local.port() / 1000,
            61,
            "a's side of the pair is relayed: {local}"
        );
        let big = Bytes::from(vec![9u8; 100_000]);
        for _ in 0..10 {
            chat.send(big.clone()).await.unwrap();
        }
        for _ in 0..10 {
            assert_eq!(remote.recv().await, Some(Message::Binary(big.clone())));
        }
        remote.send_text("back").await.unwrap();
        assert_eq!(chat.recv().await, Some(Message::Text("back".into())));
        assert!(
            *relayed.lock().unwrap() > 10,
            "the relay carried b's packets"
        );
        a.close().await;
        a.closed().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// With host and relay candidates, the peers still connect (host pair).
#[tokio::test]
async fn host_and_relay_candidates() {
    let run = async {
        let (turn, _) = turn_server((61500, 61999)).await;
        let a = PeerConnection::new(Config::default().with_turn_server(
            TurnServer::from_url(&format!("turn:{turn}?transport=udp"), "u", "p").unwrap(),
        ))
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
