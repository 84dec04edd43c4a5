//! Host candidates from every interface, checked inside a network namespace
//! that interop/networks/run.sh makes (`unshare -n`, loopback plus dummy
//! interfaces with 198.18.0.0/15 addresses it names in
//! `FULMAR_NETNS_ADDRS`). Ignored by a plain `cargo test`, which cannot
//! make interfaces; the script runs them with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fulmar::{Config, PeerConnection};

mod common;
use common::connect;

/// The interface addresses the script gave the namespace.
fn namespace_addrs() -> BTreeSet<IpAddr> {
    let v = std::env::var("FULMAR_NETNS_ADDRS")
        .expect("run by interop/networks/run.sh, which sets FULMAR_NETNS_ADDRS");
    v.split(',').map(|s| s.trim().parse().unwrap()).collect()
}

fn ips(addrs: &[SocketAddr]) -> BTreeSet<IpAddr> {
    addrs.iter().map(|a| a.ip()).collect()
}

/// Bound to 0.0.0.0 and [::]: one host candidate per interface address,
/// all on one port, loopback left out (IPv6 has only ::1 here, so none);
/// two such peers connect over them and a message goes each way (the
/// datagrams leave from the address each check went to).
#[tokio::test]
#[ignore = "needs the network namespace of interop/networks/run.sh"]
async fn every_interface_address_is_a_host_candidate() {
    let run = async {
        let expected = namespace_addrs();
        let config = || Config::default().with_all_interfaces(0);
        let a = PeerConnection::new(config()).await.unwrap();
        let b = PeerConnection::new(config()).await.unwrap();
        for pc in [&a, &b] {
            let addrs = pc.local_addrs();
            assert_eq!(ips(addrs), expected, "{addrs:?}");
            let ports: BTreeSet<u16> = addrs.iter().map(|a| a.port()).collect();
            assert_eq!(ports.len(), 1, "one socket: {addrs:?}");
        }
        let offer = {
            a.create_data_channel("probe").await.unwrap();
            a.create_offer().await.unwrap().sdp.to_string()
        };
        let n = offer
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .count();
        assert_eq!(n, expected.len(), "{offer}");
        assert!(!offer.contains(" 127.0.0.1 "), "{offer}");
        a.close().await;
        let a = PeerConnection::new(config()).await.unwrap();
        let (chat, remote) = connect(&a, &b, "chat").await;
        remote.send_text("back").await.unwrap();
        assert_eq!(
            chat.recv().await,
            Some(fulmar::Message::Text("back".into()))
        );
        let (local, peer) = a.stats().selected_pair.unwrap();
        assert!(expected.contains(&local.ip()) && expected.contains(&peer.ip()));
        a.close().await;
        b.close().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}

/// Asked for, loopback and link-local addresses (the veth ends' fe80::)
/// join the interface addresses, after them.
#[tokio::test]
#[ignore = "needs the network namespace of interop/networks/run.sh"]
async fn loopback_when_asked() {
    let run = async {
        let mut expected = namespace_addrs();
        expected.insert(IpAddr::from([127, 0, 0, 1]));
        expected.insert("::1".parse().unwrap());
        let config = Config::default()
            .with_all_interfaces(0)
            .with_loopback_and_link_local();
        let pc = PeerConnection::new(config).await.unwrap();
        let got = ips(pc.local_addrs());
        let link_local = |ip: &IpAddr| matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local());
        assert!(got.iter().any(link_local), "{got:?}");
        let rest: BTreeSet<IpAddr> = got.into_iter().filter(|ip| !link_local(ip)).collect();
        assert_eq!(rest, expected);
        assert!(!pc.local_addrs()[0].ip().is_loopback());
        pc.close().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}

/// A shared [`fulmar::Endpoint`] on 0.0.0.0 (the server pattern, one port
/// for every session): each connection on it has every interface address
/// as a host candidate on that one port, and connects to a peer.
#[tokio::test]
#[ignore = "needs the network namespace of interop/networks/run.sh"]
async fn shared_endpoint_on_every_interface() {
    let run = async {
        let expected = namespace_addrs();
        let ep = fulmar::Endpoint::bind("0.0.0.0:0".parse().unwrap())
            .await
            .unwrap();
        for i in 0..2 {
            let server = PeerConnection::new_on(&ep, Config::default())
                .await
                .unwrap();
            assert_eq!(ips(server.local_addrs()), expected);
            assert!(server
                .local_addrs()
                .iter()
                .all(|a| a.port() == ep.local_addr().port()));
            let client = PeerConnection::new(Config::default().with_all_interfaces(0))
                .await
                .unwrap();
            let (chat, remote) = connect(&client, &server, &format!("chat{i}")).await;
            remote.send_text("back").await.unwrap();
            assert_eq!(
                chat.recv().await,
                Some(fulmar::Message::Text("back".into()))
            );
            client.close().await;
            server.close().await;
        }
        assert_eq!(ep.unrouted_datagrams(), 0);
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}
