//! The driver's network configuration: public addresses (NAT 1:1).
//! Connectivity through a 1:1 NAT is tested on fulmar-netsim in
//! fulmar-peer's tests/nat.rs; here the driver's descriptions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::time::Duration;

use fulmar::{Config, PeerConnection};

/// A public address replaces the bound address in every candidate, with
/// the bound port; nothing is sent to it (no peer here).
#[tokio::test]
async fn public_address_is_signalled_in_place_of_the_bound_one() {
    let run = async {
        let public: IpAddr = "198.18.0.77".parse().unwrap();
        let pc = PeerConnection::new(Config::default().with_public_address(public))
            .await
            .unwrap();
        let port = pc.local_addrs()[0].port();
        pc.create_data_channel("c").await.unwrap();
        let offer = pc.create_offer().await.unwrap().sdp.to_string();
        let cands: Vec<&str> = offer
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        assert_eq!(cands.len(), 1, "{offer}");
        assert!(
            cands[0].ends_with(&format!(" 198.18.0.77 {port} typ host")),
            "{offer}"
        );
        pc.close().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}

/// The same in a non-trickle answer (`answer_offer`).
#[tokio::test]
async fn public_address_in_the_answer() {
    let run = async {
        let offerer = PeerConnection::new(Config::default()).await.unwrap();
        offerer.create_data_channel("c").await.unwrap();
        let offer = offerer.create_offer().await.unwrap().sdp.to_string();
        let public: IpAddr = "198.18.0.77".parse().unwrap();
        let pc = PeerConnection::new(
            Config::default()
                .with_bind(vec!["0.0.0.0:0".parse().unwrap()])
                .with_public_address(public),
        )
        .await
        .unwrap();
        let answer = pc.answer_offer(&offer).await.unwrap();
        let cands: Vec<&str> = answer
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        assert!(!cands.is_empty(), "{answer}");
        assert!(
            cands.iter().all(|c| c.contains(" 198.18.0.77 ")),
            "{answer}"
        );
        pc.close().await;
        offerer.close().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}
