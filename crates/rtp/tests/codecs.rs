//! Packetize → depacketize round trips for every codec, across MTUs and
//! with reordering, through the frame assembler; plus malformed payloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_rtp::codec::{av1, h264, vp8, vp9, Codec, Depacketizer, Packetizer};
use fulmar_rtp::{Error, FrameAssembler};
use proptest::prelude::*;

struct Pkt {
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
}

fn packetize_all(codec: Codec, frames: &[Vec<u8>], mtu: usize, seq0: u16) -> Vec<Pkt> {
    let mut p = codec.packetizer();
    let mut out = Vec::new();
    let mut seq = seq0;
    for (i, f) in frames.iter().enumerate() {
        let ts = (i as u32) * 3000;
        p.packetize(f, mtu, &mut |payload, last| {
            assert!(
                payload.len() <= mtu,
                "payload {} > mtu {}",
                payload.len(),
                mtu
            );
            out.push(Pkt {
                seq,
                ts,
                marker: last,
                payload: payload.to_vec(),
            });
            seq = seq.wrapping_add(1);
        })
        .unwrap();
    }
    out
}

fn assemble(codec: Codec, pkts: &[Pkt], order: &[usize]) -> Vec<fulmar_rtp::Frame> {
    // The window must hold a whole frame: tiny MTUs make hundreds of packets.
    let mut a = FrameAssembler::new(codec.depacketizer(), 2048);
    let mut frames = Vec::new();
    for &i in order {
        let p = &pkts[i];
        a.push(p.seq, p.ts, p.marker, &p.payload);
        while let Some(f) = a.poll_frame() {
            frames.push(f);
        }
    }
    frames
}

/// A local reordering: swaps neighbours chosen by `swaps`, never moving the first packet.
fn reorder(n: usize, swaps: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for &s in swaps {
        if n > 2 {
            let i = 1 + s % (n - 2);
            order.swap(i, i + 1);
        }
    }
    order
}

fn h264_frame() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            0u8..4,
            1u8..24,
            proptest::collection::vec(1u8..=255, 0..3000),
        ),
        1..5,
    )
    .prop_map(|nals| {
        let mut f = Vec::new();
        for (nri, t, body) in nals {
            f.extend_from_slice(&h264::START_CODE);
            f.push((nri << 5) | t);
            f.extend_from_slice(&body);
        }
        f
    })
}

fn av1_tu() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            prop_oneof![Just(1u8), Just(3), Just(4), Just(6)],
            proptest::option::of(any::<u8>()),
            proptest::collection::vec(any::<u8>(), 0..2500),
        ),
        1..4,
    )
    .prop_map(|obus| {
        let mut f = vec![0x12, 0x00];
        for (t, ext, payload) in obus {
            f.push((t << 3) | 0x02 | if ext.is_some() { 0x04 } else { 0 });
            if let Some(e) = ext {
                f.push(e);
            }
            let mut n = payload.len();
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    f.push(b);
                    break;
                }
                f.push(b | 0x80);
            }
            f.extend_from_slice(&payload);
        }
        f
    })
}

fn frames_for(codec: Codec) -> BoxedStrategy<Vec<Vec<u8>>> {
    match codec {
        Codec::Opus | Codec::Pcmu | Codec::Pcma => {
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..8).boxed()
        }
        Codec::Vp8 | Codec::Vp9 => {
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..5000), 1..6).boxed()
        }
        Codec::H264 => proptest::collection::vec(h264_frame(), 1..5).boxed(),
        Codec::Av1 => proptest::collection::vec(av1_tu(), 1..5).boxed(),
    }
}

fn round_trip(
    codec: Codec,
    frames: &[Vec<u8>],
    mtu: usize,
    seq0: u16,
    swaps: &[usize],
) -> Result<(), TestCaseError> {
    let pkts = packetize_all(codec, frames, mtu, seq0);
    let order = reorder(pkts.len(), swaps);
    let got = assemble(codec, &pkts, &order);
    prop_assert_eq!(got.len(), frames.len());
    for (i, (g, f)) in got.iter().zip(frames).enumerate() {
        prop_assert_eq!(&g.data, f, "frame {}", i);
        prop_assert_eq!(g.timestamp, i as u32 * 3000);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn opus_round_trip(frames in frames_for(Codec::Opus), seq0: u16, swaps in proptest::collection::vec(any::<usize>(), 0..4)) {
        round_trip(Codec::Opus, &frames, 1200, seq0, &swaps)?;
    }
    #[test]
    fn g711_round_trip(frames in frames_for(Codec::Pcmu), seq0: u16, swaps in proptest::collection::vec(any::<usize>(), 0..4)) {
        round_trip(Codec::Pcmu, &frames, 1200, seq0, &swaps)?;
        round_trip(Codec::Pcma, &frames, 1200, seq0, &swaps)?;
    }
    #[test]
    fn vp8_round_trip(frames in frames_for(Codec::Vp8), mtu in 20usize..1400, seq0: u16, swaps in proptest::collection::vec(any::<usize>(), 0..8)) {
        round_trip(Codec::Vp8, &frames, mtu, seq0, &swaps)?;
    }
    #[test]
    fn vp9_round_trip(frames in frames_for(Codec::Vp9), mtu in 20usize..1400, seq0: u16, swaps in proptest::collection::vec(any::<usize>(), 0..8)) {
        round_trip(Codec::Vp9, &frames, mtu, seq0, &swaps)?;
    }
    #[test]
    fn h264_round_trip(frames in frames_for(Codec::H264), mtu in 20usize..1400, seq0: u16, swaps in proptest::collection::vec(any::<usize>(), 0..8)) {
        round_trip(Codec::H264, &frames, mtu, seq0, &swaps)?;
    }
    #[test]
    fn av1_round_trip(frames in frames_for(Codec::Av1), mtu in 20usize..1400, seq0: u16, swaps in proptest::collection::vec(any::<usize>(), 0..8)) {
        round_trip(Codec::Av1, &frames, mtu, seq0, &swaps)?;
    }
    #[test]
    fn depacketizers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        for c in Codec::ALL {
            let mut d = c.depacketizer();
            let mut out = Vec::new();
            d.begin_frame(&mut out);
            let _ = d.depacketize(&data, &mut out);
            let _ = (d.is_keyframe(&data), d.is_frame_start(&data));
        }
    }
}

#[test]
fn h264_mode1_aggregates_sps_pps_into_stap_a_and_fragments_idr() {
    // RFC 6184 §5.7.1 STAP-A with SPS and PPS, then an IDR split by FU-A (§5.8).
    let mut frame = Vec::new();
    for nal in [&[0x67, 1, 2, 3][..], &[0x68, 4, 5][..]] {
        frame.extend_from_slice(&h264::START_CODE);
        frame.extend_from_slice(nal);
    }
    frame.extend_from_slice(&h264::START_CODE);
    frame.push(0x65);
    frame.extend_from_slice(&[9u8; 20]);
    let mut pkts = Vec::new();
    h264::H264Packetizer::default()
        .packetize(&frame, 12, &mut |p, last| pkts.push((p.to_vec(), last)))
        .unwrap();
    assert_eq!(pkts[0].0, vec![0x78, 0, 4, 0x67, 1, 2, 3, 0, 3, 0x68, 4, 5]);
    assert_eq!(&pkts[1].0[..2], &[0x7c, 0x85]); // FU indicator NRI=3 type 28; S=1 type 5
    assert_eq!(&pkts.last().unwrap().0[..2], &[0x7c, 0x45]); // E=1
    assert!(pkts.last().unwrap().1);
    let d = h264::H264Depacketizer::default();
    assert!(d.is_keyframe(&pkts[0].0));
    // Mode 0 refuses NAL units larger than the payload.
    let mut m0 = h264::H264Packetizer::new(h264::PacketizationMode::SingleNal);
    assert_eq!(
        m0.packetize(&frame, 12, &mut |_, _| {}),
        Err(Error::InvalidInput(
            "NAL unit larger than the payload size in mode 0"
        ))
    );
    let mut n = 0;
    m0.packetize(&frame, 64, &mut |_, _| n += 1).unwrap();
    assert_eq!(n, 3);
}

#[test]
fn vp8_rfc7741_descriptor_and_keyframe() {
    // X=1 S=1 PID=0; I=1 with a 15-bit picture ID; payload header P=0 (key frame).
    let p = [0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00];
    assert_eq!(vp8::parse_descriptor(&p).unwrap(), (4, true, 0));
    let d = vp8::Vp8Depacketizer;
    assert!(d.is_frame_start(&p) && d.is_keyframe(&p));
    assert!(!d.is_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x11]));
    assert_eq!(
        vp8::parse_descriptor(&[0x90, 0x80]),
        Err(Error::Truncated("VP8 picture ID"))
    );
}

#[test]
fn vp9_keyframe_gets_scalability_structure() {
    // Profile 0 key frame: marker 2, profile 0, show_existing 0, key, show, no
    // error-resilient, sync code, colour space BT.601 + range, 640x480.
    let mut bits: Vec<u8> = vec![1, 0, 0, 0, 0, 0, 1, 0];
    for b in [0x49u8, 0x83, 0x42] {
        bits.extend((0..8).rev().map(|i| (b >> i) & 1));
    }
    bits.extend([0, 0, 1, 0]); // colour space 1, range 0
    bits.extend((0..16).rev().map(|i| ((639u16 >> i) & 1) as u8));
    bits.extend((0..16).rev().map(|i| ((479u16 >> i) & 1) as u8));
    while bits.len() % 8 != 0 {
        bits.push(0);
    }
    let frame: Vec<u8> = bits
        .chunks(8)
        .map(|c| c.iter().fold(0, |a, b| (a << 1) | b))
        .collect();
    assert_eq!(vp9::keyframe_size(&frame), Some(Some((640, 480))));
    let mut pkts = Vec::new();
    vp9::Vp9Packetizer::default()
        .packetize(&frame, 1200, &mut |p, _| pkts.push(p.to_vec()))
        .unwrap();
    let p = &pkts[0];
    assert_eq!(p[0], 0x80 | 0x08 | 0x04 | 0x02); // I B E V, P=0
    assert_eq!(&p[3..8], &[0x10, 0x02, 0x80, 0x01, 0xe0]); // N_S=0 Y=1, 640x480
    let d = vp9::parse_descriptor(p).unwrap();
    assert_eq!(d.len, 8);
    assert!(vp9::Vp9Depacketizer.is_keyframe(p));
}

#[test]
fn av1_sequence_header_sets_n_and_drops_temporal_delimiter() {
    let tu = [0x12, 0x00, 0x0a, 0x02, 0xaa, 0xbb, 0x32, 0x01, 0xcc];
    let mut pkts = Vec::new();
    av1::Av1Packetizer::default()
        .packetize(&tu, 1200, &mut |p, _| pkts.push(p.to_vec()))
        .unwrap();
    // N=1; elements: len 3 [0x08 aa bb], len 2 [0x30 cc]: size fields stripped.
    assert_eq!(pkts, vec![vec![0x08, 3, 0x08, 0xaa, 0xbb, 2, 0x30, 0xcc]]);
    let mut d = av1::Av1Depacketizer::default();
    assert!(d.is_keyframe(&pkts[0]));
    let mut out = Vec::new();
    d.begin_frame(&mut out);
    d.depacketize(&pkts[0], &mut out).unwrap();
    assert_eq!(out, tu);
    // A continuation (Z=1) with nothing to continue is an error.
    let mut d = av1::Av1Depacketizer::default();
    assert_eq!(
        d.depacketize(&[0x80, 1, 0x30], &mut Vec::new()),
        Err(Error::Malformed("AV1 continuation without a start"))
    );
}

#[test]
fn assembler_drops_incomplete_frame_and_recovers_at_keyframe() {
    // Three VP8 frames of 3 packets; the middle packet of frame 1 is lost.
    let key = {
        let mut f = vec![0x00u8];
        f.extend_from_slice(&[7; 2000]);
        f
    };
    let delta = {
        let mut f = vec![0x01u8];
        f.extend_from_slice(&[8; 2000]);
        f
    };
    let frames = vec![key.clone(), delta, key.clone()];
    let pkts = packetize_all(Codec::Vp8, &frames, 800, 65534);
    let order: Vec<usize> = (0..pkts.len()).filter(|&i| i != 4).collect();
    let mut a = FrameAssembler::new(Codec::Vp8.depacketizer(), 64);
    a.set_max_reorder(2);
    let mut got = Vec::new();
    for i in order {
        let p = &pkts[i];
        a.push(p.seq, p.ts, p.marker, &p.payload);
        while let Some(f) = a.poll_frame() {
            got.push(f);
        }
    }
    assert_eq!(got.len(), 2);
    assert!(got[0].keyframe && got[1].keyframe);
    assert_eq!(got[1].timestamp, 6000);
    assert_eq!(a.stats().frames_dropped, 1);
}

#[test]
fn malformed_payloads_give_typed_errors() {
    let mut out = Vec::new();
    let mut h = h264::H264Depacketizer::default();
    assert_eq!(
        h.depacketize(&[], &mut out),
        Err(Error::Truncated("H.264 NAL header"))
    );
    assert_eq!(
        h.depacketize(&[0x78, 0, 9, 1], &mut out),
        Err(Error::Truncated("STAP-A NAL unit"))
    );
    assert_eq!(
        h.depacketize(&[0x7c, 0x05, 1], &mut out),
        Err(Error::Malformed("FU-A continuation without a start"))
    );
    assert_eq!(
        h.depacketize(&[0x19, 0], &mut out),
        Err(Error::Malformed("unsupported H.264 NAL unit type"))
    );
    assert_eq!(
        vp9::parse_descriptor(&[0x82]),
        Err(Error::Truncated("VP9 payload descriptor"))
    );
    let mut a = av1::Av1Depacketizer::default();
    assert_eq!(
        a.depacketize(&[0x00, 5, 1], &mut out),
        Err(Error::Truncated("AV1 OBU element"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Under loss, duplication and reordering, every frame the assembler
    /// emits is exactly one of the frames sent, in timestamp order, and
    /// nothing panics.
    #[test]
    fn assembler_under_loss_emits_only_true_frames(
        codec_idx in 0usize..7,
        seed_frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..3000), 1..8),
        drops in proptest::collection::vec(any::<bool>(), 0..64),
        dups in proptest::collection::vec(any::<usize>(), 0..6),
        swaps in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let codec = Codec::ALL[codec_idx];
        let frames: Vec<Vec<u8>> = match codec {
            // Make every generated frame valid input for the codec.
            Codec::H264 => seed_frames.iter().map(|f| {
                let mut v = h264::START_CODE.to_vec();
                v.push(0x65);
                v.extend(f.iter().map(|b| b | 1));
                v
            }).collect(),
            Codec::Av1 => seed_frames.iter().map(|f| {
                let mut v = vec![0x12, 0x00, 0x32];
                let mut n = f.len();
                while n >= 0x80 { v.push((n as u8 & 0x7f) | 0x80); n >>= 7; }
                v.push(n as u8);
                v.extend_from_slice(f);
                v
            }).collect(),
            Codec::Opus | Codec::Pcmu | Codec::Pcma => seed_frames.iter().map(|f| f[..f.len().min(500)].to_vec()).collect(),
            _ => seed_frames.clone(),
        };
        let pkts = packetize_all(codec, &frames, 500, 65500);
        let mut order: Vec<usize> = reorder(pkts.len(), &swaps)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !drops.get(*i).copied().unwrap_or(false))
            .map(|(_, p)| p)
            .collect();
        for d in &dups {
            if !order.is_empty() {
                let x = order[d % order.len()];
                order.insert(d % order.len(), x);
            }
        }
        let got = assemble(codec, &pkts, &order);
        let mut last_ts = None;
        for f in &got {
            let i = (f.timestamp / 3000) as usize;
            prop_assert!(i < frames.len());
            prop_assert_eq!(&f.data, &frames[i]);
            prop_assert!(last_ts.is_none_or(|t| f.timestamp > t));
            last_ts = Some(f.timestamp);
        }
    }
}

#[test]
fn codec_names_follow_the_rtpmap_registry() {
    // RFC 3551 §6 (PCMU, PCMA), RFC 7587 §7 (opus), RFC 7741 §6 (VP8),
    // RFC 9628 (VP9), RFC 6184 §8.1 (H264), AV1 RTP specification §7.
    for (name, codec, rate) in [
        ("opus", Codec::Opus, 48_000),
        ("PCMU", Codec::Pcmu, 8_000),
        ("pcma", Codec::Pcma, 8_000),
        ("vp8", Codec::Vp8, 90_000),
        ("VP9", Codec::Vp9, 90_000),
        ("H264", Codec::H264, 90_000),
        ("AV1", Codec::Av1, 90_000),
    ] {
        assert_eq!(Codec::from_name(name), Some(codec));
        assert_eq!(codec.clock_rate(), rate);
        assert_eq!(codec.is_audio(), rate != 90_000);
    }
    assert_eq!(Codec::from_name("rtx"), None);
    assert_eq!(Codec::from_name("red"), None);
}
