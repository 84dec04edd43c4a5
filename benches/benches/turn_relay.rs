//! TURN relay throughput and memory on loopback: fulmar-turnd against coturn
//! (`turnserver`), measured in the same run on the same machine.
//!
//! For each server and for 1 and 1000 allocations, a load generator written
//! on fulmar-turn's sans-IO client allocates over real UDP sockets, binds a
//! channel to a local peer socket, then relays 1200-byte payloads as
//! ChannelData client → peer, and then peer → client, for a few seconds
//! each with a bounded window of packets in flight (so neither server is
//! measured while dropping an overload). It reports packets per second
//! received through the relay and the server's CPU seconds (utime + stime
//! from /proc/<pid>/stat) per million packets. Then 10,000 allocations, each
//! with a channel bound, are created on a fresh server and its RSS is read.
//!
//! With two or more cores the server is pinned to CPU 0 and the generator to
//! CPU 1 (taskset), so packets per second are per server core.
//!
//! Traffic only ever goes to 127.0.0.1. Every server process is started
//! by this bench and ended by its PID.
//!
//! ```text
//! cd benches && cargo bench --bench turn_relay
//! ```
//! Environment: `TURN_RELAY_SECS` (measurement seconds per phase, default 4),
//! `TURN_RELAY_MEM_ALLOCS` (default 10000), `FULMAR_TURND` (path of a
//! release fulmar-turnd binary; built with cargo when absent),
//! `TURN_RELAY_SKIP_COTURN=1`.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fulmar_turn::{Client, ClientConfig, ClientEvent};
use mio::{Events, Interest, Poll, Token};
use rand::{rngs::StdRng, SeedableRng};

const PAYLOAD: usize = 1200;
const USER: &str = "alice";
const PASSWORD: &str = "secret";
const REALM: &str = "fulmar.test";
const TURND_PORT: u16 = 34780;
const COTURN_PORT: u16 = 34790;
/// Packets in flight at most (sent, not yet received).
const WINDOW: u64 = 256;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Turnd,
    Coturn,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Turnd => "fulmar-turnd",
            Kind::Coturn => "coturn",
        }
    }
    fn port(self) -> u16 {
        match self {
            Kind::Turnd => TURND_PORT,
            Kind::Coturn => COTURN_PORT,
        }
    }
}

struct ServerProc {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cores available at start (read once: pinning the generator narrows what
/// `available_parallelism` reports afterwards).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system, all threads) of `pid`.
fn cpu_secs(pid: u32, tck: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / tck
}

/// Resident set size of `pid` in bytes.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn turnd_binary() -> PathBuf {
    if let Ok(p) = std::env::var("FULMAR_TURND") {
        return PathBuf::from(p);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join("target"))
        .join("turnd-build");
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "fulmar-turnd",
            "--bin",
            "fulmar-turnd",
        ])
        .current_dir(manifest.join(".."))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo build fulmar-turnd");
    assert!(status.success(), "building fulmar-turnd failed");
    target.join("release").join("fulmar-turnd")
}

fn pinned(cmd: &str) -> Command {
    if cores() >= 2 {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", cmd]);
        c
    } else {
        Command::new(cmd)
    }
}

fn start(kind: Kind, turnd: &Path) -> ServerProc {
    let dir =
        std::env::temp_dir().join(format!("turn-relay-{}-{}", kind.name(), std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = kind.port();
    let mut cmd = match kind {
        Kind::Turnd => {
            let conf = dir.join("turnd.toml");
            std::fs::write(
                &conf,
                format!(
                    "realm = \"{REALM}\"\nlisten_udp = [\"127.0.0.1:{port}\"]\nrelay_ip = \"127.0.0.1\"\n\
                     [users]\n{USER} = \"{PASSWORD}\"\n[limits]\nmax_allocations = 20000\n\
                     max_allocations_per_user = 20000\n[peer_policy]\nallow_loopback = true\n"
                ),
            )
            .expect("write config");
            let mut c = pinned(turnd.to_str().expect("utf-8 path"));
            c.arg("--config").arg(&conf).env("RUST_LOG", "warn");
            c
        }
        Kind::Coturn => {
            let mut c = pinned("turnserver");
            c.args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                "--lt-cred-mech",
                &format!("--user={USER}:{PASSWORD}"),
                &format!("--realm={REALM}"),
                "--no-dtls",
                "--no-tls",
                "--no-tcp",
                "--allow-loopback-peers",
                "--no-cli",
                "--user-quota=0",
                "--total-quota=0",
                "--min-port=40000",
                "--max-port=60000",
                "--log-file=stdout",
            ]);
            c
        }
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", kind.name()));
    let pid = child.id();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = ServerProc {
        child,
        pid,
        addr,
        _dir: TempDir(dir),
    };
    wait_ready(addr);
    server
}

/// Wait until a STUN Binding request gets an answer.
fn wait_ready(addr: SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut req = [0u8; 20];
    req[1] = 1;
    req[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    req[8..20].copy_from_slice(b"turnrelaybch");
    let mut buf = [0u8; 512];
    for _ in 0..100 {
        let _ = s.send_to(&req, addr);
        if s.recv_from(&mut buf).is_ok() {
            return;
        }
    }
    panic!("server on {addr} did not answer");
}

/// One allocation of the generator: its socket, relayed address and the
/// ChannelData message it sends.
struct Allocation {
    sock: UdpSocket,
    relayed: SocketAddr,
    frame: Vec<u8>,
}

/// Run `client` over `sock` until `done` says it succeeded or failed.
fn drive(
    client: &mut Client,
    sock: &UdpSocket,
    mut done: impl FnMut(&ClientEvent) -> Option<bool>,
) -> Result<(), String> {
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = Instant::now();
        if now > deadline {
            return Err("timed out".into());
        }
        let mut out = Vec::new();
        while let Some(t) = client.poll_transmit(now, &mut out) {
            sock.send_to(&out, t.destination)
                .map_err(|e| e.to_string())?;
        }
        while let Some(e) = client.poll_event() {
            match done(&e) {
                Some(true) => return Ok(()),
                Some(false) => return Err(format!("{e:?}")),
                None => {}
            }
        }
        let wait = client
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        sock.set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                client.handle_receive(Instant::now(), from, &buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                client.handle_timeout(Instant::now());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn allocate(server: SocketAddr, peer: SocketAddr, i: u64) -> Result<Allocation, String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut client = Client::new(
        ClientConfig::new(server, USER, PASSWORD),
        StdRng::seed_from_u64(i),
    );
    client.allocate(Instant::now()).map_err(|e| e.to_string())?;
    drive(&mut client, &sock, |e| match e {
        ClientEvent::Allocated { .. } => Some(true),
        ClientEvent::AllocationFailed { .. } => Some(false),
        _ => None,
    })?;
    let relayed = client.relayed_address().ok_or("no relayed address")?;
    client
        .bind_channel(Instant::now(), peer)
        .map_err(|e| e.to_string())?;
    drive(&mut client, &sock, |e| match e {
        ClientEvent::ChannelBound { .. } => Some(true),
        ClientEvent::ChannelBindFailed { .. } => Some(false),
        _ => None,
    })?;
    let mut frame = Vec::new();
    client
        .send_to(Instant::now(), peer, &[0xA5; PAYLOAD], &mut frame)
        .map_err(|e| e.to_string())?;
    Ok(Allocation {
        sock,
        relayed,
        frame,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToPeer,
    ToClient,
}

struct Figures {
    pps: f64,
    cpu_per_mpkt: f64,
    cpu_util: f64,
    lost: u64,
}

/// Relay for `secs` seconds in one direction with at most WINDOW packets in
/// flight; count what arrives intact.
fn measure(
    server: &ServerProc,
    allocs: &[Allocation],
    peer: &UdpSocket,
    dir: Direction,
    secs: f64,
    tck: f64,
) -> Figures {
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    // Receivers: the peer socket, or every client socket.
    let recv_socks: Vec<mio::net::UdpSocket> = match dir {
        Direction::ToPeer => vec![mio::net::UdpSocket::from_std(
            peer.try_clone().expect("clone"),
        )],
        Direction::ToClient => allocs
            .iter()
            .map(|a| mio::net::UdpSocket::from_std(a.sock.try_clone().expect("clone")))
            .collect(),
    };
    let mut recv_socks = recv_socks;
    for (i, s) in recv_socks.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(i), Interest::READABLE)
            .expect("register");
    }
    let expected_len = match dir {
        Direction::ToPeer => PAYLOAD,
        Direction::ToClient => PAYLOAD + 4,
    };
    let raw = [0x5Au8; PAYLOAD];
    let mut buf = vec![0u8; 4096];
    let (mut sent, mut received, mut lost) = (0u64, 0u64, 0u64);
    let mut next = 0usize;
    let start = Instant::now();
    let warmup = start + Duration::from_millis(500);
    let end = warmup + Duration::from_secs_f64(secs);
    let mut window_start: Option<(Instant, u64, f64)> = None;
    let mut last_progress = Instant::now();
    loop {
        let now = Instant::now();
        if window_start.is_none() && now >= warmup {
            window_start = Some((now, received, cpu_secs(server.pid, tck)));
        }
        if now >= end {
            break;
        }
        let in_flight = sent - received - lost;
        for _ in in_flight..WINDOW {
            let a = &allocs[next];
            next = (next + 1) % allocs.len();
            let r = match dir {
                Direction::ToPeer => a.sock.send_to(&a.frame, server.addr),
                Direction::ToClient => peer.send_to(&raw, a.relayed),
            };
            if r.is_ok() {
                sent += 1;
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .expect("poll");
        for ev in events.iter() {
            let s = &recv_socks[ev.token().0];
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        if n == expected_len {
                            received += 1;
                            last_progress = Instant::now();
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
        // Nothing for 20 ms: whatever is in flight was dropped.
        if last_progress.elapsed() > Duration::from_millis(20) && sent > received + lost {
            lost = sent - received;
            last_progress = Instant::now();
        }
    }
    let (t0, r0, c0) = window_start.expect("measurement window");
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs(server.pid, tck) - c0;
    let pkts = (received - r0) as f64;
    // Drain what is still queued so the next phase starts clean.
    std::thread::sleep(Duration::from_millis(50));
    for s in &recv_socks {
        while s.recv_from(&mut buf).is_ok() {}
    }
    Figures {
        pps: pkts / elapsed,
        cpu_per_mpkt: if pkts > 0.0 {
            cpu / (pkts / 1e6)
        } else {
            f64::NAN
        },
        cpu_util: cpu / elapsed,
        lost,
    }
}

fn setup(server: &ServerProc, n: usize, peer: SocketAddr) -> Vec<Allocation> {
    (0..n)
        .map(|i| {
            allocate(server.addr, peer, i as u64)
                .unwrap_or_else(|e| panic!("allocation {i} failed: {e}"))
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let secs: f64 = std::env::var("TURN_RELAY_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4.0);
    let mem_allocs: usize = std::env::var("TURN_RELAY_MEM_ALLOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let skip_coturn = std::env::var("TURN_RELAY_SKIP_COTURN").is_ok_and(|v| v == "1");
    let _ = cores();
    let tck = clk_tck();
    let turnd = turnd_binary();
    if cores() >= 2 {
        // The generator on CPU 1, the servers on CPU 0.
        let _ = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
    let mut kinds = vec![Kind::Turnd];
    if !skip_coturn {
        assert!(
            Command::new("turnserver").arg("--version").output().is_ok(),
            "coturn's turnserver is missing: apt-get install coturn (or TURN_RELAY_SKIP_COTURN=1)"
        );
        kinds.push(Kind::Coturn);
    }
    println!(
        "TURN relay on 127.0.0.1, {PAYLOAD}-byte payloads as ChannelData, window {WINDOW}, {secs} s per phase, {} cores{}",
        cores(),
        if cores() >= 2 { " (server pinned to CPU 0, generator to CPU 1)" } else { "" }
    );
    println!(
        "{:<13} {:>6} {:<15} {:>10} {:>14} {:>9} {:>6}",
        "server", "allocs", "direction", "pkt/s", "CPU s / Mpkt", "CPU use", "lost"
    );
    for &kind in &kinds {
        for n in [1usize, 1000] {
            let server = start(kind, &turnd);
            let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
            let peer_addr = peer.local_addr().expect("peer addr");
            let allocs = setup(&server, n, peer_addr);
            peer.set_nonblocking(true).expect("nonblocking");
            for a in &allocs {
                a.sock.set_nonblocking(true).expect("nonblocking");
            }
            for (dir, label) in [
                (Direction::ToPeer, "client -> peer"),
                (Direction::ToClient, "peer -> client"),
            ] {
                let f = measure(&server, &allocs, &peer, dir, secs, tck);
                println!(
                    "{:<13} {:>6} {:<15} {:>10.0} {:>14.3} {:>8.0}% {:>6}",
                    kind.name(),
                    n,
                    label,
                    f.pps,
                    f.cpu_per_mpkt,
                    f.cpu_util * 100.0,
                    f.lost
                );
            }
            drop(allocs);
            drop(server);
        }
    }
    println!();
    println!(
        "{:<13} {:>7} {:>12} {:>12} {:>16}",
        "server", "allocs", "RSS before", "RSS after", "per allocation"
    );
    for &kind in &kinds {
        let server = start(kind, &turnd);
        let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
        let before = rss(server.pid);
        let allocs = setup(&server, mem_allocs, peer.local_addr().expect("peer addr"));
        std::thread::sleep(Duration::from_millis(500));
        let after = rss(server.pid);
        println!(
            "{:<13} {:>7} {:>10.1}MB {:>10.1}MB {:>14.0} B",
            kind.name(),
            allocs.len(),
            before as f64 / 1e6,
            after as f64 / 1e6,
            after.saturating_sub(before) as f64 / allocs.len() as f64
        );
        drop(allocs);
        drop(server);
    }
}
