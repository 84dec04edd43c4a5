//! Two fulmar-peer instances over fulmar-netsim in simulated time: offer and
//! answer, ICE, DTLS, SCTP, data-channel messages both ways, close.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_datachannel::{ChannelConfig, Reliability};
use fulmar_netsim::{Datagram, Endpoint, HostId, Link, LinkConfig, Network, INTERNET};
use fulmar_peer::{
    ChannelId, Config, DtlsState, Event, PeerConnection, PeerConnectionState, SdpType,
    SignalingState,
};
use rand::{rngs::StdRng, SeedableRng};

mod common;

struct Node {
    pc: PeerConnection,
    events: Vec<Event>,
    echo: bool,
}

impl Node {
    fn new(seed: u64) -> Self {
        Node {
            pc: PeerConnection::new(Config::default(), StdRng::seed_from_u64(seed)).unwrap(),
            events: Vec::new(),
            echo: false,
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.pc.poll_event() {
            if self.echo {
                if let Event::DataChannelMessage { id, data, binary } = &e {
                    self.pc.send(now, *id, data.clone(), *binary).unwrap();
                }
            }
            self.events.push(e);
        }
    }

    fn messages(&self, id: ChannelId) -> Vec<(Bytes, bool)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::DataChannelMessage {
                    id: i,
                    data,
                    binary,
                } if *i == id => Some((data.clone(), *binary)),
                _ => None,
            })
            .collect()
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        let mut d = d;
        self.pc
            .handle_receive(now, d.source, d.destination, &mut d.payload);
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.drain(now);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.drain(now);
        let mut payload = Vec::new();
        self.pc.poll_transmit(now, &mut payload).map(|t| Datagram {
            source: t.source,
            destination: t.destination,
            payload,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

const A: &str = "198.51.100.1:4000";
const B: &str = "198.51.100.2:5000";

fn setup(link: LinkConfig, trickle: bool) -> (Network, HostId, HostId, ChannelId) {
    let mut net = Network::new(7);
    let now = net.now();
    let mut a = Node::new(1);
    let mut b = Node::new(2);
    b.echo = true;
    let a_addr: SocketAddr = A.parse().unwrap();
    let b_addr: SocketAddr = B.parse().unwrap();
    let chat =
        a.pc.create_data_channel(ChannelConfig::new("chat"))
            .unwrap();
    assert!(a
        .pc
        .poll_event()
        .is_some_and(|e| e == Event::NegotiationNeeded));

    if !trickle {
        a.pc.add_host_candidate(now, a_addr).unwrap();
        b.pc.add_host_candidate(now, b_addr).unwrap();
        a.pc.end_of_local_candidates(now);
        b.pc.end_of_local_candidates(now);
    }
    let offer = a.pc.create_offer().unwrap();
    a.pc.set_local_description(now, offer.clone()).unwrap();
    assert_eq!(a.pc.signaling_state(), SignalingState::HaveLocalOffer);
    let text = offer.sdp.to_string();
    assert!(text.contains("a=setup:actpass"));
    assert!(text.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"));
    assert_eq!(text.contains("a=candidate:"), !trickle);
    b.pc.set_remote_description(now, fulmar_peer::SessionDescription::offer(&text).unwrap())
        .unwrap();
    let answer = b.pc.create_answer().unwrap();
    assert_eq!(answer.kind, SdpType::Answer);
    b.pc.set_local_description(now, answer.clone()).unwrap();
    let text = answer.sdp.to_string();
    assert!(text.contains("a=setup:active"));
    a.pc.set_remote_description(now, fulmar_peer::SessionDescription::answer(&text).unwrap())
        .unwrap();
    assert_eq!(a.pc.signaling_state(), SignalingState::Stable);

    if trickle {
        // Candidates travel separately from the descriptions (RFC 8838).
        a.pc.add_host_candidate(now, a_addr).unwrap();
        b.pc.add_host_candidate(now, b_addr).unwrap();
        a.pc.end_of_local_candidates(now);
        b.pc.end_of_local_candidates(now);
        let cands = |n: &mut Node| {
            let mut v = Vec::new();
            while let Some(e) = n.pc.poll_event() {
                match e {
                    Event::LocalCandidate(c) => v.push(c),
                    Event::GatheringComplete => v.push(String::new()),
                    e => n.events.push(e),
                }
            }
            v
        };
        let (ca, cb) = (cands(&mut a), cands(&mut b));
        assert!(ca.iter().any(|c| c.starts_with("candidate:")));
        assert!(
            ca.iter().any(String::is_empty),
            "end-of-candidates signalled"
        );
        for c in ca {
            b.pc.add_ice_candidate(now, &c).unwrap();
        }
        for c in cb {
            a.pc.add_ice_candidate(now, &c).unwrap();
        }
    }

    let ha = net.add_host(INTERNET, &[a_addr.ip()], a);
    let hb = net.add_host(INTERNET, &[b_addr.ip()], b);
    net.set_link(ha, Link::symmetric(link.clone()));
    net.set_link(hb, Link::symmetric(link));
    (net, ha, hb, chat)
}

fn node(net: &mut Network, h: HostId) -> &mut Node {
    net.endpoint_mut::<Node>(h).unwrap()
}

fn run_transfer(link: LinkConfig, trickle: bool) {
    let (mut net, ha, hb, chat) = setup(link, trickle);
    let opened = net.run_until_cond(Duration::from_secs(30), |n| {
        n.endpoint::<Node>(ha)
            .unwrap()
            .events
            .contains(&Event::DataChannelOpen(chat))
    });
    assert!(opened, "channel opened");
    {
        let a = node(&mut net, ha);
        assert_eq!(a.pc.connection_state(), PeerConnectionState::Connected);
        assert_eq!(a.pc.dtls_state(), DtlsState::Connected);
        assert!(
            a.pc.stats().srtp_profile.is_some(),
            "use_srtp negotiated: SRTP is keyed from the DTLS exporter on first need"
        );
        assert_eq!(
            a.pc.channel_stream_id(chat).map(|s| s % 2),
            Some(1),
            "offerer is DTLS server: odd ids"
        );
    }
    // That both ends key SRTP from the same exporter output (RFC 5764
    // §4.2), what A protects B unprotects, is checked inside the crate
    // (transport's `data_only_session_keys_srtp_only_on_demand`): the SRTP
    // contexts are not public.
    // B saw the remote channel.
    let b_id = net.run_until_cond(Duration::from_secs(5), |n| {
        n.endpoint::<Node>(hb)
            .unwrap()
            .events
            .iter()
            .any(|e| matches!(e, Event::DataChannel { label, .. } if label == "chat"))
    });
    assert!(b_id);

    let big: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let sent: Vec<(Bytes, bool)> = vec![
        (Bytes::from_static(b"hello"), false),
        (Bytes::from_static(&[0, 1, 2, 255]), true),
        (Bytes::new(), false),
        (Bytes::new(), true),
        (Bytes::from(big), true),
        (Bytes::from("ünïcødé".as_bytes().to_vec()), false),
    ];
    let now = net.now();
    for (d, bin) in &sent {
        node(&mut net, ha)
            .pc
            .send(now, chat, d.clone(), *bin)
            .unwrap();
    }
    let n = sent.len();
    let done = net.run_until_cond(Duration::from_secs(120), |net| {
        net.endpoint::<Node>(ha).unwrap().messages(chat).len() >= n
    });
    assert!(
        done,
        "echoes arrived: {}",
        node(&mut net, ha).messages(chat).len()
    );
    assert_eq!(
        node(&mut net, ha).messages(chat),
        sent,
        "every echo equals what was sent, in order"
    );
    let stats = node(&mut net, ha).pc.stats();
    assert_eq!(stats.messages_sent, n as u64);
    assert_eq!(stats.messages_received, n as u64);
    assert!(stats.selected_pair.is_some());

    // Close the channel from A: both sides see it close.
    let now = net.now();
    node(&mut net, ha).pc.close_channel(now, chat).unwrap();
    let closed = net.run_until_cond(Duration::from_secs(10), |net| {
        net.endpoint::<Node>(ha)
            .unwrap()
            .events
            .contains(&Event::DataChannelClose(chat))
            && net
                .endpoint::<Node>(hb)
                .unwrap()
                .events
                .iter()
                .any(|e| matches!(e, Event::DataChannelClose(_)))
    });
    assert!(closed, "channel closed on both sides");

    // Close the connection from B: A learns by close_notify.
    let now = net.now();
    node(&mut net, hb).pc.close(now);
    let gone = net.run_until_cond(Duration::from_secs(10), |net| {
        net.endpoint::<Node>(ha).unwrap().pc.connection_state() == PeerConnectionState::Closed
    });
    assert!(gone, "A closed after B closed");
}

#[test]
fn non_trickle_transfer_and_close() {
    run_transfer(
        LinkConfig::ideal().with_delay(Duration::from_millis(10)),
        false,
    );
}

#[test]
fn trickle_transfer_over_a_lossy_link() {
    run_transfer(
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(20))
            .with_loss(0.02),
        true,
    );
}

#[test]
fn unordered_unreliable_and_negotiated_channels() {
    let (mut net, ha, hb, chat) = setup(
        LinkConfig::ideal().with_delay(Duration::from_millis(5)),
        false,
    );
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .events
        .contains(&Event::DataChannelOpen(chat))));
    let mut cfg = ChannelConfig::new("lossy");
    cfg.ordered = false;
    cfg.reliability = Reliability::MaxRetransmits(0);
    let lossy = node(&mut net, ha).pc.create_data_channel(cfg).unwrap();
    // A negotiated channel on both sides with stream id 7, no DCEP.
    let mut neg = ChannelConfig::new("neg");
    neg.negotiated = Some(7);
    let na = node(&mut net, ha)
        .pc
        .create_data_channel(neg.clone())
        .unwrap();
    let nb = node(&mut net, hb).pc.create_data_channel(neg).unwrap();
    assert_eq!(node(&mut net, ha).pc.channel_stream_id(na), Some(7));
    let now = net.now();
    node(&mut net, ha).pc.send_text(now, lossy, "u").unwrap();
    node(&mut net, ha).pc.send_text(now, na, "n").unwrap();
    assert!(net.run_until_cond(Duration::from_secs(10), |n| {
        let a = n.endpoint::<Node>(ha).unwrap();
        a.messages(lossy).len() == 1 && a.messages(na).len() == 1
    }));
    assert_eq!(
        node(&mut net, hb).messages(nb),
        vec![(Bytes::from_static(b"n"), false)]
    );
    let lbl = node(&mut net, hb)
        .events
        .iter()
        .any(|e| matches!(e, Event::DataChannel { label, .. } if label == "lossy"));
    assert!(lbl);
}

#[test]
fn many_channels_at_once() {
    let (mut net, ha, _hb, chat) = setup(
        LinkConfig::ideal().with_delay(Duration::from_millis(5)),
        false,
    );
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .events
        .contains(&Event::DataChannelOpen(chat))));
    let ids: Vec<ChannelId> = (0..50)
        .map(|i| {
            node(&mut net, ha)
                .pc
                .create_data_channel(ChannelConfig::new(&format!("c{i}")))
                .unwrap()
        })
        .collect();
    let now = net.now();
    for (i, id) in ids.iter().enumerate() {
        node(&mut net, ha)
            .pc
            .send_text(now, *id, &format!("m{i}"))
            .unwrap();
    }
    assert!(net.run_until_cond(Duration::from_secs(20), |n| {
        let a = n.endpoint::<Node>(ha).unwrap();
        ids.iter().all(|id| a.messages(*id).len() == 1)
    }));
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            node(&mut net, ha).messages(*id)[0].0,
            Bytes::from(format!("m{i}"))
        );
    }
}

#[test]
fn renegotiation_adds_media_while_data_flows() {
    let (mut net, ha, hb, chat) = setup(
        LinkConfig::ideal().with_delay(Duration::from_millis(5)),
        false,
    );
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .events
        .contains(&Event::DataChannelOpen(chat))));
    let now = net.now();
    // A adds an audio track and a recvonly video transceiver, renegotiates.
    let audio = node(&mut net, ha)
        .pc
        .add_track(fulmar_peer::MediaKind::Audio, "s1", "t1");
    node(&mut net, ha).pc.add_transceiver(
        fulmar_peer::MediaKind::Video,
        fulmar_sdp::Direction::RecvOnly,
    );
    let offer = node(&mut net, ha).pc.create_offer().unwrap();
    let text = offer.sdp.to_string();
    assert!(text.contains("a=msid:s1 t1") && text.contains("a=rtpmap:111 opus/48000/2"));
    assert!(text.contains("a=setup:actpass"));
    node(&mut net, ha)
        .pc
        .set_local_description(now, offer.clone())
        .unwrap();
    node(&mut net, hb)
        .pc
        .set_remote_description(now, offer)
        .unwrap();
    let answer = node(&mut net, hb).pc.create_answer().unwrap();
    let atext = answer.sdp.to_string();
    // B has no tracks: it receives the audio; recvonly video meets recvonly: inactive (RFC 3264 §6.1).
    assert!(
        atext.contains("a=recvonly") && atext.contains("a=inactive"),
        "{atext}"
    );
    assert!(
        atext.contains("a=setup:active"),
        "B keeps its DTLS client role"
    );
    node(&mut net, hb)
        .pc
        .set_local_description(now, answer.clone())
        .unwrap();
    node(&mut net, ha)
        .pc
        .set_remote_description(now, answer)
        .unwrap();
    let a = node(&mut net, ha);
    assert_eq!(a.pc.signaling_state(), SignalingState::Stable);
    let t = &a.pc.transceivers()[0];
    assert_eq!(t.current_direction, Some(fulmar_sdp::Direction::SendOnly));
    assert_eq!(t.mid.as_deref(), Some("1"), "mid 0 is the data section");
    let _ = audio;
    // Data keeps flowing over the same association.
    let now = net.now();
    node(&mut net, ha).pc.send_text(now, chat, "after").unwrap();
    assert!(net.run_until_cond(Duration::from_secs(5), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .messages(chat)
        .len()
        == 1));
    assert_eq!(node(&mut net, ha).pc.dtls_state(), DtlsState::Connected);
}

#[test]
fn glare_resolved_by_rollback() {
    let (mut net, ha, hb, chat) = setup(
        LinkConfig::ideal().with_delay(Duration::from_millis(5)),
        false,
    );
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .events
        .contains(&Event::DataChannelOpen(chat))));
    let now = net.now();
    // Both offer at once; B is polite: it rolls back and answers A.
    node(&mut net, ha).pc.add_transceiver(
        fulmar_peer::MediaKind::Audio,
        fulmar_sdp::Direction::SendRecv,
    );
    node(&mut net, hb).pc.add_transceiver(
        fulmar_peer::MediaKind::Video,
        fulmar_sdp::Direction::SendRecv,
    );
    let oa = node(&mut net, ha).pc.create_offer().unwrap();
    let ob = node(&mut net, hb).pc.create_offer().unwrap();
    node(&mut net, ha)
        .pc
        .set_local_description(now, oa.clone())
        .unwrap();
    node(&mut net, hb)
        .pc
        .set_local_description(now, ob.clone())
        .unwrap();
    assert!(
        node(&mut net, ha)
            .pc
            .set_remote_description(now, ob)
            .is_err(),
        "impolite A ignores B's offer"
    );
    assert!(
        node(&mut net, hb)
            .pc
            .set_remote_description(now, oa.clone())
            .is_err(),
        "offer in have-local-offer"
    );
    node(&mut net, hb).pc.rollback().unwrap();
    assert_eq!(
        node(&mut net, hb).pc.signaling_state(),
        SignalingState::Stable
    );
    assert!(
        node(&mut net, hb).pc.transceivers()[0].mid.is_none(),
        "B's video lost its offered mid"
    );
    node(&mut net, hb)
        .pc
        .set_remote_description(now, oa)
        .unwrap();
    let answer = node(&mut net, hb).pc.create_answer().unwrap();
    node(&mut net, hb)
        .pc
        .set_local_description(now, answer.clone())
        .unwrap();
    node(&mut net, ha)
        .pc
        .set_remote_description(now, answer)
        .unwrap();
    assert_eq!(
        node(&mut net, ha).pc.signaling_state(),
        SignalingState::Stable
    );
    assert!(
        node(&mut net, hb).pc.rollback().is_err(),
        "nothing to roll back when stable"
    );
}

#[test]
fn ice_restart_mid_transfer_loses_nothing() {
    let (mut net, ha, hb, chat) = setup(
        LinkConfig::ideal().with_delay(Duration::from_millis(10)),
        false,
    );
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .events
        .contains(&Event::DataChannelOpen(chat))));
    let mut sent = Vec::new();
    for i in 0..40u32 {
        let now = net.now();
        let m = Bytes::from(vec![(i % 256) as u8; 10_000]);
        node(&mut net, ha)
            .pc
            .send(now, chat, m.clone(), true)
            .unwrap();
        sent.push((m, true));
        if i == 20 {
            let before = node(&mut net, ha)
                .pc
                .local_description()
                .unwrap()
                .sdp
                .to_string();
            node(&mut net, ha).pc.restart_ice();
            let offer = node(&mut net, ha).pc.create_offer().unwrap();
            let ufrag = |t: &str| {
                t.lines()
                    .find(|l| l.starts_with("a=ice-ufrag:"))
                    .unwrap()
                    .to_owned()
            };
            assert_ne!(
                ufrag(&offer.sdp.to_string()),
                ufrag(&before),
                "new credentials"
            );
            node(&mut net, ha)
                .pc
                .set_local_description(now, offer.clone())
                .unwrap();
            node(&mut net, hb)
                .pc
                .set_remote_description(now, offer)
                .unwrap();
            let answer = node(&mut net, hb).pc.create_answer().unwrap();
            node(&mut net, hb)
                .pc
                .set_local_description(now, answer.clone())
                .unwrap();
            node(&mut net, ha)
                .pc
                .set_remote_description(now, answer)
                .unwrap();
        }
        net.run_for(Duration::from_millis(20));
    }
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .messages(chat)
        .len()
        == sent.len()));
    assert_eq!(node(&mut net, ha).messages(chat), sent);
    assert_eq!(
        node(&mut net, ha).pc.connection_state(),
        PeerConnectionState::Connected
    );
}

/// 4 MiB one way over a 100 ms round trip with unlimited bandwidth, where
/// each flight arrives at one instant and is read as one batch. The
/// sender's slow start must survive that: the receiver acknowledges every
/// second packet while the sender may be in slow start, and the sender
/// counts every SACK it reads in a batch as finding cwnd fully used
/// (RFC 9260 §7.2.1). From 4380 bytes, cwnd grows 1.5x per round trip to
/// the 1 MiB window in about 14 round trips, so the transfer takes about
/// 1.6 s of simulated time; growing by one MTU per round trip instead
/// (one counted SACK per flight) would take about ten times as long.
#[test]
fn bulk_transfer_ramps_up_over_a_long_path() {
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(25));
    let (mut net, ha, hb, chat) = setup(link, false);
    node(&mut net, hb).echo = false;
    assert!(net.run_until_cond(Duration::from_secs(30), |n| n
        .endpoint::<Node>(ha)
        .unwrap()
        .events
        .contains(&Event::DataChannelOpen(chat))));
    let total = 4 << 20;
    let start = net.now();
    let mut sent = 0;
    let received = |n: &Network| -> usize {
        n.endpoint::<Node>(hb)
            .unwrap()
            .events
            .iter()
            .map(|e| match e {
                Event::DataChannelMessage { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    };
    while received(&net) < total && net.now() - start < Duration::from_secs(60) {
        let now = net.now();
        while sent < total && node(&mut net, ha).pc.buffered_amount(chat) < 1 << 20 {
            let msg = Bytes::from(vec![3u8; 64 << 10]);
            node(&mut net, ha).pc.send(now, chat, msg, true).unwrap();
            sent += 64 << 10;
        }
        assert!(net.step(), "the network went idle");
    }
    assert_eq!(received(&net), total);
    let took = net.now() - start;
    assert!(took < Duration::from_secs(3), "4 MiB took {took:?}");
}

/// CPU time from nothing to an open data channel for two in-memory peers
/// on the shared harness's ideal link (zero latency), certificate
/// generation and the descriptions' text round trip included. Run:
/// `cargo test --release -p fulmar-peer --test two_peers -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_to_open_channel() {
    let runs = 200;
    let start = std::time::Instant::now();
    for seed in 0..runs {
        let configs = (Config::default(), Config::default());
        let mut p = common::unnegotiated(configs, (seed, seed + 1000, 0), LinkConfig::ideal());
        let ch = p.a.create_data_channel(ChannelConfig::new("x")).unwrap();
        common::negotiate(&mut p, |_| {}, |sdp| sdp);
        let open = p.run_until(Duration::from_secs(10), |p| {
            p.events_a.contains(&Event::DataChannelOpen(ch))
        });
        assert!(open);
    }
    let per = start.elapsed() / runs as u32;
    println!("nothing to open data channel (two peers, certificates included): {per:?}");
}
