//! One UDP port under load: 200 concurrent echo sessions on a
//! `fulmar-gateway` process, every one on its one shared media socket, each
//! echoing messages on two data channels, while that process holds one UDP
//! socket and a bounded number of sockets in all (none per session).
//!
//! The clients are Fulmar peers in this process, each with a socket of its
//! own, as browsers have: sessions sharing a socket on *both* ends would
//! share one 5-tuple, which no demultiplexing by address can tell apart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use fulmar::{Config, Message, PeerConnection};

const SESSIONS: usize = 200;
const MESSAGES: usize = 5;

/// The socket inodes process `pid` holds.
fn socket_inodes(pid: u32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// The inodes of every UDP socket of the network namespace.
fn udp_inodes() -> HashSet<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().nth(9)?.parse().ok())
                .collect::<Vec<u64>>()
        })
        .collect()
}

/// The resident set of process `pid`, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The gateway process and its HTTP base URL; killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway() -> Server {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fulmar-gateway"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--max-pending-per-client",
            "1000",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the gateway printed its address")
            .unwrap();
        if let Some(url) = line.strip_prefix("fulmar-gateway: open ") {
            break url.to_owned();
        }
    };
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

/// One client: offers two channels through `POST /offer`, connects, and
/// checks that every message comes back on the channel it went out on.
async fn client(http: reqwest::Client, base: Arc<String>, n: usize) -> PeerConnection {
    let pc = PeerConnection::new(Config::default()).await.unwrap();
    let chat = pc.create_data_channel("chat").await.unwrap();
    let bulk = pc.create_data_channel("bulk").await.unwrap();
    let offer = pc.create_offer().await.unwrap();
    let res = common::post_sdp(&http, &format!("{base}/offer"), &offer.sdp.to_string()).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let answer = res.text().await.unwrap();
    pc.set_remote_description(fulmar::SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    pc.connected().await.unwrap();
    for i in 0..MESSAGES {
        let text = format!("session {n} message {i}");
        chat.send_text(&text).await.unwrap();
        let binary = vec![(n % 251) as u8; 1000 + i];
        bulk.send(binary.clone()).await.unwrap();
        assert_eq!(chat.recv().await, Some(Message::Text(text)));
        assert_eq!(bulk.recv().await, Some(Message::Binary(binary.into())));
    }
    pc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_echo_on_one_udp_port() {
    let server = start_gateway();
    let pid = server.child.id();
    // The idle server's sockets (the media socket is bound before it prints
    // its address): its HTTP listener, its UDP socket, and what its runtime
    // holds.
    let idle = socket_inodes(pid).len();
    // One session first, so one-time costs (runtime, tables) are not counted.
    let http0 = reqwest::Client::new();
    let warm = client(http0, Arc::new(server.base.clone()), SESSIONS).await;
    let rss_before = rss_kib(pid);
    // No idle HTTP connections kept: the server's TCP sockets come and go
    // with the requests.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let base = Arc::new(server.base.clone());
    let tasks: Vec<_> = (0..SESSIONS)
        .map(|n| tokio::spawn(client(http.clone(), base.clone(), n)))
        .collect();
    // A hang guard only (no timed assertion): each client's outcome is checked.
    let peers = tokio::time::timeout(Duration::from_secs(600), async {
        let mut peers = Vec::new();
        for t in tasks {
            peers.push(t.await.unwrap());
        }
        peers
    })
    .await
    .expect("the 200 sessions never all echoed");
    // Every session is live at once, connected, and echoed both channels.
    let (_, sessions) = common::sessions(&http, &base).await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), SESSIONS + 1);
    assert!(sessions.iter().all(|s| s["state"] == "Connected"));
    let echoed: u64 = sessions
        .iter()
        .map(|s| s["messages_sent"].as_u64().unwrap())
        .sum();
    assert_eq!(echoed, ((SESSIONS + 1) * MESSAGES * 2) as u64);
    // A figure, not an assertion: the gateway's resident growth per idle
    // echo session (two open channels) on the shared port.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(pid);
    println!(
        "gateway RSS {rss_before} KiB -> {rss_after} KiB with {SESSIONS} more sessions: {:.1} KiB per session",
        rss_after.saturating_sub(rss_before) as f64 / SESSIONS as f64
    );
    // Every client reached the same server port.
    let remotes: HashSet<std::net::SocketAddr> = peers
        .iter()
        .filter_map(|p| p.stats().selected_pair.map(|(_, remote)| remote))
        .collect();
    assert_eq!(remotes.len(), 1, "one server address: {remotes:?}");
    // One UDP socket in the server process, whatever the session count.
    let udp = udp_inodes();
    let held = socket_inodes(pid);
    let server_udp = held.iter().filter(|i| udp.contains(i)).count();
    println!(
        "{SESSIONS} sessions: the gateway holds {} sockets, {server_udp} of them UDP (idle: {idle})",
        held.len()
    );
    assert_eq!(server_udp, 1, "one UDP socket for every session");
    // Beyond the idle set, at most the HTTP connections of the last
    // requests (the client keeps none idle), never one per session.
    assert!(
        held.len() <= idle + 4,
        "{SESSIONS} sessions: {} sockets held, {idle} when idle",
        held.len()
    );
    for p in peers {
        p.close().await;
    }
    warm.close().await;
}
