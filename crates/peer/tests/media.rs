//! Media end to end between two in-memory fulmar-peer instances in
//! simulated time: frames and RTP through SRTP, NACK/RTX under loss, PLI and
//! FIR, SR/RR round-trip time, transport-wide CC, renegotiation, stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fulmar_netsim::{Direction, LinkConfig};
use fulmar_peer::{
    Codec, Config, Error, Event, KeyframeKind, MediaFrame, MediaKind, MediaStats, PeerConnection,
    PeerConnectionState, ReceiveMode, SessionDescription, TransceiverId,
};
use rand::{rngs::StdRng, SeedableRng};

mod common;

use common::Peer;

/// The two peers on the shared netsim harness.
type Pair = fulmar_netsim::Pair<Peer, Peer>;

/// A (seeded 11) and B (seeded 12), default configurations, joined by an
/// ideal link of `delay` each way; not negotiated.
fn pair(delay: Duration) -> Pair {
    pair_with(delay, Config::default(), Config::default())
}

/// [`pair`] with A and B configured `a` and `b`.
fn pair_with(delay: Duration, a: Config, b: Config) -> Pair {
    common::unnegotiated((a, b), (11, 12, 0), LinkConfig::ideal().with_delay(delay))
}

/// What the media tests do with their pair, in its words.
trait MediaPair {
    /// A offers, B answers (B's `prepare` runs between its remote and local description).
    fn negotiate(&mut self, prepare: impl FnOnce(&mut PeerConnection));
    /// B offers, A answers.
    fn negotiate_from_b(&mut self, prepare: impl FnOnce(&mut PeerConnection));
    /// Runs the link and timers for `d`.
    fn run(&mut self, d: Duration);
    /// Runs until both are connected and the last DTLS flight landed.
    fn connect(&mut self);
    /// Delivers and collects what is due now, without moving the clock.
    fn drain(&mut self);
    /// Drops the media datagrams (RTP and RTCP, retransmissions too) for
    /// which `loss(to B?, index of the media datagram in its direction,
    /// bytes)` holds.
    fn set_loss(&mut self, loss: impl FnMut(bool, u64, &[u8]) -> bool + 'static);
}

impl MediaPair for Pair {
    fn negotiate(&mut self, prepare: impl FnOnce(&mut PeerConnection)) {
        common::negotiate(self, prepare, |sdp| sdp);
    }

    fn negotiate_from_b(&mut self, prepare: impl FnOnce(&mut PeerConnection)) {
        // Each peer carries its own addresses: swapped, they stay right.
        std::mem::swap(&mut self.a, &mut self.b);
        self.negotiate(prepare);
        std::mem::swap(&mut self.a, &mut self.b);
    }

    fn run(&mut self, d: Duration) {
        self.run_for(d);
    }

    fn connect(&mut self) {
        let connected = self.run_until(Duration::from_secs(10), |p| {
            p.a.connection_state() == PeerConnectionState::Connected
                && p.b.connection_state() == PeerConnectionState::Connected
        });
        assert!(connected, "peers did not connect");
        // Let the last DTLS flight land on both sides.
        self.run_for(Duration::from_millis(50));
    }

    fn drain(&mut self) {
        self.run_for(Duration::ZERO);
    }

    fn set_loss(&mut self, mut loss: impl FnMut(bool, u64, &[u8]) -> bool + 'static) {
        let mut media_sent = [0u64; 2];
        self.set_tamper(move |direction, datagram| {
            let media = (128..=191).contains(&datagram.first().copied().unwrap_or(0));
            if !media {
                return true;
            }
            let to_b = direction == Direction::AToB;
            let i = &mut media_sent[usize::from(!to_b)];
            *i += 1;
            !loss(to_b, *i, datagram)
        });
    }
}

fn frames(events: &[Event], t: TransceiverId) -> Vec<&MediaFrame> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MediaFrame(f) if f.transceiver == t => Some(f),
            _ => None,
        })
        .collect()
}

fn stats(pc: &PeerConnection, t: TransceiverId) -> MediaStats {
    let s = pc.media_stats(t).unwrap();
    assert_eq!(
        pc.stats().media.iter().find(|m| m.transceiver == t.index()),
        Some(&s)
    );
    s
}

/// A VP8 frame (RFC 6386 §9.1: bit 0 of the first byte is 0 for keyframes).
fn vp8_frame(i: usize, key: bool, len: usize) -> Vec<u8> {
    let mut f = vec![if key { 0x10 } else { 0x11 }];
    f.extend((0..len).map(|j| (i * 7 + j) as u8));
    f
}

/// Two peers, each with one audio and one video track, connected.
fn av_pair(delay: Duration) -> (Pair, [TransceiverId; 2], [TransceiverId; 2]) {
    let mut p = pair(delay);
    let av = p.a.add_track(MediaKind::Video, "sa", "va");
    let aa = p.a.add_track(MediaKind::Audio, "sa", "aa");
    let mut bv = None;
    let mut ba = None;
    p.negotiate(|b| {
        bv = Some(b.add_track(MediaKind::Video, "sb", "vb"));
        ba = Some(b.add_track(MediaKind::Audio, "sb", "ab"));
    });
    p.connect();
    (p, [av, aa], [bv.unwrap(), ba.unwrap()])
}

#[test]
fn vp8_and_opus_frames_both_ways_through_srtp() {
    let (mut p, [av, aa], [bv, ba]) = av_pair(Duration::from_millis(5));
    assert_eq!(p.a.send_codec(av).map(|c| c.1), Some(Some(Codec::Vp8)));
    assert_eq!(p.a.send_codec(aa).map(|c| c.1), Some(Some(Codec::Opus)));
    let mut sent_v = Vec::new();
    let mut sent_a = Vec::new();
    for i in 0..30 {
        let now = p.now();
        // Video frames of several packets, audio frames of one.
        let v = vp8_frame(i, i % 10 == 0, 2500 + i * 13);
        let a = vec![0xfc, i as u8, 1, 2, 3];
        p.a.write_frame(now, av, (i as u32) * 3000, &v).unwrap();
        p.a.write_frame(now, aa, (i as u32) * 960, &a).unwrap();
        p.b.write_frame(now, bv, (i as u32) * 3000, &v).unwrap();
        p.b.write_frame(now, ba, (i as u32) * 960, &a).unwrap();
        sent_v.push(v);
        sent_a.push(a);
        p.run(Duration::from_millis(20));
    }
    p.run(Duration::from_millis(100));
    for (events, v, a) in [(&p.events_b, bv, ba), (&p.events_a, av, aa)] {
        let got_v: Vec<&MediaFrame> = frames(events, v);
        let got_a: Vec<&MediaFrame> = frames(events, a);
        assert_eq!(got_v.len(), 30);
        assert_eq!(got_a.len(), 30);
        for (i, f) in got_v.iter().enumerate() {
            assert_eq!(f.data, sent_v[i], "video frame {i}");
            assert_eq!(f.keyframe, i % 10 == 0);
            assert_eq!(f.codec, Codec::Vp8);
            // Timestamps keep their spacing (random base, RFC 3550 §5.1).
            assert_eq!(
                f.rtp_timestamp.wrapping_sub(got_v[0].rtp_timestamp),
                i as u32 * 3000
            );
        }
        assert!(got_v[0].keyframe, "the first video frame is a keyframe");
        for (i, f) in got_a.iter().enumerate() {
            assert_eq!(f.data, sent_a[i]);
            assert_eq!(f.codec, Codec::Opus);
        }
        let tracks: Vec<(MediaKind, Option<String>)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Track { kind, codec, .. } => {
                    Some((*kind, codec.as_ref().map(|c| c.name.clone())))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            tracks.len(),
            2,
            "one Track event per remote stream: {tracks:?}"
        );
        assert!(tracks.contains(&(MediaKind::Video, Some("VP8".into()))));
        assert!(tracks.contains(&(MediaKind::Audio, Some("opus".into()))));
    }
    let s = stats(&p.b, bv);
    assert_eq!(s.frames_received, 30);
    assert_eq!(s.keyframes_received, 3);
    assert!(s.packets_received >= 60, "{s:?}");
    assert_eq!(s.packets_lost, 0);
    assert_eq!(s.frames_sent, 30);
    let s = stats(&p.a, av);
    assert_eq!(s.packets_sent, stats(&p.b, bv).packets_received);
    assert_eq!(p.a.stats().rtp_packets_dropped, 0);
}

#[test]
fn nack_and_rtx_recover_every_frame_under_loss() {
    let (mut p, [av, aa], [bv, ba]) = av_pair(Duration::from_millis(10));
    // Drop every 7th media datagram from A to B (retransmissions too).
    p.set_loss(|to_b, i, _| to_b && i % 7 == 3);
    let mut sent = Vec::new();
    // Frame 100 only reveals a loss at the tail of frame 99 (a loss with
    // nothing after it cannot be detected).
    for i in 0..101 {
        let now = p.now();
        let v = vp8_frame(i, i == 0, 4000);
        p.a.write_frame(now, av, (i as u32) * 3000, &v).unwrap();
        p.a.write_frame(now, aa, (i as u32) * 960, &[0xfc, i as u8])
            .unwrap();
        sent.push(v);
        p.run(Duration::from_millis(33));
    }
    p.run(Duration::from_secs(1));
    let got = frames(&p.events_b, bv);
    let got = &got[..got.len().min(100)];
    let missing: Vec<usize> = (0..100)
        .filter(|i| !got.iter().any(|f| f.data == sent[*i]))
        .collect();
    assert_eq!(got.len(), 100, "every frame assembled; missing {missing:?}");
    for (i, f) in got.iter().enumerate() {
        assert_eq!(f.data, sent[i], "frame {i}");
    }
    let rx = stats(&p.b, bv);
    let tx = stats(&p.a, av);
    assert!(rx.nack_sent > 0 && tx.nack_received > 0, "{rx:?} {tx:?}");
    assert!(tx.retransmitted_packets_sent > 0);
    assert_eq!(rx.packets_lost, 0, "retransmissions fill every gap");
    // Audio negotiated no NACK (Opus has none in the defaults).
    assert_eq!(stats(&p.b, ba).nack_sent, 0);
    // RTX was negotiated: the offer and answer carry apt= and an FID group.
    let sdp = p.a.local_description().unwrap().sdp.to_string();
    assert!(sdp.contains("a=ssrc-group:FID "), "{sdp}");
}

#[test]
fn plain_retransmission_without_rtx() {
    let mut p = pair(Duration::from_millis(10));
    let av = p.a.add_track(MediaKind::Video, "s", "v");
    // Only VP8 with NACK, no RTX.
    let vp8: Vec<_> = fulmar_peer::default_codecs(MediaKind::Video)
        .into_iter()
        .filter(|c| c.name == "VP8")
        .collect();
    p.a.set_codec_preferences(av, vp8).unwrap();
    p.negotiate(|_| {});
    p.connect();
    let sdp = p.a.local_description().unwrap().sdp.to_string();
    assert!(!sdp.contains("rtx/90000") && !sdp.contains("FID"));
    p.set_loss(|to_b, i, _| to_b && i % 5 == 2);
    let mut sent = Vec::new();
    for i in 0..40 {
        let now = p.now();
        let v = vp8_frame(i, i == 0, 3000);
        p.a.write_frame(now, av, (i as u32) * 3000, &v).unwrap();
        sent.push(v);
        p.run(Duration::from_millis(33));
    }
    p.run(Duration::from_secs(1));
    let got: Vec<Vec<u8>> = p
        .events_b
        .iter()
        .filter_map(|e| match e {
            Event::MediaFrame(f) => Some(f.data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got, sent);
    assert!(stats(&p.a, av).retransmitted_packets_sent > 0);
}

#[test]
fn pli_and_fir_round_trip() {
    let (mut p, [av, _], [bv, _]) = av_pair(Duration::from_millis(5));
    // Nothing received yet: no stream to ask.
    assert!(matches!(
        p.b.pc.request_keyframe(p.now(), bv),
        Err(Error::Media(_))
    ));
    for i in 0..3 {
        let now = p.now();
        p.a.write_frame(now, av, i * 3000, &vp8_frame(i as usize, i == 0, 100))
            .unwrap();
        p.run(Duration::from_millis(30));
    }
    let now = p.now();
    p.b.request_keyframe(now, bv).unwrap();
    p.run(Duration::from_millis(30));
    let asks: Vec<_> = p
        .events_a
        .iter()
        .filter_map(|e| match e {
            Event::KeyframeRequest { transceiver, kind } => Some((*transceiver, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(asks, [(av, KeyframeKind::Pli)]);
    assert_eq!(stats(&p.b, bv).pli_sent, 1);
    assert_eq!(stats(&p.a, av).pli_received, 1);
}

#[test]
fn fir_when_only_ccm_fir_is_negotiated() {
    let mut p = pair(Duration::from_millis(5));
    let av = p.a.add_track(MediaKind::Video, "s", "v");
    let mut vp8: Vec<_> = fulmar_peer::default_codecs(MediaKind::Video)
        .into_iter()
        .filter(|c| c.name == "VP8")
        .collect();
    vp8[0].rtcp_fb.retain(|f| f == "ccm fir" || f == "nack");
    p.a.set_codec_preferences(av, vp8).unwrap();
    p.negotiate(|_| {});
    p.connect();
    for i in 0..3u32 {
        let now = p.now();
        p.a.write_frame(now, av, i * 3000, &vp8_frame(i as usize, i == 0, 100))
            .unwrap();
        p.run(Duration::from_millis(30));
    }
    let b_video = p
        .events_b
        .iter()
        .find_map(|e| match e {
            Event::Track { transceiver, .. } => Some(*transceiver),
            _ => None,
        })
        .unwrap();
    for _ in 0..2 {
        let now = p.now();
        p.b.request_keyframe(now, b_video).unwrap();
        p.run(Duration::from_millis(30));
    }
    let asks: Vec<_> = p
        .events_a
        .iter()
        .filter_map(|e| match e {
            Event::KeyframeRequest { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    // Two FIRs with new sequence numbers (RFC 5104 §4.3.1.2): two requests.
    assert_eq!(asks, [KeyframeKind::Fir, KeyframeKind::Fir]);
    assert_eq!(stats(&p.b, b_video).fir_sent, 2);
}

#[test]
fn sender_and_receiver_reports_give_round_trip_time() {
    let (mut p, [av, _], [bv, _]) = av_pair(Duration::from_millis(25));
    for i in 0..120u32 {
        let now = p.now();
        p.a.write_frame(now, av, i * 3000, &vp8_frame(i as usize, i == 0, 500))
            .unwrap();
        p.b.write_frame(now, bv, i * 3000, &vp8_frame(i as usize, i == 0, 500))
            .unwrap();
        p.run(Duration::from_millis(33));
    }
    for (pc, t) in [(&p.a, av), (&p.b, bv)] {
        let s = stats(pc, t);
        let rtt = s.round_trip_time.expect("RTT from SR/RR");
        assert!(
            rtt >= Duration::from_millis(45) && rtt <= Duration::from_millis(60),
            "{rtt:?}"
        );
        assert!(s.sr_received >= 2, "{s:?}");
        assert!(s.jitter < Duration::from_millis(5), "{s:?}");
        // Transport-wide CC was negotiated: feedback flows to each sender.
        assert!(s.twcc_feedback_received > 0, "{s:?}");
    }
}

#[test]
fn raw_rtp_echo_forwards_packets() {
    let (mut p, [av, _], [bv, _]) = av_pair(Duration::from_millis(5));
    p.b.set_receive_mode(bv, ReceiveMode::Rtp);
    let mut sent = Vec::new();
    for i in 0..20u32 {
        let now = p.now();
        let v = vp8_frame(i as usize, i == 0, 2000);
        p.a.write_frame(now, av, i * 3000, &v).unwrap();
        sent.push(v);
        p.run(Duration::from_millis(5));
        // B echoes every RTP packet back on its own video track.
        let pkts: Vec<_> = p
            .events_b
            .drain(..)
            .filter_map(|e| match e {
                Event::Rtp(r) => Some(r),
                Event::MediaFrame(_) => panic!("RTP mode yields no frames"),
                _ => None,
            })
            .collect();
        for r in pkts {
            assert_eq!(r.transceiver, bv);
            let now = p.now();
            p.b.write_rtp(now, bv, &r.packet).unwrap();
            p.b.recycle(r.packet);
        }
        p.run(Duration::from_millis(25));
    }
    p.run(Duration::from_millis(200));
    let got: Vec<Vec<u8>> = frames(&p.events_a, av)
        .iter()
        .map(|f| f.data.clone())
        .collect();
    assert_eq!(got, sent, "A gets its own frames back");
}

/// The echo of the driver's lossy test, in simulated time: 5 % of media
/// datagrams lost at random (seeded) on each leg, A to B and B's RTP echo
/// back to A. NACK and RTX on both legs recover every frame.
#[test]
fn echo_recovers_from_random_loss_on_both_legs() {
    use rand::Rng;
    let (mut p, [av, _], [bv, _]) = av_pair(Duration::from_millis(10));
    p.b.set_receive_mode(bv, ReceiveMode::Rtp);
    let mut rng = StdRng::seed_from_u64(5);
    p.set_loss(move |_, _, _| rng.gen_bool(0.05));
    const N: usize = 200;
    let mut sent = Vec::new();
    // Frames past N only reveal losses at the tail of the last ones.
    for i in 0..N + 5 {
        let now = p.now();
        let v = vp8_frame(i, i == 0, 3000);
        p.a.write_frame(now, av, (i as u32) * 3000, &v).unwrap();
        sent.push(v);
        p.run(Duration::from_millis(10));
        let pkts: Vec<_> = p
            .events_b
            .drain(..)
            .filter_map(|e| match e {
                Event::Rtp(r) => Some(r),
                _ => None,
            })
            .collect();
        for r in pkts {
            let now = p.now();
            p.b.write_rtp(now, bv, &r.packet).unwrap();
            p.b.recycle(r.packet);
        }
        p.run(Duration::from_millis(23));
    }
    p.run(Duration::from_secs(1));
    let got: Vec<Vec<u8>> = frames(&p.events_a, av)
        .iter()
        .map(|f| f.data.clone())
        .collect();
    let missing: Vec<usize> = (0..N).filter(|i| !got.contains(&sent[*i])).collect();
    assert!(missing.is_empty(), "frames not echoed: {missing:?}");
    let (back, out) = (stats(&p.a, av), stats(&p.b, bv));
    assert!(
        back.nack_sent > 0 && out.nack_received > 0,
        "{back:?} {out:?}"
    );
    assert!(
        out.retransmitted_packets_sent > 0,
        "B repaired the echo leg"
    );
    assert!(
        stats(&p.a, av).retransmitted_packets_sent > 0,
        "A repaired the first leg"
    );
}

#[test]
fn renegotiation_adds_tracks_in_both_directions() {
    let mut p = pair(Duration::from_millis(5));
    p.a.create_data_channel(fulmar_datachannel::ChannelConfig::new("x"))
        .unwrap();
    p.negotiate(|_| {});
    p.connect();
    // A adds video after the connection is up, and offers.
    let av = p.a.add_track(MediaKind::Video, "s", "v");
    p.negotiate(|_| {});
    p.run(Duration::from_millis(50));
    for i in 0..5u32 {
        let now = p.now();
        p.a.write_frame(now, av, i * 3000, &vp8_frame(i as usize, i == 0, 1500))
            .unwrap();
        p.run(Duration::from_millis(30));
    }
    let b_video = p
        .events_b
        .iter()
        .find_map(|e| match e {
            Event::Track {
                transceiver,
                kind: MediaKind::Video,
                ..
            } => Some(*transceiver),
            _ => None,
        })
        .expect("B sees A's new track");
    assert_eq!(frames(&p.events_b, b_video).len(), 5);
    // B adds audio and offers this time.
    let ba = p.b.add_track(MediaKind::Audio, "s2", "a2");
    p.negotiate_from_b(|_| {});
    p.run(Duration::from_millis(50));
    for i in 0..5u32 {
        let now = p.now();
        p.b.write_frame(now, ba, i * 960, &[0xfc, i as u8]).unwrap();
        p.run(Duration::from_millis(20));
    }
    let a_audio = p
        .events_a
        .iter()
        .find_map(|e| match e {
            Event::Track {
                transceiver,
                kind: MediaKind::Audio,
                ..
            } => Some(*transceiver),
            _ => None,
        })
        .expect("A sees B's new track");
    assert_eq!(frames(&p.events_a, a_audio).len(), 5);
    // Video still flows after the second negotiation.
    let now = p.now();
    p.a.write_frame(now, av, 99_000, &vp8_frame(9, false, 100))
        .unwrap();
    p.run(Duration::from_millis(30));
    assert_eq!(frames(&p.events_b, b_video).len(), 6);
}

#[test]
fn stopped_transceiver_stops_media() {
    let (mut p, [av, aa], [bv, ba]) = av_pair(Duration::from_millis(5));
    let now = p.now();
    p.a.write_frame(now, av, 0, &vp8_frame(0, true, 100))
        .unwrap();
    p.run(Duration::from_millis(30));
    assert_eq!(frames(&p.events_b, bv).len(), 1);
    p.a.stop_transceiver(av);
    assert!(matches!(
        p.a.pc
            .write_frame(p.now(), av, 3000, &vp8_frame(1, false, 100)),
        Err(Error::Media(_))
    ));
    p.negotiate(|_| {});
    p.run(Duration::from_millis(50));
    assert!(
        p.b.transceivers().iter().any(|t| t.stopped),
        "B's side stopped too"
    );
    assert!(matches!(
        p.b.pc
            .write_frame(p.now(), bv, 3000, &vp8_frame(1, false, 100)),
        Err(Error::Media(_))
    ));
    // Audio keeps flowing.
    let now = p.now();
    p.a.write_frame(now, aa, 0, &[0xfc, 1]).unwrap();
    p.run(Duration::from_millis(30));
    assert_eq!(frames(&p.events_b, ba).len(), 1);
    assert_eq!(frames(&p.events_b, bv).len(), 1, "no video after stop");
}

/// Frames each codec's packetizer accepts: Annex-B for H.264 (RFC 6184),
/// a temporal unit of OBUs for AV1, any bytes for VP9 and G.711.
fn frame_for(codec: Codec, i: usize, len: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..len).map(|j| ((i * 31 + j) as u8) | 1).collect();
    match codec {
        Codec::H264 => {
            let mut f = Vec::new();
            for nal in [&[0x67, 0x42, 0xe0, 0x1f][..], &[0x68, 0xce, 0x3c][..]] {
                f.extend_from_slice(&[0, 0, 0, 1]);
                f.extend_from_slice(nal);
            }
            f.extend_from_slice(&[0, 0, 0, 1, 0x65]);
            f.extend_from_slice(&body);
            f
        }
        Codec::Av1 => {
            // Temporal delimiter, then a frame OBU with its size (LEB128).
            let mut f = vec![0x12, 0x00, 0x32];
            let mut n = body.len();
            while n >= 0x80 {
                f.push((n as u8 & 0x7f) | 0x80);
                n >>= 7;
            }
            f.push(n as u8);
            f.extend_from_slice(&body);
            f
        }
        _ => body,
    }
}

#[test]
fn every_negotiable_codec_carries_frames() {
    use fulmar_peer::default_codecs;
    let video = default_codecs(MediaKind::Video);
    let audio = default_codecs(MediaKind::Audio);
    let cases: Vec<(MediaKind, Vec<fulmar_peer::CodecParams>, Codec, usize)> = vec![
        (
            MediaKind::Video,
            video.iter().filter(|c| c.name == "VP9").cloned().collect(),
            Codec::Vp9,
            3000,
        ),
        (
            MediaKind::Video,
            video.iter().filter(|c| c.name == "AV1").cloned().collect(),
            Codec::Av1,
            3000,
        ),
        // H.264 packetization-mode 1 (FU-A for big NALs) and mode 0 (single NAL).
        (
            MediaKind::Video,
            video
                .iter()
                .filter(|c| c.payload_type == 102)
                .cloned()
                .collect(),
            Codec::H264,
            3000,
        ),
        (
            MediaKind::Video,
            video
                .iter()
                .filter(|c| c.payload_type == 106)
                .cloned()
                .collect(),
            Codec::H264,
            900,
        ),
        (
            MediaKind::Audio,
            audio.iter().filter(|c| c.name == "PCMU").cloned().collect(),
            Codec::Pcmu,
            160,
        ),
        (
            MediaKind::Audio,
            audio.iter().filter(|c| c.name == "PCMA").cloned().collect(),
            Codec::Pcma,
            160,
        ),
    ];
    for (kind, prefs, codec, len) in cases {
        let mut p = pair(Duration::from_millis(5));
        let t = p.a.add_track(kind, "s", "t");
        p.a.set_codec_preferences(t, prefs).unwrap();
        p.negotiate(|_| {});
        p.connect();
        assert_eq!(p.a.send_codec(t).and_then(|c| c.1), Some(codec));
        let mut sent = Vec::new();
        for i in 0..5 {
            let now = p.now();
            let f = frame_for(codec, i, len);
            p.a.write_frame(now, t, i as u32 * 3000, &f).unwrap();
            sent.push(f);
            p.run(Duration::from_millis(30));
        }
        let got: Vec<&MediaFrame> = p
            .events_b
            .iter()
            .filter_map(|e| match e {
                Event::MediaFrame(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 5, "{codec:?}");
        for (f, s) in got.iter().zip(&sent) {
            assert_eq!(f.codec, codec);
            assert_eq!(&f.data, s, "{codec:?}");
        }
    }
}

#[test]
fn simulcast_layers_arrive_as_separate_streams_by_rid() {
    let mut p = pair(Duration::from_millis(5));
    p.a.add_track(MediaKind::Video, "s", "v");
    let offer = p.a.create_offer().unwrap();
    p.a.pc
        .set_local_description(p.now(), offer.clone())
        .unwrap();
    // Offer two simulcast layers as a browser does (RFC 8853 §5.2, RFC 8851).
    let text = offer.sdp.to_string().replace(
        "a=rtcp-mux\r\n",
        "a=rtcp-mux\r\na=rid:h send\r\na=rid:l send\r\na=simulcast:send h;l\r\n",
    );
    let now = p.now();
    p.b.set_remote_description(now, SessionDescription::offer(&text).unwrap())
        .unwrap();
    let answer = p.b.create_answer().unwrap();
    let atext = answer.sdp.to_string();
    assert!(atext.contains("a=rid:h recv\r\n"), "{atext}");
    assert!(atext.contains("a=rid:l recv\r\n"));
    assert!(atext.contains("a=simulcast:recv h;l\r\n"));
    p.b.set_local_description(now, answer).unwrap();
    p.a.set_remote_description(now, SessionDescription::answer(&atext).unwrap())
        .unwrap();
    p.connect();
    // Two layers on their own SSRCs, each with mid (id 4) and rid (id 10).
    let packet = |ssrc: u32, rid: &[u8], seq: u16, key: bool| {
        let mut ext = vec![0x40, b'0', 0xa0 | (rid.len() as u8 - 1)];
        ext.extend_from_slice(rid);
        while ext.len() % 4 != 0 {
            ext.push(0);
        }
        let mut v = vec![0x90, 0x80 | 96];
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
        v.extend_from_slice(&ssrc.to_be_bytes());
        v.extend_from_slice(&[0xbe, 0xde, 0, (ext.len() / 4) as u8]);
        v.extend_from_slice(&ext);
        v.push(0x10);
        v.push(if key { 0x10 } else { 0x11 });
        v.extend_from_slice(rid);
        v
    };
    let (src, dst) = (common::A.parse().unwrap(), common::B.parse().unwrap());
    for seq in 0..3u16 {
        for (ssrc, rid) in [(0xaaaa_0001u32, &b"h"[..]), (0xaaaa_0002, &b"l"[..])] {
            let mut buf = packet(ssrc, rid, seq, seq == 0);
            let len = buf.len();
            buf.resize(len + 16, 0);
            // Fulmar sends no simulcast: A protects the browser's packets.
            let n = p.a.protect_for_fuzzing(false, &mut buf, len).unwrap();
            let now = p.now();
            p.b.handle_receive(now, src, dst, &mut buf[..n]);
        }
    }
    p.drain();
    let tracks: Vec<(Option<String>, u32)> = p
        .events_b
        .iter()
        .filter_map(|e| match e {
            Event::Track {
                rid,
                ssrc,
                kind: MediaKind::Video,
                ..
            } => Some((rid.clone(), *ssrc)),
            _ => None,
        })
        .collect();
    assert_eq!(
        tracks,
        [
            (Some("h".to_owned()), 0xaaaa_0001),
            (Some("l".to_owned()), 0xaaaa_0002)
        ]
    );
    for rid in ["h", "l"] {
        let got: Vec<&MediaFrame> = p
            .events_b
            .iter()
            .filter_map(|e| match e {
                Event::MediaFrame(f) if f.rid.as_deref() == Some(rid) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 3, "layer {rid}");
        assert!(got[0].keyframe);
        assert!(got.iter().all(|f| f.data.ends_with(rid.as_bytes())));
    }
}

/// Frames 5 ms apart with a 20 ms round trip: a retransmission lands after
/// later frames, and the assembler still emits every frame, in order.
#[test]
fn frames_completed_late_by_retransmission_are_kept_in_order() {
    let (mut p, [av, _], [bv, _]) = av_pair(Duration::from_millis(10));
    p.set_loss(|to_b, i, _| to_b && i % 19 == 3);
    let mut sent = Vec::new();
    for i in 0..201 {
        let now = p.now();
        let v = vp8_frame(i, i % 30 == 0, 3000);
        p.a.write_frame(now, av, (i as u32) * 450, &v).unwrap();
        sent.push(v);
        p.run(Duration::from_millis(5));
    }
    p.run(Duration::from_secs(1));
    let got = frames(&p.events_b, bv);
    let missing: Vec<usize> = (0..200)
        .filter(|i| !got.iter().any(|f| f.data == sent[*i]))
        .collect();
    let s = stats(&p.b, bv);
    assert!(missing.is_empty(), "missing {missing:?} {s:?}");
}

#[test]
fn srtp_profiles_are_the_configured_ones() {
    use fulmar_srtp::ProtectionProfile as P;
    let preferred = P::PREFERRED.to_vec();
    // B answers, so it is the DTLS client offering its list; A, the server,
    // picks the first of its own list that B offered (RFC 5764 §4.1.1).
    for (a, b, want) in [
        (preferred.clone(), preferred.clone(), Some(P::AeadAes128Gcm)),
        (
            vec![P::Aes128CmHmacSha1_80],
            preferred.clone(),
            Some(P::Aes128CmHmacSha1_80),
        ),
        (
            preferred.clone(),
            vec![P::AeadAes256Gcm],
            Some(P::AeadAes256Gcm),
        ),
        (vec![P::AeadAes128Gcm], vec![P::Aes128CmHmacSha1_80], None),
    ] {
        let mut ca = Config::default();
        ca.srtp_profiles = a;
        let mut cb = Config::default();
        cb.srtp_profiles = b;
        let mut p = pair_with(Duration::from_millis(5), ca, cb);
        let av = p.a.add_track(MediaKind::Video, "sa", "va");
        p.negotiate(|_| {});
        p.connect();
        assert_eq!(p.a.stats().srtp_profile, want);
        assert_eq!(p.b.stats().srtp_profile, want);
        let now = p.now();
        let sent = p.a.write_frame(now, av, 0, &vp8_frame(0, true, 3000));
        assert_eq!(
            sent.is_ok(),
            want.is_some(),
            "{want:?}: media only with keys"
        );
        p.run(Duration::from_millis(100));
        let bv =
            p.b.transceiver_by_mid("0")
                .expect("B's transceiver for A's video");
        assert_eq!(frames(&p.events_b, bv).len(), usize::from(want.is_some()));
    }
}

#[test]
fn sctp_zero_checksum_only_when_both_sides_offer_it() {
    for (za, zb) in [(true, true), (true, false), (false, true)] {
        let mut ca = Config::default();
        ca.sctp.zero_checksum = za;
        let mut cb = Config::default();
        cb.sctp.zero_checksum = zb;
        let mut p = pair_with(Duration::from_millis(5), ca, cb);
        p.a.create_data_channel(fulmar_datachannel::ChannelConfig::new("x"))
            .unwrap();
        p.negotiate(|_| {});
        p.connect();
        p.run(Duration::from_millis(200));
        assert!(p
            .events_a
            .iter()
            .any(|e| matches!(e, Event::DataChannelOpen(_))));
        assert_eq!(p.a.stats().sctp_zero_checksum, za && zb, "{za} {zb}");
        assert_eq!(p.b.stats().sctp_zero_checksum, za && zb, "{za} {zb}");
    }
}
