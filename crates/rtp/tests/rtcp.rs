//! RTCP packets: RFC 3550 §6.4-6.7, RFC 4585 §6.2-6.3, RFC 5104 §4.3.1,
//! RFC 3611 §4.4-4.5, RFC 5506, transport-wide CC and REMB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_rtp::rtcp::*;
use fulmar_rtp::Error;
use proptest::prelude::*;

fn one(buf: &[u8]) -> RtcpPacket<'_> {
    let mut it = CompoundIter::new(buf);
    let p = it.next().unwrap().unwrap();
    assert!(it.next().is_none());
    p
}

/// RFC 3550 §6.4.1 SR with one report block, followed by an SDES CNAME
/// (§6.5.1) and a BYE with reason (§6.6): a typical compound packet.
const COMPOUND: &[u8] = &[
    // SR: V=2 RC=1 PT=200 length=12
    0x81, 0xc8, 0x00, 0x0c, 0x11, 0x22, 0x33, 0x44, // SSRC
    0xe8, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, // NTP
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x10,
    0x00, // RTP ts, packets, octets
    0x55, 0x66, 0x77, 0x88, 0x40, 0xff, 0xff, 0xfe, // block: SSRC, fraction 64, cumulative -2
    0x00, 0x01, 0x23, 0x45, 0x00, 0x00, 0x00, 0x20, // ext highest seq, jitter
    0xe8, 0x00, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, // LSR, DLSR (1 s)
    // SDES: SC=1 PT=202 length=3, CNAME "abcd", END + pad
    0x81, 0xca, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x01, 0x04, b'a', b'b', b'c', b'd', 0x00, 0x00,
    // BYE: SC=1 PT=203 length=3, reason "bye"
    0x81, 0xcb, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x03, b'b', b'y', b'e',
];

#[test]
fn rfc3550_6_1_compound_sr_sdes_bye() {
    check_compound(COMPOUND, false).unwrap();
    let pkts: Vec<_> = CompoundIter::new(COMPOUND).map(|p| p.unwrap()).collect();
    assert_eq!(pkts.len(), 3);
    let RtcpPacket::SenderReport(sr) = pkts[0] else {
        panic!()
    };
    assert_eq!(sr.ssrc(), 0x1122_3344);
    assert_eq!(sr.ntp_time(), 0xe800_0000_8000_0000);
    assert_eq!(sr.rtp_time(), 0x10000);
    assert_eq!(sr.packet_count(), 10);
    assert_eq!(sr.octet_count(), 4096);
    let rb: Vec<_> = sr.reports().collect();
    assert_eq!(
        rb,
        vec![ReportBlock {
            ssrc: 0x5566_7788,
            fraction_lost: 64,
            cumulative_lost: -2,
            extended_highest_sequence: 0x12345,
            jitter: 32,
            last_sr: 0xe800_8000,
            delay_since_last_sr: 65536,
        }]
    );
    let RtcpPacket::Sdes(sdes) = pkts[1] else {
        panic!()
    };
    let chunk = sdes.chunks().next().unwrap();
    assert_eq!(chunk.ssrc, 0x1122_3344);
    let items: Vec<_> = chunk.items().collect();
    assert_eq!(
        items,
        vec![SdesItem {
            item_type: SdesItemType::CNAME,
            value: b"abcd"
        }]
    );
    let RtcpPacket::Bye(bye) = pkts[2] else {
        panic!()
    };
    assert_eq!(bye.ssrcs().collect::<Vec<_>>(), vec![0x1122_3344]);
    assert_eq!(bye.reason(), Some(&b"bye"[..]));
    // Rebuild byte-exact from the owned forms.
    let reprs: Vec<_> = pkts.iter().map(|p| RtcpRepr::parse(p).unwrap()).collect();
    let mut out = [0u8; 256];
    let n = write_compound(&reprs, &mut out).unwrap();
    assert_eq!(&out[..n], COMPOUND);
}

#[test]
fn rfc4585_6_2_1_generic_nack() {
    // PID 100, BLP bits 0 and 15: packets 100, 101 and 116 lost.
    let b = [
        0x81, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x64, 0x80, 0x01,
    ];
    let RtcpPacket::Nack(n) = one(&b) else {
        panic!()
    };
    assert_eq!((n.sender_ssrc(), n.media_ssrc()), (1, 2));
    assert_eq!(n.lost().collect::<Vec<_>>(), vec![100, 101, 116]);
    let r = NackRepr::from_lost(1, 2, [100, 101, 116]);
    let mut out = [0u8; 16];
    r.emit(&mut out).unwrap();
    assert_eq!(out, b);
}

#[test]
fn rfc4585_6_3_1_pli_and_rfc5104_4_3_1_fir() {
    let pli = [0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2];
    assert_eq!(
        one(&pli),
        RtcpPacket::Pli(Pli {
            sender_ssrc: 1,
            media_ssrc: 2
        })
    );
    let fir = [
        0x84, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 7, 0, 0, 0,
    ];
    let RtcpPacket::Fir(f) = one(&fir) else {
        panic!()
    };
    assert_eq!(
        f.entries().collect::<Vec<_>>(),
        vec![FirEntry {
            ssrc: 9,
            sequence_number: 7
        }]
    );
    let mut out = [0u8; 20];
    f.to_repr().emit(&mut out).unwrap();
    assert_eq!(out, fir);
}

#[test]
fn remb_draft_alvestrand_2_2() {
    // 1 SSRC, exp 2, mantissa 250000 => 1,000,000 bit/s.
    let v: u32 = (1 << 24) | (2 << 18) | 250_000;
    let mut b = vec![
        0x8f, 0xce, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B',
    ];
    b.extend_from_slice(&v.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 5]);
    let RtcpPacket::Remb(r) = one(&b) else {
        panic!()
    };
    assert_eq!(r.bitrate(), 1_000_000);
    assert_eq!(r.ssrcs().collect::<Vec<_>>(), vec![5]);
    let mut out = [0u8; 24];
    r.to_repr().emit(&mut out).unwrap();
    assert_eq!(&out[..], &b[..]);
}

#[test]
fn transport_cc_feedback_chunks_and_deltas() {
    // base 10, 4 packets: run-length chunk "received small" x2, then a 2-bit
    // status vector [not received, large]; deltas 4, 8 (small), -4 (large).
    let b = [
        0x8f, 0xcd, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2, // header, SSRCs
        0x00, 0x0a, 0x00, 0x04, 0xff, 0xff, 0xfe, 0x03, // base 10, count 4, ref -2, fb 3
        0x20, 0x02, 0xc8, 0x00, // run-length (status 1, run 2); vector 2-bit [0, 2]
        0x04, 0x08, 0xff, 0xfc, // deltas
    ];
    let RtcpPacket::TransportCc(t) = one(&b) else {
        panic!()
    };
    assert_eq!(t.base_sequence_number(), 10);
    assert_eq!(t.reference_time(), -2);
    assert_eq!(t.fb_pkt_count(), 3);
    let p: Vec<_> = t.packets().collect();
    assert_eq!(
        p,
        vec![
            TwccPacket {
                sequence_number: 10,
                status: TwccStatus::SmallDelta,
                delta: 4
            },
            TwccPacket {
                sequence_number: 11,
                status: TwccStatus::SmallDelta,
                delta: 8
            },
            TwccPacket {
                sequence_number: 12,
                status: TwccStatus::NotReceived,
                delta: 0
            },
            TwccPacket {
                sequence_number: 13,
                status: TwccStatus::LargeDelta,
                delta: -4
            },
        ]
    );
    // Our encoder picks a 2-bit vector for these four; it must parse back equal.
    let r = t.to_repr();
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut out).unwrap();
    let RtcpPacket::TransportCc(t2) = one(&out) else {
        panic!()
    };
    assert_eq!(t2.to_repr(), r);
    // From arrival times: 64 ms reference, 1 ms and a lost packet.
    let r = TransportCcRepr::from_arrivals(
        1,
        2,
        65535,
        0,
        &[Some(64_000), None, Some(65_000), Some(1_000)],
    )
    .unwrap();
    assert_eq!(r.reference_time, 1);
    assert_eq!(r.packets[0].delta, 0);
    assert_eq!(r.packets[2].delta, 4);
    assert_eq!(
        r.packets[3],
        TwccPacket {
            sequence_number: 2,
            status: TwccStatus::LargeDelta,
            delta: -256
        }
    );
}

#[test]
fn rfc3611_xr_rrtr_dlrr() {
    let b = [
        0x80, 0xcf, 0x00, 0x08, 0, 0, 0, 1, // XR, SSRC 1
        0x04, 0x00, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, // RRTR
        0x05, 0x00, 0x00, 0x03, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, // DLRR
    ];
    let RtcpPacket::ExtendedReport(x) = one(&b) else {
        panic!()
    };
    let blocks: Vec<_> = x.blocks().collect();
    assert_eq!(
        blocks[0],
        XrBlock::Rrtr {
            ntp_time: 0x0102_0304_0506_0708
        }
    );
    assert_eq!(
        blocks[1].dlrr().collect::<Vec<_>>(),
        vec![DlrrSubBlock {
            ssrc: 2,
            last_rr: 3,
            delay_since_last_rr: 4
        }]
    );
    let mut out = [0u8; 36];
    x.to_repr().emit(&mut out).unwrap();
    assert_eq!(out, b);
}

#[test]
fn rfc5506_reduced_size() {
    let pli = [0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2];
    assert_eq!(
        check_compound(&pli, false),
        Err(Error::Malformed("compound RTCP must start with SR or RR"))
    );
    check_compound(&pli, true).unwrap();
}

#[test]
fn app_packet() {
    let b = [
        0x85, 0xcc, 0x00, 0x03, 0, 0, 0, 1, b'T', b'E', b'S', b'T', 1, 2, 3, 4,
    ];
    let RtcpPacket::App(a) = one(&b) else {
        panic!()
    };
    assert_eq!(
        (a.subtype(), a.ssrc(), &a.name(), a.data()),
        (5, 1, b"TEST", &[1u8, 2, 3, 4][..])
    );
}

#[test]
fn malformed_rtcp_typed_errors() {
    let e = |b: &[u8]| CompoundIter::new(b).find_map(Result::err).unwrap();
    assert_eq!(e(&[0x81, 0xc8]), Error::Truncated("RTCP header"));
    assert_eq!(e(&[0x41, 0xc8, 0, 0]), Error::BadVersion(1));
    assert_eq!(
        e(&[0x81, 0xc8, 0, 6, 0, 0, 0, 0]),
        Error::Truncated("RTCP packet")
    );
    assert_eq!(
        e(&[0x81, 0xc9, 0, 1, 0, 0, 0, 0]),
        Error::Truncated("receiver report")
    );
    assert_eq!(e(&[0xa0, 0xc9, 0, 1, 0, 0, 0, 9]), Error::BadPadding);
    assert_eq!(
        e(&[0x81, 0xca, 0, 2, 0, 0, 0, 1, 1, 9, 0, 0]),
        Error::Truncated("SDES item")
    );
    assert_eq!(
        e(&[0x81, 0xcd, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]),
        Error::Truncated("generic NACK")
    );
    // TWCC announcing 100 packets with no chunks.
    assert_eq!(
        e(&[0x8f, 0xcd, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 100, 0, 0, 0, 0]),
        Error::Truncated("transport-wide CC chunks")
    );
    // Reserved status 3.
    assert_eq!(
        e(&[0x8f, 0xcd, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 1, 0, 0]),
        Error::Malformed("reserved TWCC packet status")
    );
    assert_eq!(
        e(&[0x80, 0xcf, 0, 2, 0, 0, 0, 1, 4, 0, 0, 1]),
        Error::Truncated("XR block")
    );
    // Padding before the last packet of a compound.
    let mut c = vec![0xa0, 0xc9, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4];
    c.extend_from_slice(&[0x80, 0xc9, 0, 1, 0, 0, 0, 1]);
    assert_eq!(
        check_compound(&c, false),
        Err(Error::Malformed(
            "padding on the first of several RTCP packets"
        ))
    );
    assert!(CompoundIter::new(&c).all(|p| p.is_ok()));
}

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -(1i32 << 23)..(1 << 23),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(ssrc, f, c, e, j, l, d)| ReportBlock {
            ssrc,
            fraction_lost: f,
            cumulative_lost: c,
            extended_highest_sequence: e,
            jitter: j,
            last_sr: l,
            delay_since_last_sr: d,
        })
}

fn twcc_packets() -> impl Strategy<Value = (u16, Vec<(u8, i16)>)> {
    (
        any::<u16>(),
        proptest::collection::vec((0u8..3, any::<i16>()), 0..300),
    )
}

fn repr() -> impl Strategy<Value = RtcpRepr> {
    let bytes = |n| proptest::collection::vec(any::<u8>(), 0..n);
    prop_oneof![
        (
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(block(), 0..4)
        )
            .prop_map(
                |(ssrc, ntp_time, rtp_time, packet_count, octet_count, reports)| {
                    RtcpRepr::SenderReport(SenderReportRepr {
                        ssrc,
                        ntp_time,
                        rtp_time,
                        packet_count,
                        octet_count,
                        reports,
                    })
                }
            ),
        (any::<u32>(), proptest::collection::vec(block(), 0..4)).prop_map(|(ssrc, reports)| {
            RtcpRepr::ReceiverReport(ReceiverReportRepr { ssrc, reports })
        }),
        proptest::collection::vec(
            (
                any::<u32>(),
                proptest::collection::vec((1u8..=255, bytes(30)), 0..4)
            )
                .prop_map(|(ssrc, items)| SdesChunkRepr { ssrc, items }),
            0..4
        )
        .prop_map(|chunks| RtcpRepr::Sdes(SdesRepr { chunks })),
        (
            proptest::collection::vec(any::<u32>(), 0..5),
            proptest::option::of(bytes(40))
        )
            .prop_map(|(ssrcs, reason)| RtcpRepr::Bye(ByeRepr { ssrcs, reason })),
        (
            0u8..32,
            any::<u32>(),
            any::<[u8; 4]>(),
            proptest::collection::vec(any::<[u8; 4]>(), 0..4)
        )
            .prop_map(|(subtype, ssrc, name, d)| RtcpRepr::App(AppRepr {
                subtype,
                ssrc,
                name,
                data: d.concat()
            })),
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<(u16, u16)>(), 1..6)
        )
            .prop_map(|(s, m, p)| {
                RtcpRepr::Nack(NackRepr {
                    sender_ssrc: s,
                    media_ssrc: m,
                    pairs: p
                        .into_iter()
                        .map(|(packet_id, lost_bitmask)| NackPair {
                            packet_id,
                            lost_bitmask,
                        })
                        .collect(),
                })
            }),
        (any::<u32>(), any::<u32>()).prop_map(|(sender_ssrc, media_ssrc)| RtcpRepr::Pli(PliRepr {
            sender_ssrc,
            media_ssrc
        })),
        (
            any::<u32>(),
            proptest::collection::vec(any::<(u32, u8)>(), 1..4)
        )
            .prop_map(|(s, e)| RtcpRepr::Fir(FirRepr {
                sender_ssrc: s,
                entries: e
                    .into_iter()
                    .map(|(ssrc, sequence_number)| FirEntry {
                        ssrc,
                        sequence_number
                    })
                    .collect()
            })),
        (
            any::<u32>(),
            0u64..(1 << 18),
            0u32..40,
            proptest::collection::vec(any::<u32>(), 0..4)
        )
            .prop_map(|(sender_ssrc, m, e, ssrcs)| RtcpRepr::Remb(RembRepr {
                sender_ssrc,
                bitrate: m << e,
                ssrcs
            })),
        (
            any::<u32>(),
            any::<u32>(),
            twcc_packets(),
            -(1i32 << 23)..(1 << 23),
            any::<u8>()
        )
            .prop_map(|(s, m, (base, st), reference_time, fb)| {
                let packets = st
                    .iter()
                    .enumerate()
                    .map(|(i, (k, d))| {
                        let sequence_number = base.wrapping_add(i as u16);
                        match k {
                            0 => TwccPacket {
                                sequence_number,
                                status: TwccStatus::NotReceived,
                                delta: 0,
                            },
                            1 => TwccPacket {
                                sequence_number,
                                status: TwccStatus::SmallDelta,
                                delta: d.rem_euclid(256),
                            },
                            _ => TwccPacket {
                                sequence_number,
                                status: TwccStatus::LargeDelta,
                                delta: *d,
                            },
                        }
                    })
                    .collect();
                RtcpRepr::TransportCc(TransportCcRepr {
                    sender_ssrc: s,
                    media_ssrc: m,
                    base_sequence_number: base,
                    reference_time,
                    fb_pkt_count: fb,
                    packets,
                })
            }),
        (
            any::<u32>(),
            proptest::collection::vec(
                prop_oneof![
                    any::<u64>().prop_map(|ntp_time| XrBlockRepr::Rrtr { ntp_time }),
                    proptest::collection::vec(any::<(u32, u32, u32)>(), 0..3).prop_map(|v| {
                        XrBlockRepr::Dlrr(
                            v.into_iter()
                                .map(|(ssrc, last_rr, delay_since_last_rr)| DlrrSubBlock {
                                    ssrc,
                                    last_rr,
                                    delay_since_last_rr,
                                })
                                .collect(),
                        )
                    }),
                    (
                        10u8..=255,
                        any::<u8>(),
                        proptest::collection::vec(any::<[u8; 4]>(), 0..3)
                    )
                        .prop_map(|(block_type, type_specific, d)| {
                            XrBlockRepr::Unknown {
                                block_type,
                                type_specific,
                                data: d.concat(),
                            }
                        }),
                ],
                0..4
            )
        )
            .prop_map(|(ssrc, blocks)| RtcpRepr::ExtendedReport(XrRepr { ssrc, blocks })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn every_rtcp_type_round_trips(reprs in proptest::collection::vec(repr(), 1..5)) {
        let len: usize = reprs.iter().map(RtcpRepr::buffer_len).sum();
        let mut buf = vec![0u8; len];
        let n = write_compound(&reprs, &mut buf).unwrap();
        prop_assert_eq!(n, len);
        let parsed: Vec<_> = CompoundIter::new(&buf).map(|p| RtcpRepr::parse(&p.unwrap()).unwrap()).collect();
        let mut expected = reprs.clone();
        for r in &mut expected {
            if let RtcpRepr::Remb(r) = r {
                let (e, m) = RembRepr::encode_bitrate(r.bitrate);
                r.bitrate = u64::from(m) << e;
            }
        }
        prop_assert_eq!(parsed, expected);
        check_compound(&buf, true).unwrap();
    }

    #[test]
    fn compound_iter_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        for p in CompoundIter::new(&data).flatten() {
            let _ = RtcpRepr::parse(&p);
        }
    }
}
