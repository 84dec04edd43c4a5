#![allow(clippy::unwrap_used, clippy::expect_used)]
//! RFC 8839 §5.1 candidate attributes: examples, browser lines, malformed
//! input, and round trips.

use fulmar_ice::{Candidate, CandidateAddress, CandidateKind, Error, Transport};
use proptest::prelude::*;

#[test]
fn rfc8839_section_5_1_examples() {
    // The grammar's example shapes: host, srflx with raddr/rport, relay.
    let host: Candidate = "a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host"
        .parse()
        .unwrap();
    assert_eq!(host.foundation, "1");
    assert_eq!(host.component, 1);
    assert_eq!(host.transport, Transport::Udp);
    assert_eq!(host.priority, 2_130_706_431);
    assert_eq!(host.socket_addr(), Some("10.0.1.1:8998".parse().unwrap()));
    assert_eq!(host.kind, CandidateKind::Host);
    assert_eq!(host.related, None);

    let srflx: Candidate =
        "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998"
            .parse()
            .unwrap();
    assert_eq!(srflx.kind, CandidateKind::ServerReflexive);
    assert_eq!(srflx.related, Some("10.0.1.1:8998".parse().unwrap()));
    assert_eq!(
        srflx.to_string(),
        "candidate:2 1 udp 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998"
    );

    let relay: Candidate =
        "candidate:3 2 udp 16777214 2001:db8::7 3478 typ relay raddr 2001:db8::1 rport 50000"
            .parse()
            .unwrap();
    assert_eq!(relay.component, 2);
    assert_eq!(relay.kind, CandidateKind::Relayed);
    assert_eq!(
        relay.socket_addr(),
        Some("[2001:db8::7]:3478".parse().unwrap())
    );
}

#[test]
fn chromium_lines_with_extensions_and_mdns() {
    let c: Candidate = "candidate:3253668255 1 udp 2122260223 127.0.0.1 51231 typ host generation 0 ufrag fx0V network-id 1 network-cost 10"
        .parse()
        .unwrap();
    assert_eq!(c.extension("ufrag"), Some("fx0V"));
    assert_eq!(c.extension("network-cost"), Some("10"));
    assert_eq!(c.to_string(), "candidate:3253668255 1 udp 2122260223 127.0.0.1 51231 typ host generation 0 ufrag fx0V network-id 1 network-cost 10");

    let m: Candidate = "candidate:1 1 udp 2122262783 6f1b7bcb-3a26-4b5e-8c1d-2d4f1e9a7c00.local 54321 typ host generation 0"
        .parse()
        .unwrap();
    assert!(m.address.is_mdns());
    assert_eq!(m.socket_addr(), None);

    let tcp: Candidate = "candidate:4 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active"
        .parse()
        .unwrap();
    assert_eq!(tcp.transport, Transport::Tcp);
    assert_eq!(tcp.tcp_type.as_deref(), Some("active"));

    // A hidden related address (mDNS srflx) keeps the candidate.
    let s: Candidate =
        "candidate:5 1 udp 1686052607 198.51.100.9 61000 typ srflx raddr 0.0.0.0 rport 0"
            .parse()
            .unwrap();
    assert_eq!(s.related, Some("0.0.0.0:0".parse().unwrap()));
}

#[test]
fn malformed_lines_give_typed_errors() {
    let cases: &[(&str, Error)] = &[
        ("candidate:", Error::InvalidCandidate("foundation")),
        ("candidate:1", Error::InvalidCandidate("component-id")),
        (
            "candidate:1 0 udp 1 1.2.3.4 1 typ host",
            Error::InvalidCandidate("component-id"),
        ),
        (
            "candidate:1 1000 udp 1 1.2.3.4 1 typ host",
            Error::InvalidCandidate("component-id"),
        ),
        (
            "candidate:1 1 sctp 1 1.2.3.4 1 typ host",
            Error::UnsupportedTransport,
        ),
        (
            "candidate:1 1 udp 99999999999 1.2.3.4 1 typ host",
            Error::InvalidCandidate("priority"),
        ),
        (
            "candidate:1 1 udp 4294967296 1.2.3.4 1 typ host",
            Error::InvalidCandidate("priority"),
        ),
        (
            "candidate:1 1 udp 1 bad!host 1 typ host",
            Error::InvalidCandidate("connection-address"),
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 65536 typ host",
            Error::InvalidCandidate("port"),
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 1 type host",
            Error::InvalidCandidate("typ"),
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 1 typ cloud",
            Error::InvalidCandidate("cand-type"),
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 1 typ host raddr",
            Error::InvalidCandidate("extension value"),
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 1 typ srflx raddr 1.2.3.4 rport x",
            Error::InvalidCandidate("port"),
        ),
        (
            "candidate:f*o 1 udp 1 1.2.3.4 1 typ host",
            Error::InvalidCandidate("foundation"),
        ),
        (
            "candidate:123456789012345678901234567890123 1 udp 1 1.2.3.4 1 typ host",
            Error::InvalidCandidate("foundation"),
        ),
    ];
    for (line, err) in cases {
        assert_eq!(Candidate::parse(line).as_ref(), Err(err), "{line}");
    }
    let long = format!(
        "candidate:1 1 udp 1 1.2.3.4 1 typ host {}",
        "x y ".repeat(400)
    );
    assert_eq!(
        Candidate::parse(&long),
        Err(Error::InvalidCandidate("line too long"))
    );
    // Extensions beyond the cap are dropped, not an error.
    let many = format!(
        "candidate:1 1 udp 1 1.2.3.4 1 typ host {}",
        "k v ".repeat(40)
    );
    assert_eq!(
        Candidate::parse(&many).unwrap().extensions.len(),
        fulmar_ice::MAX_EXTENSIONS
    );
}

fn ice_chars() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{1,32}"
}

fn arb_candidate() -> impl Strategy<Value = Candidate> {
    let kind = prop_oneof![
        Just(CandidateKind::Host),
        Just(CandidateKind::ServerReflexive),
        Just(CandidateKind::PeerReflexive),
        Just(CandidateKind::Relayed)
    ];
    let addr = prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(|a| CandidateAddress::Ip(a.into())),
        any::<std::net::Ipv6Addr>().prop_map(|a| CandidateAddress::Ip(a.into())),
        "[a-f0-9-]{1,36}\\.local".prop_map(CandidateAddress::Hostname),
    ];
    let related = proptest::option::of(any::<std::net::SocketAddr>());
    let ext = proptest::collection::vec(("[a-z-]{1,10}", "[a-zA-Z0-9]{1,10}"), 0..4);
    (
        ice_chars(),
        1u16..=256,
        any::<u32>(),
        addr,
        any::<u16>(),
        kind,
        related,
        ext,
    )
        .prop_map(
            |(foundation, component, priority, address, port, kind, related, extensions)| {
                let extensions = extensions
                    .into_iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "raddr" | "rport" | "tcptype"))
                    .collect();
                Candidate {
                    foundation,
                    component,
                    transport: Transport::Udp,
                    priority,
                    address,
                    port,
                    kind,
                    related: related.map(|r| std::net::SocketAddr::new(r.ip(), r.port())),
                    tcp_type: None,
                    extensions,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_then_parse_round_trips(c in arb_candidate()) {
        let line = c.to_string();
        let back = Candidate::parse(&line).unwrap();
        // IPv6 related addresses with a scope id lose it in text form.
        let mut c = c;
        if let Some(std::net::SocketAddr::V6(r)) = c.related.as_mut() { r.set_scope_id(0); r.set_flowinfo(0); }
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.to_string(), line);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = Candidate::parse(&s);
    }
}
