//! ICE candidates (RFC 8839 §5.1) parsed and written on their own, as the ICE
//! and peer crates use them for `a=candidate:` lines and trickled candidates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::{Candidate, CandidateAddress, CandidateType, SyntaxError, TcpType, Transport};

#[test]
fn chromium_host_candidate_with_extensions() {
    let s = "candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 ufrag YaIn network-id 1 network-cost 10";
    let c = Candidate::parse(s).unwrap();
    assert_eq!(c.foundation, "1467250027");
    assert_eq!(c.component, 1);
    assert_eq!(c.transport, Transport::Udp);
    assert_eq!(c.priority, 2122260223);
    assert_eq!(
        c.address,
        CandidateAddress::Ip("192.168.0.196".parse().unwrap())
    );
    assert_eq!(c.port, 46243);
    assert_eq!(c.typ, CandidateType::Host);
    assert_eq!(
        (c.generation(), c.ufrag(), c.network_id(), c.network_cost()),
        (Some(0), Some("YaIn"), Some(1), Some(10))
    );
    assert_eq!(c.to_string(), s);
    // The same with `a=` and as a bare value.
    assert_eq!(Candidate::parse(&format!("a={s}")).unwrap(), c);
    assert_eq!(
        Candidate::parse(s.strip_prefix("candidate:").unwrap()).unwrap(),
        c
    );
    assert_eq!(c.value().to_string(), s.strip_prefix("candidate:").unwrap());
}

#[test]
fn reflexive_and_relayed_candidates_with_related_address() {
    let s = "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.0.196 rport 46243 generation 0 network-cost 999";
    let c = Candidate::parse(s).unwrap();
    assert_eq!(c.typ, CandidateType::ServerReflexive);
    assert_eq!(
        c.related_address.as_ref().and_then(CandidateAddress::ip),
        Some("192.168.0.196".parse().unwrap())
    );
    assert_eq!(c.related_port, Some(46243));
    assert_eq!(c.to_string(), s);
    let s = "candidate:3 2 udp 41885439 2001:db8::7 3478 typ relay raddr :: rport 0";
    let c = Candidate::parse(s).unwrap();
    assert_eq!((c.component, c.typ.clone()), (2, CandidateType::Relay));
    assert_eq!(c.to_string(), s);
    assert_eq!(
        Candidate::parse("candidate:4 1 UDP 1 10.0.0.1 1 typ prflx")
            .unwrap()
            .typ,
        CandidateType::PeerReflexive
    );
}

#[test]
fn tcp_candidates_with_tcptype() {
    let s = "candidate:1 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0 network-id 1";
    let c = Candidate::parse(s).unwrap();
    assert_eq!(c.transport, Transport::Tcp);
    assert_eq!(c.tcp_type, Some(TcpType::Active));
    assert_eq!(
        c.extensions,
        [
            ("generation".to_owned(), "0".to_owned()),
            ("network-id".to_owned(), "1".to_owned())
        ]
    );
    assert_eq!(c.to_string(), s);
    for (t, v) in [
        ("passive", TcpType::Passive),
        ("so", TcpType::SimultaneousOpen),
    ] {
        let c = Candidate::parse(&format!(
            "candidate:1 1 TCP 1 10.0.0.1 9 typ host tcptype {t}"
        ))
        .unwrap();
        assert_eq!(c.tcp_type, Some(v));
    }
}

#[test]
fn mdns_hostnames() {
    let s = "candidate:2 1 udp 2122194687 a3f1c1b2-2d0e-4c5f-9a4b-0d8e5f6a7b8c.local 54321 typ host generation 0";
    let c = Candidate::parse(s).unwrap();
    assert!(c.address.is_mdns());
    assert_eq!(c.address.ip(), None);
    assert_eq!(
        c.address,
        CandidateAddress::Hostname("a3f1c1b2-2d0e-4c5f-9a4b-0d8e5f6a7b8c.local".into())
    );
    assert_eq!(c.to_string(), s);
}

#[test]
fn malformed_candidates() {
    let bad = |s: &str| Candidate::parse(s).unwrap_err();
    assert_eq!(bad(""), SyntaxError::MissingField("foundation"));
    // Found by fuzzing: a CR inside the line would not survive a round trip.
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 9 typ host n 0\r x"),
        SyntaxError::ForbiddenCharacter
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 9 typ host n \0"),
        SyntaxError::ForbiddenCharacter
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 9"),
        SyntaxError::MissingField("typ")
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 9 typ"),
        SyntaxError::MissingField("cand-type")
    );
    assert_eq!(
        bad("candidate:1 0 udp 1 10.0.0.1 9 typ host"),
        SyntaxError::NumberOutOfRange("component-id")
    );
    assert_eq!(
        bad("candidate:1 257 udp 1 10.0.0.1 9 typ host"),
        SyntaxError::NumberOutOfRange("component-id")
    );
    assert_eq!(
        bad("candidate:1 1 udp 4294967296 10.0.0.1 9 typ host"),
        SyntaxError::NumberOutOfRange("priority")
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 65536 typ host"),
        SyntaxError::NumberOutOfRange("port")
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 bad!host 9 typ host"),
        SyntaxError::InvalidField("connection-address")
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 9 typ host generation"),
        SyntaxError::MissingField("extension value")
    );
    assert_eq!(
        bad("candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype sideways"),
        SyntaxError::InvalidField("tcptype")
    );
    assert_eq!(
        bad("candidate:1 1 udp 1 10.0.0.1 9 typ host raddr x!y rport 1"),
        SyntaxError::InvalidField("connection-address")
    );
    assert_eq!(
        bad(&format!(
            "candidate:{} 1 udp 1 10.0.0.1 9 typ host",
            "1".repeat(33)
        )),
        SyntaxError::InvalidField("foundation")
    );
}

#[test]
fn socket_addresses_and_the_udp_constructor() {
    let base: std::net::SocketAddr = "10.0.1.1:8998".parse().unwrap();
    let mapped: std::net::SocketAddr = "192.0.2.3:45664".parse().unwrap();
    let c = Candidate::udp(
        CandidateType::ServerReflexive,
        1,
        mapped,
        1_694_498_815,
        "2".into(),
        Some(base),
    );
    assert_eq!(
        c.to_string(),
        "candidate:2 1 udp 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998"
    );
    assert_eq!(Candidate::parse(&c.to_string()).unwrap(), c);
    assert_eq!(
        (c.socket_addr(), c.related_socket_addr()),
        (Some(mapped), Some(base))
    );

    // A name has no socket address until resolved; a hidden related address
    // (a name) has none either; a missing rport reads as 0.
    let m = Candidate::parse(
        "candidate:1 1 udp 1 6f1b7bcb-3a26-4b5e-8c1d-2d4f1e9a7c00.local 54321 typ srflx raddr x.local rport 9",
    )
    .unwrap();
    assert_eq!((m.socket_addr(), m.related_socket_addr()), (None, None));
    let r = Candidate::parse("candidate:1 1 udp 1 192.0.2.3 1 typ srflx raddr 0.0.0.0").unwrap();
    assert_eq!(r.related_socket_addr(), Some("0.0.0.0:0".parse().unwrap()));
}

#[test]
fn over_long_candidates_are_refused() {
    let long = format!(
        "candidate:1 1 udp 1 1.2.3.4 1 typ host {}",
        "x y ".repeat(300)
    );
    assert!(long.len() > Candidate::MAX_LEN);
    assert!(Candidate::parse(&long).is_err());
    let fits = format!(
        "candidate:1 1 udp 1 1.2.3.4 1 typ host {}",
        "x y ".repeat(200)
    );
    assert_eq!(Candidate::parse(&fits).unwrap().extensions.len(), 200);
}

#[test]
fn the_length_bound_is_on_the_value_so_written_candidates_parse_again() {
    // A bare value at the bound parses, and so does the `candidate:` line it
    // writes back (fuzzing found the bound applied to the whole input).
    let head = "1 1 udp 1 1.2.3.4 1 typ host";
    let value = format!(
        "{head} x {}",
        "y".repeat(Candidate::MAX_LEN - head.len() - 3)
    );
    assert_eq!(value.len(), Candidate::MAX_LEN);
    let c = Candidate::parse(&value).unwrap();
    assert_eq!(Candidate::parse(&c.to_string()).unwrap(), c);
    assert_eq!(
        Candidate::parse(&format!("a=candidate:{value}\r\n")).unwrap(),
        c
    );
    assert!(Candidate::parse(&format!("{value}y")).is_err());
}

#[test]
fn ipv4_mapped_addresses_are_written_dotted() {
    // RFC 5952 §5: the documented case where writing back grows the text.
    let c = Candidate::parse("1 1 udp 1 ::ffff:0:0 9 typ host").unwrap();
    assert_eq!(
        c.to_string(),
        "candidate:1 1 udp 1 ::ffff:0.0.0.0 9 typ host"
    );
    assert_eq!(Candidate::parse(&c.to_string()).unwrap(), c);
}
