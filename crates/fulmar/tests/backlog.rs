//! A receiver that stops reading, over real UDP sockets on 127.0.0.1. In a
//! test binary of its own: the peak it measures depends on how promptly the
//! driver runs, so it must not share the machine with the other loopback
//! tests running in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use fulmar::{Config, Message, PeerConnection};

mod common;
use common::connect;

/// A receiver that stops reading holds at most about its backlog limit
/// plus the SCTP receive window (the sender is flow-controlled beyond it);
/// once it reads again every byte arrives, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_backlog_is_bounded() {
    let run = async {
        const LIMIT: usize = 1 << 20;
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default().with_max_backlog(LIMIT))
            .await
            .unwrap();
        let (chat, remote) = connect(&a, &b, "flood").await;
        const N: usize = 64;
        let sender = tokio::spawn(async move {
            for i in 0..N {
                chat.send(Bytes::from(vec![i as u8; 65536])).await.unwrap();
            }
            chat
        });
        // Not reading for a while: the queue fills (however slowly a loaded
        // machine runs), then stops near the limit.
        let mut peak = 0;
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            peak = peak.max(b.queued_received_bytes());
            if peak >= LIMIT / 2 {
                break;
            }
        }
        assert!(peak >= LIMIT / 2, "the receiver did queue data: {peak}");
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            peak = peak.max(b.queued_received_bytes());
        }
        let window = fulmar_peer::Config::default().sctp.receive_window;
        assert!(peak <= LIMIT + window + 128 * 1024, "bounded: {peak}");
        for i in 0..N {
            assert_eq!(
                remote.recv().await,
                Some(Message::Binary(Bytes::from(vec![i as u8; 65536])))
            );
        }
        drop(sender.await.unwrap());
        assert_eq!(b.queued_received_bytes(), 0);
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("finished in time");
}
