//! Capacity: thousands of sessions on the one shared media socket, a
//! per-client limit of sessions not yet connected, and offers beyond either
//! limit answered `503` with nothing left behind (no session, no route on
//! the shared socket, no per-client count).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use fulmar_gateway::{Gateway, GatewayConfig, OpenError, SessionKind};
use reqwest::{Client, StatusCode};

/// An offer with no candidates: the session it opens never connects.
const OFFER: &str = include_str!("../../sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");

/// An HTTP client whose connections come from `ip` (any 127/8 address is
/// local on Linux).
fn client_from(ip: [u8; 4]) -> Client {
    Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

async fn post_offer(client: &Client, base: &str) -> reqwest::Response {
    common::post_sdp(client, &format!("{base}/offer"), OFFER).await
}

/// Waits (bounded, as a hang guard only) until `f` holds.
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never: {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_flood_from_one_client_gets_503_and_leaves_no_state() {
    const LIMIT: usize = 8;
    const FLOOD: usize = 40;
    let (base, gateway) = start(GatewayConfig::default().with_capacity(1000, LIMIT)).await;
    let endpoint = gateway.endpoint().await.unwrap().clone();
    let flooder = client_from([127, 0, 0, 1]);
    let flood = (0..FLOOD).map(|_| {
        let (c, b) = (flooder.clone(), base.clone());
        tokio::spawn(async move {
            let r = post_offer(&c, &b).await;
            let status = r.status();
            let retry = r.headers().contains_key("retry-after");
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (status, retry, location, r.text().await.unwrap())
        })
    });
    let mut admitted = Vec::new();
    let mut refused = 0;
    for reply in futures_join(flood).await {
        let (status, retry, location, body) = reply;
        match status {
            StatusCode::OK => admitted.push(location.unwrap()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry, "503 carries Retry-After");
                assert!(body.contains("unanswered offers"), "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    // Concurrent offers cannot all pass the check: exactly the limit.
    assert_eq!(admitted.len(), LIMIT);
    assert_eq!(refused, FLOOD - LIMIT);
    // Refused offers left nothing: only the admitted sessions exist, each
    // with its one route on the shared socket.
    let flooder_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(gateway.session_count(), LIMIT);
    assert_eq!(gateway.pending_count(flooder_ip), LIMIT);
    until("one route per session", || {
        endpoint.connection_count() == LIMIT
    })
    .await;
    // Another client is not affected by the flood.
    let other = post_offer(&client_from([127, 0, 0, 2]), &base).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(gateway.pending_count(IpAddr::from([127, 0, 0, 2])), 1);
    // Ending the flooder's sessions gives its places back.
    for location in &admitted {
        let id = location.trim_start_matches("/offer/");
        assert!(gateway.close(SessionKind::Echo, id).await);
    }
    assert_eq!(gateway.pending_count(flooder_ip), 0);
    until("routes of closed sessions forgotten", || {
        endpoint.connection_count() == 1
    })
    .await;
    assert_eq!(post_offer(&flooder, &base).await.status(), StatusCode::OK);
    gateway.close_all().await;
    until("no route left", || endpoint.connection_count() == 0).await;
    assert_eq!(gateway.pending_count(flooder_ip), 0);
}

/// Sockets the process holds.
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_sessions_share_one_socket_and_the_capacity_holds() {
    const CAPACITY: usize = 2000;
    let gateway = Gateway::new(GatewayConfig::default().with_capacity(CAPACITY, 4));
    let endpoint = gateway.endpoint().await.unwrap().clone();
    let before = sockets();
    // Many clients (four pending each at most): 500 addresses of 10/8.
    for i in 0..CAPACITY {
        let client = IpAddr::from([10, 0, (i / 4 / 256) as u8, (i / 4 % 256) as u8]);
        gateway
            .open_from(SessionKind::Echo, OFFER, Some(client))
            .await
            .unwrap();
    }
    assert_eq!(gateway.session_count(), CAPACITY);
    assert_eq!(endpoint.connection_count(), CAPACITY);
    // No socket per session: the shared one was bound before counting.
    let during = sockets();
    assert!(
        during <= before + 2,
        "{CAPACITY} sessions hold {during} sockets (before: {before})"
    );
    // One more from a new client: the capacity refuses it, nothing added.
    let r = gateway
        .open_from(SessionKind::Whep, OFFER, Some(IpAddr::from([10, 9, 9, 9])))
        .await;
    assert!(matches!(r, Err(OpenError::Full)), "{r:?}");
    assert_eq!(gateway.session_count(), CAPACITY);
    assert_eq!(endpoint.connection_count(), CAPACITY);
    assert_eq!(gateway.pending_count(IpAddr::from([10, 9, 9, 9])), 0);
    // And the per-client limit applies below the capacity too.
    let first = IpAddr::from([10, 0, 0, 0]);
    assert_eq!(gateway.pending_count(first), 4);
    gateway.close_all().await;
    until("every route forgotten", || endpoint.connection_count() == 0).await;
    let r = gateway
        .open_from(SessionKind::Echo, OFFER, Some(first))
        .await;
    assert!(r.is_ok(), "{r:?}");
    for _ in 0..3 {
        gateway
            .open_from(SessionKind::Echo, OFFER, Some(first))
            .await
            .unwrap();
    }
    let r = gateway
        .open_from(SessionKind::Echo, OFFER, Some(first))
        .await;
    assert!(matches!(r, Err(OpenError::ClientLimit)), "{r:?}");
    assert_eq!(gateway.session_count(), 4);
    gateway.close_all().await;
}

/// Awaits every task, in order.
async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
