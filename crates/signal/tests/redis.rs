//! Several nodes sharing rooms through a real Redis: presence, relay,
//! broadcast and the room cap across nodes; resume on another node after a
//! lost connection or a dead node, exactly once and in order; a dead node's
//! peers leave within the TTL.
//!
//! These need a `redis-server`, which a plain `cargo test` machine lacks:
//! they are ignored, and `interop/signal-redis/run.sh` starts one and runs
//! them with `--ignored`, the URL in `FULMAR_REDIS_URL`. Each test uses
//! its own key prefix, so they share one server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sio::{Packet, Sio};
use common::Client;
use fulmar_signal::auth::{Auth, Key};
use fulmar_signal::cluster::RedisConfig;
use fulmar_signal::limits::Limits;
use fulmar_signal::Signal;
use serde_json::{json, Value};

/// How fast a dead node is noticed in these tests.
const NODE_TTL: Duration = Duration::from_millis(900);
/// How long a session may be resumed in these tests.
const GRACE: Duration = Duration::from_secs(2);

fn redis_url() -> String {
    std::env::var("FULMAR_REDIS_URL").expect("FULMAR_REDIS_URL (run interop/signal-redis/run.sh)")
}

/// A key prefix of its own for each test.
fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t-{test}-{}-{nanos}", std::process::id())
}

fn limits() -> Limits {
    Limits {
        resume_grace: GRACE,
        ..Limits::default()
    }
}

/// A node in this process.
struct Node {
    addr: SocketAddr,
    signal: Arc<Signal>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A node's `sessions` and `rooms` gauges.
fn gauges(n: &Node) -> (i64, i64) {
    let m = n.signal.metrics();
    (m.sessions.get(), m.rooms.get())
}

async fn node(prefix: &str, limits: Limits) -> Node {
    node_with(prefix, limits, Auth::Open).await
}

async fn node_with(prefix: &str, limits: Limits, auth: Auth) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = RedisConfig {
        url: redis_url(),
        node_ttl: NODE_TTL,
        prefix: prefix.to_owned(),
    };
    let signal = Signal::with_redis(limits, auth, config)
        .await
        .expect("redis reachable");
    assert!(signal.node_id().is_some());
    let task = tokio::spawn({
        let s = signal.clone();
        async move {
            let _ = s.serve(listener).await;
        }
    });
    Node { addr, signal, task }
}

/// A node in its own process (the `fulmar-signal` binary), to be killed.
struct Process {
    addr: SocketAddr,
    child: Child,
}

impl Process {
    fn start(prefix: &str) -> Process {
        let config = std::env::temp_dir().join(format!("{prefix}.toml"));
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\n[auth]\nmode = \"open\"\n[limits]\nresume_grace = {}\n\
                 [redis]\nurl = \"{}\"\nnode_ttl = {}\nprefix = \"{prefix}\"\n",
                GRACE.as_secs_f64(),
                redis_url(),
                NODE_TTL.as_secs_f64(),
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulmar-signal"))
            .arg("--config")
            .arg(&config)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The log goes to stdout.
        let log = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log until the process ends, so it never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(log).lines() {
                let Ok(line) = line else { return };
                if let Some(rest) = line.split("fulmar-signal on ").nth(1) {
                    if let Some(addr) = rest.split(": ").next() {
                        let _ = tx.send(addr.to_owned());
                    }
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            // Never leave the child running past a failed start.
            let _ = child.kill();
            let _ = child.wait();
            panic!("the node did not start");
        };
        Process { addr, child }
    }

    /// SIGKILL: no goodbye to Redis, its keys just stop being refreshed.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn resume(addr: SocketAddr, joined: &Value, last_seq: u64) -> (Client, Value) {
    let mut c = Client::connect(addr).await;
    let r = c
        .request(json!({"type": "resume", "session": joined["id"], "token": joined["resumeToken"], "lastSeq": last_seq}))
        .await;
    (c, r)
}

/// The next `n` events as (seq, type).
async fn events(c: &mut Client, n: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    for _ in 0..n {
        let e = c.event().await;
        got.push((
            e["seq"].as_u64().unwrap_or(0),
            e["type"].as_str().unwrap_or("").to_owned(),
        ));
    }
    got
}

/// Nothing pushed is waiting: a ping's pong comes back with no event
/// before it.
async fn no_events(c: &mut Client) {
    let r = c.request(json!({"type": "ping"})).await;
    assert_eq!(r["type"], "pong");
    assert_eq!(c.unread_events(), 0, "unexpected events");
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn two_nodes_share_presence_relay_and_broadcast() {
    let p = prefix("share");
    let (na, nb) = (node(&p, limits()).await, node(&p, limits()).await);
    assert_ne!(na.signal.node_id(), nb.signal.node_id());
    let mut a = Client::connect(na.addr).await;
    let mut b = Client::connect(nb.addr).await;
    let ja = a.join("room", "alice").await;
    let jb = b.join("room", "bob").await;
    // B sees A (joined on the other node) with its metadata, and A sees B.
    assert_eq!(jb["peers"][0]["id"], ja["id"]);
    assert_eq!(jb["peers"][0]["name"], "alice");
    assert_eq!(jb["peers"][0]["meta"], json!({"n": "alice"}));
    let e = a.event().await;
    assert_eq!(e["type"], "peer-joined");
    assert_eq!(e["seq"], 1);
    assert_eq!(e["id"], jb["id"]);
    assert_eq!(e["meta"], json!({"n": "bob"}));

    // Offer, answer, candidates and end-of-candidates cross the nodes.
    let r = b
        .request(json!({"type": "offer", "to": ja["id"], "sdp": {"type": "offer", "sdp": "v=0"}}))
        .await;
    assert_eq!(r["type"], "ok", "{r}");
    let e = a.event().await;
    assert_eq!(
        (e["type"].as_str(), e["seq"].as_u64()),
        (Some("offer"), Some(2))
    );
    assert_eq!(e["from"], jb["id"]);
    assert_eq!(e["sdp"]["sdp"], "v=0");
    a.request(json!({"type": "answer", "to": jb["id"], "sdp": "ans"}))
        .await;
    a.request(json!({"type": "candidate", "to": jb["id"], "candidate": {"candidate": "c1"}}))
        .await;
    a.request(json!({"type": "candidate", "to": jb["id"], "candidate": null}))
        .await;
    let e = b.event().await;
    assert_eq!(
        (e["type"].as_str(), e["sdp"].as_str()),
        (Some("answer"), Some("ans"))
    );
    let e = b.event().await;
    assert_eq!(e["candidate"]["candidate"], "c1");
    let e = b.event().await;
    assert_eq!(e["type"], "candidate");
    assert_eq!(e["candidate"], Value::Null);
    assert_eq!(e["seq"], 3);

    // A third peer on node A: broadcast reaches both others, once each.
    let mut c = Client::connect(na.addr).await;
    let jc = c.join("room", "carol").await;
    assert_eq!(jc["peers"].as_array().unwrap().len(), 2);
    assert_eq!(a.event().await["type"], "peer-joined");
    assert_eq!(b.event().await["type"], "peer-joined");
    // Each node's gauges count its own sessions and the rooms they are in.
    assert_eq!(gauges(&na), (2, 1));
    assert_eq!(gauges(&nb), (1, 1));
    c.request(json!({"type": "broadcast", "data": {"chat": "hi"}}))
        .await;
    for x in [&mut a, &mut b] {
        let e = x.event().await;
        assert_eq!(e["type"], "broadcast");
        assert_eq!(e["from"], jc["id"]);
        assert_eq!(e["data"]["chat"], "hi");
    }
    no_events(&mut c).await;

    // Metadata updates and leaves are presence across nodes too.
    b.request(json!({"type": "update", "meta": {"muted": true}}))
        .await;
    for x in [&mut a, &mut c] {
        let e = x.event().await;
        assert_eq!(e["type"], "peer-updated");
        assert_eq!(e["meta"]["muted"], true);
        assert_eq!(e["name"], "bob");
    }
    b.request(json!({"type": "leave"})).await;
    for x in [&mut a, &mut c] {
        let e = x.event().await;
        assert_eq!(e["type"], "peer-left");
        assert_eq!(e["id"], jb["id"]);
    }
    assert_eq!(gauges(&nb), (0, 0));
    // B is gone: relaying to it fails, on either node.
    let r = a
        .request(json!({"type": "offer", "to": jb["id"], "sdp": "x"}))
        .await;
    assert_eq!(r["code"], "no-such-peer");
    let r = a
        .request(json!({"type": "offer", "to": "nobody", "sdp": "x"}))
        .await;
    assert_eq!(r["code"], "no-such-peer");
    // A joined peer cannot join twice.
    let r = a.request(json!({"type": "join", "room": "other"})).await;
    assert_eq!(r["code"], "already-joined");
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn the_room_cap_holds_across_nodes() {
    let p = prefix("cap");
    let capped = Limits {
        max_room_peers: 2,
        ..limits()
    };
    let (na, nb) = (node(&p, capped.clone()).await, node(&p, capped).await);
    let mut a = Client::connect(na.addr).await;
    let mut b = Client::connect(nb.addr).await;
    a.join("small", "a").await;
    b.join("small", "b").await;
    for addr in [na.addr, nb.addr] {
        let mut c = Client::connect(addr).await;
        let r = c.request(json!({"type": "join", "room": "small"})).await;
        assert_eq!(r["code"], "room-full", "{r}");
        // Another room still has space.
        let r = c.request(json!({"type": "join", "room": "big"})).await;
        assert_eq!(r["type"], "joined", "{r}");
    }
    // A leave frees a place for the other node's joiner.
    a.request(json!({"type": "leave"})).await;
    let mut d = Client::connect(nb.addr).await;
    let r = d.request(json!({"type": "join", "room": "small"})).await;
    assert_eq!(r["type"], "joined", "{r}");
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn a_client_resumes_on_the_other_node_exactly_once() {
    let p = prefix("move");
    let (na, nb) = (node(&p, limits()).await, node(&p, limits()).await);
    let mut a = Client::connect(na.addr).await;
    let mut b = Client::connect(nb.addr).await;
    let ja = a.join("r", "a").await;
    let jb = b.join("r", "b").await;
    assert_eq!(a.event().await["seq"], 1);
    a.drop_connection().await;

    // Sent while A is away.
    b.request(json!({"type": "offer", "to": ja["id"], "sdp": "o1"}))
        .await;
    for i in 0..3 {
        b.request(json!({"type": "broadcast", "data": i})).await;
    }
    let mut thief = Client::connect(nb.addr).await;
    let r = thief
        .request(json!({"type": "resume", "session": ja["id"], "token": "00", "lastSeq": 1}))
        .await;
    assert_eq!(r["code"], "resume-failed");

    // A comes back on node B: same id, same room, the backlog in order.
    let (mut a, r) = resume(nb.addr, &ja, 1).await;
    assert_eq!(r["type"], "resumed", "{r}");
    assert_eq!(r["id"], ja["id"]);
    assert_eq!(r["room"], "r");
    assert_eq!(r["peers"][0]["id"], jb["id"]);
    assert_eq!(r["seq"], 5);
    assert_eq!(
        events(&mut a, 4).await,
        [
            (2, "offer".to_owned()),
            (3, "broadcast".to_owned()),
            (4, "broadcast".to_owned()),
            (5, "broadcast".to_owned())
        ]
    );
    no_events(&mut a).await;
    // B saw no leave and no join; A is live on its new node.
    no_events(&mut b).await;
    b.request(json!({"type": "broadcast", "data": "live"}))
        .await;
    let e = a.event().await;
    assert_eq!(
        (e["seq"].as_u64(), e["data"].as_str()),
        (Some(6), Some("live"))
    );
    a.request(json!({"type": "ack", "seq": 6})).await;

    // Taken back to node A while the connection on B is still open: B's
    // connection is closed, A's gets what follows, once.
    let (mut a2, r) = resume(na.addr, &ja, 6).await;
    assert_eq!(r["type"], "resumed", "{r}");
    assert_eq!(a.read().await, None, "the replaced connection is closed");
    b.request(json!({"type": "offer", "to": ja["id"], "sdp": "o2"}))
        .await;
    let e = a2.event().await;
    assert_eq!(
        (e["seq"].as_u64(), e["sdp"].as_str()),
        (Some(7), Some("o2"))
    );
    no_events(&mut a2).await;
    // Resuming from a seq the session never reached fails.
    let (_, r) = resume(nb.addr, &ja, 99).await;
    assert_eq!(r["code"], "resume-failed");
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn a_dead_nodes_peers_leave_within_the_ttl() {
    let p = prefix("death");
    let mut dying = Process::start(&p);
    let nb = node(&p, limits()).await;
    let mut c = Client::connect(dying.addr).await;
    let mut d = Client::connect(dying.addr).await;
    let mut b = Client::connect(nb.addr).await;
    let jc = c.join("r", "c").await;
    let jd = d.join("r", "d").await;
    b.join("r", "b").await;
    assert_eq!(c.event().await["type"], "peer-joined");
    dying.kill();
    let killed = Instant::now();
    let mut left = Vec::new();
    for _ in 0..2 {
        let e = b.event().await;
        assert_eq!(e["type"], "peer-left", "{e}");
        left.push(e["id"].clone());
    }
    let took = killed.elapsed();
    left.sort_by_key(|v| v.to_string());
    let mut want = vec![jc["id"].clone(), jd["id"].clone()];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(left, want);
    // Within the node TTL, the grace and a sweep period (plus slack).
    let bound = NODE_TTL + GRACE + NODE_TTL / 3 + Duration::from_millis(700);
    assert!(took <= bound, "peer-left after {took:?}, bound {bound:?}");
    // Not before the grace: a client had that long to resume.
    assert!(took >= GRACE, "peer-left after only {took:?}");
    drop(c);
    drop(d);
    no_events(&mut b).await;
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn a_dead_nodes_client_resumes_elsewhere_exactly_once() {
    let p = prefix("failover");
    let mut dying = Process::start(&p);
    let nb = node(&p, limits()).await;
    let mut a = Client::connect(dying.addr).await;
    let mut b = Client::connect(nb.addr).await;
    let ja = a.join("r", "a").await;
    let jb = b.join("r", "b").await;
    assert_eq!(a.event().await["seq"], 1);
    b.request(json!({"type": "offer", "to": ja["id"], "sdp": "o1"}))
        .await;
    let e = a.event().await;
    assert_eq!(
        (e["seq"].as_u64(), e["sdp"].as_str()),
        (Some(2), Some("o1"))
    );
    dying.kill();
    // Relayed while A's node is dead and before anyone noticed.
    b.request(json!({"type": "candidate", "to": ja["id"], "candidate": "c1"}))
        .await;
    // Then after the node was found dead (the session is an orphan).
    tokio::time::sleep(NODE_TTL + NODE_TTL / 2).await;
    b.request(json!({"type": "candidate", "to": ja["id"], "candidate": "c2"}))
        .await;
    b.request(json!({"type": "broadcast", "data": "b1"})).await;

    let (mut a, r) = resume(nb.addr, &ja, 2).await;
    assert_eq!(r["type"], "resumed", "{r}");
    assert_eq!(r["id"], ja["id"]);
    assert_eq!(r["peers"][0]["id"], jb["id"]);
    let mut got = Vec::new();
    for _ in 0..3 {
        let e = a.event().await;
        got.push((
            e["seq"].as_u64().unwrap(),
            e["candidate"].clone(),
            e["data"].clone(),
        ));
    }
    assert_eq!(
        got,
        [
            (3, json!("c1"), Value::Null),
            (4, json!("c2"), Value::Null),
            (5, Value::Null, json!("b1"))
        ]
    );
    no_events(&mut a).await;
    // Past the grace: the resumed session stays, B saw no peer-left.
    tokio::time::sleep(GRACE + NODE_TTL).await;
    no_events(&mut b).await;
    b.request(json!({"type": "broadcast", "data": "after"}))
        .await;
    let e = a.event().await;
    assert_eq!(
        (e["seq"].as_u64(), e["data"].as_str()),
        (Some(6), Some("after"))
    );
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn socketio_and_websocket_clients_on_two_nodes_share_a_room() {
    let p = prefix("sio");
    let (na, nb) = (node(&p, limits()).await, node(&p, limits()).await);
    let mut sio = Sio::connect(na.addr).await;
    match sio.packet().await {
        Packet::Event(e, _) => assert_eq!(e, "hello"),
        other => panic!("{other:?}"),
    }
    sio.emit_with_ack(1, "join", json!({"room": "mixed", "name": "browser"}))
        .await;
    let joined = match sio.packet().await {
        Packet::Ack(1, v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(joined["type"], "joined", "{joined}");
    let sio_id = joined["id"].as_str().unwrap().to_owned();
    let mut ws = Client::connect(nb.addr).await;
    let jw = ws.join("mixed", "rust").await;
    assert_eq!(jw["peers"][0]["id"], sio_id);
    assert_eq!(jw["peers"][0]["name"], "browser");
    let ws_id = jw["id"].as_str().unwrap().to_owned();
    match sio.packet().await {
        Packet::Event(e, v) => {
            assert_eq!(e, "peer-joined");
            assert_eq!((&v["id"], &v["seq"]), (&json!(ws_id), &json!(1)));
        }
        other => panic!("{other:?}"),
    }
    sio.emit_with_ack(2, "offer", json!({"to": ws_id, "sdp": "v=0"}))
        .await;
    assert_eq!(sio.packet().await, Packet::Ack(2, json!({"type": "ok"})));
    let offer = ws.event().await;
    assert_eq!(
        (&offer["from"], &offer["sdp"]),
        (&json!(sio_id), &json!("v=0"))
    );
    ws.request(json!({"type": "answer", "to": sio_id, "sdp": "answer"}))
        .await;
    match sio.packet().await {
        Packet::Event(e, v) => {
            assert_eq!(
                (e.as_str(), &v["sdp"], &v["seq"]),
                ("answer", &json!("answer"), &json!(2))
            )
        }
        other => panic!("{other:?}"),
    }
    // Messages without a callback are handled in order, replies as events.
    for i in 0..5 {
        sio.emit("broadcast", json!({"data": i})).await;
    }
    for i in 0..5 {
        assert_eq!(
            sio.packet().await,
            Packet::Event("ok".into(), json!({"type": "ok"}))
        );
        let e = ws.event().await;
        assert_eq!(e["data"], i);
    }
}

/// A token with `claims` valid for an hour.
fn token(mut claims: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    claims["exp"] = json!(now + 3600);
    let key = jsonwebtoken::EncodingKey::from_secret(b"a cross-node secret").unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

#[tokio::test]
#[ignore = "needs a redis-server: run interop/signal-redis/run.sh"]
async fn grants_hold_across_nodes() {
    let p = prefix("grants");
    let auth = || Auth::Jwt(vec![Key::hs256(b"a cross-node secret").unwrap()]);
    let na = node_with(&p, limits(), auth()).await;
    let nb = node_with(&p, limits(), auth()).await;
    let join = |c: &'static str, claims: Value| json!({"type": "join", "room": "g", "name": c, "token": token(claims)});
    let mut publisher = Client::connect(na.addr).await;
    let mut listener = Client::connect(nb.addr).await;
    let mut muted = Client::connect(nb.addr).await;
    let mut admin = Client::connect(nb.addr).await;
    let jp = publisher
        .request(join("pub", json!({"room": "g", "subscribe": false})))
        .await;
    let jl = listener
        .request(join("sub", json!({"room": "g", "publish": false})))
        .await;
    let jm = muted
        .request(join(
            "muted",
            json!({"room": "g", "publish": false, "subscribe": false}),
        ))
        .await;
    let ja = admin
        .request(join("admin", json!({"room": "*", "admin": true})))
        .await;
    for j in [&jp, &jl, &jm, &ja] {
        assert_eq!(j["type"], "joined", "{j}");
    }
    // A token for another room is refused on either node.
    let mut other = Client::connect(nb.addr).await;
    let r = other.request(join("x", json!({"room": "h"}))).await;
    assert_eq!(r["code"], "forbidden", "{r}");
    // Offers need the sender's publish grant and the target's subscribe
    // grant, wherever each is.
    let r = publisher
        .request(json!({"type": "offer", "to": jl["id"], "sdp": "ok"}))
        .await;
    assert_eq!(r["type"], "ok", "{r}");
    let r = publisher
        .request(json!({"type": "offer", "to": jm["id"], "sdp": "no"}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    let r = listener
        .request(json!({"type": "offer", "to": jp["id"], "sdp": "no"}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    let r = listener
        .request(json!({"type": "broadcast", "data": 1}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    // A broadcast reaches only the subscribers (listener, admin), not the
    // muted peer.
    publisher
        .request(json!({"type": "broadcast", "data": "all"}))
        .await;
    // The listener's events: three peer-joined (muted, admin... in join
    // order after it) and the offer, then the broadcast.
    let mut kinds = Vec::new();
    loop {
        let e = listener.event().await;
        kinds.push(e["type"].as_str().unwrap().to_owned());
        if e["type"] == "broadcast" {
            assert_eq!(e["data"], "all");
            break;
        }
    }
    assert_eq!(kinds, ["peer-joined", "peer-joined", "offer", "broadcast"]);
    let e = muted.event().await;
    assert_eq!(e["type"], "peer-joined");
    no_events(&mut muted).await;
    // Only an admin kicks, and its kick reaches a peer on the other node.
    let r = listener
        .request(json!({"type": "kick", "to": jp["id"]}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    let r = admin.request(json!({"type": "kick", "to": jp["id"]})).await;
    assert_eq!(r["type"], "ok", "{r}");
    let mut kicked = false;
    while let Some(m) = publisher.read().await {
        if m["type"] == "kicked" {
            assert_eq!(m["by"], ja["id"]);
            kicked = true;
        }
    }
    assert!(
        kicked,
        "the kicked peer got `kicked` before its connection closed"
    );
    let e = listener.event().await;
    assert_eq!(
        (e["type"].as_str(), &e["id"]),
        (Some("peer-left"), &jp["id"])
    );
}
