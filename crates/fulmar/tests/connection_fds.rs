//! Connections leave no socket or task behind: a descriptor and task count,
//! so it runs alone in its own test binary (tests in one binary run side by
//! side, and their sockets and tasks would come and go under the count).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fulmar::{Config, PeerConnection};

mod common;
use common::{connect, open_fds};

/// Connect, exchange one message and close, many times: sockets and tasks
/// return to their baseline (closing from alternating sides).
#[tokio::test]
async fn connections_do_not_leak() {
    let run = async {
        let tasks0 = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let fds0 = open_fds();
        for i in 0..50 {
            let a = PeerConnection::new(Config::default()).await.unwrap();
            let b = PeerConnection::new(Config::default()).await.unwrap();
            let (chat, remote) = connect(&a, &b, "x").await;
            if i % 2 == 0 {
                a.close().await;
            } else {
                b.close().await;
            }
            drop((a, b, chat, remote));
        }
        // Drivers end once closed; give them a moment to unwind.
        for _ in 0..200 {
            if tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                <= tasks0
                && open_fds() <= fds0
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            tasks0,
            "tasks back to baseline"
        );
        assert!(
            open_fds() <= fds0,
            "sockets back to baseline: {} > {fds0}",
            open_fds()
        );
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("finished in time");
}
