//! Socket.IO: the same protocol as events, spoken here at the wire level
//! (Engine.IO v4 over WebSocket, Socket.IO v5 packets) the way
//! `socket.io-client` speaks it, in a room shared with a plain WebSocket
//! client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sio::{Packet, Sio};
use common::{open_server, Client};
use serde_json::json;

#[tokio::test]
async fn socketio_and_websocket_clients_share_a_room() {
    let s = open_server().await;
    let mut sio = Sio::connect(s.addr).await;
    match sio.packet().await {
        Packet::Event(e, v) => assert_eq!((e.as_str(), &v["v"]), ("hello", &json!(1))),
        p => panic!("{p:?}"),
    }
    // A request without an acknowledgement callback is answered by event.
    sio.emit("join", json!({"room": "mixed", "name": "browser"}))
        .await;
    let joined = match sio.packet().await {
        Packet::Event(e, v) if e == "joined" => v,
        p => panic!("{p:?}"),
    };
    let sio_id = joined["id"].as_str().unwrap().to_owned();

    let mut ws = Client::connect(s.addr).await;
    let jw = ws.join("mixed", "rust").await;
    assert_eq!(jw["peers"][0]["id"], sio_id);
    let ws_id = jw["id"].as_str().unwrap().to_owned();
    match sio.packet().await {
        Packet::Event(e, v) => {
            assert_eq!(e, "peer-joined");
            assert_eq!((&v["id"], &v["seq"]), (&json!(ws_id), &json!(1)));
        }
        p => panic!("{p:?}"),
    }

    // With a callback, the reply comes as the acknowledgement.
    sio.emit_with_ack(7, "offer", json!({"to": ws_id, "sdp": "v=0"}))
        .await;
    assert_eq!(sio.packet().await, Packet::Ack(7, json!({"type": "ok"})));
    let offer = ws.event().await;
    assert_eq!(
        (&offer["from"], &offer["sdp"]),
        (&json!(sio_id), &json!("v=0"))
    );
    ws.request(json!({"type": "answer", "to": sio_id, "sdp": "answer"}))
        .await;
    match sio.packet().await {
        Packet::Event(e, v) => assert_eq!((e.as_str(), &v["sdp"]), ("answer", &json!("answer"))),
        p => panic!("{p:?}"),
    }
    // Errors come back the same way, by acknowledgement.
    sio.emit_with_ack(8, "offer", json!({"to": "nobody", "sdp": "x"}))
        .await;
    match sio.packet().await {
        Packet::Ack(8, v) => assert_eq!(v["code"], "no-such-peer"),
        p => panic!("{p:?}"),
    }
    sio.emit_with_ack(9, "ping", json!({"t": 5})).await;
    match sio.packet().await {
        Packet::Ack(9, v) => assert_eq!((&v["type"], &v["t"]), (&json!("pong"), &json!(5))),
        p => panic!("{p:?}"),
    }
    // Leaving is answered by event, and the room sees it.
    sio.emit("leave", json!(null)).await;
    match sio.packet().await {
        Packet::Event(e, _) => assert_eq!(e, "ok"),
        p => panic!("{p:?}"),
    }
    let left = ws.event().await;
    assert_eq!(
        (&left["type"], &left["id"]),
        (&json!("peer-left"), &json!(sio_id))
    );
}
