//! TURN relay throughput through fulmar-turn's sans-IO server core:
//! ChannelData with 1200-byte payloads client → peer and peer → client, on
//! one allocation and spread over 1000 allocations; and the memory one
//! allocation costs the server, measured over 10,000 allocations with a
//! counting allocator (printed, not asserted).
//!
//! webrtc-rs has no sans-IO TURN server core (its `turn` crate's server is
//! async over sockets), so there is no same-work comparison in process; the
//! coturn comparison over real sockets is left to an interop-style harness.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use fulmar_turn::{
    Client, ClientConfig, ClientEvent, FiveTuple, PeerPolicy, Server, ServerConfig,
    TransportProtocol,
};
use rand::{rngs::StdRng, SeedableRng};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERVER: ([u8; 4], u16) = ([198, 51, 100, 1], 3478);

fn server(now: Instant) -> Server {
    let mut c = ServerConfig::new("bench.test", SERVER.0.into()).with_user("alice", "secret");
    c.max_allocations = 20_000;
    c.max_allocations_per_user = 20_000;
    c.peer_policy = PeerPolicy::allow_all();
    Server::new(c, now, StdRng::seed_from_u64(1))
}

/// Allocate for client `i` and bind channel 0x4000 to the peer; returns the
/// 5-tuple and relayed address.
fn allocate(
    server: &mut Server,
    now: Instant,
    i: u32,
    peer: SocketAddr,
    bind: bool,
) -> (FiveTuple, SocketAddr) {
    let server_addr = SocketAddr::from(SERVER);
    let ft = FiveTuple {
        client: SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40000)),
        server: server_addr,
        protocol: TransportProtocol::Udp,
    };
    let mut client = Client::new(
        ClientConfig::new(server_addr, "alice", "secret"),
        StdRng::seed_from_u64(u64::from(i)),
    );
    let pump = |client: &mut Client, server: &mut Server| loop {
        let mut moved = false;
        let mut buf = Vec::new();
        while client.poll_transmit(now, &mut buf).is_some() {
            moved = true;
            server.handle_client(now, ft, &buf);
        }
        while let Some(t) = server.poll_transmit() {
            moved = true;
            client.handle_receive(now, server_addr, &t.payload);
        }
        while server.poll_event().is_some() {}
        if !moved {
            break;
        }
    };
    client.allocate(now).unwrap();
    pump(&mut client, server);
    let Some(ClientEvent::Allocated { relayed, .. }) = client.poll_event() else {
        panic!("allocation failed");
    };
    if bind {
        client.bind_channel(now, peer).unwrap();
        pump(&mut client, server);
    }
    (ft, relayed)
}

fn channel_data(channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = channel.to_be_bytes().to_vec();
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let peer = SocketAddr::from(([192, 0, 2, 9], 7000));
    let payload = [0xA5u8; 1200];
    let msg = channel_data(0x4000, &payload);

    let mut g = c.benchmark_group("turn_relay_channeldata_1200B");
    g.throughput(Throughput::Elements(1));

    let mut s = server(now);
    let (ft, relayed) = allocate(&mut s, now, 1, peer, true);
    g.bench_function("fulmar/client_to_peer/1_allocation", |b| {
        b.iter(|| {
            black_box(
                s.handle_client(now, ft, black_box(&msg))
                    .map(|r| r.data.len()),
            )
        })
    });
    let mut out = vec![0u8; 1500];
    g.bench_function("fulmar/peer_to_client/1_allocation", |b| {
        b.iter(|| black_box(s.handle_peer(now, relayed, peer, black_box(&payload), &mut out)))
    });

    let mut s = server(now);
    let allocs: Vec<(FiveTuple, SocketAddr)> = (0..1000)
        .map(|i| allocate(&mut s, now, i, peer, true))
        .collect();
    let mut i = 0;
    g.bench_function("fulmar/client_to_peer/1000_allocations", |b| {
        b.iter(|| {
            i = (i + 1) % allocs.len();
            black_box(
                s.handle_client(now, allocs[i].0, black_box(&msg))
                    .map(|r| r.data.len()),
            )
        })
    });
    g.bench_function("fulmar/peer_to_client/1000_allocations", |b| {
        b.iter(|| {
            i = (i + 1) % allocs.len();
            black_box(s.handle_peer(now, allocs[i].1, peer, black_box(&payload), &mut out))
        })
    });
    g.finish();

    // Memory per allocation (with one channel binding and its permission).
    let mut s = server(now);
    let before = LIVE.load(Ordering::Relaxed);
    for i in 0..10_000 {
        allocate(&mut s, now, i, peer, true);
    }
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(s.allocation_count(), 10_000);
    println!(
        "turn server memory: {} bytes for 10,000 allocations with a channel each = {} bytes per allocation",
        after - before,
        (after - before) / 10_000
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
