//! 10,000 connections opened, joined and dropped (half by `leave`, half by
//! vanishing and expiring): the server forgets every one of them, and the
//! heap returns to its baseline, counted exactly by a counting allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;
use std::time::Duration;

use common::{server, Client, WAIT};
use fulmar_signal::auth::Auth;
use fulmar_signal::limits::Limits;
use serde_json::json;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed.
fn live_bytes() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

const CONNECTIONS: usize = 10_000;
/// Connections in flight at once.
const BATCH: usize = 100;

/// Opens `n` connections in batches; each joins one of a few rooms, relays
/// a broadcast, then leaves or just disconnects.
async fn churn(addr: std::net::SocketAddr, n: usize) {
    for batch in 0..n / BATCH {
        let mut tasks = Vec::with_capacity(BATCH);
        for i in 0..BATCH {
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(addr).await;
                c.join(&format!("room{}", i % 10), "churn").await;
                c.request(json!({"type": "broadcast", "data": batch})).await;
                if i % 2 == 0 {
                    c.request(json!({"type": "leave"})).await;
                }
                c.drop_connection().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
}

/// Waits (bounded) until the server holds no connection and no session.
async fn drained(s: &common::Server) {
    let wait = async {
        loop {
            let (c, n) = {
                let hub = s.signal.hub();
                (hub.connection_count(), hub.session_count())
            };
            if c == 0 && n == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT * 3, wait)
        .await
        .expect("the server forgets every connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_leave_nothing_behind() {
    let limits = Limits {
        resume_grace: Duration::from_millis(50),
        ..Limits::default()
    };
    let s = server(limits, Auth::Open).await;
    // Warm up: tables reach their high-water mark, one-time costs are paid.
    churn(s.addr, 2 * BATCH).await;
    drained(&s).await;
    let baseline = live_bytes();
    churn(s.addr, CONNECTIONS).await;
    drained(&s).await;
    let grown = live_bytes() - baseline;
    // Tolerance for allocator-independent noise: tokio's timer wheel and
    // task slabs may keep a few blocks; anything per connection would be
    // megabytes (10,000 × hundreds of bytes).
    assert!(
        grown < 256 * 1024,
        "heap grew by {grown} bytes over {CONNECTIONS} connections"
    );
    let m = s.signal.metrics();
    assert_eq!(m.connections.get(), 0);
    assert_eq!(m.sessions.get(), 0);
    assert_eq!(m.joins.get(), (CONNECTIONS + 2 * BATCH) as u64);
}
