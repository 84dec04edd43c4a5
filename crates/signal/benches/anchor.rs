//! fulmar-signal side by side with the server most teams run: Node.js
//! socket.io 4.8 with @socket.io/redis-adapter, speaking the same protocol
//! (benches/anchor/server.js). One run drives both servers, each in its own
//! process, with the same Socket.IO client load (Engine.IO v4 over
//! WebSocket, written here: `0{..}` open, `40` connect, `42[event, data]`
//! events, `42N[..]` requests with acknowledgement `43N[..]`, `2`/`3`
//! ping/pong), and compares:
//!
//! 1. **Memory per idle joined connection.** `ANCHOR_SESSIONS` clients
//!    (default 15,000; a process here may hold at most `ulimit -n`
//!    descriptors) connect from 127.0.x.y addresses, join rooms of 50 and
//!    stay, answering pings and acknowledging every 32nd event as
//!    fulmar-signal's clients do; the server's VmRSS before and after,
//!    divided by the sessions. Node's is read after a full garbage
//!    collection (`--expose-gc`, SIGUSR2), its smallest figure.
//! 2. **Relayed messages per CPU-second.** `ANCHOR_PAIRS` pairs (default
//!    100) in rooms of two; each sender relays to its peer, acknowledged, at
//!    `ANCHOR_RATE` messages/s in all (default 5,000), `ANCHOR_MESSAGES`
//!    messages per cell (default 50,000, after a tenth as many untimed to
//!    warm up). Two payloads: a trickled candidate (~230 B) and an offer
//!    carrying Chromium 156's 5.7 KB SDP. The figure is the messages that
//!    arrived divided by the server process's user + system CPU time
//!    (/proc/PID/stat) over the timed part. `ANCHOR_ROUNDS` rounds (default
//!    2) alternate the servers.
//!
//! Both again with Redis (unless `ANCHOR_REDIS=0`; needs Debian's
//! `redis-server`, which the bench starts on a loopback port, one instance
//! per cell): memory with one node on Redis, relay from a client on node A
//! to one on node B, the CPU of both nodes (Redis's own CPU and memory are
//! printed beside).
//!
//! `ANCHOR_ONLY=idle` or `relay` runs one half, `ANCHOR_REDIS=only` only
//! the Redis cells.
//!
//! Needs `node` and `npm` (Debian's `nodejs` and `npm`); the npm packages
//! pinned in benches/anchor/package.json are installed into
//! `$TMPDIR/fulmar-signal-anchor` the first time.
//!
//! `cargo bench -p fulmar-signal --bench anchor` (loopback only).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env, rss, tcp_from};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<tokio::net::TcpStream>;

const ROOM_SIZE: usize = 50;
/// Events between two `ack`s, as fulmar-signal's clients send them.
const ACK_EVERY: u64 = 32;
const REDIS_PORT: u16 = 16_391;
/// The unit of /proc's CPU times (`sysconf(_SC_CLK_TCK)`), 100 on Linux.
const USER_HZ: f64 = 100.0;
const OFFER_SDP: &str =
    include_str!("../../sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");
const CANDIDATE: &str = r#"{"candidate":"candidate:842163049 1 udp 1677729535 198.51.100.7 50312 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag sK9v network-id 1 network-cost 10","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"sK9v"}"#;

/// The two servers compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Fulmar,
    Node,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Fulmar => "fulmar-signal",
            Kind::Node => "socket.io 4.8",
        }
    }

    /// The listening port of node `n` (0 or 1).
    fn addr(self, n: u16) -> String {
        let base = match self {
            Kind::Fulmar => 18_560,
            Kind::Node => 18_570,
        };
        format!("127.0.0.1:{}", base + n)
    }
}

/// The folder holding the anchor's npm packages, installed on first use.
fn node_modules() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/anchor");
    let dir = std::env::temp_dir().join("fulmar-signal-anchor");
    let manifest = std::fs::read(here.join("package.json")).unwrap();
    let installed = std::fs::read(dir.join("package.json")).ok();
    if installed.as_deref() != Some(&manifest[..])
        || !dir.join("node_modules/socket.io/package.json").exists()
    {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), &manifest).unwrap();
        let ok = Command::new("timeout")
            .args([
                "300",
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
            ])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "npm install failed in {} (are node and npm installed? Debian: apt-get install nodejs npm)", dir.display());
    }
    dir.join("node_modules")
}

/// Starts the server of `kind` as node `n`, on Redis when given.
fn start(kind: Kind, n: u16, redis: Option<&str>) -> Proc {
    let addr = kind.addr(n);
    let mut cmd = match kind {
        Kind::Fulmar => {
            // The per-connection rate limit (50/s by default) would refuse
            // the relay load; the limiter still runs.
            let config = std::env::temp_dir()
                .join(format!("fulmar-signal-anchor-{}.toml", std::process::id()));
            std::fs::write(
                &config,
                "[limits]\nmessages_per_second = 1000000.0\nmessage_burst = 1000000.0\n",
            )
            .unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_fulmar-signal"));
            cmd.args(["--open", "--listen", &addr])
                .arg("--config")
                .arg(config)
                .env("RUST_LOG", "warn");
            if let Some(url) = redis {
                cmd.args(["--redis", url]);
            }
            cmd
        }
        Kind::Node => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/anchor/server.js");
            let mut cmd = Command::new("node");
            cmd.arg("--expose-gc")
                .arg(script)
                .args(["--listen", &addr])
                .env("NODE_PATH", node_modules());
            if let Some(url) = redis {
                cmd.args(["--redis", url]);
            }
            cmd
        }
    };
    Proc(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    )
}

/// Waits until `addr` accepts connections (10 s at most).
async fn ready(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A child process, killed when dropped (also when the bench panics).
struct Proc(Child);

impl Proc {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process's user + system CPU time.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces) start at
    // the state, field 3; utime and stime are fields 14 and 15 (proc(5)).
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    Duration::from_secs_f64((f[14 - 3] + f[15 - 3]) as f64 / USER_HZ)
}

/// Lets the server settle; Node also collects its garbage.
async fn settle(kind: Kind, child: &Proc) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if kind == Kind::Node {
        let _ = Command::new("kill")
            .args(["-USR2", &child.id().to_string()])
            .status();
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

/// A throwaway `redis-server` on loopback; `None` without one.
fn start_redis() -> Option<Proc> {
    let child = Command::new("redis-server")
        .args(["--port", &REDIS_PORT.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut child = Proc(child);
    std::thread::sleep(Duration::from_millis(300));
    // An instance left on the port would make this one exit at once.
    assert!(
        matches!(child.0.try_wait(), Ok(None)),
        "redis-server could not listen on port {REDIS_PORT}"
    );
    Some(child)
}

fn redis_url() -> String {
    format!("redis://127.0.0.1:{REDIS_PORT}")
}

/// A Socket.IO connection over WebSocket from the `n`th loopback source
/// address, connected to the default namespace, after the server's `hello`.
async fn sio_connect(addr: &str, n: usize) -> Ws {
    let stream = tcp_from(addr, n).await;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .unwrap();
    let open = next_text(&mut ws).await;
    assert!(
        open.starts_with('0'),
        "expected the Engine.IO open packet, got {open}"
    );
    ws.send(Message::Text("40".into())).await.unwrap();
    loop {
        let t = next_text(&mut ws).await;
        if t.starts_with("42[\"hello\"") {
            return ws;
        }
    }
}

/// The next text message (pings answered on the way).
async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                ws.send(Message::Text("3".into())).await.unwrap();
            }
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(_)) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// Joins `room` (request with acknowledgement 1); returns the `joined`.
async fn join(ws: &mut Ws, room: &str) -> Value {
    let req = format!(r#"421["join",{{"room":"{room}","name":"load"}}]"#);
    ws.send(Message::Text(req.into())).await.unwrap();
    loop {
        let t = next_text(ws).await;
        if let Some(body) = t.strip_prefix("431") {
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v[0]["type"], "joined", "join refused: {body}");
            return v[0].clone();
        }
    }
}

/// What the client tasks counted.
#[derive(Default)]
struct Counters {
    /// Relayed `offer`s and `candidate`s received.
    relayed: AtomicU64,
    /// Acknowledgements of relay requests received.
    acked: AtomicU64,
    /// Relayed messages whose `from` was not the expected sender.
    wrong: AtomicU64,
}

/// Runs one client: writes what `out` yields, answers pings, counts the
/// relayed events (checking each one's sender when `from` is given) and
/// acknowledges every 32nd event.
fn spawn_client(
    mut ws: Ws,
    counters: Arc<Counters>,
    mut out: Option<mpsc::Receiver<String>>,
    from: Option<String>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = 0u64;
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                o = async { out.as_mut()?.recv().await }, if out.is_some() => {
                    match o {
                        Some(text) => {
                            if ws.send(Message::Text(text.into())).await.is_err() {
                                return;
                            }
                        }
                        None => out = None,
                    }
                    continue;
                }
            };
            let t = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(_)) => continue,
                _ => return,
            };
            let t = t.as_str();
            let reply = if t == "2" {
                Some("3".to_owned())
            } else if t.starts_with("43") {
                counters.acked.fetch_add(1, Ordering::Relaxed);
                None
            } else if let Some(body) = t.strip_prefix("42") {
                events += 1;
                if body.starts_with("[\"offer\"") || body.starts_with("[\"candidate\"") {
                    counters.relayed.fetch_add(1, Ordering::Relaxed);
                    if let Some(from) = &from {
                        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                        if v[1]["from"].as_str() != Some(from) {
                            counters.wrong.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                events
                    .is_multiple_of(ACK_EVERY)
                    .then(|| format!(r#"42["ack",{{"seq":{events}}}]"#))
            } else {
                None
            };
            if let Some(r) = reply {
                if ws.send(Message::Text(r.into())).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// The memory of `sessions` idle joined connections on one server.
struct IdleFigure {
    per_session: f64,
    before: usize,
    after: usize,
    redis_per_session: Option<f64>,
    took: Duration,
}

async fn idle(kind: Kind, sessions: usize, with_redis: bool) -> IdleFigure {
    let redis = with_redis.then(|| start_redis().expect("redis-server"));
    let url = redis_url();
    let server = start(kind, 0, redis.as_ref().map(|_| url.as_str()));
    let addr = kind.addr(0);
    ready(&addr).await;
    let counters = Arc::new(Counters::default());
    // One session first, so that the runtime's threads and the JIT exist.
    let mut warm = sio_connect(&addr, 0).await;
    join(&mut warm, "warm").await;
    settle(kind, &server).await;
    let before = rss(server.id());
    let redis_before = redis.as_ref().map(|r| rss(r.id()));
    let start_time = Instant::now();
    let sem = Arc::new(Semaphore::new(256));
    let mut opening = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (addr, counters) = (addr.clone(), counters.clone());
        opening.push(tokio::spawn(async move {
            let mut ws = sio_connect(&addr, i + 1).await;
            join(&mut ws, &format!("idle{}", i / ROOM_SIZE)).await;
            drop(permit);
            spawn_client(ws, counters, None, None).abort_handle()
        }));
    }
    let mut clients = Vec::with_capacity(sessions);
    for o in opening {
        clients.push(o.await.unwrap());
    }
    let took = start_time.elapsed();
    settle(kind, &server).await;
    let after = rss(server.id());
    let redis_per_session = redis
        .as_ref()
        .zip(redis_before)
        .map(|(r, b)| rss(r.id()).saturating_sub(b) as f64 / sessions as f64);
    for c in &clients {
        c.abort();
    }
    drop(warm);
    drop(server);
    drop(redis);
    IdleFigure {
        per_session: after.saturating_sub(before) as f64 / sessions as f64,
        before,
        after,
        redis_per_session,
        took,
    }
}

/// One relay cell's outcome.
struct RelayFigure {
    delivered: u64,
    expected: u64,
    cpu: Duration,
    redis_cpu: Option<Duration>,
    wall: Duration,
}

impl RelayFigure {
    fn per_cpu_second(&self) -> f64 {
        self.delivered as f64 / self.cpu.as_secs_f64()
    }
}

/// Sends `messages` relay requests (after a tenth as many untimed) from
/// `pairs` senders to their peers at `rate` per second in all; across two
/// nodes sharing a fresh Redis when `with_redis`.
async fn relay(
    kind: Kind,
    pairs: usize,
    rate: usize,
    messages: usize,
    offer: bool,
    with_redis: bool,
) -> RelayFigure {
    let redis = with_redis.then(|| start_redis().expect("redis-server"));
    let url = redis_url();
    let url = redis.as_ref().map(|_| url.as_str());
    let mut nodes = vec![start(kind, 0, url)];
    if with_redis {
        nodes.push(start(kind, 1, url));
    }
    let (a, b) = (kind.addr(0), kind.addr(if with_redis { 1 } else { 0 }));
    ready(&a).await;
    ready(&b).await;
    let counters = Arc::new(Counters::default());
    let mut clients = Vec::new();
    let mut senders = Vec::new();
    for p in 0..pairs {
        let room = format!("relay{p}");
        let mut rx = sio_connect(&b, 2 * p).await;
        let target = join(&mut rx, &room).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut tx = sio_connect(&a, 2 * p + 1).await;
        let me = join(&mut tx, &room).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (out_tx, out_rx) = mpsc::channel(1024);
        clients.push(spawn_client(rx, counters.clone(), None, Some(me)));
        clients.push(spawn_client(tx, counters.clone(), Some(out_rx), None));
        senders.push((out_tx, target));
    }
    let per_sender = messages.div_ceil(pairs);
    let warm = (per_sender / 10).max(1);
    let (event, payload) = if offer {
        (
            "offer",
            format!(r#""sdp":{}"#, serde_json::to_string(OFFER_SDP).unwrap()),
        )
    } else {
        ("candidate", format!(r#""candidate":{CANDIDATE}"#))
    };
    let payload: Arc<str> = Arc::from(payload);
    let send_all = |count: usize, first_ack: usize| {
        let period = Duration::from_secs_f64(pairs as f64 / rate as f64);
        let tasks: Vec<_> = senders
            .iter()
            .map(|(out, target)| {
                let (out, target, payload) = (out.clone(), target.clone(), payload.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(period);
                    for k in 0..count {
                        tick.tick().await;
                        let ack = first_ack + k;
                        let text = format!(r#"42{ack}["{event}",{{"to":"{target}",{payload}}}]"#);
                        if out.send(text).await.is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        async move {
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    let wait_for = |n: u64| {
        let counters = counters.clone();
        async move {
            let mut last = (0, Instant::now());
            loop {
                let got = counters.relayed.load(Ordering::Relaxed);
                let acked = counters.acked.load(Ordering::Relaxed);
                if got >= n && acked >= n {
                    return;
                }
                if got != last.0 {
                    last = (got, Instant::now());
                } else if last.1.elapsed() > Duration::from_secs(10) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    send_all(warm, 2).await;
    wait_for((warm * pairs) as u64).await;
    let warm_got = counters.relayed.load(Ordering::Relaxed);
    let cpu_of = |nodes: &[Proc]| nodes.iter().map(|n| cpu(n.id())).sum::<Duration>();
    let cpu_before = cpu_of(&nodes);
    let redis_before = redis.as_ref().map(|r| cpu(r.id()));
    let started = Instant::now();
    send_all(per_sender, 2 + warm).await;
    wait_for(warm_got + (per_sender * pairs) as u64).await;
    let wall = started.elapsed();
    let used = cpu_of(&nodes) - cpu_before;
    let redis_cpu = redis
        .as_ref()
        .zip(redis_before)
        .map(|(r, b)| cpu(r.id()) - b);
    let delivered = counters.relayed.load(Ordering::Relaxed) - warm_got;
    for n in &mut nodes {
        if let Ok(Some(status)) = n.0.try_wait() {
            println!("  ({} exited during the cell: {status})", kind.name());
        }
    }
    assert_eq!(
        counters.wrong.load(Ordering::Relaxed),
        0,
        "relayed from the wrong sender"
    );
    drop(senders);
    for c in &clients {
        c.abort();
    }
    drop(nodes);
    drop(redis);
    RelayFigure {
        delivered,
        expected: (per_sender * pairs) as u64,
        cpu: used,
        redis_cpu,
        wall,
    }
}

fn mib(b: usize) -> f64 {
    b as f64 / 1_048_576.0
}

#[tokio::main]
async fn main() {
    let sessions = env("ANCHOR_SESSIONS", 15_000);
    let pairs = env("ANCHOR_PAIRS", 100);
    let rate = env("ANCHOR_RATE", 5_000);
    let messages = env("ANCHOR_MESSAGES", 50_000);
    let rounds = env("ANCHOR_ROUNDS", 2).max(1);
    let redis_ok = std::env::var("ANCHOR_REDIS").map_or(true, |v| v != "0")
        && Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    let kinds = [Kind::Fulmar, Kind::Node];
    node_modules();
    let only = std::env::var("ANCHOR_ONLY").unwrap_or_default();
    let topologies: &[bool] = match (redis_ok, std::env::var("ANCHOR_REDIS").as_deref()) {
        (true, Ok("only")) => &[true],
        (true, _) => &[false, true],
        (false, _) => &[false],
    };
    if !redis_ok {
        println!("(no redis-server or ANCHOR_REDIS=0: single-node cells only)");
    }
    let mut summary = Vec::new();
    for &with_redis in topologies.iter().filter(|_| only != "relay") {
        let topo = if with_redis {
            "one node on Redis"
        } else {
            "one node"
        };
        let mut per = [0.0; 2];
        for (i, kind) in kinds.into_iter().enumerate() {
            let f = idle(kind, sessions, with_redis).await;
            per[i] = f.per_session;
            println!(
                "idle, {topo}, {}: {sessions} joined in {:.1} s; RSS {:.1} -> {:.1} MiB: {:.0} bytes per session{}",
                kind.name(),
                f.took.as_secs_f64(),
                mib(f.before),
                mib(f.after),
                f.per_session,
                f.redis_per_session
                    .map(|r| format!(" (redis-server: {r:.0} bytes per session)"))
                    .unwrap_or_default(),
            );
        }
        summary.push(format!(
            "memory per idle joined connection, {topo}: fulmar-signal {:.1} KiB, socket.io {:.1} KiB: {:.1}x",
            per[0] / 1024.0,
            per[1] / 1024.0,
            per[1] / per[0]
        ));
    }
    for &with_redis in topologies.iter().filter(|_| only != "idle") {
        for offer in [false, true] {
            let what = if offer {
                "offer (5.7 KB SDP)"
            } else {
                "candidate"
            };
            let topo = if with_redis {
                "node A to node B through Redis"
            } else {
                "one node"
            };
            let mut sums = [(0u64, Duration::ZERO, true); 2];
            for round in 0..rounds {
                // Alternate which server goes first.
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for i in order {
                    let kind = kinds[i];
                    let f = relay(kind, pairs, rate, messages, offer, with_redis).await;
                    sums[i].0 += f.delivered;
                    sums[i].1 += f.cpu;
                    sums[i].2 &= f.delivered == f.expected;
                    println!(
                        "relay {what}, {topo}, {}, round {}: {}/{} delivered in {:.1} s, server CPU {:.2} s: {:.0} messages per CPU-second{}",
                        kind.name(),
                        round + 1,
                        f.delivered,
                        f.expected,
                        f.wall.as_secs_f64(),
                        f.cpu.as_secs_f64(),
                        f.per_cpu_second(),
                        f.redis_cpu
                            .map(|r| format!(" (redis-server CPU {:.2} s)", r.as_secs_f64()))
                            .unwrap_or_default(),
                    );
                }
            }
            let rate_of = |(n, c, _): (u64, Duration, bool)| n as f64 / c.as_secs_f64();
            let mark =
                |(_, _, all): (u64, Duration, bool)| if all { "" } else { " (not all delivered)" };
            summary.push(format!(
                "relayed {what} per CPU-second, {topo}: fulmar-signal {:.0}{}, socket.io {:.0}{}: {:.1}x",
                rate_of(sums[0]),
                mark(sums[0]),
                rate_of(sums[1]),
                mark(sums[1]),
                rate_of(sums[0]) / rate_of(sums[1]),
            ));
        }
    }
    println!("\nsummary ({sessions} idle sessions; {pairs} pairs at {rate} messages/s, {messages} per cell, {rounds} rounds):");
    for s in summary {
        println!("  {s}");
    }
}
