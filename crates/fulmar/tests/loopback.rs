//! Two Fulmar peers over real UDP sockets on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use fulmar::{Config, Message, PeerConnection, PeerConnectionState};

mod common;
use common::connect;

#[tokio::test]
async fn echo_over_loopback() {
    let run = async {
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default()).await.unwrap();
        let chat = a.create_data_channel("chat").await.unwrap();
        let offer = a.create_offer().await.unwrap();
        assert!(offer.sdp.to_string().contains("typ host"));
        let answer_text = b.answer_offer(&offer.sdp.to_string()).await.unwrap();
        a.set_remote_description(fulmar::SessionDescription::answer(&answer_text).unwrap())
            .await
            .unwrap();
        let remote = b.accept_data_channel().await.unwrap();
        assert_eq!(remote.label(), "chat");
        // Echo on b.
        tokio::spawn(async move {
            while let Some(m) = remote.recv().await {
                remote.send_msg(m).await.unwrap();
            }
        });
        let big = Bytes::from(
            (0..256 * 1024)
                .map(|i| (i % 253) as u8)
                .collect::<Vec<u8>>(),
        );
        let msgs = vec![
            Message::Text("hello".into()),
            Message::Binary(Bytes::from_static(&[1, 2, 3])),
            Message::Text(String::new()),
            Message::Binary(Bytes::new()),
            Message::Binary(big),
        ];
        for m in &msgs {
            chat.send_msg(m.clone()).await.unwrap();
        }
        for m in &msgs {
            assert_eq!(chat.recv().await.as_ref(), Some(m));
        }
        a.connected().await.unwrap();
        assert_eq!(a.state(), PeerConnectionState::Connected);
        assert!(a.stats().messages_received >= 5);
        b.close().await;
        // a learns of the close through close_notify.
        while a.state() != PeerConnectionState::Closed {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// Throughput of one reliable ordered channel over loopback UDP (64 KiB
/// messages). Run: `cargo test --release -p fulmar --test loopback -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput_100_mb() {
    let a = PeerConnection::new(Config::default()).await.unwrap();
    let b = PeerConnection::new(Config::default()).await.unwrap();
    let (chat, remote) = connect(&a, &b, "bulk").await;
    const TOTAL: usize = 100 << 20;
    let msg = Bytes::from(vec![7u8; 65536]);
    let start = std::time::Instant::now();
    let cpu0 = cpu_seconds();
    let sender = tokio::spawn(async move {
        for _ in 0..TOTAL / 65536 {
            chat.send(msg.clone()).await.unwrap();
        }
        chat
    });
    let mut got = 0;
    while got < TOTAL {
        match remote.recv().await {
            Some(Message::Binary(d)) => got += d.len(),
            other => panic!("unexpected {other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "fulmar loopback: {} MB in {secs:.2} s = {:.1} MB/s; {cpu:.2} CPU s = {:.1} MB per CPU second",
        TOTAL >> 20,
        TOTAL as f64 / secs / 1e6,
        TOTAL as f64 / cpu / 1e6
    );
    drop(sender.await.unwrap());
}

/// User plus system CPU time of this process (Linux `/proc/self/stat`), so
/// the figure means something on a busy machine too.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| f.get(*i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

/// Dropping every handle of one side closes it, and the other side learns
/// of it (DTLS close_notify) and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_closes_both_sides() {
    let run = async {
        for _ in 0..20 {
            let a = PeerConnection::new(Config::default()).await.unwrap();
            let b = PeerConnection::new(Config::default()).await.unwrap();
            let (chat, remote) = connect(&a, &b, "x").await;
            drop((a, chat));
            tokio::time::timeout(Duration::from_secs(5), b.closed())
                .await
                .expect("the peer learns of the dropped side");
            assert_eq!(b.state(), PeerConnectionState::Closed);
            assert_eq!(remote.recv().await, None);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("finished in time");
}

/// A Fulmar-initiated ICE restart mid-conversation: new credentials in the
/// re-offer, and the channel keeps working without losing a message.
#[tokio::test]
async fn ice_restart_keeps_the_channel() {
    let run = async {
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default()).await.unwrap();
        let (chat, remote) = connect(&a, &b, "x").await;
        let ufrag = |d: &fulmar::SessionDescription| {
            d.sdp
                .to_string()
                .lines()
                .find_map(|l| l.strip_prefix("a=ice-ufrag:").map(str::to_owned))
        };
        let before = ufrag(&a.local_description().unwrap());
        a.restart_ice().await;
        chat.send_text("during").await.unwrap();
        let offer = a.create_offer().await.unwrap();
        assert_ne!(ufrag(&offer), before);
        let answer = b.answer_offer(&offer.sdp.to_string()).await.unwrap();
        a.set_remote_description(fulmar::SessionDescription::answer(&answer).unwrap())
            .await
            .unwrap();
        for i in 0..50 {
            chat.send_text(&format!("m{i}")).await.unwrap();
        }
        assert_eq!(remote.recv().await, Some(Message::Text("during".into())));
        for i in 0..50 {
            assert_eq!(remote.recv().await, Some(Message::Text(format!("m{i}"))));
        }
        assert_eq!(a.state(), PeerConnectionState::Connected);
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

/// An echo whose `send` waits on back-pressure stops reading; its unread
/// messages must only close its receive window, never stop it hearing the
/// acknowledgements its own sends wait for (that was a deadlock: the
/// driver dropped every DTLS datagram once the backlog was full, SACKs
/// included, as Chromium's 100 MiB echo test found under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_with_slow_readers_on_both_sides_completes() {
    let run = async {
        const SMALL: usize = 256 * 1024;
        const N: usize = 200;
        let a = PeerConnection::new(Config::default().with_max_backlog(SMALL))
            .await
            .unwrap();
        let b = PeerConnection::new(Config::default().with_max_backlog(SMALL))
            .await
            .unwrap();
        let (chat, remote) = connect(&a, &b, "echo").await;
        let echo = tokio::spawn(async move {
            while let Some(m) = remote.recv().await {
                if remote.send_msg(m).await.is_err() {
                    break;
                }
            }
        });
        let chat = std::sync::Arc::new(chat);
        let sender = {
            let chat = chat.clone();
            tokio::spawn(async move {
                for i in 0..N {
                    chat.send(Bytes::from(vec![i as u8; 65536])).await.unwrap();
                }
            })
        };
        // The echoes pile up unread for a while on both sides.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for i in 0..N {
            assert_eq!(
                chat.recv().await,
                Some(Message::Binary(Bytes::from(vec![i as u8; 65536]))),
                "echo {i}"
            );
        }
        sender.await.unwrap();
        echo.abort();
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("finished in time");
}

/// A peer whose certificate is not the one its answer signals: the
/// offerer refuses it, and both applications learn why, from `connected`
/// and from the state, instead of a bare `Closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprint_mismatch_is_reported_to_both_sides() {
    let run = async {
        let fingerprint = |sdp: &str| {
            sdp.lines()
                .find(|l| l.starts_with("a=fingerprint:"))
                .unwrap()
                .to_owned()
        };
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default()).await.unwrap();
        let stranger = PeerConnection::new(Config::default()).await.unwrap();
        let _ = stranger.create_data_channel("x").await.unwrap();
        let forged = fingerprint(&stranger.create_offer().await.unwrap().sdp.to_string());
        let _chat = a.create_data_channel("chat").await.unwrap();
        let offer = a.create_offer().await.unwrap();
        let answer = b.answer_offer(&offer.sdp.to_string()).await.unwrap();
        let answer = answer.replace(&fingerprint(&answer), &forged);
        a.set_remote_description(fulmar::SessionDescription::answer(&answer).unwrap())
            .await
            .unwrap();
        let mismatch = fulmar::Failure::Dtls(fulmar_dtls::Failure::FingerprintMismatch);
        match a.connected().await {
            Err(fulmar::Error::Failed(f)) => assert_eq!(f, mismatch),
            other => panic!("A: {other:?}"),
        }
        let refused = fulmar::Failure::Dtls(fulmar_dtls::Failure::AlertReceived(
            fulmar_dtls::AlertDescription::BadCertificate,
        ));
        match b.connected().await {
            Err(fulmar::Error::Failed(f)) => assert_eq!(f, refused),
            other => panic!("B: {other:?}"),
        }
        // The driver ends a failed connection and keeps its reason.
        a.closed().await;
        assert_eq!(a.state(), PeerConnectionState::Failed(mismatch));
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}
