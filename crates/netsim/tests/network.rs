#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Behaviour of the simulated network: links, NATs (RFC 4787), determinism.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_netsim::{
    Datagram, DropReason, Endpoint, Filtering, Link, LinkConfig, Mapping, NatConfig, Network,
    TraceEvent, INTERNET,
};

/// A test endpoint: sends scripted datagrams at scripted times, echoes
/// datagrams starting with "echo", and records what it receives.
#[derive(Default)]
struct Node {
    script: Vec<(Duration, Datagram)>,
    start: Option<Instant>,
    out: Vec<Datagram>,
    got: Vec<(Instant, Datagram)>,
}

impl Node {
    fn script(start: Instant, items: Vec<(u64, &str, &str, &[u8])>) -> Self {
        let mut script: Vec<(Duration, Datagram)> = items
            .into_iter()
            .map(|(ms, src, dst, p)| {
                (
                    Duration::from_millis(ms),
                    Datagram {
                        source: src.parse().unwrap(),
                        destination: dst.parse().unwrap(),
                        payload: p.to_vec(),
                    },
                )
            })
            .collect();
        script.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        Node {
            script,
            start: Some(start),
            ..Node::default()
        }
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        if d.payload.starts_with(b"echo") {
            self.out.push(Datagram {
                source: d.destination,
                destination: d.source,
                payload: [b"re:", &d.payload[..]].concat(),
            });
        }
        self.got.push((now, d));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if let Some(d) = self.out.pop() {
            return Some(d);
        }
        let start = self.start?;
        if self.script.last().is_some_and(|(t, _)| start + *t <= now) {
            return self.script.pop().map(|(_, d)| d);
        }
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        Some(self.start? + self.script.last()?.0)
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn delay_is_sum_of_uplink_and_downlink() {
    let mut net = Network::new(1);
    let t0 = net.now();
    let a = net.add_host(
        INTERNET,
        &[ip("198.51.100.1")],
        Node::script(t0, vec![(0, "0.0.0.0:1000", "198.51.100.2:2000", b"echo")]),
    );
    let b = net.add_host(INTERNET, &[ip("198.51.100.2")], Node::default());
    net.set_link(
        a,
        Link::symmetric(LinkConfig::ideal().with_delay(Duration::from_millis(10))),
    );
    net.set_link(
        b,
        Link::symmetric(LinkConfig::ideal().with_delay(Duration::from_millis(40))),
    );
    assert!(net.run_until_idle(Duration::from_secs(5)));
    let got_b = &net.endpoint::<Node>(b).unwrap().got;
    assert_eq!(got_b.len(), 1);
    assert_eq!(got_b[0].0 - t0, Duration::from_millis(50));
    assert_eq!(got_b[0].1.source, sa("198.51.100.1:1000"));
    let got_a = &net.endpoint::<Node>(a).unwrap().got;
    assert_eq!(got_a[0].0 - t0, Duration::from_millis(100));
}

#[test]
fn wrong_source_and_unknown_destination_are_dropped() {
    let mut net = Network::new(1);
    net.enable_trace();
    let t0 = net.now();
    let a = net.add_host(
        INTERNET,
        &[ip("198.51.100.1")],
        Node::script(
            t0,
            vec![
                (0, "10.9.9.9:1", "198.51.100.2:1", b"x"),
                (1, "198.51.100.1:1", "198.51.100.99:1", b"y"),
            ],
        ),
    );
    net.run_until_idle(Duration::from_secs(1));
    let reasons: Vec<DropReason> = net
        .trace()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Dropped { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![DropReason::BadSource, DropReason::NoRoute]);
    assert_eq!(net.stats(a).dropped, 2);
}

/// Client behind a NAT talks to server S1; then S1 (other port) and S2 probe
/// the mapping. Returns (mapping seen by S1, mapping seen by S2, what got in).
fn probe(nat: NatConfig) -> (SocketAddr, SocketAddr, Vec<Vec<u8>>) {
    let mut net = Network::new(9);
    let t0 = net.now();
    let (_n, home) = net.add_nat(INTERNET, ip("203.0.113.1"), nat);
    let client = net.add_host(
        home,
        &[ip("192.168.0.2")],
        Node::script(
            t0,
            vec![
                (0, "0.0.0.0:5000", "198.51.100.1:3478", b"echo1"),
                (0, "0.0.0.0:5000", "198.51.100.2:3478", b"echo2"),
            ],
        ),
    );
    let s1 = net.add_host(INTERNET, &[ip("198.51.100.1")], Node::default());
    let s2 = net.add_host(INTERNET, &[ip("198.51.100.2")], Node::default());
    net.run_until_idle(Duration::from_secs(1));
    let m1 = net.endpoint::<Node>(s1).unwrap().got[0].1.source;
    let m2 = net.endpoint::<Node>(s2).unwrap().got[0].1.source;
    // Unsolicited probes at the first mapping.
    net.inject(
        s1,
        Datagram {
            source: sa("198.51.100.1:9999"),
            destination: m1,
            payload: b"same-ip-other-port".to_vec(),
        },
    );
    net.inject(
        s2,
        Datagram {
            source: sa("198.51.100.2:3478"),
            destination: m1,
            payload: b"other-ip".to_vec(),
        },
    );
    net.run_until_idle(Duration::from_secs(1));
    let got = net
        .endpoint::<Node>(client)
        .unwrap()
        .got
        .iter()
        .map(|(_, d)| d.payload.clone())
        .filter(|p| !p.starts_with(b"re:"))
        .collect();
    (m1, m2, got)
}

#[test]
fn rfc4787_mapping_and_filtering_matrix() {
    for (mapping, same) in [
        (Mapping::EndpointIndependent, true),
        (Mapping::AddressDependent, false),
        (Mapping::AddressAndPortDependent, false),
    ] {
        for (filtering, expect) in [
            (
                Filtering::EndpointIndependent,
                vec!["same-ip-other-port", "other-ip"],
            ),
            (Filtering::AddressDependent, vec!["same-ip-other-port"]),
            (Filtering::AddressAndPortDependent, vec![]),
        ] {
            let (m1, m2, got) = probe(NatConfig::new(mapping, filtering));
            assert_eq!(m1.ip(), ip("203.0.113.1"));
            assert_eq!(m1 == m2, same, "{mapping:?}");
            let mut expect: Vec<Vec<u8>> = expect.iter().map(|s| s.as_bytes().to_vec()).collect();
            let mut got = got;
            got.sort();
            expect.sort();
            // The other-ip probe comes from 198.51.100.2:3478, which the
            // client did contact, but through mapping m2: only when m1 == m2
            // (endpoint-independent mapping) does that open m1 to it.
            if filtering == Filtering::AddressDependent && same {
                expect.push(b"other-ip".to_vec());
                expect.sort();
            }
            if filtering == Filtering::AddressAndPortDependent && same {
                expect.push(b"other-ip".to_vec());
            }
            assert_eq!(got, expect, "{mapping:?} {filtering:?}");
        }
    }
}

#[test]
fn hairpinning_on_and_off() {
    for hairpin in [true, false] {
        let mut net = Network::new(5);
        let t0 = net.now();
        let (nat, home) = net.add_nat(
            INTERNET,
            ip("203.0.113.1"),
            NatConfig::full_cone().with_hairpinning(hairpin),
        );
        // b opens a mapping by talking to a server; a then sends to b's
        // external address.
        let _server = net.add_host(INTERNET, &[ip("198.51.100.1")], Node::default());
        let b = net.add_host(
            home,
            &[ip("192.168.0.3")],
            Node::script(t0, vec![(0, "0.0.0.0:6000", "198.51.100.1:1", b"x")]),
        );
        net.run_until_idle(Duration::from_secs(1));
        let ext = net.endpoint::<Node>(_server).unwrap().got[0].1.source;
        let a = net.add_host(
            home,
            &[ip("192.168.0.2")],
            Node::script(
                net.now(),
                vec![(0, "0.0.0.0:5000", &ext.to_string(), b"hi")],
            ),
        );
        net.run_until_idle(Duration::from_secs(1));
        let got = &net.endpoint::<Node>(b).unwrap().got;
        assert_eq!(got.len(), usize::from(hairpin), "hairpin {hairpin}");
        if hairpin {
            // The source is a's external mapping, not its private address.
            assert_eq!(got[0].1.source.ip(), ip("203.0.113.1"));
            assert_eq!(got[0].1.destination, sa("192.168.0.3:6000"));
        } else {
            assert_eq!(net.stats(nat).dropped, 1);
        }
        let _ = a;
    }
}

#[test]
fn mapping_timeout_closes_the_pinhole() {
    let mut net = Network::new(5);
    let t0 = net.now();
    let (nat, home) = net.add_nat(
        INTERNET,
        ip("203.0.113.1"),
        NatConfig::full_cone().with_mapping_timeout(Duration::from_secs(30)),
    );
    let server = net.add_host(INTERNET, &[ip("198.51.100.1")], Node::default());
    let client = net.add_host(
        home,
        &[ip("192.168.0.2")],
        Node::script(t0, vec![(0, "0.0.0.0:5000", "198.51.100.1:1", b"x")]),
    );
    net.run_until_idle(Duration::from_secs(1));
    let ext = net.endpoint::<Node>(server).unwrap().got[0].1.source;
    assert_eq!(net.nat_mappings(nat), 1);
    net.run_for(Duration::from_secs(29));
    net.inject(
        server,
        Datagram {
            source: sa("198.51.100.1:1"),
            destination: ext,
            payload: b"in-time".to_vec(),
        },
    );
    net.run_for(Duration::from_secs(2));
    net.inject(
        server,
        Datagram {
            source: sa("198.51.100.1:1"),
            destination: ext,
            payload: b"too-late".to_vec(),
        },
    );
    net.run_until_idle(Duration::from_secs(1));
    let got: Vec<_> = net
        .endpoint::<Node>(client)
        .unwrap()
        .got
        .iter()
        .map(|(_, d)| d.payload.clone())
        .collect();
    assert_eq!(got, vec![b"in-time".to_vec()]);
    assert_eq!(net.nat_mappings(nat), 0);
}

fn lossy_run(seed: u64, link: LinkConfig, n: usize) -> (Vec<(Duration, Vec<u8>)>, Vec<TraceEvent>) {
    let mut net = Network::new(seed);
    net.enable_trace();
    let t0 = net.now();
    let items: Vec<(u64, String)> = (0..n).map(|i| (i as u64, format!("{i:04}"))).collect();
    let script = items
        .iter()
        .map(|(t, p)| (*t, "0.0.0.0:1", "198.51.100.2:1", p.as_bytes()))
        .collect();
    let _a = net.add_host(INTERNET, &[ip("198.51.100.1")], Node::script(t0, script));
    let b = net.add_host(INTERNET, &[ip("198.51.100.2")], Node::default());
    net.set_link(
        b,
        Link {
            up: LinkConfig::ideal(),
            down: link,
        },
    );
    net.run_until_idle(Duration::from_secs(60));
    let got = net
        .endpoint::<Node>(b)
        .unwrap()
        .got
        .iter()
        .map(|(t, d)| (*t - t0, d.payload.clone()))
        .collect();
    (got, net.trace().to_vec())
}

#[test]
fn loss_rate_is_roughly_right_and_runs_are_reproducible() {
    let link = LinkConfig::ideal()
        .with_loss(0.3)
        .with_delay(Duration::from_millis(20));
    let (got, trace) = lossy_run(77, link.clone(), 1000);
    assert!((620..=780).contains(&got.len()), "delivered {}", got.len());
    let (got2, trace2) = lossy_run(77, link.clone(), 1000);
    assert_eq!(got, got2);
    assert_eq!(trace, trace2);
    let (got3, _) = lossy_run(78, link, 1000);
    assert_ne!(got, got3);
}

#[test]
fn duplication_and_reordering() {
    let (got, _) = lossy_run(3, LinkConfig::ideal().with_duplicate(0.5), 200);
    assert!((260..=340).contains(&got.len()), "{}", got.len());
    let (got, _) = lossy_run(
        3,
        LinkConfig::ideal().with_reorder(0.2, Duration::from_millis(5)),
        200,
    );
    assert_eq!(got.len(), 200);
    let order: Vec<_> = got.iter().map(|(_, p)| p.clone()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_ne!(order, sorted, "some datagrams must be overtaken");
    // Jitter delivers within bounds.
    let (got, _) = lossy_run(
        4,
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(10))
            .with_jitter(Duration::from_millis(30)),
        100,
    );
    for (t, p) in got {
        let sent: u64 = std::str::from_utf8(&p).unwrap().parse().unwrap();
        let d = t - Duration::from_millis(sent);
        assert!(
            d >= Duration::from_millis(10) && d <= Duration::from_millis(40),
            "{d:?}"
        );
    }
}

#[test]
fn bandwidth_limit_spaces_arrivals() {
    // 100 datagrams of 4 bytes at 1 ms spacing through a 8 kbit/s link: each
    // takes 4 ms to serialise, so the last arrives around 400 ms.
    let (got, _) = lossy_run(
        1,
        LinkConfig::ideal()
            .with_bandwidth(8_000)
            .with_queue_limit(10_000),
        100,
    );
    assert_eq!(got.len(), 100);
    assert_eq!(got.last().unwrap().0, Duration::from_millis(400));
}

#[test]
fn ipv6_hosts_talk_and_nat_rejects_wrong_family() {
    let mut net = Network::new(1);
    let t0 = net.now();
    let a = net.add_host(
        INTERNET,
        &[ip("2001:db8::1"), ip("198.51.100.1")],
        Node::script(t0, vec![(0, "[::]:1000", "[2001:db8::2]:2000", b"echo6")]),
    );
    let _b = net.add_host(INTERNET, &[ip("2001:db8::2")], Node::default());
    net.run_until_idle(Duration::from_secs(1));
    let got = &net.endpoint::<Node>(a).unwrap().got;
    assert_eq!(got[0].1.source, sa("[2001:db8::2]:2000"));
    assert_eq!(got[0].1.destination, sa("[2001:db8::1]:1000"));

    let (nat, home) = net.add_nat(INTERNET, ip("203.0.113.1"), NatConfig::full_cone());
    let _c = net.add_host(
        home,
        &[ip("fd00::2")],
        Node::script(net.now(), vec![(0, "[::]:1", "[2001:db8::2]:2000", b"x")]),
    );
    net.run_until_idle(Duration::from_secs(1));
    assert_eq!(net.stats(nat).dropped, 1);
}

#[test]
fn double_nat() {
    let mut net = Network::new(2);
    let t0 = net.now();
    let (_isp, cgn) = net.add_nat(INTERNET, ip("203.0.113.1"), NatConfig::full_cone());
    let (_home, lan) = net.add_nat(cgn, ip("100.64.0.2"), NatConfig::port_restricted_cone());
    let c = net.add_host(
        lan,
        &[ip("192.168.0.2")],
        Node::script(t0, vec![(0, "0.0.0.0:5000", "198.51.100.1:7", b"echo")]),
    );
    let s = net.add_host(INTERNET, &[ip("198.51.100.1")], Node::default());
    net.run_until_idle(Duration::from_secs(1));
    assert_eq!(
        net.endpoint::<Node>(s).unwrap().got[0].1.source.ip(),
        ip("203.0.113.1")
    );
    assert_eq!(net.endpoint::<Node>(c).unwrap().got.len(), 1);
}
