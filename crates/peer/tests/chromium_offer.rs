//! The real Chromium 156 offer (fixture from fulmar-sdp) is accepted, and the
//! answer has the shape Chromium expects (RFC 9429 §5.3.1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use fulmar_peer::{Config, PeerConnection, SessionDescription, SignalingState};
use fulmar_sdp::{Direction, Setup};
use rand::{rngs::StdRng, SeedableRng};

const OFFER: &str = include_str!("../../sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");

#[test]
fn answers_the_chromium_offer() {
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(3)).unwrap();
    pc.add_host_candidate(now, "127.0.0.1:40000".parse().unwrap())
        .unwrap();
    pc.end_of_local_candidates(now);
    pc.set_remote_description(now, SessionDescription::offer(OFFER).unwrap())
        .unwrap();
    assert_eq!(pc.signaling_state(), SignalingState::HaveRemoteOffer);
    let answer = pc.create_answer().unwrap();
    pc.set_local_description(now, answer.clone()).unwrap();
    assert_eq!(pc.signaling_state(), SignalingState::Stable);

    let text = answer.sdp.to_string();
    let sdp = fulmar_sdp::SessionDescription::parse(&text).unwrap();
    // Same m-lines in the same order with the same mids, all bundled.
    let kinds: Vec<&str> = sdp.media().iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, ["audio", "video", "application"]);
    let mids: Vec<&str> = sdp.media().iter().filter_map(|m| m.mid()).collect();
    assert_eq!(mids, ["0", "1", "2"]);
    let bundle: Vec<&str> = sdp.bundle_groups().next().unwrap().mids().collect();
    assert_eq!(bundle, ["0", "1", "2"]);
    for m in sdp.media() {
        assert_eq!(sdp.setup_for(m), Some(Setup::Active));
        assert!(sdp.ice_ufrag_for(m).is_some() && sdp.ice_pwd_for(m).is_some());
        assert_eq!(sdp.fingerprints_for(m)[0].hash_function, "sha-256");
        assert!(m
            .candidates()
            .any(|c| c.to_string().contains("127.0.0.1 40000 typ host")));
        assert!(m.end_of_candidates());
    }
    let audio = &sdp.media()[0];
    let video = &sdp.media()[1];
    let data = &sdp.media()[2];
    // Chromium sends audio and video: we receive (no local tracks).
    assert_eq!(audio.direction(), Some(Direction::RecvOnly));
    assert_eq!(video.direction(), Some(Direction::RecvOnly));
    assert!(audio.rtcp_mux() && video.rtcp_mux());
    // Codecs keep Chromium's payload types; RTX only with its primary.
    assert_eq!(audio.rtpmap(111).unwrap().encoding_name, "opus");
    assert!(audio.rtpmap(63).is_none(), "RED is not supported");
    assert_eq!(video.rtpmap(96).unwrap().encoding_name, "VP8");
    assert_eq!(video.fmtp(97).unwrap().param("apt"), Some("96"));
    for c in video.codecs() {
        let name = c.name().unwrap();
        assert!(
            ["VP8", "VP9", "H264", "AV1", "rtx"].contains(&name),
            "{name}"
        );
    }
    assert!(video
        .extmaps()
        .any(|e| e.uri == "urn:ietf:params:rtp-hdrext:sdes:mid"));
    assert_eq!(data.proto(), "UDP/DTLS/SCTP");
    assert_eq!(data.sctp_port(), Some(5000));
    assert_eq!(data.max_message_size(), Some(262_144));
    // The Fulmar answer is accepted by a Fulmar offerer-side parse too.
    assert!(SessionDescription::answer(&text).is_ok());
}

#[test]
fn refuses_offers_without_fingerprint_or_credentials() {
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(3)).unwrap();
    let no_fp: String = OFFER
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert!(pc
        .set_remote_description(now, SessionDescription::offer(&no_fp).unwrap())
        .is_err());
    let no_pwd: String = OFFER
        .lines()
        .filter(|l| !l.starts_with("a=ice-pwd"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert!(pc
        .set_remote_description(now, SessionDescription::offer(&no_pwd).unwrap())
        .is_err());
    assert_eq!(pc.signaling_state(), SignalingState::Stable);
    assert!(pc.create_answer().is_err(), "no offer applied");
}

#[test]
fn demultiplexes_by_first_byte() {
    // RFC 7983 §7: 0..=3 STUN, 20..=63 DTLS, 128..=191 RTP/RTCP, others dropped.
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(4)).unwrap();
    pc.add_host_candidate(now, "127.0.0.1:40000".parse().unwrap())
        .unwrap();
    pc.set_remote_description(now, SessionDescription::offer(OFFER).unwrap())
        .unwrap();
    let answer = pc.create_answer().unwrap();
    pc.set_local_description(now, answer).unwrap();
    let (src, dst) = (
        "127.0.0.1:50000".parse().unwrap(),
        "127.0.0.1:40000".parse().unwrap(),
    );
    pc.handle_receive(
        now,
        src,
        dst,
        &mut [0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2],
    );
    pc.handle_receive(now, src, dst, &mut [0xff, 1, 2]);
    pc.handle_receive(now, src, dst, &mut []);
    pc.handle_receive(now, src, dst, &mut [0x40, 0, 0, 4, 1, 2, 3, 4]); // TURN ChannelData: not ours
    let s = pc.stats();
    assert_eq!(s.packets_received, 4);
    assert_eq!(s.rtp_packets_received, 1);
    assert_eq!(s.unknown_packets, 3);
    // A STUN request without credentials goes to ICE (at most a STUN error
    // response comes back; RFC 8489 §6.3.1), never to the application.
    pc.handle_receive(
        now,
        src,
        dst,
        &mut [
            0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ],
    );
    assert_eq!(pc.stats().unknown_packets, 3);
    let mut buf = Vec::new();
    while let Some(t) = pc.poll_transmit(now, &mut buf) {
        assert_eq!(t.len, buf.len());
        if t.destination == src {
            assert_eq!(buf[0] & 0x01, 0x01, "a response, not a request");
            assert!(buf[0] <= 3, "STUN");
        }
    }
}

#[test]
fn answers_chromiums_real_client_hello_as_dtls_server() {
    // We offer, Chromium's answer says a=setup:active: we are the DTLS server
    // and must answer its fragmented 1.3-capable ClientHello with DTLS 1.2.
    const ANSWER: &str =
        include_str!("../../sdp/tests/fixtures/chromium156-answer-audio-video-data.sdp");
    let hello = [
        &include_bytes!("../../dtls/tests/fixtures/chromium156-dtls-clienthello-datagram1.bin")[..],
        &include_bytes!("../../dtls/tests/fixtures/chromium156-dtls-clienthello-datagram2.bin")[..],
    ];
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(5)).unwrap();
    let local = "127.0.0.1:40000".parse().unwrap();
    let remote = "127.0.0.1:50000".parse().unwrap();
    pc.add_host_candidate(now, local).unwrap();
    pc.add_transceiver(fulmar_peer::MediaKind::Audio, Direction::SendRecv);
    pc.add_transceiver(fulmar_peer::MediaKind::Video, Direction::SendRecv);
    pc.create_data_channel(fulmar_datachannel::ChannelConfig::new("x"))
        .unwrap();
    let offer = pc.create_offer().unwrap();
    pc.set_local_description(now, offer).unwrap();
    pc.set_remote_description(now, SessionDescription::answer(ANSWER).unwrap())
        .unwrap();
    assert_eq!(pc.dtls_state(), fulmar_peer::DtlsState::Connecting);
    let mut buf = Vec::new();
    while pc.poll_transmit(now, &mut buf).is_some() {}
    for d in hello {
        pc.handle_receive(now, remote, local, &mut d.to_vec());
    }
    let mut flight = Vec::new();
    while let Some(t) = pc.poll_transmit(now, &mut buf) {
        if t.destination == remote {
            flight.push(buf.clone());
        }
    }
    assert!(!flight.is_empty(), "server flight sent back to Chromium");
    // DTLS handshake record, version 1.2 (RFC 6347 §4.1: {254, 253}).
    assert_eq!(&flight[0][..3], &[22, 0xfe, 0xfd]);
}

#[test]
fn relayed_candidates_reach_the_description() {
    // RFC 8445 §5.1.1.2: a relayed candidate carries the server-reflexive
    // address as raddr/rport (RFC 8839 §5.1); added before ICE exists, it
    // waits and then appears in the offer next to the host candidate.
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(6)).unwrap();
    pc.add_host_candidate(now, "127.0.0.1:40000".parse().unwrap())
        .unwrap();
    pc.add_relayed_candidate(
        now,
        "127.0.0.1:49152".parse().unwrap(),
        "127.0.0.1:40001".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    pc.create_data_channel(fulmar_datachannel::ChannelConfig::new("x"))
        .unwrap();
    let offer = pc.create_offer().unwrap().sdp.to_string();
    assert!(offer.contains("127.0.0.1 40000 typ host"), "{offer}");
    assert!(
        offer.contains("127.0.0.1 49152 typ relay raddr 127.0.0.1 rport 40001"),
        "{offer}"
    );
}

/// Keeps only the listed payload types in the `m=video` section of an offer
/// (what Chromium sends after `setCodecPreferences`).
fn restrict_video(offer: &str, keep: &[u8]) -> String {
    let mut in_video = false;
    let mut out = String::new();
    for line in offer.lines() {
        if line.starts_with("m=") {
            in_video = line.starts_with("m=video");
            if in_video {
                let mut f: Vec<&str> = line.split(' ').take(3).collect();
                let pts: Vec<String> = keep.iter().map(u8::to_string).collect();
                f.extend(pts.iter().map(String::as_str));
                out.push_str(&f.join(" "));
                out.push_str("\r\n");
                continue;
            }
        }
        let pt_of = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|r| r.split([' ', ':']).next())
                .and_then(|p| p.parse::<u8>().ok())
        };
        let pt = pt_of("a=rtpmap:")
            .or_else(|| pt_of("a=fmtp:"))
            .or_else(|| pt_of("a=rtcp-fb:"));
        if in_video && pt.is_some_and(|p| !keep.contains(&p)) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

fn answer_with_tracks(offer: &str) -> (PeerConnection, fulmar_sdp::SessionDescription) {
    let now = Instant::now();
    let mut pc = PeerConnection::new(Config::default(), StdRng::seed_from_u64(7)).unwrap();
    pc.add_host_candidate(now, "127.0.0.1:40000".parse().unwrap())
        .unwrap();
    pc.set_remote_description(now, SessionDescription::offer(offer).unwrap())
        .unwrap();
    // An echo: a local track on each of Chromium's sections.
    pc.add_track(fulmar_peer::MediaKind::Audio, "echo", "a");
    pc.add_track(fulmar_peer::MediaKind::Video, "echo", "v");
    let answer = pc.create_answer().unwrap();
    pc.set_local_description(now, answer.clone()).unwrap();
    let sdp = fulmar_sdp::SessionDescription::parse(&answer.sdp.to_string()).unwrap();
    (pc, sdp)
}

#[test]
fn chromium_offer_negotiates_vp8_h264_opus_and_g711() {
    let (pc, sdp) = answer_with_tracks(OFFER);
    let audio = &sdp.media()[0];
    let video = &sdp.media()[1];
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert_eq!(video.direction(), Some(Direction::SendRecv));
    // Opus first, then G.711 (RFC 3551 static types), Chromium's order.
    let apts: Vec<u8> = audio.payload_types().collect();
    assert_eq!(apts, [111, 0, 8]);
    // H.264 by profile and packetization-mode (RFC 6184 §8.2.2): 102 and 108
    // are mode 1 baseline / constrained baseline, 114 constrained baseline
    // mode 0; 104 (baseline, mode 0), 116 and 39 (main) have no match here.
    let h264: Vec<u8> = video
        .codecs()
        .filter(|c| c.name() == Some("H264"))
        .map(|c| c.payload_type)
        .collect();
    assert_eq!(h264, [102, 108, 114]);
    for pt in [102, 108] {
        assert_eq!(
            video.fmtp(pt).unwrap().param("packetization-mode"),
            Some("1")
        );
    }
    // Each kept primary brings its RTX (apt=), nothing else does.
    for c in video.codecs().filter(|c| c.name() == Some("rtx")) {
        let apt: u8 = c.fmtp.unwrap().param("apt").unwrap().parse().unwrap();
        assert!(video.rtpmap(apt).is_some(), "rtx for a kept codec");
    }
    assert!(
        video.rtpmap(107).is_none(),
        "rtx of the refused 104 dropped"
    );
    // Feedback we support is kept for VP8.
    let fb: Vec<String> = video.rtcp_fbs_for(96).map(|f| f.to_string()).collect();
    for want in ["nack", "nack pli", "ccm fir", "transport-cc", "goog-remb"] {
        assert!(fb.iter().any(|f| f.ends_with(want)), "{want} in {fb:?}");
    }
    // We send on the first codec Chromium prefers: VP8 and Opus; our
    // video SSRC is grouped with its RTX SSRC.
    let send = |mid| pc.send_codec(pc.transceiver_by_mid(mid).unwrap());
    assert_eq!(send("0"), Some((111, Some(fulmar_peer::Codec::Opus))));
    assert_eq!(send("1"), Some((96, Some(fulmar_peer::Codec::Vp8))));
    assert!(video.ssrc_groups().any(|g| g.semantics == "FID"));
    // Header extensions by URI with Chromium's ids.
    let ext: Vec<(u16, &str)> = video.extmaps().map(|e| (e.id, e.uri)).collect();
    assert!(ext.contains(&(4, "urn:ietf:params:rtp-hdrext:sdes:mid")));
    assert!(ext.contains(&(
        2,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    )));
    assert!(ext.contains(&(
        3,
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    )));
    assert!(ext.contains(&(10, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id")));
    assert!(
        !ext.iter().any(|(_, u)| u.contains("toffset")),
        "unsupported dropped"
    );
    let aext: Vec<&str> = audio.extmaps().map(|e| e.uri).collect();
    assert!(aext.contains(&"urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
}

#[test]
fn chromium_offer_restricted_to_h264_sends_h264() {
    let offer = restrict_video(OFFER, &[102, 103, 108, 109]);
    let (pc, sdp) = answer_with_tracks(&offer);
    let video = &sdp.media()[1];
    let mut pts: Vec<u8> = video.payload_types().collect();
    pts.sort_unstable();
    assert_eq!(pts, [102, 103, 108, 109]);
    let video_id = pc.transceiver_by_mid("1").unwrap();
    assert_eq!(
        pc.send_codec(video_id),
        Some((102, Some(fulmar_peer::Codec::H264)))
    );
    // Restricted to a profile we do not have (main, mode 1): the section is refused.
    let offer = restrict_video(OFFER, &[116, 117]);
    let (_, sdp) = answer_with_tracks(&offer);
    assert_eq!(sdp.media()[1].port(), 0);
}

#[test]
fn sections_added_later_reuse_the_bundles_extension_ids() {
    // The peer chose other ids than our defaults (mid at 9, transport-cc at 12).
    let offer = OFFER
        .replace(
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid",
        )
        .replace(
            "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=extmap:12 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        );
    let (mut pc, _) = answer_with_tracks(&offer);
    // Fulmar adds a track after answering and re-offers.
    pc.add_track(fulmar_peer::MediaKind::Video, "more", "v2");
    pc.add_track(fulmar_peer::MediaKind::Audio, "more", "a2");
    let text = pc.create_offer().unwrap().sdp.to_string();
    let sdp = fulmar_sdp::SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.media().len(), 5);
    // RFC 8843 §9.1.2.2: one id per URI, one URI per id, across the bundle.
    let mut seen: Vec<(u16, String)> = Vec::new();
    for m in sdp.media() {
        for e in m.extmaps() {
            for (id, uri) in &seen {
                assert_eq!(
                    *id == e.id,
                    uri == e.uri,
                    "{id} {uri} vs {} {}",
                    e.id,
                    e.uri
                );
            }
            seen.push((e.id, e.uri.to_owned()));
        }
    }
    assert!(seen.contains(&(9, "urn:ietf:params:rtp-hdrext:sdes:mid".to_owned())));
    let new_video = &sdp.media()[3];
    assert!(new_video
        .extmaps()
        .any(|e| e.id == 12 && e.uri.contains("transport-wide-cc")));
}
