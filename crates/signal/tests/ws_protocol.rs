//! Every event and error of the protocol over the plain WebSocket endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{open_server, server, Client};
use fulmar_signal::auth::Auth;
use fulmar_signal::limits::Limits;
use serde_json::json;

#[tokio::test]
async fn join_presence_relay_broadcast_update_leave() {
    let s = open_server().await;
    let mut a = Client::connect(s.addr).await;
    let mut b = Client::connect(s.addr).await;
    let ja = a.join("room1", "alice").await;
    assert_eq!(ja["peers"], json!([]));
    assert_eq!(ja["room"], "room1");
    let a_id = ja["id"].as_str().unwrap().to_owned();
    assert_eq!(a_id.len(), 32);
    assert_eq!(ja["resumeToken"].as_str().unwrap().len(), 64);

    let jb = b.join("room1", "bob").await;
    let b_id = jb["id"].as_str().unwrap().to_owned();
    assert_eq!(
        jb["peers"],
        json!([{"id": a_id, "name": "alice", "meta": {"n": "alice"}}])
    );
    let e = a.event().await;
    assert_eq!(
        e,
        json!({"type": "peer-joined", "seq": 1, "id": b_id, "name": "bob", "meta": {"n": "bob"}})
    );

    // Offer, answer and candidates go to one peer, verbatim.
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";
    let ok = a
        .request(json!({"type": "offer", "to": b_id, "sdp": sdp}))
        .await;
    assert_eq!(ok["type"], "ok");
    assert_eq!(
        b.event().await,
        json!({"type": "offer", "seq": 1, "from": a_id, "sdp": sdp})
    );
    b.request(json!({"type": "answer", "to": a_id, "sdp": "answer"}))
        .await;
    assert_eq!(
        a.event().await,
        json!({"type": "answer", "seq": 2, "from": b_id, "sdp": "answer"})
    );
    let cand = json!({"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0});
    a.request(json!({"type": "candidate", "to": b_id, "candidate": cand}))
        .await;
    assert_eq!(b.event().await["candidate"], cand);
    // No candidate (or null) is end-of-candidates.
    a.request(json!({"type": "candidate", "to": b_id})).await;
    let end = b.event().await;
    assert_eq!(
        (end["type"].as_str(), end["candidate"].is_null()),
        (Some("candidate"), true)
    );

    // Broadcast reaches the others, not the sender.
    let mut c = Client::connect(s.addr).await;
    let jc = c.join("room1", "carol").await;
    let c_id = jc["id"].as_str().unwrap().to_owned();
    assert_eq!(jc["peers"].as_array().unwrap().len(), 2);
    assert_eq!(a.event().await["type"], "peer-joined");
    assert_eq!(b.event().await["type"], "peer-joined");
    c.request(json!({"type": "broadcast", "data": {"chat": "hi"}}))
        .await;
    for x in [&mut a, &mut b] {
        let e = x.event().await;
        assert_eq!(
            (e["type"].as_str(), &e["from"], &e["data"]),
            (Some("broadcast"), &json!(c_id), &json!({"chat": "hi"}))
        );
    }

    // Update and leave are presence.
    b.request(json!({"type": "update", "meta": {"muted": true}}))
        .await;
    for x in [&mut a, &mut c] {
        let e = x.event().await;
        assert_eq!(
            (e["type"].as_str(), &e["id"], &e["meta"]),
            (Some("peer-updated"), &json!(b_id), &json!({"muted": true}))
        );
    }
    assert_eq!(b.request(json!({"type": "leave"})).await["type"], "ok");
    for x in [&mut a, &mut c] {
        let e = x.event().await;
        assert_eq!(
            (e["type"].as_str(), &e["id"]),
            (Some("peer-left"), &json!(b_id))
        );
    }
    // After leaving, relaying needs a new join.
    let e = b.request(json!({"type": "broadcast", "data": 1})).await;
    assert_eq!(e["code"], "not-joined");
}

#[tokio::test]
async fn ping_pong_echoes_the_clients_time() {
    let s = open_server().await;
    let mut a = Client::connect(s.addr).await;
    let p = a.request(json!({"type": "ping", "t": 1234.5})).await;
    assert_eq!(p["type"], "pong");
    assert_eq!(p["t"], 1234.5);
    assert!(p["serverTime"].as_u64().unwrap() > 1_600_000_000_000);
}

#[tokio::test]
async fn every_error_has_its_code() {
    let limits = Limits {
        max_room_peers: 1,
        max_meta_bytes: 16,
        ..Limits::default()
    };
    let s = server(limits, Auth::Open).await;
    let mut a = Client::connect(s.addr).await;
    a.send_text("{not json").await;
    assert_eq!(a.read().await.unwrap()["code"], "bad-message");
    a.send_text("[1,2]").await;
    assert_eq!(a.read().await.unwrap()["code"], "bad-message");
    assert_eq!(
        a.request(json!({"type": "dance"})).await["code"],
        "unknown-type"
    );
    assert_eq!(
        a.request(json!({"type": "join", "room": "r", "v": 2}))
            .await["code"],
        "unsupported-version"
    );
    assert_eq!(
        a.request(json!({"type": "join"})).await["code"],
        "bad-message"
    );
    assert_eq!(
        a.request(json!({"type": "join", "room": 7})).await["code"],
        "bad-message"
    );
    assert_eq!(
        a.request(json!({"type": "offer", "to": "x", "sdp": "y"}))
            .await["code"],
        "not-joined"
    );
    assert_eq!(
        a.request(json!({"type": "join", "room": "r", "meta": {"big": "0123456789abcdef"}}))
            .await["code"],
        "too-large"
    );
    assert_eq!(
        a.request(json!({"type": "join", "room": ""})).await["code"],
        "bad-message"
    );
    a.join("r", "a").await;
    assert_eq!(
        a.request(json!({"type": "join", "room": "r"})).await["code"],
        "already-joined"
    );
    assert_eq!(
        a.request(json!({"type": "offer", "to": "nobody", "sdp": "y"}))
            .await["code"],
        "no-such-peer"
    );
    // Kicking needs an admin grant, which open mode does not give.
    assert_eq!(
        a.request(json!({"type": "kick", "to": "nobody"})).await["code"],
        "forbidden"
    );
    let mut b = Client::connect(s.addr).await;
    assert_eq!(
        b.request(json!({"type": "join", "room": "r"})).await["code"],
        "room-full"
    );
    assert_eq!(
        b.request(json!({"type": "resume", "session": "x", "token": "y", "lastSeq": 0}))
            .await["code"],
        "resume-failed"
    );
    // Every error message says something.
    let e = b.request(json!({"type": "ack"})).await;
    assert!(!e["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn repeated_abuse_closes_the_connection_and_the_server_stays_up() {
    let limits = Limits {
        max_strikes: 3,
        ..Limits::default()
    };
    let s = server(limits, Auth::Open).await;
    let mut a = Client::connect(s.addr).await;
    for _ in 0..3 {
        a.send_text("garbage").await;
    }
    let mut errors = 0;
    while let Some(m) = a.read().await {
        assert_eq!(m["type"], "error");
        errors += 1;
    }
    assert_eq!(errors, 3);
    // A message over the size cap closes the connection too.
    let mut b = Client::connect(s.addr).await;
    let huge = format!("{{\"type\":\"ping\",\"t\":\"{}\"}}", "x".repeat(128 * 1024));
    b.send_text(&huge).await;
    assert!(b.read().await.is_none());
    // The server still serves.
    let mut c = Client::connect(s.addr).await;
    assert_eq!(c.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn the_rate_limit_refuses_bursts_beyond_the_bucket() {
    let limits = Limits {
        messages_per_second: 0.001,
        message_burst: 5.0,
        max_strikes: 100,
        ..Limits::default()
    };
    let s = server(limits, Auth::Open).await;
    let mut a = Client::connect(s.addr).await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        let r = a.request(json!({"type": "ping"})).await;
        codes.push(r["type"].as_str().unwrap().to_owned() + ":" + r["code"].as_str().unwrap_or(""));
    }
    assert_eq!(codes.iter().filter(|c| *c == "pong:").count(), 5);
    assert_eq!(
        codes.iter().filter(|c| *c == "error:rate-limited").count(),
        3
    );
}
