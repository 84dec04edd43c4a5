//! Property tests: generated descriptions round-trip byte for byte and
//! re-parse to equal values; typed attributes and candidates round-trip
//! through `Display`; arbitrary input never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::attributes::{ExtMap, Fmtp, RtcpFb, RtpMap, Ssrc, TypedAttribute};
use fulmar_sdp::{
    Candidate, CandidateAddress, CandidateType, Direction, SessionDescription, TcpType, Transport,
};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9+._-]{0,15}"
}

fn free_text() -> impl Strategy<Value = String> {
    // Any line-safe text, including non-ASCII and leading/trailing spaces.
    "[^\r\n\u{0}]{0,40}"
}

/// One valid media-level line (without the ending).
fn media_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0u8..128,
            token(),
            any::<u32>(),
            proptest::option::of(1u16..9)
        )
            .prop_map(|(pt, n, c, ch)| RtpMap {
                payload_type: pt,
                encoding_name: &n,
                clock_rate: c,
                encoding_params: ch
            }
            .to_string())
            .prop_map(|v| format!("a=rtpmap:{v}")),
        (
            0u8..128,
            "[a-z-]{1,8}=[0-9a-f]{1,6}(;[a-z-]{1,8}=[0-9]{1,3}){0,3}"
        )
            .prop_map(|(pt, p)| format!("a=fmtp:{pt} {p}")),
        (
            0u8..128,
            prop_oneof![
                Just("nack"),
                Just("nack pli"),
                Just("ccm fir"),
                Just("transport-cc")
            ]
        )
            .prop_map(|(pt, f)| format!("a=rtcp-fb:{pt} {f}")),
        (1u16..256, token()).prop_map(|(id, uri)| format!("a=extmap:{id} urn:{uri}")),
        (any::<u32>(), token()).prop_map(|(s, c)| format!("a=ssrc:{s} cname:{c}")),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| format!("a=ssrc-group:FID {a} {b}")),
        token().prop_map(|m| format!("a=mid:{m}")),
        (token(), token()).prop_map(|(s, t)| format!("a=msid:{s} {t}")),
        prop_oneof![
            Just("sendrecv"),
            Just("sendonly"),
            Just("recvonly"),
            Just("inactive")
        ]
        .prop_map(|d| format!("a={d}")),
        prop_oneof![Just("active"), Just("passive"), Just("actpass")]
            .prop_map(|s| format!("a=setup:{s}")),
        proptest::collection::vec(any::<u8>(), 1..40).prop_map(|d| format!(
            "a=fingerprint:sha-256 {}",
            d.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        )),
        any::<u16>().prop_map(|p| format!("a=sctp-port:{p}")),
        any::<u64>().prop_map(|p| format!("a=max-message-size:{p}")),
        candidate().prop_map(|c| format!("a={c}")),
        (
            "[a-zA-Z0-9_-]{1,8}",
            prop_oneof![Just("send"), Just("recv")]
        )
            .prop_map(|(id, d)| format!("a=rid:{id} {d}")),
        "[a-z]{1,4}(;~?[a-z]{1,4}){0,3}".prop_map(|l| format!("a=simulcast:send {l}")),
        ("x-[a-z-]{1,12}", free_text()).prop_map(|(n, v)| format!("a={n}:{v}")),
        "x-[a-z-]{1,12}".prop_map(|n| format!("a={n}")),
        free_text().prop_map(|t| format!("i={t}")),
        any::<u32>().prop_map(|b| format!("b=AS:{b}")),
        Just("c=IN IP4 0.0.0.0".to_owned()),
    ]
}

fn media_section() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![Just("audio"), Just("video")],
        any::<u16>(),
        proptest::collection::vec(0u8..128, 1..6),
        proptest::collection::vec(media_line(), 0..12),
    )
        .prop_map(|(kind, port, pts, mut lines)| {
            let pts: Vec<String> = pts.iter().map(u8::to_string).collect();
            lines.insert(
                0,
                format!("m={kind} {port} UDP/TLS/RTP/SAVPF {}", pts.join(" ")),
            );
            lines
        })
}

fn description() -> impl Strategy<Value = String> {
    (
        any::<u64>(),
        any::<u64>(),
        free_text(),
        proptest::collection::vec(
            prop_oneof![
                media_line().prop_filter("session-level", |l| !l.starts_with("i=")),
                Just("a=ice-lite".to_owned())
            ],
            0..6,
        ),
        proptest::collection::vec(media_section(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(id, ver, name, session, media, crlf)| {
            let mut lines = vec![
                "v=0".to_owned(),
                format!("o=- {id} {ver} IN IP4 127.0.0.1"),
                format!("s={name}"),
                "t=0 0".to_owned(),
            ];
            lines.extend(session);
            for m in media {
                lines.extend(m);
            }
            let ending = if crlf { "\r\n" } else { "\n" };
            lines.iter().map(|l| format!("{l}{ending}")).collect()
        })
}

fn address() -> impl Strategy<Value = CandidateAddress> {
    prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(|a| CandidateAddress::Ip(a.into())),
        any::<std::net::Ipv6Addr>().prop_map(|a| CandidateAddress::Ip(a.into())),
        "[a-f0-9]{8}-[a-f0-9]{4}\\.local".prop_map(CandidateAddress::Hostname),
    ]
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        "[a-zA-Z0-9+/]{1,32}",
        1u16..=256,
        prop_oneof![Just(Transport::Udp), Just(Transport::Tcp)],
        any::<u32>(),
        address(),
        any::<u16>(),
        prop_oneof![
            Just(CandidateType::Host),
            Just(CandidateType::ServerReflexive),
            Just(CandidateType::PeerReflexive),
            Just(CandidateType::Relay)
        ],
        proptest::option::of(address()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(prop_oneof![
            Just(TcpType::Active),
            Just(TcpType::Passive),
            Just(TcpType::SimultaneousOpen)
        ]),
        proptest::collection::vec(
            (
                "(generation|ufrag|network-id|network-cost|x-[a-z]{1,5})",
                "[a-zA-Z0-9]{1,8}",
            ),
            0..4,
        ),
    )
        .prop_map(
            |(foundation, component, transport, priority, address, port, typ, ra, rp, tcp, ext)| {
                Candidate {
                    foundation,
                    component,
                    transport,
                    priority,
                    address,
                    port,
                    typ,
                    related_address: ra,
                    related_port: rp,
                    tcp_type: tcp,
                    extensions: ext,
                }
            },
        )
}

fn round_trip<'a, T: TypedAttribute<'a> + PartialEq + std::fmt::Debug>(value: &T, text: &'a str) {
    assert_eq!(&T::parse_value(text).unwrap(), value);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_descriptions_round_trip_byte_for_byte(text in description()) {
        let sdp = SessionDescription::parse(&text).unwrap();
        let written = sdp.to_string();
        prop_assert_eq!(&written, &text);
        prop_assert_eq!(SessionDescription::parse(&written).unwrap(), sdp);
    }

    #[test]
    fn candidates_round_trip(c in candidate()) {
        let text = c.to_string();
        prop_assert_eq!(Candidate::parse(&text).unwrap(), c.clone());
        prop_assert_eq!(Candidate::parse(&format!("a={text}")).unwrap(), c);
    }

    #[test]
    fn typed_attributes_round_trip(
        pt in 0u8..128, name in token(), rate in any::<u32>(), ch in proptest::option::of(any::<u16>()),
        id in 1u16.., dir in proptest::option::of(prop_oneof![Just(Direction::SendOnly), Just(Direction::RecvOnly)]),
        uri in token(), ssrc in any::<u32>(), params in "[a-z=;0-9]{1,20}",
    ) {
        let r = RtpMap { payload_type: pt, encoding_name: &name, clock_rate: rate, encoding_params: ch };
        round_trip(&r, &r.to_string());
        let e = ExtMap { id, direction: dir, uri: &uri, extension_attributes: None };
        round_trip(&e, &e.to_string());
        let f = Fmtp { payload_type: pt, parameters: &params };
        round_trip(&f, &f.to_string());
        let fb = RtcpFb { payload_type: Some(pt), feedback_type: &name, parameter: Some("pli") };
        round_trip(&fb, &fb.to_string());
        let s = Ssrc { ssrc, attribute: "cname", value: Some(&name) };
        round_trip(&s, &s.to_string());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(v=0\r?\n)?([a-z]=[^\n]{0,30}\r?\n){0,20}") {
        if let Ok(sdp) = SessionDescription::parse(&text) {
            prop_assert_eq!(SessionDescription::parse(&sdp.to_string()).unwrap(), sdp);
        }
    }

    #[test]
    fn fragments_round_trip(
        ufrag in "[a-zA-Z0-9+/]{4,16}",
        cands in proptest::collection::vec(candidate(), 0..4),
        end in any::<bool>(),
    ) {
        let mut text = format!("a=ice-ufrag:{ufrag}\r\na=ice-pwd:0123456789abcdefghijkl\r\n");
        text.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n");
        for c in &cands {
            text.push_str(&format!("a={c}\r\n"));
        }
        if end {
            text.push_str("a=end-of-candidates\r\n");
        }
        let frag = SessionDescription::parse_fragment(&text).unwrap();
        prop_assert_eq!(frag.first_ice_ufrag(), Some(ufrag.as_str()));
        let m = &frag.media()[0];
        prop_assert_eq!(m.candidates().collect::<Vec<_>>(), cands);
        prop_assert_eq!(m.end_of_candidates(), end);
        prop_assert_eq!(frag.to_string(), text);
    }

    #[test]
    fn arbitrary_fragments_never_panic(text in "([am]=[^\n]{0,30}\r?\n){0,12}") {
        if let Ok(frag) = SessionDescription::parse_fragment(&text) {
            let written = frag.to_string();
            prop_assert_eq!(SessionDescription::parse_fragment(&written).unwrap(), frag);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = SessionDescription::parse_bytes(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Candidate::parse(s);
        }
    }
}
