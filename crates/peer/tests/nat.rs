//! A server behind a 1:1 NAT (a cloud VM) that advertises its public
//! address (`Config::public_addresses`), reached by clients behind each
//! NAT kind of RFC 4787, on fulmar-netsim in simulated time. The client
//! offers only its private host address, which the server cannot reach:
//! the server learns the client's address from its checks (a
//! peer-reflexive candidate, RFC 8445 §7.3.1.3), so even a symmetric NAT
//! connects. Without the public address nobody reaches the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fulmar_datachannel::ChannelConfig;
use fulmar_netsim::{HostId, NatConfig, Network, INTERNET};
use fulmar_peer::{Config, Event, PeerConnection, PeerConnectionState, SessionDescription};
use rand::{rngs::StdRng, SeedableRng};

mod netpeer;

use netpeer::{connected, peer, run_trickling, NetPeer};

/// The VM's private address and the public one its 1:1 NAT maps to it.
const SERVER_PRIVATE: &str = "10.0.0.5:3478";
const SERVER_PUBLIC: &str = "203.0.113.5";
/// The client's home: its private address and its NAT's external one.
const CLIENT_PRIVATE: &str = "192.168.1.2:5000";
const CLIENT_NAT: &str = "198.51.100.1";

struct Setup {
    net: Network,
    client: HostId,
    server: HostId,
}

/// The client (offerer, a data channel) behind `client_nat`, the server
/// behind a 1:1 NAT advertising `public` (if any); both after offer and
/// answer, their host candidates in the descriptions.
fn setup(seed: u64, client_nat: NatConfig, public: Option<IpAddr>) -> Setup {
    let mut net = Network::new(seed);
    let now = net.now();
    let server_local: SocketAddr = SERVER_PRIVATE.parse().unwrap();
    let client_local: SocketAddr = CLIENT_PRIVATE.parse().unwrap();
    let (_, dc) = net.add_nat(
        INTERNET,
        SERVER_PUBLIC.parse().unwrap(),
        NatConfig::one_to_one(server_local.ip()),
    );
    let (_, home) = net.add_nat(INTERNET, CLIENT_NAT.parse().unwrap(), client_nat);

    let mut c = PeerConnection::new(Config::default(), StdRng::seed_from_u64(seed + 1)).unwrap();
    c.add_host_candidate(now, client_local).unwrap();
    c.end_of_local_candidates(now);
    c.create_data_channel(ChannelConfig::new("chat")).unwrap();
    let mut config = Config::default();
    config.public_addresses = public.into_iter().collect();
    let mut s = PeerConnection::new(config, StdRng::seed_from_u64(seed + 2)).unwrap();
    s.add_host_candidate(now, server_local).unwrap();
    s.end_of_local_candidates(now);

    let offer = c.create_offer().unwrap();
    c.set_local_description(now, offer.clone()).unwrap();
    s.set_remote_description(
        now,
        SessionDescription::offer(&offer.sdp.to_string()).unwrap(),
    )
    .unwrap();
    let answer = s.create_answer().unwrap();
    s.set_local_description(now, answer.clone()).unwrap();
    c.set_remote_description(
        now,
        SessionDescription::answer(&answer.sdp.to_string()).unwrap(),
    )
    .unwrap();

    let client = net.add_host(home, &[client_local.ip()], NetPeer::new(c));
    let server = net.add_host(dc, &[server_local.ip()], NetPeer::new(s));
    netpeer::set_delay(&mut net, &[client, server], Duration::from_millis(15));
    Setup {
        net,
        client,
        server,
    }
}

/// The server's signalled candidates: its description's and trickled ones.
fn server_candidates(net: &mut Network, server: HostId) -> Vec<String> {
    let p = peer(net, server);
    let mut all: Vec<String> = p.candidates().cloned().collect();
    if let Some(d) = p.pc.local_description() {
        for m in d.sdp.media() {
            all.extend(m.candidates().map(|c| c.to_string()));
        }
    }
    all
}

/// The client connects, the server signalled only its public address, and
/// a message goes each way over the data channel.
fn reaches_server(nat: NatConfig, seed: u64) {
    let public: IpAddr = SERVER_PUBLIC.parse().unwrap();
    let Setup {
        mut net,
        client,
        server,
    } = setup(seed, nat.clone(), Some(public));
    let cands = server_candidates(&mut net, server);
    assert!(!cands.is_empty(), "{nat:?}");
    for c in &cands {
        assert!(
            c.contains(&format!(" {SERVER_PUBLIC} 3478 typ host")),
            "{c}"
        );
        assert!(
            !c.contains("10.0.0.5"),
            "the private address stays hidden: {c}"
        );
    }
    assert!(
        run_trickling(&mut net, client, server, Duration::from_secs(30), |n| {
            connected(n, client) && connected(n, server)
        }),
        "{nat:?}: connected"
    );
    // The client's pair goes to the public address; the server's to the
    // client NAT's mapping, from its private socket.
    let (_, remote) = peer(&mut net, client).pc.stats().selected_pair.unwrap();
    assert_eq!(remote, SocketAddr::new(public, 3478), "{nat:?}");
    let (local, remote) = peer(&mut net, server).pc.stats().selected_pair.unwrap();
    assert_eq!(local, SERVER_PRIVATE.parse().unwrap(), "{nat:?}");
    assert_eq!(
        remote.ip(),
        CLIENT_NAT.parse::<IpAddr>().unwrap(),
        "{nat:?}"
    );

    // A round trip on the data channel.
    let open = |n: &mut Network, h| {
        peer(n, h).events.iter().find_map(|e| match e {
            Event::DataChannelOpen(id) => Some(*id),
            _ => None,
        })
    };
    assert!(run_trickling(
        &mut net,
        client,
        server,
        Duration::from_secs(10),
        |n| { open(n, client).is_some() && open(n, server).is_some() }
    ));
    for (from, to, text) in [(client, server, "ping"), (server, client, "pong")] {
        let now = net.now();
        let id = open(&mut net, from).unwrap();
        peer(&mut net, from).pc.send_text(now, id, text).unwrap();
        assert!(run_trickling(
            &mut net,
            client,
            server,
            Duration::from_secs(10),
            |n| peer(n, to).messages() == 1
        ));
    }
    let got = peer(&mut net, client).events.iter().find_map(|e| match e {
        Event::DataChannelMessage { data, .. } => Some(data.clone()),
        _ => None,
    });
    assert_eq!(got.as_deref(), Some(&b"pong"[..]));
}

/// Every NAT kind of RFC 4787 in front of the client, the symmetric one
/// included (full cone, restricted, port-restricted, symmetric).
#[test]
fn clients_behind_every_nat_kind_reach_public_server() {
    let kinds = [
        NatConfig::full_cone(),
        NatConfig::restricted_cone(),
        NatConfig::port_restricted_cone(),
        NatConfig::symmetric(),
    ];
    for (seed, nat) in (11..).zip(kinds) {
        reaches_server(nat, seed);
    }
}

/// The same server without its public address signals 10.0.0.5, which no
/// one outside reaches: ICE fails on both sides.
#[test]
fn without_public_address_nobody_reaches_the_server() {
    let Setup {
        mut net,
        client,
        server,
    } = setup(15, NatConfig::full_cone(), None);
    assert!(server_candidates(&mut net, server)
        .iter()
        .all(|c| c.contains(" 10.0.0.5 3478 typ host")));
    let failed = |n: &mut Network, h| {
        matches!(
            peer(n, h).pc.connection_state(),
            PeerConnectionState::Failed(_)
        )
    };
    assert!(run_trickling(
        &mut net,
        client,
        server,
        Duration::from_secs(120),
        |n| { failed(n, client) }
    ));
    assert!(!connected(&net, server));
}

/// A public address of the other family leaves host candidates as they
/// are; with both families each host keeps its port behind its own.
#[test]
fn public_address_replaces_only_its_family() {
    let now = std::time::Instant::now();
    let mut config = Config::default();
    config.public_addresses = vec!["2001:db8::5".parse().unwrap()];
    let mut pc = PeerConnection::new(config, StdRng::seed_from_u64(3)).unwrap();
    pc.add_host_candidate(now, "10.0.0.5:4000".parse().unwrap())
        .unwrap();
    pc.add_host_candidate(now, "[fd00::5]:4001".parse().unwrap())
        .unwrap();
    pc.create_data_channel(ChannelConfig::new("c")).unwrap();
    let offer = pc.create_offer().unwrap();
    pc.set_local_description(now, offer).unwrap();
    let d = pc.local_description().unwrap();
    let cands: Vec<String> = d
        .sdp
        .media()
        .iter()
        .flat_map(|m| m.candidates())
        .map(|c| c.to_string())
        .collect();
    assert_eq!(cands.len(), 2, "{cands:?}");
    assert!(cands.iter().any(|c| c.contains(" 10.0.0.5 4000 typ host")));
    assert!(cands
        .iter()
        .any(|c| c.contains(" 2001:db8::5 4001 typ host")));
    assert!(!cands.iter().any(|c| c.contains("fd00::5")));
}
