//! Closed sessions give their sockets back: sessions of every kind opened
//! and closed leave the process with the descriptors it had. Alone in its
//! binary, so no other test opens descriptors meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_gateway::{Gateway, GatewayConfig, SessionKind};

const OFFER: &str = include_str!("../../sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_sessions_release_their_sockets() {
    let config = GatewayConfig::default()
        .with_sample_media()
        .unwrap_or_default();
    let gateway = Arc::new(Gateway::new(config));
    // One session of each kind first, so that lazily opened files count in
    // the baseline.
    for kind in [SessionKind::Echo, SessionKind::Whip, SessionKind::Whep] {
        let (id, _, _) = gateway.open(kind, OFFER).await.unwrap();
        assert!(gateway.close(kind, &id).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = open_fds();
    for kind in [SessionKind::Echo, SessionKind::Whip, SessionKind::Whep] {
        for _ in 0..10 {
            let (id, _, _) = gateway.open(kind, OFFER).await.unwrap();
            assert!(gateway.close(kind, &id).await);
        }
    }
    assert_eq!(gateway.session_count(), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > baseline && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        open_fds() <= baseline,
        "descriptors back to the baseline: {} > {baseline}",
        open_fds()
    );
}
