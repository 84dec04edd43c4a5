//! Offers with odd sections (unknown or mangled protos, port 0, bundle-only,
//! data sections with RTP formats, duplicate payload types) are either
//! refused by `set_remote_description` or answered with those sections
//! rejected (RFC 9429 §5.3.1, RFC 3264 §6): an offer that is accepted is
//! always answerable, and the answer mirrors the offer's m-lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use fulmar_peer::{Config, PeerConnection, SessionDescription};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

const OFFER: &str = include_str!("../../sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");
const FINDING: &str =
    include_str!("../../../fuzz/corpus/peer_remote_description/mangled-proto-port0-b2152ba5");

/// What the peer did with an offer.
enum Outcome {
    Refused,
    /// The answer's m-lines as `(kind, port, proto)`.
    Answered(Vec<(String, u16, String)>),
}

fn answer(offer: &str) -> Outcome {
    let Ok(offer) = SessionDescription::offer(offer) else {
        return Outcome::Refused;
    };
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(5)).unwrap();
    pc.add_host_candidate(now, "127.0.0.1:40000".parse().unwrap())
        .unwrap();
    if pc.set_remote_description(now, offer).is_err() {
        return Outcome::Refused;
    }
    let answer = pc.create_answer().expect("an accepted offer is answerable");
    let text = answer.sdp.to_string();
    pc.set_local_description(now, answer)
        .expect("our own answer applies");
    let parsed = SessionDescription::answer(&text).expect("our answer parses");
    Outcome::Answered(
        parsed
            .sdp
            .media()
            .iter()
            .map(|m| (m.kind().to_owned(), m.port(), m.proto().to_owned()))
            .collect(),
    )
}

/// The session part and the media sections of a description, by line.
fn split(offer: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut session = Vec::new();
    let mut sections: Vec<Vec<String>> = Vec::new();
    for line in offer.lines().filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            sections.push(vec![line.to_owned()]);
        } else if let Some(s) = sections.last_mut() {
            s.push(line.to_owned());
        } else {
            session.push(line.to_owned());
        }
    }
    (session, sections)
}

#[test]
fn the_fuzzers_finding_is_answered_with_its_audio_section_rejected() {
    let Outcome::Answered(lines) = answer(FINDING) else {
        panic!("the offer's video and data sections are usable");
    };
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        ("audio".into(), 0, "UDP/TLS/SCTPRTP/SAVPF".into()),
        "the mangled section is rejected with the offer's proto"
    );
}

#[test]
fn an_unknown_proto_on_a_live_section_is_rejected_not_misread() {
    let offer = OFFER.replacen(
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "m=application 9 UDP/TLS/SCTPRTP/SAVPF webrtc-datachannel",
        1,
    );
    let Outcome::Answered(lines) = answer(&offer) else {
        panic!("audio and video are usable")
    };
    assert_eq!(
        lines[2],
        ("application".into(), 0, "UDP/TLS/SCTPRTP/SAVPF".into())
    );
    assert_ne!(lines[0].1, 0);
}

#[test]
fn duplicate_payload_types_are_refused() {
    let listed = OFFER.replacen(
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 111 63",
        1,
    );
    assert!(matches!(answer(&listed), Outcome::Refused));
    let mapped = OFFER.replacen(
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:111 opus/48000/2\r\na=rtpmap:111 PCMU/8000",
        1,
    );
    assert!(matches!(answer(&mapped), Outcome::Refused));
}

#[test]
fn a_second_data_section_is_rejected() {
    let data = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel";
    let (session, sections) = split(OFFER);
    let mut second = sections[2].clone();
    for line in &mut second {
        if line == "a=mid:2" {
            *line = "a=mid:3".into();
        }
    }
    let mut text = session
        .join("\r\n")
        .replace("BUNDLE 0 1 2", "BUNDLE 0 1 2 3")
        + "\r\n";
    for s in sections.iter().chain([&second]) {
        text += &(s.join("\r\n") + "\r\n");
    }
    assert!(text.matches(data).count() == 2);
    let Outcome::Answered(lines) = answer(&text) else {
        panic!("accepted")
    };
    assert_eq!(lines.len(), 4);
    assert_ne!(lines[2].1, 0, "the first data section is used");
    assert_eq!(lines[3].1, 0, "the second is rejected");
}

const PROTOS: &[&str] = &[
    "",
    "UDP/TLS/SCTPRTP/SAVPF",
    "UDP/TLS/RTP/SAVPF",
    "TCP/TLS/RTP/SAVPF",
    "RTP/AVP",
    "RTP/SAVPF",
    "UDP/DTLS/SCTP",
    "TCP/DTLS/SCTP",
    "DTLS/SCTP",
    "UDP/DTLS/SCTPX",
    "FOO/BAR",
    "SCTP",
];

const FORMATS: &[&str] = &[
    "",
    "webrtc-datachannel",
    "111 111",
    "96 97 96",
    "5000",
    "0",
    "127 webrtc-datachannel",
];

/// How one section of the Chromium offer is mangled (an empty choice keeps
/// the original).
#[derive(Debug, Clone)]
struct Mangle {
    port_zero: bool,
    proto: &'static str,
    formats: &'static str,
    bundle_only: bool,
    duplicate_rtpmap: bool,
}

fn mangle() -> impl Strategy<Value = Mangle> {
    (
        prop::bool::weighted(0.3),
        prop::sample::select(PROTOS),
        prop::sample::select(FORMATS),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(port_zero, proto, formats, bundle_only, duplicate_rtpmap)| Mangle {
                port_zero,
                proto,
                formats,
                bundle_only,
                duplicate_rtpmap,
            },
        )
}

/// What an answer must do with one offered section.
#[derive(Debug, PartialEq)]
enum Expect {
    /// The offer as a whole must be refused.
    Refusal,
    /// Answered with port 0.
    Rejected,
    /// Either (a media section may share no codec with us).
    Any,
}

/// Applies `m` to a section and says what the answer must do with it.
fn apply(section: &[String], m: &Mangle) -> (Vec<String>, Expect) {
    let fields: Vec<&str> = section[0].splitn(4, ' ').collect();
    let kind = fields[0].trim_start_matches("m=");
    let port = if m.port_zero { "0" } else { fields[1] };
    let proto = if m.proto.is_empty() {
        fields[2]
    } else {
        m.proto
    };
    let formats = if m.formats.is_empty() {
        fields[3]
    } else {
        m.formats
    };
    let mut out = vec![format!("m={kind} {port} {proto} {formats}")];
    if m.bundle_only {
        out.push("a=bundle-only".into());
    }
    out.extend(section[1..].iter().cloned());
    let first_pt = formats.split(' ').find_map(|f| f.parse::<u8>().ok());
    let rtp = fulmar_sdp::is_rtp_proto(proto);
    let mut duplicate = {
        let pts: Vec<&str> = formats.split(' ').collect();
        rtp && pts.iter().enumerate().any(|(i, p)| pts[..i].contains(p))
    };
    if let (true, Some(pt)) = (m.duplicate_rtpmap, first_pt) {
        let mapped = out
            .iter()
            .any(|l| l.starts_with(&format!("a=rtpmap:{pt} ")));
        out.push(format!("a=rtpmap:{pt} PCMU/8000"));
        duplicate |= rtp && mapped;
    }
    let live = port != "0";
    let expect = if live && duplicate {
        Expect::Refusal
    } else if !live {
        Expect::Rejected
    } else if (rtp && matches!(kind, "audio" | "video"))
        || (kind == "application"
            && fulmar_sdp::is_sctp_proto(proto)
            && formats.split(' ').any(|f| f == "webrtc-datachannel"))
    {
        Expect::Any
    } else {
        Expect::Rejected
    };
    (out, expect)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn odd_sections_are_refused_or_answered_as_rejected(
        mangles in prop::collection::vec(mangle(), 3),
    ) {
        let (session, sections) = split(OFFER);
        let mut text = session.join("\r\n") + "\r\n";
        let mut expects = Vec::new();
        for (section, m) in sections.iter().zip(&mangles) {
            let (lines, expect) = apply(section, m);
            text += &(lines.join("\r\n") + "\r\n");
            expects.push((section[0].clone(), lines[0].clone(), expect));
        }
        match answer(&text) {
            Outcome::Refused => {}
            Outcome::Answered(lines) => {
                prop_assert_eq!(lines.len(), expects.len(), "one answer m-line per offered one");
                for ((kind, port, proto), (_, offered, expect)) in lines.iter().zip(&expects) {
                    prop_assert_ne!(expect, &Expect::Refusal, "accepted despite {}", offered);
                    let fields: Vec<&str> = offered.splitn(4, ' ').collect();
                    prop_assert_eq!(format!("m={kind}"), fields[0]);
                    prop_assert_eq!(proto, fields[2], "the answer repeats the proto");
                    if *expect == Expect::Rejected {
                        prop_assert_eq!(*port, 0, "{} must be rejected", offered);
                    }
                }
            }
        }
    }
}
