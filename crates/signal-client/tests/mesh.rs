//! The client against a real fulmar-signal server on loopback: two Rust
//! peers find each other through the room, negotiate a Fulmar connection
//! over it and chat on a data channel; a client whose WebSocket drops
//! resumes and misses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fulmar::{Message, PeerConnection};
use fulmar_signal::auth::Auth;
use fulmar_signal::limits::Limits;
use fulmar_signal::Signal;
use fulmar_signal_client::{run_mesh, Client, Event, JoinOptions, MeshHandler};
use serde_json::json;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let signal = Signal::new(Limits::default(), Auth::Open);
    tokio::spawn(signal.serve(listener));
    addr
}

async fn join(addr: SocketAddr, name: &str) -> Client {
    let options = JoinOptions {
        room: "mesh".into(),
        name: name.into(),
        ..Default::default()
    };
    Client::join(&format!("ws://{addr}/ws"), options)
        .await
        .unwrap()
}

/// Opens a "chat" channel to every peer it offers to, and reports every
/// message received on any channel.
struct Chat {
    received: mpsc::Sender<String>,
}

impl Chat {
    fn watch(&self, pc: &PeerConnection) {
        let (pc, received) = (pc.clone(), self.received.clone());
        tokio::spawn(async move {
            while let Some(dc) = pc.accept_data_channel().await {
                let received = received.clone();
                tokio::spawn(async move {
                    while let Some(Message::Text(t)) = dc.recv().await {
                        let _ = dc.send_text(&format!("echo {t}")).await;
                        let _ = received.send(t).await;
                    }
                });
            }
        });
    }
}

impl MeshHandler for Chat {
    async fn peer_added(&self, _peer: &str, pc: &PeerConnection) {
        self.watch(pc);
    }
}

struct Offerer(mpsc::Sender<fulmar::DataChannel>);

impl MeshHandler for Offerer {
    async fn peer_added(&self, _peer: &str, pc: &PeerConnection) {
        let dc = pc.create_data_channel("chat").await.unwrap();
        let _ = self.0.send(dc).await;
    }
}

#[tokio::test]
async fn two_rust_peers_meet_in_a_room_and_chat() {
    let addr = server().await;
    let (received_tx, mut received) = mpsc::channel(16);
    let a = Arc::new(join(addr, "a").await);
    let chat = Arc::new(Chat {
        received: received_tx,
    });
    tokio::spawn(run_mesh(a.clone(), fulmar::Config::default(), chat));

    // B arrives, offers to A with a data channel.
    let b = Arc::new(join(addr, "b").await);
    assert_eq!(b.initial_peers().len(), 1);
    let (dc_tx, mut dcs) = mpsc::channel(4);
    tokio::spawn(run_mesh(
        b.clone(),
        fulmar::Config::default(),
        Arc::new(Offerer(dc_tx)),
    ));
    let dc = tokio::time::timeout(WAIT, dcs.recv())
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(WAIT, dc.opened())
        .await
        .unwrap()
        .unwrap();
    dc.send_text("hello over the mesh").await.unwrap();
    let got = tokio::time::timeout(WAIT, received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "hello over the mesh");
    let echo = tokio::time::timeout(WAIT, dc.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echo, Message::Text("echo hello over the mesh".into()));
}

#[tokio::test]
async fn a_client_resumes_after_its_websocket_drops_and_misses_nothing() {
    let addr = server().await;
    let a = join(addr, "a").await;
    let b = join(addr, "b").await;
    match tokio::time::timeout(WAIT, a.next_event()).await.unwrap() {
        Some(Event::PeerJoined(p)) => assert_eq!(p.id, b.id()),
        other => panic!("{other:?}"),
    }
    a.reconnect().await;
    for i in 0..5 {
        b.broadcast(json!(i)).await.unwrap();
    }
    for i in 0..5 {
        match tokio::time::timeout(WAIT, a.next_event()).await.unwrap() {
            Some(Event::Broadcast { from, data }) => {
                assert_eq!((from.as_str(), data), (b.id(), json!(i)));
            }
            other => panic!("{other:?}"),
        }
    }
    // After the resume, requests work on the new connection.
    a.ping().await.unwrap();
    b.broadcast(json!("after")).await.unwrap();
    match tokio::time::timeout(WAIT, a.next_event()).await.unwrap() {
        Some(Event::Broadcast { data, .. }) => assert_eq!(data, json!("after")),
        other => panic!("{other:?}"),
    }
    // B never saw A leave.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.next_event())
            .await
            .is_err()
    );
}
