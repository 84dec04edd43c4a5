//! Real Chromium 156 descriptions (tests/fixtures, copied from the project's
//! shared fixtures): they parse, round-trip byte for byte, and read as JSEP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::{Direction, LineEnding, SessionDescription, Setup};

const OFFER: &str = include_str!("fixtures/chromium156-offer-audio-video-data.sdp");
const ANSWER: &str = include_str!("fixtures/chromium156-answer-audio-video-data.sdp");

#[test]
fn every_fixture_round_trips_byte_for_byte() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("sdp") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let sdp = SessionDescription::parse_bytes(&bytes).unwrap();
        assert_eq!(sdp.line_ending(), LineEnding::CrLf);
        assert_eq!(sdp.to_string().as_bytes(), &bytes[..], "{}", path.display());
        // Every line is reproduced, and re-parsing gives the same description.
        let again = SessionDescription::parse(&sdp.to_string()).unwrap();
        assert_eq!(again, sdp);
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn offer_lines_including_uninterpreted_ones_are_kept() {
    let sdp = SessionDescription::parse(OFFER).unwrap();
    let lines: Vec<String> = sdp
        .session_lines()
        .map(|l| l.to_string())
        .chain(
            sdp.media()
                .iter()
                .flat_map(|m| m.lines().map(|l| l.to_string())),
        )
        .collect();
    let expected: Vec<&str> = OFFER.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, expected);
    assert!(sdp.media()[0]
        .attribute_values("rtcp-xr")
        .eq(["rcvr-rtt=all"]));
}

#[test]
fn offer_session_level() {
    let sdp = SessionDescription::parse(OFFER).unwrap();
    let o = sdp.origin().unwrap();
    assert_eq!(o.username, "-");
    assert_eq!(o.session_id, 7689582143526601657);
    assert_eq!(o.session_version, 2);
    assert_eq!(
        (o.nettype, o.addrtype, o.unicast_address),
        ("IN", "IP4", "127.0.0.1")
    );
    assert_eq!(sdp.session_name(), "-");
    let t = sdp.timing().unwrap();
    assert_eq!((t.start_time, t.stop_time), (0, 0));
    let bundle: Vec<_> = sdp.bundle_groups().collect();
    assert_eq!(bundle.len(), 1);
    assert_eq!(bundle[0].mids().collect::<Vec<_>>(), ["0", "1", "2"]);
    assert!(sdp.extmap_allow_mixed());
    let ms = sdp.msid_semantic().unwrap();
    assert_eq!(ms.semantic, "WMS");
    assert_eq!(
        ms.identifiers().collect::<Vec<_>>(),
        ["1630bece-a84f-4808-87d0-335d2f649952"]
    );
    assert!(!sdp.ice_lite());
    assert_eq!(sdp.media().len(), 3);
}

#[test]
fn offer_audio_section() {
    let sdp = SessionDescription::parse(OFFER).unwrap();
    let audio = &sdp.media()[0];
    assert_eq!(audio.kind(), "audio");
    assert_eq!(audio.port(), 9);
    assert_eq!(audio.proto(), "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        audio.payload_types().collect::<Vec<_>>(),
        [111, 63, 9, 0, 8, 13, 110, 126]
    );
    let c = audio.connection().unwrap();
    assert_eq!(c.address, "0.0.0.0");
    let rtcp = audio.rtcp().unwrap();
    assert_eq!(rtcp.port, 9);
    assert_eq!(rtcp.connection.unwrap().address, "0.0.0.0");
    assert_eq!(audio.ice_ufrag(), Some("YaIn"));
    assert_eq!(audio.ice_pwd(), Some("RzUkd1XLFOOtzWgVUimJXzef"));
    assert_eq!(audio.ice_options().collect::<Vec<_>>(), ["trickle"]);
    let fps: Vec<_> = audio.fingerprints().collect();
    assert_eq!(fps.len(), 1);
    assert_eq!(fps[0].hash_function, "sha-256");
    let digest: Vec<u8> = fps[0].bytes().map(Result::unwrap).collect();
    assert_eq!(digest.len(), 32);
    assert_eq!(digest[0], 0xEC);
    assert!(fps[0].matches("SHA-256", &digest));
    assert_eq!(audio.setup(), Some(Setup::ActPass));
    assert_eq!(audio.mid(), Some("0"));
    let ext: Vec<_> = audio.extmaps().map(|e| (e.id, e.uri)).collect();
    assert_eq!(ext[0], (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
    assert_eq!(ext.len(), 4);
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    let msid = audio.msids().next().unwrap();
    assert_eq!(msid.stream_id, "1630bece-a84f-4808-87d0-335d2f649952");
    assert_eq!(msid.track_id, Some("7492e69d-a7cc-4c9a-9681-6c2b2abed03c"));
    assert!(audio.rtcp_mux() && audio.rtcp_rsize());
    let opus = audio.codecs().next().unwrap();
    assert_eq!(opus.name(), Some("opus"));
    assert_eq!(opus.rtpmap.unwrap().encoding_params, Some(2));
    assert_eq!(opus.fmtp.unwrap().param("minptime"), Some("10"));
    assert_eq!(
        opus.rtcp_fbs().map(|f| f.feedback_type).collect::<Vec<_>>(),
        ["transport-cc"]
    );
    let red = audio.fmtp(63).unwrap();
    assert_eq!(red.params().collect::<Vec<_>>(), [("111/111", None)]);
    assert_eq!(audio.rtpmaps().count(), 8);
    let ssrcs: Vec<_> = audio.ssrcs().collect();
    assert_eq!(ssrcs.len(), 2);
    assert_eq!(
        (ssrcs[0].ssrc, ssrcs[0].attribute, ssrcs[0].value),
        (1676408794, "cname", Some("8pVs3PW5MZDOuyBb"))
    );
    assert_eq!(ssrcs[1].attribute, "msid");
}

#[test]
fn offer_video_and_data_sections() {
    let sdp = SessionDescription::parse(OFFER).unwrap();
    let video = sdp.media_by_mid("1").unwrap();
    assert_eq!(video.kind(), "video");
    assert_eq!(video.payload_types().count(), 23);
    assert_eq!(video.rtpmaps().count(), 23);
    let vp8 = video.codecs().next().unwrap();
    assert_eq!(vp8.name(), Some("VP8"));
    let fbs: Vec<_> = vp8
        .rtcp_fbs()
        .map(|f| (f.feedback_type, f.parameter))
        .collect();
    assert_eq!(
        fbs,
        [
            ("goog-remb", None),
            ("transport-cc", None),
            ("ccm", Some("fir")),
            ("nack", None),
            ("nack", Some("pli"))
        ]
    );
    assert_eq!(video.fmtp(97).unwrap().apt(), Some(96));
    assert_eq!(
        video.fmtp(102).unwrap().param("profile-level-id"),
        Some("42001f")
    );
    let group = video.ssrc_groups().next().unwrap();
    assert_eq!(group.semantics, "FID");
    assert_eq!(group.ssrcs().collect::<Vec<_>>(), [3113198428, 3224287369]);
    assert_eq!(video.extmaps().count(), 11);

    let data = &sdp.media()[2];
    assert_eq!(data.kind(), "application");
    assert_eq!(data.proto(), "UDP/DTLS/SCTP");
    assert_eq!(data.formats().collect::<Vec<_>>(), ["webrtc-datachannel"]);
    assert_eq!(data.payload_types().count(), 0);
    assert_eq!(data.sctp_port(), Some(5000));
    assert_eq!(data.max_message_size(), Some(262144));
    assert_eq!(data.mid(), Some("2"));
    assert_eq!(data.direction(), None);
}

#[test]
fn answer_reads_as_jsep_answer() {
    let sdp = SessionDescription::parse(ANSWER).unwrap();
    assert_eq!(sdp.msid_semantic().unwrap().identifiers().count(), 0);
    for m in sdp.media() {
        assert_eq!(m.setup(), Some(Setup::Active));
        assert_eq!(m.ice_ufrag(), Some("FqXw"));
        assert_eq!(sdp.ice_ufrag_for(m), Some("FqXw"));
        assert_eq!(sdp.fingerprints_for(m).len(), 1);
    }
    assert_eq!(sdp.media()[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.media()[1].direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.media()[0].ssrcs().count(), 0);
}
