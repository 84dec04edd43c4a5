//! The gateway's HTTP routes, served on 127.0.0.1 and driven by a real HTTP
//! client and real Fulmar peers: `/offer` echo, the WHIP and WHEP session
//! lifecycle of RFC 9725 (§4.2 create and delete, §4.3 trickle by PATCH),
//! CORS, limits and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::time::Duration;

use fulmar::{Config, Message, PeerConnection, SessionDescription};
use fulmar_gateway::GatewayConfig;
use reqwest::{Client, StatusCode};

/// A Fulmar peer with a data channel and its offer.
async fn offerer() -> (PeerConnection, fulmar::DataChannel, String) {
    let pc = PeerConnection::new(Config::default()).await.unwrap();
    let dc = pc.create_data_channel("chat").await.unwrap();
    let offer = pc.create_offer().await.unwrap();
    (pc, dc, offer.sdp.to_string())
}

async fn timeout<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn offer_answers_and_echoes_data_channel_messages() {
    let (base, gateway) = start(GatewayConfig::default()).await;
    let client = Client::new();
    let (pc, dc, offer) = offerer().await;
    let res = post_sdp(&client, &format!("{base}/offer"), &offer).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/sdp");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/offer/"), "{location}");
    let answer = res.text().await.unwrap();
    assert!(
        answer.contains("a=candidate:"),
        "non-trickle answer: {answer}"
    );
    pc.set_remote_description(SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    timeout(dc.opened()).await.unwrap();
    dc.send_text("hello gateway").await.unwrap();
    assert_eq!(
        timeout(dc.recv()).await,
        Some(Message::Text("hello gateway".into()))
    );
    dc.send(bytes::Bytes::from_static(&[0, 1, 2]))
        .await
        .unwrap();
    assert_eq!(
        timeout(dc.recv()).await,
        Some(Message::Binary(bytes::Bytes::from_static(&[0, 1, 2])))
    );
    // A second offer on the running session (renegotiation) is answered
    // and the channel keeps echoing; an unknown session is 404.
    let reoffer = pc.create_offer().await.unwrap().sdp.to_string();
    let res = post_sdp(&client, &format!("{base}{location}"), &reoffer).await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer = res.text().await.unwrap();
    pc.set_remote_description(SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    dc.send_text("after renegotiation").await.unwrap();
    assert_eq!(
        timeout(dc.recv()).await,
        Some(Message::Text("after renegotiation".into()))
    );
    let res = post_sdp(&client, &format!("{base}/offer/0123"), &reoffer).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The session shows in /sessions as connected, with counters.
    let (json, list) = common::sessions(&client, &base).await;
    let session = &list[0];
    assert_eq!(session["kind"], "echo", "{json}");
    assert_eq!(session["state"], "Connected", "{json}");
    assert!(session["packets_received"].as_u64().unwrap() > 0, "{json}");
    assert!(session["messages_received"].as_u64().unwrap() > 0, "{json}");
    assert!(
        session["rtt_ms"].is_null() || session["rtt_ms"].is_f64(),
        "{json}"
    );
    assert_eq!(gateway.session_count(), 1);
    // The peer goes away: the reaper ends the session.
    pc.close().await;
    drop(dc);
    timeout(async {
        while gateway.session_count() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn whip_lifecycle_create_trickle_delete() {
    let (base, gateway) = start(GatewayConfig::default()).await;
    let client = Client::new();
    let (pc, _dc, offer) = offerer().await;
    let res = post_sdp(&client, &format!("{base}/whip"), &offer).await;
    // RFC 9725 §4.2: 201 Created, Location, the answer as application/sdp.
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/whip/"), "{location}");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(res.headers()["content-type"], "application/sdp");
    assert_eq!(
        res.headers()["accept-patch"],
        "application/trickle-ice-sdpfrag"
    );
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("Location") && exposed.contains("ETag"));
    let answer = res.text().await.unwrap();
    pc.set_remote_description(SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    timeout(pc.connected()).await.unwrap();
    let url = format!("{base}{location}");
    let ufrag = offer
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .to_owned();
    let fragment = format!("a=ice-ufrag:{ufrag}\r\na=ice-pwd:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=end-of-candidates\r\n");
    let patch = |body: String, if_match: &str, ctype: &str| {
        client
            .patch(&url)
            .header("Content-Type", ctype)
            .header("If-Match", if_match)
            .body(body)
            .send()
    };
    let frag = "application/trickle-ice-sdpfrag";
    // §4.3.1: a stale entity tag is refused with 412.
    let r = patch(fragment.clone(), "\"0000\"", frag).await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    // Wrong media type: 415.
    let r = patch(fragment.clone(), &etag, "application/sdp")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A trickle fragment with the right tag: 204.
    let r = patch(fragment.clone(), &etag, frag).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // A candidate line is applied (a second host candidate of the client).
    let cand =
        format!("a=ice-ufrag:{ufrag}\r\na=candidate:1 1 udp 2122260223 127.0.0.1 9 typ host\r\n");
    let r = patch(cand, &etag, frag).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Garbage candidate: 400.
    let r = patch("a=candidate:nonsense\r\n".into(), &etag, frag)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // §4.3.2: an ICE restart (new ufrag, If-Match: *) is not supported: 422.
    let restart = "a=ice-ufrag:newone\r\na=ice-pwd:newpasswordnewpassword\r\n".to_owned();
    let r = patch(restart, "*", frag).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A WHEP verb on a WHIP session finds nothing.
    let other = url.replace("/whip/", "/whep/");
    let r = client.delete(&other).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(gateway.session_count(), 1);
    // §4.2: DELETE ends the session; a second DELETE finds nothing.
    let r = client.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(gateway.session_count(), 0);
    let r = client.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = patch(fragment, &etag, frag).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The client sees the connection end (DTLS close_notify).
    timeout(async {
        while pc.state() == fulmar::PeerConnectionState::Connected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn whep_lifecycle_and_session_listing() {
    let (base, gateway) = start(GatewayConfig::default()).await;
    let client = Client::new();
    let (pc, _dc, offer) = offerer().await;
    let res = post_sdp(&client, &format!("{base}/whep"), &offer).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/whep/"));
    let id = location.trim_start_matches("/whep/").to_owned();
    assert_eq!(id.len(), 32);
    pc.set_remote_description(SessionDescription::answer(&res.text().await.unwrap()).unwrap())
        .await
        .unwrap();
    timeout(pc.connected()).await.unwrap();
    let sessions = gateway.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, id);
    assert_eq!(sessions[0].kind, fulmar_gateway::SessionKind::Whep);
    let r = client
        .delete(format!("{base}{location}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(gateway.sessions().is_empty());
}

#[tokio::test]
async fn errors_limits_and_cors() {
    let mut config = GatewayConfig::default();
    config.max_sessions = 1;
    let (base, gateway) = start(config).await;
    let client = Client::new();
    // WHIP needs application/sdp (RFC 9725 §4.2).
    let r = client
        .post(format!("{base}/whip"))
        .header("Content-Type", "text/plain")
        .body("v=0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A malformed offer: 400 with the reason, and no session left behind.
    let r = post_sdp(&client, &format!("{base}/whep"), "not sdp at all").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(!r.text().await.unwrap().is_empty());
    let r = post_sdp(&client, &format!("{base}/offer"), "v=0\r\n").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(gateway.session_count(), 0);
    // Too large a body: refused before parsing.
    let r = post_sdp(&client, &format!("{base}/whip"), &"a".repeat(100_000)).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The session limit: the second offer gets 503 with Retry-After.
    let (_pc, _dc, offer) = offerer().await;
    let r = post_sdp(&client, &format!("{base}/whip"), &offer).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_pc2, _dc2, offer2) = offerer().await;
    let r = post_sdp(&client, &format!("{base}/whip"), &offer2).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(gateway.session_count(), 1);
    // CORS preflight for a browser page on another origin.
    for path in ["/whip", "/whep", "/offer", "/whip/abc"] {
        let r = client
            .request(reqwest::Method::OPTIONS, format!("{base}{path}"))
            .header("Origin", "http://example.test")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let methods = r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains("POST") && methods.contains("DELETE"));
        let allowed = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed.contains("Content-Type") && allowed.contains("If-Match"));
    }
    // Wrong method on a known path: 405; unknown path: 404.
    let r = client.get(format!("{base}/whip")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    gateway.close_all().await;
    assert_eq!(gateway.session_count(), 0);
}

#[tokio::test]
async fn pages_are_served() {
    let (base, _gateway) = start(GatewayConfig::default()).await;
    let client = Client::new();
    for (path, needle) in [
        ("/", "getUserMedia"),
        ("/", "createDataChannel"),
        ("/", "getStats"),
        ("/whip.html", "fetch(\"/whip\""),
        ("/whep.html", "fetch(\"/whep\""),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.text().await.unwrap().contains(needle), "{path}: {needle}");
    }
}

#[tokio::test]
async fn connect_timeout_reaps_sessions_that_never_connect() {
    let mut config = GatewayConfig::default();
    config.connect_timeout = Duration::from_millis(200);
    let (base, gateway) = start(config).await;
    let client = Client::new();
    let (_pc, _dc, offer) = offerer().await;
    // The offerer never applies the answer, so ICE never completes.
    let r = post_sdp(&client, &format!("{base}/whip"), &offer).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(gateway.session_count(), 1);
    timeout(async {
        while gateway.session_count() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[test]
fn sample_media_loads() {
    let config = GatewayConfig::default().with_sample_media().unwrap();
    let video = config.video.unwrap();
    let audio = config.audio.unwrap();
    assert_eq!(video.codec(), fulmar_rtp::Codec::Vp8);
    assert_eq!(video.dimensions(), (320, 240));
    assert_eq!(video.frames().len(), 120);
    assert_eq!(video.duration(), Duration::from_secs(4));
    assert!(video.frames()[0].keyframe && video.frames()[30].keyframe);
    assert_eq!(audio.codec(), fulmar_rtp::Codec::Opus);
    let secs = audio.duration().as_secs_f64();
    assert!((3.9..4.1).contains(&secs), "{secs}");
    // Files in the repository stay small.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
    let total: u64 = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 1 << 20, "{total} bytes");
}

/// The `(address, port)` of every UDP candidate line of `sdp`.
fn candidate_addrs(sdp: &str) -> Vec<(String, String)> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(4)?.to_string(), f.get(5)?.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn every_answer_carries_the_one_media_port_and_the_public_address() {
    let public = "198.51.100.7";
    let mut config = GatewayConfig::default();
    config.peer = config.peer.with_public_address(public.parse().unwrap());
    let (base, gateway) = start(config).await;
    let media = gateway.media_addr().await.unwrap();
    let client = Client::new();
    for _ in 0..3 {
        let (_pc, _dc, offer) = offerer().await;
        let res = post_sdp(&client, &format!("{base}/offer"), &offer).await;
        assert_eq!(res.status(), StatusCode::OK);
        let answer = res.text().await.unwrap();
        let addrs = candidate_addrs(&answer);
        assert!(!addrs.is_empty(), "{answer}");
        // The public address in place of the bound one, with the one port.
        for (ip, port) in addrs {
            assert_eq!(ip, public, "{answer}");
            assert_eq!(port, media.port().to_string(), "{answer}");
        }
    }
    assert_eq!(gateway.endpoint().await.unwrap().connection_count(), 3);
    gateway.close_all().await;
}
