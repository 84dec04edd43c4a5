//! Resume: a client that lost its connection takes its session back within
//! the grace period and gets what it missed, in order and exactly once,
//! while the room sees nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{open_server, server, Client};
use fulmar_signal::auth::Auth;
use fulmar_signal::limits::Limits;
use serde_json::{json, Value};

async fn resume(addr: std::net::SocketAddr, joined: &Value, last_seq: u64) -> (Client, Value) {
    let mut c = Client::connect(addr).await;
    let r = c
        .request(json!({"type": "resume", "session": joined["id"], "token": joined["resumeToken"], "lastSeq": last_seq}))
        .await;
    (c, r)
}

#[tokio::test]
async fn a_dropped_client_resumes_and_gets_what_it_missed_exactly_once() {
    let s = open_server().await;
    let mut a = Client::connect(s.addr).await;
    let mut b = Client::connect(s.addr).await;
    let ja = a.join("r", "a").await;
    let jb = b.join("r", "b").await;
    assert_eq!(a.event().await["seq"], 1);
    a.drop_connection().await;

    // Sent while A is away: held for it.
    let a_id = ja["id"].clone();
    b.request(json!({"type": "offer", "to": a_id, "sdp": "o1"}))
        .await;
    for i in 0..3 {
        b.request(json!({"type": "broadcast", "data": i})).await;
    }
    // A wrong token gets nothing.
    let mut thief = Client::connect(s.addr).await;
    let r = thief
        .request(json!({"type": "resume", "session": a_id, "token": "00", "lastSeq": 1}))
        .await;
    assert_eq!(r["code"], "resume-failed");

    let (mut a, r) = resume(s.addr, &ja, 1).await;
    assert_eq!(r["type"], "resumed", "{r}");
    assert_eq!(r["id"], a_id);
    assert_eq!(r["peers"][0]["id"], jb["id"]);
    let mut got = Vec::new();
    for _ in 0..4 {
        let e = a.event().await;
        got.push((
            e["seq"].as_u64().unwrap(),
            e["type"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        got,
        [
            (2, "offer".into()),
            (3, "broadcast".into()),
            (4, "broadcast".into()),
            (5, "broadcast".into())
        ]
    );
    // Exactly once: nothing else is pending, and new events continue the
    // numbering.
    assert_eq!(a.request(json!({"type": "ping"})).await["type"], "pong");
    assert_eq!(a.unread_events(), 0);
    b.request(json!({"type": "broadcast", "data": "after"}))
        .await;
    assert_eq!(a.event().await["seq"], 6);
    // The room saw no leave or join.
    assert_eq!(b.request(json!({"type": "ping"})).await["type"], "pong");
    assert_eq!(b.unread_events(), 0);

    // Acknowledged events are not replayed by a later resume.
    a.request(json!({"type": "ack", "seq": 6})).await;
    a.drop_connection().await;
    let (mut a, r) = resume(s.addr, &ja, 6).await;
    assert_eq!(r["type"], "resumed");
    assert_eq!(a.request(json!({"type": "ping"})).await["type"], "pong");
    assert_eq!(a.unread_events(), 0);
    // A resume that names events already forgotten fails.
    a.drop_connection().await;
    let (_, r) = resume(s.addr, &ja, 3).await;
    assert_eq!(r["code"], "resume-failed");
}

#[tokio::test]
async fn a_session_not_resumed_within_the_grace_leaves_the_room() {
    let limits = Limits {
        resume_grace: Duration::from_millis(200),
        ..Limits::default()
    };
    let s = server(limits, Auth::Open).await;
    let mut a = Client::connect(s.addr).await;
    let mut b = Client::connect(s.addr).await;
    let ja = a.join("r", "a").await;
    b.join("r", "b").await;
    a.drop_connection().await;
    let left = b.event().await;
    assert_eq!(
        (left["type"].as_str(), &left["id"]),
        (Some("peer-left"), &ja["id"])
    );
    let (_, r) = resume(s.addr, &ja, 1).await;
    assert_eq!(r["code"], "resume-failed");
    assert_eq!(s.signal.hub().session_count(), 1);
}

#[tokio::test]
async fn a_detached_session_whose_backlog_overflows_ends() {
    let limits = Limits {
        outbox_frames: 2,
        ..Limits::default()
    };
    let s = server(limits, Auth::Open).await;
    let mut a = Client::connect(s.addr).await;
    let mut b = Client::connect(s.addr).await;
    let ja = a.join("r", "a").await;
    b.join("r", "b").await;
    a.drop_connection().await;
    // Wait until the server saw A go, then overflow A's backlog.
    let gone = async {
        while s.signal.hub().connection_count() > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(common::WAIT, gone)
        .await
        .expect("the server notices the drop");
    for i in 0..3 {
        b.request(json!({"type": "broadcast", "data": i})).await;
    }
    let left = b.event().await;
    assert_eq!(
        (left["type"].as_str(), &left["id"]),
        (Some("peer-left"), &ja["id"])
    );
    let (_, r) = resume(s.addr, &ja, 1).await;
    assert_eq!(r["code"], "resume-failed");
}
