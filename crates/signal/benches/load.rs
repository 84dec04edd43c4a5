//! fulmar-signal under load, with the server in its own process (the
//! release `fulmar-signal` binary) so that its memory is its own:
//!
//! 1. **Idle sessions.** `LOAD_SESSIONS` WebSocket clients (default 15,000;
//!    each process here may hold at most `ulimit -n` descriptors) connect
//!    from 127.0.0.x addresses, join rooms of 50 and stay; the server's
//!    resident memory (VmRSS) before and after gives the bytes per session.
//! 2. **Relay latency.** New clients join at `LOAD_JOIN_RATE` joins/s
//!    (default 1,000) for 5 s; each sends an offer to a listener already in
//!    its room the moment its `joined` arrives. The latency is from the
//!    start of its connection to the offer's arrival at the listener:
//!    p50, p99 and max.
//! 3. **Cross-node relay latency** (only with `LOAD_REDIS_URL`, a Redis
//!    the bench may write to): two servers share rooms through that Redis;
//!    a client on node A sends `LOAD_CROSS_OFFERS` offers (default 2,000,
//!    1 ms apart) to a client on node B, and each offer's latency is from
//!    its send on A to its arrival on B: p50, p99 and max.
//!
//! `cargo bench -p fulmar-signal --bench load` (loopback only).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env, rss, tcp_from};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<tokio::net::TcpStream>;

const SERVER: &str = "127.0.0.1:18543";
const ROOM_SIZE: usize = 50;

/// A WebSocket from the `n`th loopback source address (so that tens of
/// thousands of connections do not run out of ephemeral ports).
async fn connect(n: usize) -> Ws {
    connect_to(SERVER, n).await
}

/// [`connect`] to the server at `addr`.
async fn connect_to(addr: &str, n: usize) -> Ws {
    let stream = tcp_from(addr, n).await;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
        .await
        .unwrap();
    ws
}

/// Reads until a frame of `kind` arrives.
async fn until(ws: &mut Ws, kind: &str) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == kind {
                    return v;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended waiting for {kind}: {other:?}"),
        }
    }
}

/// The next offer, or `None` once the connection ends.
async fn next_offer(ws: &mut Ws) -> Option<Value> {
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).ok()?;
            if v["type"] == "offer" {
                return Some(v);
            }
        }
    }
    None
}

async fn join(ws: &mut Ws, room: &str) -> Value {
    until(ws, "hello").await;
    let msg = json!({"type": "join", "id": 1, "room": room, "name": "load"});
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
    until(ws, "joined").await
}

/// Opens `n` idle joined sessions, `parallel` at a time; returns them.
async fn idle_sessions(n: usize, parallel: usize) -> Vec<Ws> {
    let (tx, mut rx) = mpsc::channel(parallel);
    let opener = tokio::spawn(async move {
        let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
        for i in 0..n {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut ws = connect(i).await;
                join(&mut ws, &format!("idle{}", i / ROOM_SIZE)).await;
                tx.send(ws).await.unwrap();
                drop(permit);
            });
        }
    });
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        all.push(rx.recv().await.unwrap());
    }
    opener.await.unwrap();
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn relay_latency(rate: usize, seconds: usize, offset: usize) -> Vec<Duration> {
    let rooms = 20;
    // One listener per room, already joined.
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel::<Duration>();
    let mut ids = Vec::new();
    let epoch = Instant::now();
    for r in 0..rooms {
        let mut ws = connect(offset + r).await;
        let joined = join(&mut ws, &format!("relay{r}")).await;
        ids.push(joined["id"].as_str().unwrap().to_owned());
        let lat_tx = lat_tx.clone();
        tokio::spawn(async move {
            loop {
                let offer = match tokio::time::timeout(Duration::from_secs(60), next_offer(&mut ws))
                    .await
                {
                    Ok(Some(o)) => o,
                    _ => return,
                };
                // The sender put its connection start (µs since epoch) in the SDP.
                let started =
                    Duration::from_micros(offer["sdp"].as_str().unwrap().parse().unwrap());
                let _ = lat_tx.send(epoch.elapsed() - started);
            }
        });
    }
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    for i in 0..total {
        tick.tick().await;
        let room = i % rooms;
        let target = ids[room].clone();
        tokio::spawn(async move {
            let started = epoch.elapsed();
            let mut ws = connect(offset + rooms + i).await;
            join(&mut ws, &format!("relay{room}")).await;
            let offer = json!({"type": "offer", "id": 2, "to": target, "sdp": started.as_micros().to_string()});
            ws.send(Message::Text(offer.to_string().into()))
                .await
                .unwrap();
            until(&mut ws, "ok").await;
            let _ = ws.close(None).await;
        });
    }
    let mut lat = Vec::with_capacity(total);
    while lat.len() < total {
        match tokio::time::timeout(Duration::from_secs(30), lat_rx.recv()).await {
            Ok(Some(d)) => lat.push(d),
            _ => break,
        }
    }
    lat.sort();
    lat
}

/// A `fulmar-signal` process on `listen`; with `redis`, sharing rooms
/// through it, without a message rate limit.
fn start_server(listen: &str, redis: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fulmar-signal"));
    cmd.args(["--open", "--listen", listen]);
    if let Some(url) = redis {
        let config =
            std::env::temp_dir().join(format!("fulmar-signal-load-{}.toml", std::process::id()));
        std::fs::write(
            &config,
            "[limits]\nmessages_per_second = 1000000.0\nmessage_burst = 1000000.0\n",
        )
        .unwrap();
        cmd.arg("--config").arg(config).args(["--redis", url]);
    }
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Offers from a client on one node to a client on another, through
/// Redis: each one's latency from its send to its arrival.
async fn cross_node_latency(redis: &str, offers: usize) -> Vec<Duration> {
    const NODE_A: &str = "127.0.0.1:18544";
    const NODE_B: &str = "127.0.0.1:18545";
    let mut nodes = [
        start_server(NODE_A, Some(redis)),
        start_server(NODE_B, Some(redis)),
    ];
    tokio::time::sleep(Duration::from_millis(800)).await;
    let room = format!("cross{}", std::process::id());
    let mut b = connect_to(NODE_B, 1).await;
    let target = join(&mut b, &room).await["id"].as_str().unwrap().to_owned();
    let mut a = connect_to(NODE_A, 2).await;
    join(&mut a, &room).await;
    let epoch = Instant::now();
    let listener = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(offers);
        while lat.len() < offers {
            let offer =
                match tokio::time::timeout(Duration::from_secs(10), next_offer(&mut b)).await {
                    Ok(Some(o)) => o,
                    _ => break,
                };
            let sent = Duration::from_micros(offer["sdp"].as_str().unwrap().parse().unwrap());
            lat.push(epoch.elapsed() - sent);
        }
        lat
    });
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    for i in 0..offers {
        tick.tick().await;
        let sent = epoch.elapsed().as_micros().to_string();
        let offer = json!({"type": "offer", "id": i, "to": target, "sdp": sent});
        a.send(Message::Text(offer.to_string().into()))
            .await
            .unwrap();
    }
    // The replies (`ok`) are read after the last send: the socket buffers
    // hold them meanwhile.
    let mut oks = 0;
    while oks < offers {
        match tokio::time::timeout(Duration::from_secs(10), a.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => oks += 1,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let mut lat = listener.await.unwrap();
    for n in &mut nodes {
        let _ = n.kill();
        let _ = n.wait();
    }
    lat.sort();
    lat
}

#[tokio::main]
async fn main() {
    let sessions = env("LOAD_SESSIONS", 15_000);
    let rate = env("LOAD_JOIN_RATE", 1_000);
    let mut server = start_server(SERVER, None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The baseline with one session, so the runtime's threads exist.
    let warm = idle_sessions(1, 1).await;
    let before = rss(server.id());
    let start = Instant::now();
    let idle = idle_sessions(sessions, 256).await;
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss(server.id());
    let per = (after.saturating_sub(before)) as f64 / sessions as f64;
    println!(
        "idle sessions: {sessions} joined in {:.1} s; server RSS {:.1} -> {:.1} MiB: {:.0} bytes per session ({:.2} GB per 100,000)",
        took.as_secs_f64(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per,
        per * 100_000.0 / 1e9,
    );
    drop(idle);
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let lat = relay_latency(rate, 5, sessions + 10).await;
    if lat.is_empty() {
        println!("relay latency: no offer arrived");
    } else {
        println!(
            "relay latency at {rate} joins/s ({} offers): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().unwrap().as_secs_f64() * 1e3,
        );
    }
    let _ = server.kill();
    let _ = server.wait();

    let Ok(redis) = std::env::var("LOAD_REDIS_URL") else {
        return;
    };
    let offers = env("LOAD_CROSS_OFFERS", 2_000);
    let lat = cross_node_latency(&redis, offers).await;
    if lat.is_empty() {
        println!("cross-node relay latency: no offer arrived");
    } else {
        println!(
            "cross-node relay latency through Redis ({} of {offers} offers, 1 ms apart): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().unwrap().as_secs_f64() * 1e3,
        );
    }
}
