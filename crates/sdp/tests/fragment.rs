//! RFC 8840 §9 SDP fragments (`application/trickle-ice-sdpfrag`), as WHIP and
//! WHEP clients PATCH them.

use fulmar_sdp::{CandidateType, Error, SessionDescription, SyntaxError};

#[test]
fn a_whip_trickle_fragment() {
    let text = "a=ice-ufrag:EsAw\r\n\
                a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
                m=audio 9 RTP/AVP 0\r\n\
                a=mid:0\r\n\
                a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
                a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n\
                a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r\n\
                a=end-of-candidates\r\n";
    let frag = SessionDescription::parse_fragment(text).unwrap();
    assert_eq!(frag.ice_ufrag(), Some("EsAw"));
    assert_eq!(frag.first_ice_ufrag(), Some("EsAw"));
    let m = &frag.media()[0];
    assert_eq!(m.mid(), Some("0"));
    let cands: Vec<_> = m.candidates().collect();
    assert_eq!(cands.len(), 3);
    assert!(cands.iter().all(|c| c.typ == CandidateType::Host));
    assert_eq!(cands[1].port, 61765);
    assert!(m.end_of_candidates());
    assert_eq!(frag.to_string(), text);
}

#[test]
fn a_media_level_ufrag_is_the_first_ones() {
    let frag = SessionDescription::parse_fragment(
        "m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:v\na=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijkl\n",
    )
    .unwrap();
    assert_eq!(frag.ice_ufrag(), None);
    assert_eq!(frag.first_ice_ufrag(), Some("abcd"));
}

#[test]
fn empty_and_candidate_only_fragments() {
    let empty = SessionDescription::parse_fragment("").unwrap();
    assert_eq!(empty.media().len(), 0);
    assert_eq!(empty.first_ice_ufrag(), None);
    // A lone LF is an empty fragment too: it writes back as nothing, which
    // parses to an equal (empty) fragment whatever line ending each carries.
    let newline = SessionDescription::parse_fragment("\n").unwrap();
    assert_eq!(newline.to_string(), "");
    assert_eq!(SessionDescription::parse_fragment("").unwrap(), newline);
    let bare = SessionDescription::parse_fragment(
        "a=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\r\n",
    )
    .unwrap();
    assert_eq!(bare.attribute_values("candidate").count(), 1);
}

#[test]
fn only_a_and_m_lines_belong_in_a_fragment() {
    for (text, kind) in [
        ("v=0\r\n", 'v'),
        ("a=ice-ufrag:abcd\r\no=- 1 1 IN IP4 0.0.0.0\r\n", 'o'),
        ("m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n", 'c'),
    ] {
        match SessionDescription::parse_fragment(text) {
            Err(Error::Syntax { kind: k, .. }) => {
                assert_eq!(k, SyntaxError::NotAllowedInFragment(kind))
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // A malformed candidate is refused with the description's own checks.
    assert!(SessionDescription::parse_fragment(
        "m=audio 9 RTP/AVP 0\r\na=candidate:1 1 udp notanumber 192.0.2.1 1 typ host\r\n"
    )
    .is_err());
    // A whole description is not a fragment.
    assert!(SessionDescription::parse_fragment(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    )
    .is_err());
}
