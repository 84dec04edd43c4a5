//! Two fulmar-peer instances on fulmar-netsim's `Pair` in simulated time:
//! offer and answer, ICE, DTLS, SCTP, data-channel messages both ways, close.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use fulmar_datachannel::{ChannelConfig, Reliability};
use fulmar_netsim::LinkConfig;
use fulmar_peer::{
    ChannelId, Config, DtlsState, Event, MediaKind, PeerConnectionState, SdpType,
    SessionDescription, SignalingState,
};
use fulmar_sdp::Direction;

mod common;

use common::Peer;

/// The two peers on the shared netsim harness.
type Pair = fulmar_netsim::Pair<Peer, Peer>;

/// A link of `one_way` delay each way.
fn delayed(one_way: Duration) -> LinkConfig {
    LinkConfig::ideal().with_delay(one_way)
}

/// The messages of channel `id` among `events`, in order.
fn messages(events: &[Event], id: ChannelId) -> Vec<(Bytes, bool)> {
    events
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

/// A (seeded 1) offers a data channel "chat" to B (seeded 2), whose
/// application echoes every message; returns the pair after offer and
/// answer (both checked as text), candidates exchanged in the descriptions
/// or, with `trickle`, separately after them (RFC 8838).
fn setup(link: LinkConfig, trickle: bool) -> (Pair, ChannelId) {
    let mut p = common::peers((Config::default(), Config::default()), (1, 2, 7), link);
    p.b.echo = true;
    let now = p.now();
    let chat = p.a.create_data_channel(ChannelConfig::new("chat")).unwrap();
    assert!(p
        .a
        .poll_event()
        .is_some_and(|e| e == Event::NegotiationNeeded));

    if !trickle {
        common::add_host_candidates(&mut p);
    }
    let offer = p.a.create_offer().unwrap();
    p.a.set_local_description(now, offer.clone()).unwrap();
    assert_eq!(p.a.signaling_state(), SignalingState::HaveLocalOffer);
    let text = offer.sdp.to_string();
    assert!(text.contains("a=setup:actpass"));
    assert!(text.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"));
    assert_eq!(text.contains("a=candidate:"), !trickle);
    p.b.set_remote_description(now, SessionDescription::offer(&text).unwrap())
        .unwrap();
    let answer = p.b.create_answer().unwrap();
    assert_eq!(answer.kind, SdpType::Answer);
    p.b.set_local_description(now, answer.clone()).unwrap();
    let text = answer.sdp.to_string();
    assert!(text.contains("a=setup:active"));
    p.a.set_remote_description(now, SessionDescription::answer(&text).unwrap())
        .unwrap();
    assert_eq!(p.a.signaling_state(), SignalingState::Stable);

    if trickle {
        // Candidates travel separately from the descriptions (RFC 8838).
        common::add_host_candidates(&mut p);
        let cands = |peer: &mut Peer, events: &mut Vec<Event>| {
            let mut v = Vec::new();
            while let Some(e) = peer.poll_event() {
                match e {
                    Event::LocalCandidate(c) => v.push(c),
                    Event::GatheringComplete => v.push(String::new()),
                    e => events.push(e),
                }
            }
            v
        };
        let ca = cands(&mut p.a, &mut p.events_a);
        let cb = cands(&mut p.b, &mut p.events_b);
        assert!(ca.iter().any(|c| c.starts_with("candidate:")));
        assert!(
            ca.iter().any(String::is_empty),
            "end-of-candidates signalled"
        );
        for c in ca {
            p.b.add_ice_candidate(now, &c).unwrap();
        }
        for c in cb {
            p.a.add_ice_candidate(now, &c).unwrap();
        }
    }
    (p, chat)
}

/// [`setup`] without trickle, run until "chat" is open at A.
fn open(one_way: Duration) -> (Pair, ChannelId) {
    let (mut p, chat) = setup(delayed(one_way), false);
    assert!(p.run_until(Duration::from_secs(30), |p| p
        .events_a
        .contains(&Event::DataChannelOpen(chat))));
    (p, chat)
}

fn run_transfer(link: LinkConfig, trickle: bool) {
    let (mut p, chat) = setup(link, trickle);
    let opened = p.run_until(Duration::from_secs(30), |p| {
        p.events_a.contains(&Event::DataChannelOpen(chat))
    });
    assert!(opened, "channel opened");
    assert_eq!(p.a.connection_state(), PeerConnectionState::Connected);
    assert_eq!(p.a.dtls_state(), DtlsState::Connected);
    assert!(
        p.a.stats().srtp_profile.is_some(),
        "use_srtp negotiated: SRTP is keyed from the DTLS exporter on first need"
    );
    assert_eq!(
        p.a.channel_stream_id(chat).map(|s| s % 2),
        Some(1),
        "offerer is DTLS server: odd ids"
    );
    // That both ends key SRTP from the same exporter output (RFC 5764
    // §4.2), what A protects B unprotects, is checked inside the crate
    // (transport's `data_only_session_keys_srtp_only_on_demand`): the SRTP
    // contexts are not public.
    // B saw the remote channel.
    let b_id = p.run_until(Duration::from_secs(5), |p| {
        p.events_b
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
    let now = p.now();
    for (d, bin) in &sent {
        p.a.send(now, chat, d.clone(), *bin).unwrap();
    }
    let n = sent.len();
    let done = p.run_until(Duration::from_secs(120), |p| {
        messages(&p.events_a, chat).len() >= n
    });
    assert!(
        done,
        "echoes arrived: {}",
        messages(&p.events_a, chat).len()
    );
    assert_eq!(
        messages(&p.events_a, chat),
        sent,
        "every echo equals what was sent, in order"
    );
    let stats = p.a.stats();
    assert_eq!(stats.messages_sent, n as u64);
    assert_eq!(stats.messages_received, n as u64);
    assert!(stats.selected_pair.is_some());

    // Close the channel from A: both sides see it close.
    let now = p.now();
    p.a.close_channel(now, chat).unwrap();
    let closed = p.run_until(Duration::from_secs(10), |p| {
        p.events_a.contains(&Event::DataChannelClose(chat))
            && p.events_b
                .iter()
                .any(|e| matches!(e, Event::DataChannelClose(_)))
    });
    assert!(closed, "channel closed on both sides");

    // Close the connection from B: A learns by close_notify.
    let now = p.now();
    p.b.close(now);
    let gone = p.run_until(Duration::from_secs(10), |p| {
        p.a.connection_state() == PeerConnectionState::Closed
    });
    assert!(gone, "A closed after B closed");
}

#[test]
fn non_trickle_transfer_and_close() {
    run_transfer(delayed(Duration::from_millis(20)), false);
}

#[test]
fn trickle_transfer_over_a_lossy_link() {
    // About 4% of the datagrams are lost each way.
    run_transfer(delayed(Duration::from_millis(40)).with_loss(0.04), true);
}

#[test]
fn unordered_unreliable_and_negotiated_channels() {
    let (mut p, _chat) = open(Duration::from_millis(10));
    let mut cfg = ChannelConfig::new("lossy");
    cfg.ordered = false;
    cfg.reliability = Reliability::MaxRetransmits(0);
    let lossy = p.a.create_data_channel(cfg).unwrap();
    // A negotiated channel on both sides with stream id 7, no DCEP.
    let mut neg = ChannelConfig::new("neg");
    neg.negotiated = Some(7);
    let na = p.a.create_data_channel(neg.clone()).unwrap();
    let nb = p.b.create_data_channel(neg).unwrap();
    assert_eq!(p.a.channel_stream_id(na), Some(7));
    let now = p.now();
    p.a.send_text(now, lossy, "u").unwrap();
    p.a.send_text(now, na, "n").unwrap();
    assert!(p.run_until(Duration::from_secs(10), |p| {
        messages(&p.events_a, lossy).len() == 1 && messages(&p.events_a, na).len() == 1
    }));
    assert_eq!(
        messages(&p.events_b, nb),
        vec![(Bytes::from_static(b"n"), false)]
    );
    let lbl = p
        .events_b
        .iter()
        .any(|e| matches!(e, Event::DataChannel { label, .. } if label == "lossy"));
    assert!(lbl);
}

#[test]
fn many_channels_at_once() {
    let (mut p, _chat) = open(Duration::from_millis(10));
    let ids: Vec<ChannelId> = (0..50)
        .map(|i| {
            p.a.create_data_channel(ChannelConfig::new(&format!("c{i}")))
                .unwrap()
        })
        .collect();
    let now = p.now();
    for (i, id) in ids.iter().enumerate() {
        p.a.send_text(now, *id, &format!("m{i}")).unwrap();
    }
    assert!(p.run_until(Duration::from_secs(20), |p| {
        ids.iter().all(|id| messages(&p.events_a, *id).len() == 1)
    }));
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            messages(&p.events_a, *id)[0].0,
            Bytes::from(format!("m{i}"))
        );
    }
}

#[test]
fn renegotiation_adds_media_while_data_flows() {
    let (mut p, chat) = open(Duration::from_millis(10));
    let now = p.now();
    // A adds an audio track and a recvonly video transceiver, renegotiates.
    let audio = p.a.add_track(MediaKind::Audio, "s1", "t1");
    p.a.add_transceiver(MediaKind::Video, Direction::RecvOnly);
    let offer = p.a.create_offer().unwrap();
    let text = offer.sdp.to_string();
    assert!(text.contains("a=msid:s1 t1") && text.contains("a=rtpmap:111 opus/48000/2"));
    assert!(text.contains("a=setup:actpass"));
    p.a.set_local_description(now, offer.clone()).unwrap();
    p.b.set_remote_description(now, offer).unwrap();
    let answer = p.b.create_answer().unwrap();
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
    p.b.set_local_description(now, answer.clone()).unwrap();
    p.a.set_remote_description(now, answer).unwrap();
    assert_eq!(p.a.signaling_state(), SignalingState::Stable);
    let t = &p.a.transceivers()[0];
    assert_eq!(t.current_direction, Some(Direction::SendOnly));
    assert_eq!(t.mid.as_deref(), Some("1"), "mid 0 is the data section");
    let _ = audio;
    // Data keeps flowing over the same association.
    let now = p.now();
    p.a.send_text(now, chat, "after").unwrap();
    assert!(
        p.run_until(Duration::from_secs(5), |p| messages(&p.events_a, chat)
            .len()
            == 1)
    );
    assert_eq!(p.a.dtls_state(), DtlsState::Connected);
}

#[test]
fn glare_resolved_by_rollback() {
    let (mut p, _chat) = open(Duration::from_millis(10));
    let now = p.now();
    // Both offer at once; B is polite: it rolls back and answers A.
    p.a.add_transceiver(MediaKind::Audio, Direction::SendRecv);
    p.b.add_transceiver(MediaKind::Video, Direction::SendRecv);
    let oa = p.a.create_offer().unwrap();
    let ob = p.b.create_offer().unwrap();
    p.a.set_local_description(now, oa.clone()).unwrap();
    p.b.set_local_description(now, ob.clone()).unwrap();
    assert!(
        p.a.set_remote_description(now, ob).is_err(),
        "impolite A ignores B's offer"
    );
    assert!(
        p.b.set_remote_description(now, oa.clone()).is_err(),
        "offer in have-local-offer"
    );
    p.b.rollback().unwrap();
    assert_eq!(p.b.signaling_state(), SignalingState::Stable);
    assert!(
        p.b.transceivers()[0].mid.is_none(),
        "B's video lost its offered mid"
    );
    p.b.set_remote_description(now, oa).unwrap();
    let answer = p.b.create_answer().unwrap();
    p.b.set_local_description(now, answer.clone()).unwrap();
    p.a.set_remote_description(now, answer).unwrap();
    assert_eq!(p.a.signaling_state(), SignalingState::Stable);
    assert!(p.b.rollback().is_err(), "nothing to roll back when stable");
}

#[test]
fn ice_restart_mid_transfer_loses_nothing() {
    let (mut p, chat) = open(Duration::from_millis(20));
    let mut sent = Vec::new();
    for i in 0..40u32 {
        let now = p.now();
        let m = Bytes::from(vec![(i % 256) as u8; 10_000]);
        p.a.send(now, chat, m.clone(), true).unwrap();
        sent.push((m, true));
        if i == 20 {
            let before = p.a.local_description().unwrap().sdp.to_string();
            p.a.restart_ice();
            let offer = p.a.create_offer().unwrap();
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
            p.a.set_local_description(now, offer.clone()).unwrap();
            p.b.set_remote_description(now, offer).unwrap();
            let answer = p.b.create_answer().unwrap();
            p.b.set_local_description(now, answer.clone()).unwrap();
            p.a.set_remote_description(now, answer).unwrap();
        }
        p.run_for(Duration::from_millis(20));
    }
    assert!(
        p.run_until(Duration::from_secs(30), |p| messages(&p.events_a, chat)
            .len()
            == sent.len())
    );
    assert_eq!(messages(&p.events_a, chat), sent);
    assert_eq!(p.a.connection_state(), PeerConnectionState::Connected);
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
    let (mut p, chat) = setup(delayed(Duration::from_millis(50)), false);
    p.b.echo = false;
    assert!(p.run_until(Duration::from_secs(30), |p| p
        .events_a
        .contains(&Event::DataChannelOpen(chat))));
    let total = 4 << 20;
    let start = p.now();
    let mut sent = 0;
    let received = |p: &Pair| -> usize {
        p.events_b
            .iter()
            .map(|e| match e {
                Event::DataChannelMessage { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    };
    while received(&p) < total && p.now() - start < Duration::from_secs(60) {
        let now = p.now();
        while sent < total && p.a.buffered_amount(chat) < 1 << 20 {
            let msg = Bytes::from(vec![3u8; 64 << 10]);
            p.a.send(now, chat, msg, true).unwrap();
            sent += 64 << 10;
        }
        assert!(p.step(), "the pair went idle");
    }
    assert_eq!(received(&p), total);
    let took = p.now() - start;
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

/// An application that stops reading holds at most about one receive window
/// of messages in the connection's event queue: SCTP lets go of a message
/// once it is drained into that queue, and the queued bytes still count
/// against the window the sender sees (RFC 9260 §6.2). Once it reads again
/// every message arrives, in order.
#[test]
fn messages_waiting_in_the_event_queue_close_the_window() {
    let (mut p, chat) = common::open_pair((1, 2, 7));
    let at_b = p
        .events_b
        .iter()
        .find_map(|e| match e {
            Event::DataChannel { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    p.b.hold = true;
    const N: usize = 64;
    const SIZE: usize = 64 * 1024;
    let now = p.now();
    for i in 0..N {
        let msg = Bytes::from(vec![i as u8; SIZE]);
        p.a.send(now, chat, msg, true).unwrap();
    }
    p.run_for(Duration::from_secs(5));
    let queued: Vec<Event> = std::iter::from_fn(|| p.b.pc.poll_event()).collect();
    let mut got = messages(&queued, at_b);
    let held: usize = got.iter().map(|(m, _)| m.len()).sum();
    let window = Config::default().sctp.receive_window;
    assert!(held >= window / 2, "the window filled: {held}");
    assert!(held <= window + SIZE, "bounded by the window: {held}");
    assert!(got.len() < N, "the sender was flow-controlled");

    p.b.hold = false;
    let rest = N - got.len();
    let done = p.run_until(Duration::from_secs(30), |p| {
        messages(&p.events_b, at_b).len() >= rest
    });
    assert!(done, "the rest arrived once B read again");
    got.extend(messages(&p.events_b, at_b));
    assert_eq!(got.len(), N);
    for (i, (m, binary)) in got.iter().enumerate() {
        assert!(
            *binary && m.len() == SIZE && m.iter().all(|&b| b == i as u8),
            "message {i}"
        );
    }
}
