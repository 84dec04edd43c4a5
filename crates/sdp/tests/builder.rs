//! The builder writes what Chromium writes: rebuilding Chromium 156's answer
//! from its typed values reproduces it byte for byte, and what the builder
//! writes parses back to the same typed values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::attributes::RidDirection;
use fulmar_sdp::builder::{MediaBuilder, RtpCodec, SessionBuilder};
use fulmar_sdp::{
    Candidate, CandidateAddress, CandidateType, Direction, Error, MediaDescription,
    SessionDescription, Setup, SyntaxError,
};

const ANSWER: &str = include_str!("fixtures/chromium156-answer-audio-video-data.sdp");
const OFFER: &str = include_str!("fixtures/chromium156-offer-audio-video-data.sdp");

/// Rebuilds a media section from the typed getters only.
fn rebuild(m: &MediaDescription) -> MediaDescription {
    let mut b = if m.kind() == "application" {
        MediaBuilder::application()
    } else {
        MediaBuilder::new(m.kind(), m.proto())
    };
    b = b
        .port(m.port())
        .ice_credentials(m.ice_ufrag().unwrap(), m.ice_pwd().unwrap());
    for o in m.ice_options() {
        b = b.ice_option(o);
    }
    for fp in m.fingerprints() {
        b = b.fingerprint(fp.hash_function, fp.fingerprint);
    }
    b = b.setup(m.setup().unwrap()).mid(m.mid().unwrap());
    for e in m.extmaps() {
        b = b.extmap(e.id, e.uri);
    }
    if let Some(d) = m.direction() {
        b = b.direction(d);
    }
    for msid in m.msids() {
        b = b.msid(msid.stream_id, msid.track_id);
    }
    if m.rtcp_mux() {
        b = b.rtcp_mux();
    }
    if m.rtcp_rsize() {
        b = b.rtcp_rsize();
    }
    for v in m.attribute_values("rtcp-xr") {
        b = b.attribute("rtcp-xr", Some(v));
    }
    // rtcp-fb values as "<type> [<parameter>]", owned here so the builder can borrow them.
    let feedback: Vec<Vec<String>> = m
        .codecs()
        .map(|c| {
            c.rtcp_fbs()
                .map(|fb| match fb.parameter {
                    Some(p) => format!("{} {p}", fb.feedback_type),
                    None => fb.feedback_type.to_string(),
                })
                .collect()
        })
        .collect();
    for (c, fbs) in m.codecs().zip(&feedback) {
        let r = c.rtpmap.unwrap();
        let mut codec = RtpCodec::new(c.payload_type, r.encoding_name, r.clock_rate);
        codec.channels = r.encoding_params;
        codec.fmtp = c.fmtp.map(|f| f.parameters);
        for fb in fbs {
            codec = codec.rtcp_fb(fb);
        }
        b = b.codec(codec);
    }
    for g in m.ssrc_groups() {
        b = b.ssrc_group(g.semantics, &g.ssrcs().collect::<Vec<_>>());
    }
    for s in m.ssrcs() {
        b = b.ssrc(s.ssrc, s.attribute, s.value);
    }
    if let Some(p) = m.sctp_port() {
        b = b.sctp_port(p);
    }
    if let Some(s) = m.max_message_size() {
        b = b.max_message_size(s);
    }
    b.build().unwrap()
}

fn rebuild_session(sdp: &SessionDescription) -> SessionDescription {
    let o = sdp.origin().unwrap();
    let bundle: Vec<&str> = sdp.bundle_groups().next().unwrap().mids().collect();
    let ms = sdp.msid_semantic().unwrap();
    let ids: Vec<&str> = ms.identifiers().collect();
    let mut b = SessionBuilder::new(o.session_id, o.session_version)
        .bundle(&bundle)
        .extmap_allow_mixed(sdp.extmap_allow_mixed())
        .msid_semantic(Some((ms.semantic, &ids)));
    for m in sdp.media() {
        b = b.media(rebuild(m));
    }
    b.build().unwrap()
}

#[test]
fn rebuilding_chromium_answer_reproduces_it_byte_for_byte() {
    let answer = SessionDescription::parse(ANSWER).unwrap();
    let built = rebuild_session(&answer);
    assert_eq!(built.to_string(), ANSWER);
    assert_eq!(built, answer);
}

#[test]
fn rebuilding_chromium_offer_reproduces_it_byte_for_byte() {
    let offer = SessionDescription::parse(OFFER).unwrap();
    assert_eq!(rebuild_session(&offer).to_string(), OFFER);
}

fn sample_answer() -> SessionDescription {
    let fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    let host = Candidate {
        foundation: "1".into(),
        component: 1,
        transport: fulmar_sdp::Transport::Udp,
        priority: 2130706431,
        address: CandidateAddress::Ip("127.0.0.1".parse().unwrap()),
        port: 40000,
        typ: CandidateType::Host,
        related_address: None,
        related_port: None,
        tcp_type: None,
        extensions: vec![("generation".into(), "0".into())],
    };
    let video = MediaBuilder::video()
        .ice_credentials("fulm", "fulmarfulmarfulmarfulmar")
        .ice_option("trickle")
        .fingerprint("sha-256", fp)
        .fingerprint("sha-384", fp)
        .setup(Setup::Passive)
        .mid("1")
        .extmap(4, "urn:ietf:params:rtp-hdrext:sdes:mid")
        .direction(Direction::SendRecv)
        .msid("stream", Some("track"))
        .rtcp_mux()
        .rtcp_rsize()
        .codec(
            RtpCodec::new(96, "VP8", 90000)
                .rtcp_fb("nack")
                .rtcp_fb("nack pli")
                .rtcp_fb("transport-cc"),
        )
        .codec(RtpCodec::new(97, "rtx", 90000).fmtp("apt=96"))
        .rid("h", RidDirection::Recv, Some("pt=96;max-width=1280"))
        .rid("l", RidDirection::Recv, None)
        .simulcast("recv h;~l")
        .ssrc_group("FID", &[1, 2])
        .ssrc(1, "cname", Some("fulmar"))
        .ssrc(2, "cname", Some("fulmar"))
        .candidate(host.clone())
        .end_of_candidates()
        .build()
        .unwrap();
    let data = MediaBuilder::application()
        .ice_credentials("fulm", "fulmarfulmarfulmarfulmar")
        .fingerprint("sha-256", fp)
        .setup(Setup::Passive)
        .mid("2")
        .sctp_port(5000)
        .max_message_size(262144)
        .candidate(host)
        .build()
        .unwrap();
    SessionBuilder::new(42, 1)
        .bundle(&["1", "2"])
        .ice_lite()
        .media(video)
        .media(data)
        .build()
        .unwrap()
}

#[test]
fn built_answer_has_chromium_structure_and_reparses_to_the_same_values() {
    let built = sample_answer();
    let text = built.to_string();
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp, built);
    assert_eq!(sdp.to_string(), text);
    // Session level as Chromium writes it.
    let kinds: String = sdp.session_lines().map(|l| l.kind).collect();
    assert_eq!(kinds, "vostaaaa");
    assert!(sdp.ice_lite() && sdp.extmap_allow_mixed());
    assert_eq!(
        sdp.bundle_group_of("2").unwrap().mids().collect::<Vec<_>>(),
        ["1", "2"]
    );
    let video = sdp.media_by_mid("1").unwrap();
    assert_eq!(
        video.media_line().to_string(),
        "video 9 UDP/TLS/RTP/SAVPF 96 97"
    );
    assert_eq!(video.connection().unwrap().to_string(), "IN IP4 0.0.0.0");
    assert_eq!(video.rtcp().unwrap().to_string(), "9 IN IP4 0.0.0.0");
    assert_eq!(
        video
            .fingerprints()
            .map(|f| f.hash_function)
            .collect::<Vec<_>>(),
        ["sha-256", "sha-384"]
    );
    assert_eq!(video.setup(), Some(Setup::Passive));
    assert_eq!(video.direction(), Some(Direction::SendRecv));
    assert_eq!(
        video
            .codecs()
            .map(|c| c.name().unwrap())
            .collect::<Vec<_>>(),
        ["VP8", "rtx"]
    );
    assert_eq!(video.rtcp_fbs_for(96).count(), 3);
    assert_eq!(video.fmtp(97).unwrap().apt(), Some(96));
    let rids: Vec<_> = video.rids().collect();
    assert_eq!(
        rids[0]
            .payload_types()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        [96]
    );
    assert_eq!(rids[0].restriction("max-width"), Some("1280"));
    let sc = video.simulcast().unwrap();
    assert!(sc.send.is_none());
    let streams: Vec<Vec<_>> = sc
        .recv
        .unwrap()
        .streams()
        .map(|s| s.map(|r| (r.id, r.paused)).collect())
        .collect();
    assert_eq!(streams, [vec![("h", false)], vec![("l", true)]]);
    assert_eq!(video.candidates().next().unwrap().generation(), Some(0));
    assert!(video.end_of_candidates());
    let data = &sdp.media()[1];
    assert_eq!(
        data.media_line().to_string(),
        "application 9 UDP/DTLS/SCTP webrtc-datachannel"
    );
    assert!(data.rtcp().is_none());
    assert_eq!(
        (data.sctp_port(), data.max_message_size()),
        (Some(5000), Some(262144))
    );
}

#[test]
fn builder_refuses_values_that_cannot_be_written() {
    let err = MediaBuilder::audio()
        .mid("0\r\na=evil")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidValue {
            kind: SyntaxError::ForbiddenCharacter,
            ..
        }
    ));
    let err = MediaBuilder::audio().mid("").build().unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
    let err = MediaBuilder::video()
        .codec(RtpCodec::new(200, "VP8", 90000))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
    let err = MediaBuilder::audio()
        .fingerprint("sha-256", "not hex")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }));
}

#[test]
fn mutators_keep_the_description_valid() {
    let mut sdp = SessionDescription::parse(OFFER).unwrap();
    let m = &mut sdp.media_mut()[0];
    m.set_direction(Direction::Inactive).unwrap();
    assert_eq!(m.direction(), Some(Direction::Inactive));
    m.set_port(0).unwrap();
    assert_eq!(m.port(), 0);
    assert_eq!(m.payload_types().count(), 8);
    assert_eq!(m.remove_attributes("ssrc"), 2);
    let c = Candidate::parse("candidate:1 1 udp 2122260223 a3f1c1b2-2d0e-4c5f-9a4b-0d8e5f6a7b8c.local 54321 typ host generation 0 network-id 1").unwrap();
    m.push_candidate(&c).unwrap();
    assert!(m.push_attribute("rtpmap", Some("x opus/48000")).is_err());
    assert!(m.push_line('v', "0").is_err());
    assert!(m.push_line('m', "audio 9 RTP/AVP 0").is_err());
    assert!(m.push_line('t', "0 0").is_err());
    m.push_line('b', "AS:300").unwrap();
    assert!(sdp.push_line('o', "- 1 1 IN IP4 127.0.0.1").is_err());
    assert!(sdp.push_line('s', "again").is_err());
    sdp.push_line('i', "pushed").unwrap();
    let mut o = sdp.origin().unwrap().to_string();
    o = o.replace(" 2 IN", " 3 IN");
    let origin = fulmar_sdp::Origin::parse(&o).unwrap();
    sdp.set_origin(&origin).unwrap();
    let text = sdp.to_string();
    assert!(text.contains("\r\nm=audio 0 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"));
    assert!(text.contains("\r\na=inactive\r\n"));
    assert!(!text.contains("a=ssrc:1676408794"));
    let again = SessionDescription::parse(&text).unwrap();
    assert_eq!(again, sdp);
    assert_eq!(again.origin().unwrap().session_version, 3);
    assert_eq!(again.media()[0].candidates().next().unwrap(), c);
}
