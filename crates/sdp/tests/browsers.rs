//! Shapes other browsers and other Chromium modes write: a Firefox-style offer
//! (session-level fingerprint, `msid-semantic:WMS *`, extmap directions,
//! attributes in alphabetical order), and a Chromium video section with
//! gathered candidates and simulcast.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::attributes::RidDirection;
use fulmar_sdp::{CandidateType, Direction, SessionDescription, Setup, TcpType};

const FIREFOX_STYLE_OFFER: &str = "v=0\r
o=mozilla...THIS_IS_SDPARTA-128.0 4818387218532040329 0 IN IP4 0.0.0.0\r
s=-\r
t=0 0\r
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r
a=group:BUNDLE 0 1 2\r
a=ice-options:trickle\r
a=msid-semantic:WMS *\r
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r
c=IN IP4 0.0.0.0\r
a=sendrecv\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r
a=fmtp:101 0-15\r
a=ice-pwd:e1d5a3b3c0a8ec1d4a0f0b2e6c3d8a9f\r
a=ice-ufrag:3c9b1a2d\r
a=mid:0\r
a=msid:{5a1b2c3d-0000-4000-8000-000000000001} {7c2d3e4f-0000-4000-8000-000000000002}\r
a=rtcp-mux\r
a=rtpmap:109 opus/48000/2\r
a=rtpmap:9 G722/8000/1\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:101 telephone-event/8000/1\r
a=setup:actpass\r
a=ssrc:2655508255 cname:{735484ea-4f6c-4f6c-8c6c-8c6c8c6c8c6c}\r
m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125\r
c=IN IP4 0.0.0.0\r
a=recvonly\r
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r
a=fmtp:120 max-fs=12288;max-fr=60\r
a=fmtp:124 apt=120\r
a=fmtp:121 max-fs=12288;max-fr=60\r
a=fmtp:125 apt=121\r
a=ice-pwd:e1d5a3b3c0a8ec1d4a0f0b2e6c3d8a9f\r
a=ice-ufrag:3c9b1a2d\r
a=mid:1\r
a=rtcp-fb:120 nack\r
a=rtcp-fb:120 nack pli\r
a=rtcp-fb:120 ccm fir\r
a=rtcp-fb:* transport-cc\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:120 VP8/90000\r
a=rtpmap:124 rtx/90000\r
a=rtpmap:121 VP9/90000\r
a=rtpmap:125 rtx/90000\r
a=setup:actpass\r
a=ssrc:1 cname:{735484ea-4f6c-4f6c-8c6c-8c6c8c6c8c6c}\r
a=ssrc:2 cname:{735484ea-4f6c-4f6c-8c6c-8c6c8c6c8c6c}\r
a=ssrc-group:FID 1 2\r
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r
c=IN IP4 0.0.0.0\r
a=sendrecv\r
a=ice-pwd:e1d5a3b3c0a8ec1d4a0f0b2e6c3d8a9f\r
a=ice-ufrag:3c9b1a2d\r
a=mid:2\r
a=setup:actpass\r
a=sctp-port:5000\r
a=max-message-size:1073741823\r
";

#[test]
fn firefox_style_offer() {
    let sdp = SessionDescription::parse(FIREFOX_STYLE_OFFER).unwrap();
    assert_eq!(sdp.to_string(), FIREFOX_STYLE_OFFER);
    assert_eq!(
        sdp.origin().unwrap().username,
        "mozilla...THIS_IS_SDPARTA-128.0"
    );
    assert_eq!(sdp.ice_options().collect::<Vec<_>>(), ["trickle"]);
    assert_eq!(
        sdp.msid_semantic()
            .unwrap()
            .identifiers()
            .collect::<Vec<_>>(),
        ["*"]
    );
    for m in sdp.media() {
        // The fingerprint is at session level only; it applies to every section.
        assert_eq!(m.fingerprints().count(), 0);
        assert_eq!(sdp.fingerprints_for(m)[0].hash_function, "sha-256");
        assert_eq!(sdp.setup_for(m), Some(Setup::ActPass));
    }
    let audio = &sdp.media()[0];
    let ext: Vec<_> = audio.extmaps().map(|e| (e.id, e.direction)).collect();
    assert_eq!(ext, [(1, None), (2, Some(Direction::RecvOnly)), (3, None)]);
    assert_eq!(audio.fmtp(109).unwrap().param("stereo"), Some("1"));
    assert_eq!(
        audio.fmtp(101).unwrap().params().collect::<Vec<_>>(),
        [("0-15", None)]
    );
    assert_eq!(audio.rtpmap(9).unwrap().encoding_params, Some(1));
    let video = &sdp.media()[1];
    assert_eq!(video.direction(), Some(Direction::RecvOnly));
    // `*` feedback applies to every payload type.
    assert_eq!(
        video
            .rtcp_fbs_for(121)
            .map(|f| f.feedback_type)
            .collect::<Vec<_>>(),
        ["transport-cc"]
    );
    assert_eq!(video.rtcp_fbs_for(120).count(), 4);
    assert_eq!(video.fmtp(125).unwrap().apt(), Some(121));
    let data = &sdp.media()[2];
    assert_eq!(data.max_message_size(), Some(1073741823));
    assert_eq!(sdp.direction(), None);
    assert_eq!(sdp.direction_for(video), Direction::RecvOnly);
    let mut with_session_direction =
        FIREFOX_STYLE_OFFER.replacen("t=0 0\r\n", "t=0 0\r\na=inactive\r\n", 1);
    with_session_direction = with_session_direction.replace("a=sendrecv\r\n", "");
    let sdp = SessionDescription::parse(&with_session_direction).unwrap();
    assert_eq!(sdp.direction_for(&sdp.media()[0]), Direction::Inactive);
    assert_eq!(sdp.direction_for(&sdp.media()[1]), Direction::RecvOnly);
}

#[test]
fn chromium_section_with_gathered_candidates_and_simulcast() {
    let text = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
        m=video 46243 UDP/TLS/RTP/SAVPF 96\r\n\
        c=IN IP4 192.168.0.196\r\n\
        a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1 network-cost 10\r\n\
        a=candidate:3 1 udp 2122262783 a3f1c1b2-2d0e-4c5f-9a4b-0d8e5f6a7b8c.local 56143 typ host generation 0 network-id 2\r\n\
        a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-id 1 network-cost 10\r\n\
        a=candidate:435653019 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0 network-id 1 network-cost 10\r\n\
        a=ice-ufrag:YaIn\r\na=ice-pwd:RzUkd1XLFOOtzWgVUimJXzef\r\na=ice-options:trickle renomination\r\n\
        a=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n\
        a=rid:q send\r\na=rid:h send\r\na=rid:f send pt=96;max-width=1280;max-height=720\r\n\
        a=simulcast:send q;h;f\r\n\
        a=end-of-candidates\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.to_string(), text);
    let m = &sdp.media()[0];
    assert_eq!(m.port(), 46243);
    assert_eq!(
        m.ice_options().collect::<Vec<_>>(),
        ["trickle", "renomination"]
    );
    let c: Vec<_> = m.candidates().collect();
    assert_eq!(c.len(), 4);
    assert_eq!(c[0].network_cost(), Some(10));
    assert!(c[1].address.is_mdns());
    assert_eq!(
        (c[2].typ.clone(), c[2].related_port),
        (CandidateType::ServerReflexive, Some(0))
    );
    assert_eq!(c[3].tcp_type, Some(TcpType::Active));
    assert!(m.end_of_candidates());
    let rids: Vec<_> = m.rids().map(|r| (r.id, r.direction)).collect();
    assert_eq!(
        rids,
        [
            ("q", RidDirection::Send),
            ("h", RidDirection::Send),
            ("f", RidDirection::Send)
        ]
    );
    assert_eq!(
        m.rids().nth(2).unwrap().restriction("max-height"),
        Some("720")
    );
    let send: Vec<Vec<&str>> = m
        .simulcast()
        .unwrap()
        .send
        .unwrap()
        .streams()
        .map(|s| s.map(|r| r.id).collect())
        .collect();
    assert_eq!(send, [["q"], ["h"], ["f"]]);
}
