//! `Config::with_ice_servers`: URLs as the web gives them, STUN servers
//! yielding server-reflexive candidates (trickled, then in the
//! description), duplicates pruned, unreachable servers only delaying the
//! end of gathering, and clear errors for what cannot be used. All on
//! 127.0.0.1: each STUN server here is a small responder that answers every
//! Binding request with one fixed "mapped" address, as if a NAT mapped the
//! peer to 198.18.0.99:40000 (only signalled; nothing is sent there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use fulmar::{Config, Error, IceServer, IceServerError, PeerConnection, TurnConfigError};
use fulmar_stun::attributes::XorMappedAddress;
use fulmar_stun::{Class, Message, MessageBuilder, Method};
use tokio::net::UdpSocket;

/// The address every responder reports.
const MAPPED: &str = "198.18.0.99:40000";

/// A STUN server on 127.0.0.1 answering every Binding request with
/// [`MAPPED`] (or, if `silent`, answering nothing); its address, and a count
/// of requests seen.
async fn stun_responder(silent: bool) -> (SocketAddr, tokio::sync::watch::Receiver<usize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(0usize);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        let mut out = vec![0u8; 512];
        let mut seen = 0;
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(req) = Message::parse(&buf[..n]) else {
                continue;
            };
            seen += 1;
            let _ = tx.send(seen);
            if silent {
                continue;
            }
            let mut b = MessageBuilder::new(
                &mut out,
                Class::SuccessResponse,
                Method::BINDING,
                req.transaction_id(),
            );
            b.add(&XorMappedAddress(MAPPED.parse().unwrap()));
            b.add_fingerprint();
            let Ok(resp) = b.finish() else { continue };
            let _ = sock.send_to(resp, from).await;
        }
    });
    (addr, rx)
}

fn candidate_lines(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .map(str::to_owned)
        .collect()
}

/// Two STUN servers (one by IP, one by the name `localhost`) map the peer
/// to the same address: one server-reflexive candidate (the other is
/// redundant, RFC 8445 §5.1.3), trickled after the host candidate, then in
/// the description with end-of-candidates once gathering completes.
#[tokio::test]
async fn stun_servers_give_one_srflx_candidate_trickled_then_described() {
    let run = async {
        let (s1, seen1) = stun_responder(false).await;
        let (s2, seen2) = stun_responder(false).await;
        let config = Config::default().with_ice_servers(vec![
            IceServer::new([format!("stun:{s1}")]),
            IceServer::new([format!("stun:localhost:{}", s2.port())]),
        ]);
        let pc = PeerConnection::new(config).await.unwrap();
        pc.create_data_channel("c").await.unwrap();
        pc.create_offer().await.unwrap();
        let mut trickled = Vec::new();
        while let Some(c) = pc.next_local_candidate().await {
            trickled.push(c);
        }
        assert_eq!(trickled.len(), 2, "{trickled:?}");
        assert!(trickled[0].contains(" typ host"), "{trickled:?}");
        let host = pc.local_addrs()[0];
        assert!(
            trickled[1].ends_with(&format!(
                " 198.18.0.99 40000 typ srflx raddr {} rport {}",
                host.ip(),
                host.port()
            )),
            "{trickled:?}"
        );
        assert!(*seen1.borrow() >= 1 && *seen2.borrow() >= 1, "both asked");
        pc.gathering_complete().await;
        let sdp = pc.local_description().unwrap().sdp.to_string();
        let lines = candidate_lines(&sdp);
        assert_eq!(lines.len(), 2, "{sdp}");
        assert_eq!(lines.iter().filter(|l| l.contains(" typ srflx")).count(), 1);
        assert!(sdp.contains("a=end-of-candidates"), "{sdp}");
        pc.close().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}

/// A STUN server that never answers only delays the end of gathering (its
/// transaction gives up); the answer then carries the host candidate.
#[tokio::test]
async fn silent_stun_server_does_not_hang_gathering() {
    let run = async {
        let (silent, seen) = stun_responder(true).await;
        let config =
            Config::default().with_ice_servers(vec![IceServer::new([format!("stun:{silent}")])]);
        let offerer = PeerConnection::new(Config::default()).await.unwrap();
        offerer.create_data_channel("c").await.unwrap();
        let offer = offerer.create_offer().await.unwrap().sdp.to_string();
        let pc = PeerConnection::new(config).await.unwrap();
        let answer = pc.answer_offer(&offer).await.unwrap();
        let lines = candidate_lines(&answer);
        assert_eq!(lines.len(), 1, "{answer}");
        assert!(lines[0].contains(" typ host"));
        assert!(answer.contains("a=end-of-candidates"), "{answer}");
        assert!(*seen.borrow() > 1, "retransmitted before giving up");
        // The trickle queue saw the host candidate, then its end.
        let host = pc.next_local_candidate().await.unwrap();
        assert!(host.contains(" typ host"), "{host}");
        assert_eq!(pc.next_local_candidate().await, None);
        pc.close().await;
        offerer.close().await;
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("bounded");
}

/// What cannot be used is refused when the connection starts, naming the
/// URL (no DNS is asked for any of these).
#[tokio::test]
async fn malformed_and_unusable_urls_are_clear_errors() {
    let err = |servers: Vec<IceServer>| async move {
        match PeerConnection::new(Config::default().with_ice_servers(servers)).await {
            Err(Error::IceServer(e)) => e,
            other => panic!("expected an ICE server error, got {other:?}"),
        }
    };
    for bad in [
        "stun",
        "http://127.0.0.1",
        "stun:127.0.0.1:99999",
        "stun:127.0.0.1?transport=udp",
        "turn:[::1",
        "stun:",
        "turn:127.0.0.1?transport=sctp",
    ] {
        let e = err(vec![IceServer::new([bad]).with_credentials("u", "p")]).await;
        assert!(
            matches!(&e, IceServerError::Url { url, .. } if url == bad),
            "{bad}: {e}"
        );
        assert!(e.to_string().starts_with(bad), "{e}");
    }
    let e = err(vec![IceServer::new(["stuns:127.0.0.1"])]).await;
    assert!(matches!(e, IceServerError::StunsNotSupported(_)), "{e}");
    let e = err(vec![IceServer::new(["turn:127.0.0.1"])]).await;
    assert!(matches!(e, IceServerError::MissingCredentials(_)), "{e}");
    let e = err(vec![
        IceServer::new(["turns:127.0.0.1?transport=udp"]).with_credentials("u", "p")
    ])
    .await;
    assert!(
        matches!(e, IceServerError::Turn(TurnConfigError::TurnsOverUdp(_))),
        "{e}"
    );
    let many: Vec<String> = (0..40)
        .map(|i| format!("stun:127.0.0.1:{}", 4000 + i))
        .collect();
    let e = err(vec![IceServer::new(many)]).await;
    assert!(matches!(e, IceServerError::TooMany), "{e}");
}

/// `turn:` URLs become TURN servers with their credentials: the
/// connection sends its Allocate there (the relay itself is tested in
/// relay.rs).
#[tokio::test]
async fn turn_urls_with_credentials_are_used() {
    let (s, mut seen) = stun_responder(true).await;
    let config = Config::default().with_ice_servers(vec![IceServer::new([
        format!("turn:{s}"),
        format!("turn:{s}?transport=tcp"),
    ])
    .with_credentials("user", "pass")]);
    assert_eq!(config.ice_servers.len(), 1);
    let pc = PeerConnection::new(config).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), seen.wait_for(|n| *n >= 1))
        .await
        .expect("bounded")
        .unwrap();
    pc.close().await;
}

/// A host name that does not resolve is a clear error. Ignored by a plain
/// `cargo test` (resolving asks the system's resolver); run by
/// interop/networks/run.sh inside a namespace with no network.
#[tokio::test]
#[ignore = "needs the network namespace of interop/networks/run.sh"]
async fn unresolvable_host_is_a_clear_error() {
    let url = "stun:stun.fulmar-test.invalid";
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        PeerConnection::new(Config::default().with_ice_servers(vec![IceServer::new([url])])),
    )
    .await
    .expect("bounded");
    match r {
        Err(Error::IceServer(IceServerError::Unresolved { url: u, .. })) => assert_eq!(u, url),
        other => panic!("expected Unresolved, got {other:?}"),
    }
}

/// Connections sharing one socket ([`fulmar::Endpoint`]) each get their
/// STUN server's answer (routed by transaction) and their srflx candidate.
#[tokio::test]
async fn connections_on_a_shared_endpoint_each_gather_srflx() {
    let run = async {
        let (s, seen) = stun_responder(false).await;
        let ep = fulmar::Endpoint::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let config =
            || Config::default().with_ice_servers(vec![IceServer::new([format!("stun:{s}")])]);
        let mut pcs = Vec::new();
        for _ in 0..3 {
            let pc = PeerConnection::new_on(&ep, config()).await.unwrap();
            pc.create_data_channel("c").await.unwrap();
            pc.create_offer().await.unwrap();
            pcs.push(pc);
        }
        for pc in &pcs {
            pc.gathering_complete().await;
            let sdp = pc.local_description().unwrap().sdp.to_string();
            let srflx = candidate_lines(&sdp)
                .into_iter()
                .filter(|l| l.contains(" 198.18.0.99 40000 typ srflx"))
                .count();
            assert_eq!(srflx, 1, "{sdp}");
        }
        assert!(*seen.borrow() >= 3);
        assert_eq!(ep.unrouted_datagrams(), 0);
        for pc in pcs {
            pc.close().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}

/// A server learns its public address from a STUN server (the responder
/// here says 198.18.0.99); a silent server is a clear error after the
/// retransmissions, a non-STUN URL at once.
#[tokio::test]
async fn public_address_from_a_stun_server() {
    let run = async {
        let (s, _) = stun_responder(false).await;
        let ip = fulmar::public_address_from_stun(&format!("stun:{s}"))
            .await
            .unwrap();
        assert_eq!(ip, MAPPED.parse::<SocketAddr>().unwrap().ip());
        let (silent, seen) = stun_responder(true).await;
        let url = format!("stun:{silent}");
        match fulmar::public_address_from_stun(&url).await {
            Err(Error::IceServer(IceServerError::NoAnswer(u))) => assert_eq!(u, url),
            other => panic!("expected NoAnswer, got {other:?}"),
        }
        assert_eq!(*seen.borrow(), 4, "four requests, then it gave up");
        let turn = fulmar::public_address_from_stun("turn:127.0.0.1").await;
        assert!(matches!(
            turn,
            Err(Error::IceServer(IceServerError::Url { .. }))
        ));
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}
