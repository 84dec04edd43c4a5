//! Data channels between two endpoints over a small simulated link.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_datachannel::*;
use fulmar_sctp::{Association, Config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Pair {
    a: DataChannels,
    b: DataChannels,
    now: Instant,
    loss: f64,
    rng: StdRng,
    ab: Vec<(Instant, Bytes)>,
    ba: Vec<(Instant, Bytes)>,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Pair {
    fn new(seed: u64) -> Self {
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
        let mut p = Pair {
            a,
            b,
            now,
            loss: 0.0,
            rng,
            ab: Vec::new(),
            ba: Vec::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
        };
        p.a.connect(now).unwrap();
        p.b.connect(now).unwrap();
        assert!(p.drive(Duration::from_secs(5), |p| p
            .a_events
            .contains(&Event::Connected)
            && p.b_events.contains(&Event::Connected)));
        p
    }

    fn step(&mut self) -> bool {
        let mut progressed = false;
        let delay = Duration::from_millis(5);
        let mut pkt = Vec::new();
        while self.a.poll_transmit(self.now, &mut pkt).is_some() {
            progressed = true;
            let pkt = Bytes::from(std::mem::take(&mut pkt));
            if !self.rng.gen_bool(self.loss) {
                self.ab.push((self.now + delay, pkt));
            }
        }
        let mut pkt = Vec::new();
        while self.b.poll_transmit(self.now, &mut pkt).is_some() {
            progressed = true;
            let pkt = Bytes::from(std::mem::take(&mut pkt));
            if !self.rng.gen_bool(self.loss) {
                self.ba.push((self.now + delay, pkt));
            }
        }
        let now = self.now;
        for (at, p) in std::mem::take(&mut self.ab) {
            if at <= now {
                progressed = true;
                self.b.handle_receive(now, &p);
            } else {
                self.ab.push((at, p));
            }
        }
        for (at, p) in std::mem::take(&mut self.ba) {
            if at <= now {
                progressed = true;
                self.a.handle_receive(now, &p);
            } else {
                self.ba.push((at, p));
            }
        }
        while let Some(e) = self.a.poll_event() {
            progressed = true;
            self.a_events.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            progressed = true;
            self.b_events.push(e);
        }
        if progressed {
            return true;
        }
        let next = [
            self.a.poll_timeout(),
            self.b.poll_timeout(),
            self.ab.iter().map(|x| x.0).min(),
            self.ba.iter().map(|x| x.0).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        true
    }

    fn drive(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                break;
            }
        }
        done(self)
    }

    fn b_messages(&mut self) -> Vec<(u16, Bytes, MessageKind)> {
        let mut out = Vec::new();
        self.b_events.retain(|e| match e {
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
}

#[test]
fn open_ack_and_channel_properties() {
    let mut p = Pair::new(1);
    let cfg = ChannelConfig {
        label: "chat ✓".into(),
        protocol: "proto/1".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits(3),
        priority: 512,
        negotiated: None,
    };
    let id = p.a.open(p.now, cfg).unwrap();
    assert_eq!(StreamParity::of(id), StreamParity::Even, "a opens even ids");
    assert_eq!(p.a.channel(id).unwrap().state, ChannelState::Connecting);
    let id_b = p.b.open(p.now, ChannelConfig::new("from-b")).unwrap();
    assert_eq!(StreamParity::of(id_b), StreamParity::Odd, "b opens odd ids");
    assert!(p.drive(Duration::from_secs(5), |p| p
        .a_events
        .contains(&Event::ChannelAcked(id))
        && p.b_events.contains(&Event::ChannelAcked(id_b))));
    assert!(p.b_events.contains(&Event::ChannelOpened(id)));
    assert!(p.a_events.contains(&Event::ChannelOpened(id_b)));
    let info = p.b.channel(id).unwrap();
    assert_eq!(info.label, "chat ✓");
    assert_eq!(info.protocol, "proto/1");
    assert!(!info.ordered);
    assert_eq!(info.reliability, Reliability::MaxRetransmits(3));
    assert_eq!(info.priority, 512);
    assert_eq!(p.a.channel(id).unwrap().state, ChannelState::Open);
    assert_eq!(p.a.channel(id_b).unwrap().label, "from-b");
}

#[test]
fn string_binary_and_empty_messages() {
    let mut p = Pair::new(2);
    let id = p.a.open(p.now, ChannelConfig::new("m")).unwrap();
    let msgs = [
        (Bytes::from_static(b"text"), MessageKind::Text),
        (Bytes::new(), MessageKind::Text),
        (Bytes::from_static(&[0, 1, 2]), MessageKind::Binary),
        (Bytes::new(), MessageKind::Binary),
        (Bytes::from(vec![7u8; 256 * 1024]), MessageKind::Binary),
    ];
    for (d, k) in &msgs {
        p.a.send(p.now, id, d.clone(), *k).unwrap();
    }
    assert!(p.drive(Duration::from_secs(10), |p| p
        .b_events
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count()
        == msgs.len()));
    let got = p.b_messages();
    for ((d, k), (ch, gd, gk)) in msgs.iter().zip(got) {
        assert_eq!(ch, id);
        assert_eq!(&gd, d);
        assert_eq!(gk, *k);
    }
    // Over the peer's max-message-size.
    let e = p.a.send(
        p.now,
        id,
        Bytes::from(vec![0u8; 256 * 1024 + 1]),
        MessageKind::Binary,
    );
    assert!(matches!(
        e,
        Err(Error::Sctp(fulmar_sctp::Error::MessageTooLarge { .. }))
    ));
    assert_eq!(
        p.a.send(p.now, 999, Bytes::new(), MessageKind::Text),
        Err(Error::UnknownChannel(999))
    );
}

#[test]
fn negotiated_channel_with_chosen_id() {
    let mut p = Pair::new(3);
    let cfg = ChannelConfig {
        negotiated: Some(42),
        ..ChannelConfig::new("neg")
    };
    assert_eq!(p.a.open(p.now, cfg.clone()).unwrap(), 42);
    assert_eq!(p.b.open(p.now, cfg.clone()).unwrap(), 42);
    assert_eq!(p.a.open(p.now, cfg), Err(Error::StreamInUse(42)));
    p.b.send(p.now, 42, Bytes::from_static(b"hey"), MessageKind::Text)
        .unwrap();
    assert!(p.drive(Duration::from_secs(5), |p| p
        .a_events
        .iter()
        .any(|e| matches!(e, Event::Message { channel: 42, .. }))));
    assert!(!p
        .a_events
        .iter()
        .any(|e| matches!(e, Event::ChannelOpened(_))));
}

#[test]
fn close_by_stream_reset_frees_the_id() {
    let mut p = Pair::new(4);
    let id = p.a.open(p.now, ChannelConfig::new("c")).unwrap();
    p.a.send(
        p.now,
        id,
        Bytes::from_static(b"last words"),
        MessageKind::Text,
    )
    .unwrap();
    p.a.close(id).unwrap();
    assert_eq!(
        p.a.send(p.now, id, Bytes::from_static(b"x"), MessageKind::Text),
        Err(Error::ChannelClosed(id))
    );
    assert!(p.drive(Duration::from_secs(10), |p| p
        .a_events
        .contains(&Event::ChannelClosed(id))
        && p.b_events.contains(&Event::ChannelClosed(id))));
    assert_eq!(p.b_messages().len(), 1);
    assert!(p.a.channel(id).is_none() && p.b.channel(id).is_none());
    // The id is reused with fresh SSNs.
    let again = p.a.open(p.now, ChannelConfig::new("c2")).unwrap();
    assert_eq!(again, id);
    p.a.send(p.now, again, Bytes::from_static(b"new"), MessageKind::Text)
        .unwrap();
    assert!(p.drive(Duration::from_secs(5), |p| p
        .b_events
        .iter()
        .any(|e| matches!(e, Event::Message { .. }))));
    assert_eq!(p.b.channel(again).unwrap().label, "c2");
}

#[test]
fn buffered_amount_and_low_threshold() {
    let mut p = Pair::new(5);
    let id = p.a.open(p.now, ChannelConfig::new("b")).unwrap();
    p.a.set_buffered_amount_low_threshold(id, 64 * 1024);
    for _ in 0..16 {
        p.a.send(
            p.now,
            id,
            Bytes::from(vec![1u8; 64 * 1024]),
            MessageKind::Binary,
        )
        .unwrap();
    }
    assert!(p.a.buffered_amount(id) >= 15 * 64 * 1024);
    assert!(p.drive(Duration::from_secs(30), |p| p
        .a_events
        .contains(&Event::BufferedAmountLow(id))));
    assert!(p.a.buffered_amount(id) <= 64 * 1024);
}

#[test]
fn partial_reliability_and_ordering_as_configured() {
    let mut p = Pair::new(6);
    let rel = p.a.open(p.now, ChannelConfig::new("reliable")).unwrap();
    let unrel =
        p.a.open(
            p.now,
            ChannelConfig {
                ordered: false,
                reliability: Reliability::MaxRetransmits(0),
                ..ChannelConfig::new("lossy")
            },
        )
        .unwrap();
    assert!(p.drive(Duration::from_secs(5), |p| p
        .a_events
        .contains(&Event::ChannelAcked(unrel))
        && p.a_events.contains(&Event::ChannelAcked(rel))));
    p.loss = 0.1;
    for i in 0..400u32 {
        p.a.send(
            p.now,
            rel,
            Bytes::from(i.to_be_bytes().to_vec()),
            MessageKind::Binary,
        )
        .unwrap();
        p.a.send(
            p.now,
            unrel,
            Bytes::from(i.to_be_bytes().to_vec()),
            MessageKind::Binary,
        )
        .unwrap();
        if i % 20 == 0 {
            p.step();
        }
    }
    assert!(p.drive(Duration::from_secs(120), |p| p
        .b_events
        .iter()
        .filter(|e| matches!(e, Event::Message { channel, .. } if *channel == rel))
        .count()
        == 400));
    p.loss = 0.0;
    p.drive(Duration::from_secs(5), |_| false);
    let got = p.b_messages();
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
    let mut p = Pair::new(7);
    let mut ids = Vec::new();
    for i in 0..1000 {
        let id =
            p.a.open(p.now, ChannelConfig::new(&format!("ch{i}")))
                .unwrap();
        p.a.send(
            p.now,
            id,
            Bytes::from(format!("hello {i}")),
            MessageKind::Text,
        )
        .unwrap();
        ids.push(id);
    }
    assert!(p.drive(Duration::from_secs(60), |p| p
        .b_events
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count()
        == 1000));
    for (i, (ch, data, _)) in p.b_messages().into_iter().enumerate() {
        assert_eq!(p.b.channel(ch).unwrap().label, format!("ch{i}"));
        assert_eq!(data, Bytes::from(format!("hello {i}")));
    }
    for &id in &ids {
        p.a.close(id).unwrap();
    }
    assert!(p.drive(Duration::from_secs(120), |p| p
        .b_events
        .iter()
        .filter(|e| matches!(e, Event::ChannelClosed(_)))
        .count()
        == 1000
        && p.a_events
            .iter()
            .filter(|e| matches!(e, Event::ChannelClosed(_)))
            .count()
            == 1000));
    assert_eq!(p.a.channel_ids().count(), 0);
    assert_eq!(p.b.channel_ids().count(), 0);
}

#[test]
fn association_abort_closes_channels() {
    let mut p = Pair::new(8);
    let id = p.a.open(p.now, ChannelConfig::new("x")).unwrap();
    assert!(p.drive(Duration::from_secs(5), |p| p
        .b_events
        .contains(&Event::ChannelOpened(id))));
    p.a.association_mut().abort();
    assert!(p.drive(Duration::from_secs(5), |p| p
        .b_events
        .iter()
        .any(|e| matches!(e, Event::Closed(_)))));
    assert!(p.b_events.contains(&Event::ChannelClosed(id)));
}
