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
    pc.handle_receive(now, src, dst, &[0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]);
    pc.handle_receive(now, src, dst, &[0xff, 1, 2]);
    pc.handle_receive(now, src, dst, &[]);
    pc.handle_receive(now, src, dst, &[0x40, 0, 0, 4, 1, 2, 3, 4]); // TURN ChannelData: not ours
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
        &[
            0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ],
    );
    assert_eq!(pc.stats().unknown_packets, 3);
    while let Some(t) = pc.poll_transmit() {
        if t.destination == src {
            assert_eq!(t.payload[0] & 0x01, 0x01, "a response, not a request");
            assert!(t.payload[0] <= 3, "STUN");
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
    while pc.poll_transmit().is_some() {}
    for d in hello {
        pc.handle_receive(now, remote, local, d);
    }
    let flight: Vec<_> = std::iter::from_fn(|| pc.poll_transmit())
        .filter(|t| t.destination == remote)
        .collect();
    assert!(!flight.is_empty(), "server flight sent back to Chromium");
    // DTLS handshake record, version 1.2 (RFC 6347 §4.1: {254, 253}).
    assert_eq!(&flight[0].payload[..3], &[22, 0xfe, 0xfd]);
}
