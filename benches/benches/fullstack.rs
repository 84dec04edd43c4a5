//! Full-stack data channels: two peers in one process, each with its own UDP
//! socket on 127.0.0.1, driven by their tokio drivers (ICE, DTLS 1.2, SCTP,
//! DCEP, sockets, timers and tasks all included).
//!
//! - `fullstack/throughput`: one reliable ordered channel moves `TOTAL`
//!   (500 MB unless `FULLSTACK_MB` says otherwise) as 64 KiB binary
//!   messages; the clock runs from the channel being open to the last byte
//!   received. Each sender keeps at most 1 MiB queued (Fulmar's default
//!   `max_buffered`; webrtc-rs's `with_data_channel_send_buffer_limit`).
//! - `fullstack/open_cpu` and `fullstack/open_wall`: from nothing (sockets,
//!   certificates, both peers) to a data channel open on both sides, with
//!   in-process signaling and loopback's zero latency. `open_cpu` reports
//!   the CPU time of every thread of the process (summed from
//!   `/proc/self/task/*/schedstat`), `open_wall` the elapsed time.
//!
//! Fulmar (the `fulmar` driver) beside webrtc-rs (the async `webrtc` crate
//! 0.21, the newest on crates.io), on the same 2-worker tokio runtime, both
//! computing CRC32c on every SCTP packet (`fulmar`); Fulmar's default
//! between two Fulmar peers, RFC 9653 zero checksum, is its own row.
//!
//! `cd benches && cargo bench --bench fullstack`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

#[path = "stacks/mod.rs"]
mod stacks;
use stacks::{fulmar_pair, runtime, webrtc_pair, Stack, MSG};

/// Bytes moved per throughput iteration.
fn total() -> usize {
    let mb = std::env::var("FULLSTACK_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(500);
    mb * 1_000_000 / MSG * MSG
}

/// CPU time of all threads of this process so far.
fn process_cpu() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// Throughput: the sum of transfer times over `iters` fresh pairs.
fn transfer_time<P: Stack>(rt: &tokio::runtime::Runtime, iters: u64, total: usize) -> Duration {
    rt.block_on(async {
        let mut t = Duration::ZERO;
        for _ in 0..iters {
            t += P::open().await.transfer(total).await;
        }
        t
    })
}

/// Opening: CPU time of the process (`cpu`) or elapsed time per open.
fn open_time<P: Stack>(rt: &tokio::runtime::Runtime, iters: u64, cpu: bool) -> Duration {
    let clock = move || {
        if cpu {
            process_cpu()
        } else {
            thread_local! { static EPOCH: Instant = Instant::now(); }
            EPOCH.with(|e| e.elapsed())
        }
    };
    rt.block_on(async {
        let mut t = Duration::ZERO;
        for _ in 0..iters {
            let start = clock();
            let p = P::open().await;
            t += clock() - start;
            p.close().await;
        }
        t
    })
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let total = total();

    let mut g = c.benchmark_group("fullstack/throughput");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(total as u64));
    // Like for like first: CRC32c on every SCTP packet, as webrtc-rs does.
    g.bench_function("fulmar", |b| {
        b.iter_custom(|iters| transfer_time::<fulmar_pair::Pair<false>>(&rt, iters, total))
    });
    g.bench_function("webrtc-rs", |b| {
        b.iter_custom(|iters| transfer_time::<webrtc_pair::Pair>(&rt, iters, total))
    });
    // Fulmar's default between two Fulmar peers: RFC 9653 zero checksum.
    g.bench_function("fulmar-zero-checksum-rfc9653", |b| {
        b.iter_custom(|iters| transfer_time::<fulmar_pair::Pair<true>>(&rt, iters, total))
    });
    g.finish();

    for (name, cpu) in [("fullstack/open_cpu", true), ("fullstack/open_wall", false)] {
        let mut g = c.benchmark_group(name);
        g.sample_size(20);
        g.bench_function("fulmar", |b| {
            b.iter_custom(|iters| open_time::<fulmar_pair::Pair>(&rt, iters, cpu))
        });
        g.bench_function("webrtc-rs", |b| {
            b.iter_custom(|iters| open_time::<webrtc_pair::Pair>(&rt, iters, cpu))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
