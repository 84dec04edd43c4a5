//! One UDP socket serving many connections (the server pattern): a shared
//! [`fulmar::Endpoint`] routes by ICE ufrag, then by remote address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fulmar::{Config, Endpoint, Message, PeerConnection, PeerConnectionState};

mod common;
use common::connect;

/// 20 clients, each on its own socket, connect to 20 server connections
/// that all share one port; every channel echoes its own messages only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_share_one_port() {
    let run = async {
        let endpoint = Endpoint::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut pairs = Vec::new();
        for _ in 0..20 {
            let client = PeerConnection::new(Config::default()).await.unwrap();
            let server = PeerConnection::new_on(&endpoint, Config::default())
                .await
                .unwrap();
            assert_eq!(server.local_addrs(), [endpoint.local_addr()]);
            pairs.push((client, server));
        }
        // Negotiate all of them before any traffic, so routing must tell
        // the connections apart from the first datagram on.
        let mut channels = Vec::new();
        for (client, server) in &pairs {
            channels.push(connect(client, server, "c").await);
        }
        assert_eq!(endpoint.connection_count(), 20);
        for (i, (chat, remote)) in channels.iter().enumerate() {
            chat.send_text(&format!("to {i}")).await.unwrap();
            assert_eq!(remote.recv().await, Some(Message::Text(format!("to {i}"))));
            remote.send_text(&format!("from {i}")).await.unwrap();
            assert_eq!(chat.recv().await, Some(Message::Text(format!("from {i}"))));
        }
        for (_, server) in &pairs {
            let (local, _) = server.stats().selected_pair.unwrap();
            assert_eq!(local, endpoint.local_addr());
        }
        // Closing half the clients ends their server connections; the rest
        // keep working on the same socket.
        for (client, server) in pairs.iter().step_by(2) {
            client.close().await;
            server.closed().await;
            assert_eq!(server.state(), PeerConnectionState::Closed);
        }
        assert_eq!(endpoint.connection_count(), 10);
        for (chat, remote) in channels.iter().skip(1).step_by(2) {
            chat.send_text("still here").await.unwrap();
            assert_eq!(
                remote.recv().await,
                Some(Message::Text("still here".into()))
            );
        }
        assert_eq!(endpoint.unrouted_datagrams(), 0);
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("finished in time");
}

/// Datagrams from strangers (no known address, no known ufrag) are dropped
/// and counted; the endpoint's connections are unaffected.
#[tokio::test]
async fn strangers_are_dropped() {
    let run = async {
        let endpoint = Endpoint::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = PeerConnection::new(Config::default()).await.unwrap();
        let server = PeerConnection::new_on(&endpoint, Config::default())
            .await
            .unwrap();
        let (chat, remote) = connect(&client, &server, "c").await;
        let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // A DTLS-looking record, a STUN request with an unknown ufrag
        // (truncated after the header) and garbage.
        for d in [
            &[23u8, 254, 253, 0, 0][..],
            &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42],
            &[0xff; 40],
        ] {
            stranger.send_to(d, endpoint.local_addr()).await.unwrap();
        }
        while endpoint.unrouted_datagrams() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        chat.send_text("fine").await.unwrap();
        assert_eq!(remote.recv().await, Some(Message::Text("fine".into())));
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// TURN allocations belong to one socket's 5-tuple (RFC 8656 §2): on a
/// shared endpoint, one connection at a time may relay through a given
/// UDP TURN server; another is refused until the first has ended.
#[tokio::test]
async fn shared_endpoint_gives_each_turn_server_to_one_connection() {
    let endpoint = Endpoint::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = "127.0.0.1:3478".parse().unwrap();
    let config = Config::default().with_turn_server(fulmar::TurnServer::new(server, "u", "p"));
    let a = PeerConnection::new_on(&endpoint, config.clone())
        .await
        .unwrap();
    assert!(matches!(
        PeerConnection::new_on(&endpoint, config.clone()).await,
        Err(fulmar::Error::Endpoint(
            fulmar::EndpointError::RelayServerTaken(s)
        )) if s == server
    ));
    assert_eq!(endpoint.connection_count(), 1);
    a.close().await;
    a.closed().await;
    assert_eq!(endpoint.connection_count(), 0);
    let b = PeerConnection::new_on(&endpoint, config).await.unwrap();
    assert_eq!(endpoint.connection_count(), 1);
    b.close().await;
}
