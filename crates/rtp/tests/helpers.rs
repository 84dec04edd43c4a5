//! Receive-side helpers: RTX (RFC 4588 §4), NACK generation (RFC 4585
//! §6.2.1), receiver statistics (RFC 3550 A.3, A.8), sender reports and
//! NTP ↔ RTP mapping (RFC 3550 §6.4.1), send history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_rtp::rtcp::{CompoundIter, ReportBlock, RtcpPacket, RtcpRepr};
use fulmar_rtp::rtx::{rtx_unwrap, rtx_wrap};
use fulmar_rtp::stats::{duration_to_ntp, rtt_from_report};
use fulmar_rtp::*;
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn packet(seq: u16, payload: &[u8]) -> Vec<u8> {
    let els = [HeaderExtensionElement {
        id: 3,
        data: &[1, 2],
    }];
    let repr = RtpRepr {
        marker: true,
        payload_type: 96,
        sequence_number: seq,
        timestamp: 1234,
        ssrc: 0xaaaa,
        csrcs: &[7],
        extension: HeaderExtension::Elements(&els),
        payload,
        padding_len: 0,
    };
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b).unwrap();
    b
}

#[test]
fn rfc4588_4_rtx_wrap_and_unwrap() {
    let orig = packet(0x1234, b"media");
    let p = RtpPacket::new_checked(&orig[..]).unwrap();
    let mut rtx = [0u8; 100];
    let n = rtx_wrap(&p, 97, 0xbbbb, 9, &mut rtx).unwrap();
    let r = RtpPacket::new_checked(&rtx[..n]).unwrap();
    assert_eq!(
        (
            r.payload_type(),
            r.ssrc(),
            r.sequence_number(),
            r.timestamp()
        ),
        (97, 0xbbbb, 9, 1234)
    );
    assert_eq!(r.payload(), b"\x12\x34media"); // OSN then the original payload
    assert_eq!(r.extension(3), Some(&[1u8, 2][..]));
    let mut back = [0u8; 100];
    let m = rtx_unwrap(&r, 96, 0xaaaa, &mut back).unwrap();
    assert_eq!(&back[..m], &orig[..]);
    let empty = packet(1, b"");
    let e = RtpPacket::new_checked(&empty[..]).unwrap();
    assert_eq!(
        rtx_unwrap(&e, 96, 1, &mut back),
        Err(Error::Truncated("RTX original sequence number"))
    );
}

#[test]
fn send_history_answers_nack() {
    let mut h = SendHistory::new(4);
    for s in 65533u16..=65535 {
        h.handle_sent(s, &packet(s, b"x"));
    }
    h.handle_sent(0, &packet(0, b"x"));
    h.handle_sent(1, &packet(1, b"x")); // evicts 65533
    assert!(h.get(65533).is_none());
    let nack = fulmar_rtp::rtcp::NackRepr::from_lost(1, 0xaaaa, [65533, 65535, 1]);
    let mut buf = [0u8; 64];
    let n = nack.emit(&mut buf).unwrap();
    let Some(Ok(RtcpPacket::Nack(v))) = CompoundIter::new(&buf[..n]).next() else {
        panic!()
    };
    let seqs: Vec<u16> = h
        .answer_nack(&v)
        .map(|b| RtpPacket::new_checked(b).unwrap().sequence_number())
        .collect();
    assert_eq!(seqs, vec![65535, 1]);
}

#[test]
fn nack_generator_retries_each_rtt() {
    let t0 = Instant::now();
    let mut g = NackGenerator::new(
        NackConfig {
            max_retries: 2,
            ..Default::default()
        },
        1,
        2,
    );
    for s in [65534u16, 65535, 2] {
        assert!(g.handle_packet(t0, s), "new packets");
    }
    let n = g.poll_nack(t0).unwrap();
    let lost: Vec<u16> = n.pairs.iter().flat_map(|p| p.lost()).collect();
    assert_eq!(lost, vec![0, 1]);
    assert!(g.poll_nack(t0 + Duration::from_millis(50)).is_none());
    assert_eq!(g.poll_timeout(), Some(t0 + Duration::from_millis(100)));
    assert!(g.handle_packet(t0, 0), "a missing packet arrives");
    assert!(!g.handle_packet(t0, 0), "its duplicate is flagged");
    assert!(!g.handle_packet(t0, 65535), "so is an old one");
    g.set_rtt(Duration::from_millis(20));
    let n = g.poll_nack(t0 + Duration::from_millis(60)).unwrap();
    assert_eq!(n.pairs[0].packet_id, 1);
    // Out of retries.
    assert!(g.poll_nack(t0 + Duration::from_millis(200)).is_none());
    assert_eq!(g.missing_count(), 0);
}

#[test]
fn rfc3550_a3_loss_and_extended_sequence_across_wrap() {
    let t = Instant::now();
    let mut s = ReceiverStats::new(5, 90_000);
    for seq in [65530u16, 65531, 65532, 65535, 0, 1, 2, 3, 4, 5] {
        s.handle_packet(t, seq, 0);
    }
    assert_eq!(s.extended_highest_sequence(), 65536 + 5);
    assert_eq!(s.cumulative_lost(), 2);
    let rb = s.report_block(t);
    assert_eq!(rb.fraction_lost, (2 * 256 / 12) as u8);
    assert_eq!(rb.cumulative_lost, 2);
    // A second interval with no loss reports fraction 0.
    s.handle_packet(t, 6, 0);
    assert_eq!(s.report_block(t).fraction_lost, 0);
}

#[test]
fn rfc3550_a8_jitter_and_lsr_dlsr() {
    let t0 = Instant::now();
    let mut s = ReceiverStats::new(5, 90_000);
    s.handle_packet(t0, 1, 0);
    s.handle_packet(t0 + Duration::from_millis(2), 2, 90); // transit grows by 90 ticks
    assert_eq!(s.jitter(), 90 / 16);
    s.handle_sender_report(t0, 0x1234_5678_9abc_def0);
    let rb = s.report_block(t0 + Duration::from_millis(500));
    assert_eq!(rb.last_sr, 0x5678_9abc);
    assert_eq!(rb.delay_since_last_sr, 32_768);
    // RTT: arrival = LSR + DLSR + 0.1 s.
    let now_ntp = (u64::from(rb.last_sr + rb.delay_since_last_sr + 6554)) << 16;
    let rtt = rtt_from_report(now_ntp, &rb).unwrap();
    assert!((rtt.as_millis() as i64 - 100).abs() <= 1, "{rtt:?}");
    assert_eq!(rtt_from_report(now_ntp, &ReportBlock::default()), None);
}

#[test]
fn sender_report_maps_ntp_to_rtp() {
    let t0 = Instant::now();
    let clock = NtpClock::new(t0, 10 << 32);
    let mut s = SenderStats::new(9, 90_000);
    s.handle_sent(t0, 1000, 100);
    s.handle_sent(t0, 1000, 50);
    let sr = s.sender_report(t0 + Duration::from_secs(1), &clock, vec![]);
    assert_eq!(
        (sr.ntp_time, sr.rtp_time, sr.packet_count, sr.octet_count),
        (11 << 32, 91_000, 2, 150)
    );
    let m = RtpNtpMapping {
        ntp_time: sr.ntp_time,
        rtp_time: sr.rtp_time,
        clock_rate: 90_000,
    };
    assert_eq!(m.ntp_for_rtp(91_000 + 90_000), 12 << 32);
    assert_eq!(m.ntp_for_rtp(91_000 - 45_000), (11 << 32) - (1 << 31));
    assert_eq!(m.rtp_for_ntp(12 << 32), 181_000);
    let mut buf = [0u8; 64];
    let n = RtcpRepr::SenderReport(sr).emit(&mut buf).unwrap();
    assert_eq!(n, 28);
    assert_eq!(duration_to_ntp(Duration::from_millis(500)), 1 << 31);
}

proptest! {
    #[test]
    fn rtx_round_trip(seq: u16, rtx_seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let orig = packet(seq, &payload);
        let p = RtpPacket::new_checked(&orig[..]).unwrap();
        let mut rtx = vec![0u8; orig.len() + 2];
        let n = rtx_wrap(&p, 97, 5, rtx_seq, &mut rtx).unwrap();
        let r = RtpPacket::new_checked(&rtx[..n]).unwrap();
        let mut back = vec![0u8; orig.len()];
        let m = rtx_unwrap(&r, 96, 0xaaaa, &mut back).unwrap();
        prop_assert_eq!(&back[..m], &orig[..]);
    }

    #[test]
    fn unwrapper_tracks_random_walks(start: u16, steps in proptest::collection::vec(-1000i32..1000, 1..100)) {
        let mut u = SequenceUnwrapper::new();
        let mut truth = i64::from(start);
        let first = u.unwrap(start) as i64;
        for s in steps {
            truth += i64::from(s);
            let got = u.unwrap(truth.rem_euclid(65536) as u16) as i64;
            prop_assert_eq!(got - first, truth - i64::from(start));
        }
    }
}
