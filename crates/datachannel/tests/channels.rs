//! Data channels between two endpoints on fulmar-netsim's two-party link.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_datachannel::*;
use fulmar_netsim::{Direction, LinkConfig, Party};
use fulmar_sctp::{Association, Config};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A data-channel endpoint as a party on fulmar-netsim's link: the verbs
/// are the contract's, so this is delegation.
struct Node {
    dc: DataChannels,
}

impl Party for Node {
    type Event = Event;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.dc.handle_receive(now, datagram);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        buf.clear();
        self.dc.poll_transmit(now, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.dc.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.dc.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.dc.poll_timeout()
    }
}

type Pair = fulmar_netsim::Pair<Node, Node>;

/// 5 ms each way, losing `loss` of the packets.
fn link(loss: f64) -> LinkConfig {
    LinkConfig::ideal()
        .with_delay(Duration::from_millis(5))
        .with_loss(loss)
}

/// Two connected endpoints: a opens even stream ids, b odd ones.
fn pair(seed: u64) -> Pair {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let a = DataChannels::new(
        Association::new(Config::default(), &mut rng, now),
        StreamParity::Even,
    );
    let b = DataChannels::new(
        Association::new(Config::default(), &mut rng, now),
        StreamParity::Odd,
    );
    let mut p = Pair::new(now, Node { dc: a }, Node { dc: b }, seed).with_link(link(0.0));
    p.a.dc.connect(now).unwrap();
    p.b.dc.connect(now).unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_a
        .contains(&Event::Connected)
        && p.events_b.contains(&Event::Connected)));
    p
}

/// Takes the messages b received out of its events.
fn b_messages(p: &mut Pair) -> Vec<(u16, Bytes, MessageKind)> {
    let mut out = Vec::new();
    p.events_b.retain(|e| match e {
        Event::Message {
            channel,
            data,
            kind,
        } => {
            out.push((*channel, data.clone(), *kind));
            false
        }
        _ => true,
    });
    out
}

#[test]
fn open_ack_and_channel_properties() {
    let mut p = pair(1);
    let cfg = ChannelConfig {
        label: "chat ✓".into(),
        protocol: "proto/1".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits(3),
        priority: 512,
        negotiated: None,
    };
    let id = p.a.dc.open(p.now(), cfg).unwrap();
    assert_eq!(StreamParity::of(id), StreamParity::Even, "a opens even ids");
    assert_eq!(p.a.dc.channel(id).unwrap().state, ChannelState::Connecting);
    let id_b = p.b.dc.open(p.now(), ChannelConfig::new("from-b")).unwrap();
    assert_eq!(StreamParity::of(id_b), StreamParity::Odd, "b opens odd ids");
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_a
        .contains(&Event::ChannelAcked(id))
        && p.events_b.contains(&Event::ChannelAcked(id_b))));
    assert!(p.events_b.contains(&Event::ChannelOpened(id)));
    assert!(p.events_a.contains(&Event::ChannelOpened(id_b)));
    let info = p.b.dc.channel(id).unwrap();
    assert_eq!(info.label, "chat ✓");
    assert_eq!(info.protocol, "proto/1");
    assert!(!info.ordered);
    assert_eq!(info.reliability, Reliability::MaxRetransmits(3));
    assert_eq!(info.priority, 512);
    assert_eq!(p.a.dc.channel(id).unwrap().state, ChannelState::Open);
    assert_eq!(p.a.dc.channel(id_b).unwrap().label, "from-b");
}

#[test]
fn string_binary_and_empty_messages() {
    let mut p = pair(2);
    let id = p.a.dc.open(p.now(), ChannelConfig::new("m")).unwrap();
    let msgs = [
        (Bytes::from_static(b"text"), MessageKind::Text),
        (Bytes::new(), MessageKind::Text),
        (Bytes::from_static(&[0, 1, 2]), MessageKind::Binary),
        (Bytes::new(), MessageKind::Binary),
        (Bytes::from(vec![7u8; 256 * 1024]), MessageKind::Binary),
    ];
    for (d, k) in &msgs {
        p.a.dc.send(p.now(), id, d.clone(), *k).unwrap();
    }
    assert!(p.run_until(Duration::from_secs(10), |p| p
        .events_b
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count()
        == msgs.len()));
    let got = b_messages(&mut p);
    for ((d, k), (ch, gd, gk)) in msgs.iter().zip(got) {
        assert_eq!(ch, id);
        assert_eq!(&gd, d);
        assert_eq!(gk, *k);
    }
    // Over the peer's max-message-size.
    let e = p.a.dc.send(
        p.now(),
        id,
        Bytes::from(vec![0u8; 256 * 1024 + 1]),
        MessageKind::Binary,
    );
    assert!(matches!(
        e,
        Err(Error::Sctp(fulmar_sctp::Error::MessageTooLarge { .. }))
    ));
    assert_eq!(
        p.a.dc.send(p.now(), 999, Bytes::new(), MessageKind::Text),
        Err(Error::UnknownChannel(999))
    );
}

#[test]
fn negotiated_channel_with_chosen_id() {
    let mut p = pair(3);
    let cfg = ChannelConfig {
        negotiated: Some(42),
        ..ChannelConfig::new("neg")
    };
    assert_eq!(p.a.dc.open(p.now(), cfg.clone()).unwrap(), 42);
    assert_eq!(p.b.dc.open(p.now(), cfg.clone()).unwrap(), 42);
    assert_eq!(p.a.dc.open(p.now(), cfg), Err(Error::StreamInUse(42)));
    p.b.dc
        .send(p.now(), 42, Bytes::from_static(b"hey"), MessageKind::Text)
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_a
        .iter()
        .any(|e| matches!(e, Event::Message { channel: 42, .. }))));
    assert!(!p
        .events_a
        .iter()
        .any(|e| matches!(e, Event::ChannelOpened(_))));
}

#[test]
fn close_by_stream_reset_frees_the_id() {
    let mut p = pair(4);
    let id = p.a.dc.open(p.now(), ChannelConfig::new("c")).unwrap();
    p.a.dc
        .send(
            p.now(),
            id,
            Bytes::from_static(b"last words"),
            MessageKind::Text,
        )
        .unwrap();
    p.a.dc.close(id).unwrap();
    assert_eq!(
        p.a.dc
            .send(p.now(), id, Bytes::from_static(b"x"), MessageKind::Text),
        Err(Error::ChannelClosed(id))
    );
    assert!(p.run_until(Duration::from_secs(10), |p| p
        .events_a
        .contains(&Event::ChannelClosed(id))
        && p.events_b.contains(&Event::ChannelClosed(id))));
    assert_eq!(b_messages(&mut p).len(), 1);
    assert!(p.a.dc.channel(id).is_none() && p.b.dc.channel(id).is_none());
    // The id is reused with fresh SSNs.
    let again = p.a.dc.open(p.now(), ChannelConfig::new("c2")).unwrap();
    assert_eq!(again, id);
    p.a.dc
        .send(
            p.now(),
            again,
            Bytes::from_static(b"new"),
            MessageKind::Text,
        )
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_b
        .iter()
        .any(|e| matches!(e, Event::Message { .. }))));
    assert_eq!(p.b.dc.channel(again).unwrap().label, "c2");
}

#[test]
fn buffered_amount_and_low_threshold() {
    let mut p = pair(5);
    let id = p.a.dc.open(p.now(), ChannelConfig::new("b")).unwrap();
    p.a.dc.set_buffered_amount_low_threshold(id, 64 * 1024);
    for _ in 0..16 {
        p.a.dc
            .send(
                p.now(),
                id,
                Bytes::from(vec![1u8; 64 * 1024]),
                MessageKind::Binary,
            )
            .unwrap();
    }
    assert!(p.a.dc.buffered_amount(id) >= 15 * 64 * 1024);
    assert!(p.run_until(Duration::from_secs(30), |p| p
        .events_a
        .contains(&Event::BufferedAmountLow(id))));
    assert!(p.a.dc.buffered_amount(id) <= 64 * 1024);
}

#[test]
fn partial_reliability_and_ordering_as_configured() {
    let mut p = pair(6);
    let rel =
        p.a.dc
            .open(p.now(), ChannelConfig::new("reliable"))
            .unwrap();
    let unrel =
        p.a.dc
            .open(
                p.now(),
                ChannelConfig {
                    ordered: false,
                    reliability: Reliability::MaxRetransmits(0),
                    ..ChannelConfig::new("lossy")
                },
            )
            .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_a
        .contains(&Event::ChannelAcked(unrel))
        && p.events_a.contains(&Event::ChannelAcked(rel))));
    p.set_link(Direction::AToB, link(0.1));
    p.set_link(Direction::BToA, link(0.1));
    for i in 0..400u32 {
        p.a.dc
            .send(
                p.now(),
                rel,
                Bytes::from(i.to_be_bytes().to_vec()),
                MessageKind::Binary,
            )
            .unwrap();
        p.a.dc
            .send(
                p.now(),
                unrel,
                Bytes::from(i.to_be_bytes().to_vec()),
                MessageKind::Binary,
            )
            .unwrap();
        if i % 20 == 0 {
            p.step();
        }
    }
    assert!(p.run_until(Duration::from_secs(120), |p| p
        .events_b
        .iter()
        .filter(|e| matches!(e, Event::Message { channel, .. } if *channel == rel))
        .count()
        == 400));
    p.set_link(Direction::AToB, link(0.0));
    p.set_link(Direction::BToA, link(0.0));
    p.run_for(Duration::from_secs(5));
    let got = b_messages(&mut p);
    let r: Vec<u32> = got
        .iter()
        .filter(|m| m.0 == rel)
        .map(|m| u32::from_be_bytes(m.1[..].try_into().unwrap()))
        .collect();
    assert_eq!(
        r,
        (0..400).collect::<Vec<_>>(),
        "reliable ordered: all, in order"
    );
    let u = got.iter().filter(|m| m.0 == unrel).count();
    assert!(u < 400 && u > 300, "unreliable delivered {u}");
}

#[test]
fn a_thousand_channels_opened_used_and_closed() {
    let mut p = pair(7);
    let mut ids = Vec::new();
    for i in 0..1000 {
        let id =
            p.a.dc
                .open(p.now(), ChannelConfig::new(&format!("ch{i}")))
                .unwrap();
        p.a.dc
            .send(
                p.now(),
                id,
                Bytes::from(format!("hello {i}")),
                MessageKind::Text,
            )
            .unwrap();
        ids.push(id);
    }
    assert!(p.run_until(Duration::from_secs(60), |p| p
        .events_b
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count()
        == 1000));
    for (i, (ch, data, _)) in b_messages(&mut p).into_iter().enumerate() {
        assert_eq!(p.b.dc.channel(ch).unwrap().label, format!("ch{i}"));
        assert_eq!(data, Bytes::from(format!("hello {i}")));
    }
    for &id in &ids {
        p.a.dc.close(id).unwrap();
    }
    assert!(p.run_until(Duration::from_secs(120), |p| p
        .events_b
        .iter()
        .filter(|e| matches!(e, Event::ChannelClosed(_)))
        .count()
        == 1000
        && p.events_a
            .iter()
            .filter(|e| matches!(e, Event::ChannelClosed(_)))
            .count()
            == 1000));
    assert_eq!(p.a.dc.channel_ids().count(), 0);
    assert_eq!(p.b.dc.channel_ids().count(), 0);
}

#[test]
fn association_abort_closes_channels() {
    let mut p = pair(8);
    let id = p.a.dc.open(p.now(), ChannelConfig::new("x")).unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_b
        .contains(&Event::ChannelOpened(id))));
    p.a.dc.association_mut().abort();
    assert!(p.run_until(Duration::from_secs(5), |p| p
        .events_b
        .iter()
        .any(|e| matches!(e, Event::Closed(_)))));
    assert!(p.events_b.contains(&Event::ChannelClosed(id)));
}
