//! RTP parse with header-extension lookup and RTCP compound parse,
//! fulmar-rtp beside webrtc-rs `rtc-rtp` / `rtc-rtcp` 0.21 on the same bytes.
//!
//! - RTP: a 1200-byte-payload packet with four one-byte extensions (mid,
//!   abs-send-time, transport-wide sequence number, audio level); each
//!   iteration parses it and looks up the transport-wide sequence number and
//!   the mid. `rtc-rtp` is given a `Bytes` (cheap clone), its best case.
//! - RTCP: a compound of SR (2 report blocks), SDES CNAME, REMB, generic
//!   NACK and transport-wide CC feedback (40 packets); each iteration
//!   parses every packet and reads its main fields.
//!
//! Run: `cd benches && cargo bench --bench rtp`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fulmar_rtp::rtcp::{
    write_compound, CompoundIter, NackRepr, RembRepr, ReportBlock, RtcpPacket, RtcpRepr,
    SdesChunkRepr, SdesRepr, SenderReportRepr, TransportCcRepr,
};
use fulmar_rtp::{HeaderExtension, HeaderExtensionElement, RtpPacket, RtpRepr};
use rtc_shared::marshal::Unmarshal;
use std::hint::black_box;

fn rtp_bytes() -> Vec<u8> {
    let payload: Vec<u8> = (0..1200).map(|i| i as u8).collect();
    let els = [
        HeaderExtensionElement { id: 1, data: b"0" },
        HeaderExtensionElement {
            id: 2,
            data: &[0x12, 0x34, 0x56],
        },
        HeaderExtensionElement {
            id: 3,
            data: &[0x01, 0x02],
        },
        HeaderExtensionElement {
            id: 4,
            data: &[0x9e],
        },
    ];
    let repr = RtpRepr {
        marker: true,
        payload_type: 96,
        sequence_number: 4242,
        timestamp: 90_000,
        ssrc: 0x1234_5678,
        extension: HeaderExtension::Elements(&els),
        payload: &payload,
        ..Default::default()
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut buf).expect("emit");
    buf
}

fn rtcp_bytes() -> Vec<u8> {
    let block = |ssrc| ReportBlock {
        ssrc,
        fraction_lost: 3,
        cumulative_lost: 10,
        extended_highest_sequence: 70_000,
        jitter: 30,
        last_sr: 1,
        delay_since_last_sr: 2,
    };
    let arrivals: Vec<Option<i64>> = (0..40)
        .map(|i| {
            if i % 7 == 3 {
                None
            } else {
                Some(1_000_000 + i * 5_000)
            }
        })
        .collect();
    let reprs = vec![
        RtcpRepr::SenderReport(SenderReportRepr {
            ssrc: 1,
            ntp_time: 0xe800_0000_8000_0000,
            rtp_time: 90_000,
            packet_count: 100,
            octet_count: 120_000,
            reports: vec![block(2), block(3)],
        }),
        RtcpRepr::Sdes(SdesRepr {
            chunks: vec![SdesChunkRepr {
                ssrc: 1,
                items: vec![(1, b"fulmar-bench-cname".to_vec())],
            }],
        }),
        RtcpRepr::Remb(RembRepr {
            sender_ssrc: 1,
            bitrate: 2_500_000,
            ssrcs: vec![2, 3],
        }),
        RtcpRepr::Nack(NackRepr::from_lost(1, 2, [100, 101, 105, 140])),
        RtcpRepr::TransportCc(
            TransportCcRepr::from_arrivals(1, 2, 500, 7, &arrivals).expect("twcc"),
        ),
    ];
    let mut buf = vec![0u8; reprs.iter().map(RtcpRepr::buffer_len).sum()];
    write_compound(&reprs, &mut buf).expect("compound");
    buf
}

fn rtp_parse(c: &mut Criterion) {
    let raw = rtp_bytes();
    let bytes = bytes::Bytes::from(raw.clone());
    let mut g = c.benchmark_group("rtp_parse_ext_lookup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("fulmar-rtp", |b| {
        b.iter(|| {
            let p = RtpPacket::new_checked(black_box(&raw[..])).expect("parse");
            let twcc = p.extension(3).map_or(0, |d| d.len());
            let mid = p.extension(1).map_or(0, |d| d.len());
            black_box((p.sequence_number(), p.payload().len(), twcc, mid))
        })
    });
    g.bench_function("rtc-rtp", |b| {
        b.iter(|| {
            let mut buf = black_box(bytes.clone());
            let p = rtc_rtp::packet::Packet::unmarshal(&mut buf).expect("parse");
            let twcc = p.header.get_extension(3).map_or(0, |d| d.len());
            let mid = p.header.get_extension(1).map_or(0, |d| d.len());
            black_box((p.header.sequence_number, p.payload.len(), twcc, mid))
        })
    });
    g.finish();
}

fn rtcp_parse(c: &mut Criterion) {
    let raw = rtcp_bytes();
    let bytes = bytes::Bytes::from(raw.clone());
    let mut g = c.benchmark_group("rtcp_compound_parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("fulmar-rtp", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for p in CompoundIter::new(black_box(&raw[..])) {
                match p.expect("parse") {
                    RtcpPacket::SenderReport(sr) => {
                        acc += sr.reports().map(|r| u64::from(r.jitter)).sum::<u64>()
                    }
                    RtcpPacket::Sdes(s) => {
                        acc += s
                            .chunks()
                            .flat_map(|c| c.items())
                            .map(|i| i.value.len() as u64)
                            .sum::<u64>()
                    }
                    RtcpPacket::Remb(r) => acc += r.bitrate(),
                    RtcpPacket::Nack(n) => acc += n.lost().count() as u64,
                    RtcpPacket::TransportCc(t) => {
                        acc += t.packets().map(|p| p.delta as u64).sum::<u64>()
                    }
                    _ => {}
                }
            }
            black_box(acc)
        })
    });
    g.bench_function("rtc-rtcp", |b| {
        b.iter(|| {
            let mut buf = black_box(bytes.clone());
            let pkts = rtc_rtcp::packet::unmarshal(&mut buf).expect("parse");
            black_box(pkts.len())
        })
    });
    g.finish();
}

criterion_group!(benches, rtp_parse, rtcp_parse);
criterion_main!(benches);
