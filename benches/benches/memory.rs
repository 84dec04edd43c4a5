//! Resident memory per established peer connection with one open data
//! channel: open `MEMORY_PAIRS` pairs (1000 unless set), keep them, and
//! divide the growth of the process's resident set by the number of peer
//! connections (two per pair). The connections idle, or (`+traffic`) each
//! channel carries a steady 1 KiB message every 100 ms while measured.
//!
//! Four stacks, each in a fresh process (this binary runs itself once per
//! stack, so no allocator state carries over from one to the next):
//! - `fulmar`: the `fulmar` tokio driver, one UDP socket and its tasks per
//!   peer connection, over 127.0.0.1;
//! - `fulmar-shared`: the same, but every pair's answerer on ONE shared
//!   `fulmar::Endpoint` (a server's sessions on one port); the offerers keep
//!   a socket each, so its figure against `fulmar`'s shows what a session on
//!   the shared port costs against one with its own socket;
//! - `webrtc-rs`: the async `webrtc` crate 0.21, the same way;
//! - `fulmar-peer` and `str0m`: the sans-IO cores alone (no sockets, no
//!   tasks), two by two, wired back to back in memory (fulmar-peer on
//!   fulmar-netsim's two-party `Pair` over an ideal link, the harness
//!   dropped once the pair is open); once the channel is open each pair
//!   idles for the same [`idle`] time as the async stacks, in simulated time
//!   (its timers run, consent checks flow).
//!
//! The baseline is taken after `WARMUP` pairs are already open, so one-time
//! costs (runtime threads, lazily built tables) are not counted.
//!
//! `cd benches && cargo bench --bench memory` (or `-- fulmar` for one stack)

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "stacks/mod.rs"]
mod stacks;
use stacks::{fulmar_pair, runtime, webrtc_pair, Stack, TRAFFIC_EVERY, TRAFFIC_MSG};

const STACKS: [&str; 7] = [
    "fulmar",
    "fulmar-shared",
    "fulmar-peer",
    "webrtc-rs",
    "str0m",
    "fulmar+traffic",
    "webrtc-rs+traffic",
];
const WARMUP: usize = 16;

/// Resident set size in bytes (`VmRSS` of /proc/self/status).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .unwrap();
    kb * 1024
}

/// How long connections idle before the measurement (`MEMORY_IDLE_MS`, 2 s
/// unless set; simulated time for the sans-IO cores): consent checks keep
/// flowing.
fn idle() -> Duration {
    let ms = std::env::var("MEMORY_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

/// Opens `WARMUP` pairs, takes the baseline, opens `n` more, lets them
/// [`idle`] (or, with `traffic`, carry [`Stack::start_traffic`]'s steady
/// messages for that long) and returns (baseline, after); every pair is
/// kept open until then.
fn measure_async<P: Stack>(n: usize, traffic: bool) -> (usize, usize) {
    let rt = runtime();
    rt.block_on(async {
        let mut pairs = Vec::with_capacity(WARMUP + n);
        for _ in 0..WARMUP {
            pairs.push(P::open().await);
        }
        if traffic {
            pairs.iter_mut().for_each(Stack::start_traffic);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let base = rss();
        for _ in 0..n {
            let mut p = P::open().await;
            if traffic {
                p.start_traffic();
            }
            pairs.push(p);
        }
        tokio::time::sleep(idle()).await;
        let after = rss();
        for p in pairs {
            p.close().await;
        }
        (base, after)
    })
}

/// The same for pairs of sans-IO cores opened by `open`.
fn measure_sans_io<P>(n: usize, open: impl Fn() -> P) -> (usize, usize) {
    let mut pairs: Vec<P> = (0..WARMUP).map(|_| open()).collect();
    let base = rss();
    pairs.extend((0..n).map(|_| open()));
    let after = rss();
    drop(pairs);
    (base, after)
}

/// The peer tests' harness: two `fulmar-peer` connections on
/// fulmar-netsim's `Pair`.
#[path = "../../crates/peer/tests/common/mod.rs"]
mod common;

/// Two `fulmar-peer` cores with an open channel, in memory, zero latency.
mod fulmar_peer_pair {
    use super::*;
    use fulmar_datachannel::ChannelConfig;
    use fulmar_netsim::LinkConfig;
    use fulmar_peer::{Config, PeerConnection};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Opens the channel on fulmar-netsim's pair over an ideal link, idles
    /// for [`idle`] in simulated time, and keeps only the two connections
    /// (the harness is dropped before the measurement).
    pub fn open() -> (PeerConnection, PeerConnection) {
        static PAIRS: AtomicU64 = AtomicU64::new(0);
        let n = PAIRS.fetch_add(1, Ordering::Relaxed);
        let configs = (Config::default(), Config::default());
        let mut p = common::unnegotiated(configs, (2 * n, 2 * n + 1, n), LinkConfig::ideal());
        let ch = p.a.create_data_channel(ChannelConfig::new("x")).unwrap();
        common::negotiate(&mut p, |_| {}, |sdp| sdp);
        let open = p.run_until(Duration::from_secs(60), |p| common::channel_open(p, ch));
        assert!(open, "fulmar-peer: channel did not open");
        p.run_for(idle());
        let (a, b) = p.into_parties();
        (a.pc, b.pc)
    }
}

/// Two str0m `Rtc`s with an open channel, in memory, zero latency.
mod str0m_pair {
    use super::*;
    use str0m::net::{Protocol, Receive};
    use str0m::{Candidate, Event, Input, Output, Rtc};

    /// Moves `from`'s output into `to`; returns `from`'s deadline and
    /// whether a channel opened on `from`.
    fn drain(from: &mut Rtc, to: &mut Rtc, now: Instant) -> (Instant, bool) {
        let mut opened = false;
        loop {
            match from.poll_output().unwrap() {
                Output::Timeout(t) => return (t, opened),
                Output::Transmit(t) => {
                    let r = Receive {
                        proto: Protocol::Udp,
                        source: t.source,
                        destination: t.destination,
                        contents: (&t.contents[..]).try_into().unwrap(),
                    };
                    to.handle_input(Input::Receive(now, r)).unwrap();
                }
                Output::Event(Event::ChannelOpen(..)) => opened = true,
                Output::Event(_) => {}
            }
        }
    }

    pub fn open() -> (Rtc, Rtc) {
        let now = Instant::now();
        let mut a = Rtc::builder().build(now);
        let mut b = Rtc::builder().build(now);
        a.add_local_candidate(Candidate::host("127.0.0.1:4000".parse().unwrap(), "udp").unwrap());
        b.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
        let mut change = a.sdp_api();
        change.add_channel("x".into());
        let (offer, pending) = change.apply().unwrap();
        let answer = b.sdp_api().accept_offer(offer).unwrap();
        a.sdp_api().accept_answer(pending, answer).unwrap();
        let (mut t, mut a_open, mut b_open) = (now, false, false);
        let mut idle_until = None;
        for _ in 0..100_000 {
            let (ta, oa) = drain(&mut a, &mut b, t);
            let (tb, ob) = drain(&mut b, &mut a, t);
            a_open |= oa;
            b_open |= ob;
            if a_open && b_open && idle_until.is_none() {
                idle_until = Some(t + idle());
            }
            if idle_until.is_some_and(|end| ta.min(tb) > end) {
                return (a, b);
            }
            t = t.max(ta.min(tb));
            a.handle_input(Input::Timeout(t)).unwrap();
            b.handle_input(Input::Timeout(t)).unwrap();
        }
        panic!("str0m: channel did not open");
    }
}

fn measure(stack: &str, n: usize) -> (usize, usize) {
    match stack {
        "fulmar" => measure_async::<fulmar_pair::Pair>(n, false),
        "fulmar-shared" => measure_async::<fulmar_pair::Pair<true, true>>(n, false),
        "webrtc-rs" => measure_async::<webrtc_pair::Pair>(n, false),
        "fulmar+traffic" => measure_async::<fulmar_pair::Pair>(n, true),
        "webrtc-rs+traffic" => measure_async::<webrtc_pair::Pair>(n, true),
        "fulmar-peer" => measure_sans_io(n, fulmar_peer_pair::open),
        "str0m" => measure_sans_io(n, str0m_pair::open),
        other => panic!("unknown stack {other}"),
    }
}

fn main() {
    let n = std::env::var("MEMORY_PAIRS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1000);
    if let Ok(stack) = std::env::var("MEMORY_STACK") {
        let (base, after) = measure(&stack, n);
        println!("{base} {after}");
        return;
    }
    // `cargo bench` passes `--bench`; any other argument picks stacks.
    let picked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let exe = std::env::current_exe().unwrap();
    println!(
        "memory per established peer connection with one open channel ({n} pairs), idle or \
         (+traffic) carrying a {TRAFFIC_MSG}-byte message every {} ms",
        TRAFFIC_EVERY.as_millis()
    );
    println!("| stack | RSS at baseline | RSS with {n} more pairs | per peer connection |");
    println!("|---|---|---|---|");
    for stack in STACKS {
        if !picked.is_empty() && !picked.iter().any(|p| p == stack) {
            continue;
        }
        let out = Command::new(&exe)
            .env("MEMORY_STACK", stack)
            .env("MEMORY_PAIRS", n.to_string())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let figures: Vec<usize> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        match figures[..] {
            [base, after] if out.status.success() => println!(
                "| {stack} | {} KiB | {} KiB | {:.1} KiB |",
                base >> 10,
                after >> 10,
                after.saturating_sub(base) as f64 / (2 * n) as f64 / 1024.0
            ),
            _ => println!(
                "| {stack} | failed: {} | | |",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ),
        }
    }
}
