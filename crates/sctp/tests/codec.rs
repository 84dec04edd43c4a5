//! Codec tests: CRC32c vectors, round trips, unknown types and malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sctp::chunk::{chunk_type, emit_data, DATA_FLAG_B, DATA_FLAG_E};
use fulmar_sctp::param::{cause_code, reconfig_result};
use fulmar_sctp::*;
use proptest::prelude::*;

/// RFC 3720 Appendix B.4 CRC32c vectors (the same CRC as RFC 9260 Appendix A).
#[test]
fn crc32c_rfc3720_b4_vectors() {
    assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c::crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    let inc: Vec<u8> = (0u8..32).collect();
    assert_eq!(crc32c::crc32c(&inc), 0x46DD_794E);
    // Cross-check with the `crc` crate's CRC-32/ISCSI.
    let c = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    assert_eq!(c.checksum(&inc), 0x46DD_794E);
}

/// RFC 9260 Appendix A: the CRC is computed with the checksum field zeroed
/// and stored least significant byte first.
#[test]
fn checksum_placement_and_zero_checksum() {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, 7);
    w.push(&Chunk::CookieAck);
    w.finish(false);
    let mut zeroed = buf.clone();
    zeroed[8..12].fill(0);
    let crc = crc32c::crc32c(&zeroed);
    assert_eq!(&buf[8..12], &crc.to_le_bytes());
    let p = Packet::parse(&buf).unwrap();
    assert_eq!(p.verify_checksum(false), Ok(()));
    // Corrupt one bit.
    let mut bad = buf.clone();
    bad[13] ^= 1;
    assert_eq!(
        Packet::parse(&bad).unwrap().verify_checksum(true),
        Err(Error::BadChecksum)
    );
    // Zero checksum (RFC 9653) passes only when accepted.
    let mut z2 = Vec::new();
    let mut w = PacketWriter::new(&mut z2, 5000, 5000, 7);
    w.push(&Chunk::CookieAck);
    w.finish(true);
    let p = Packet::parse(&z2).unwrap();
    assert_eq!(p.checksum(), 0);
    assert_eq!(p.verify_checksum(true), Ok(()));
    assert_eq!(p.verify_checksum(false), Err(Error::BadChecksum));
}

/// RFC 9260 §3.3.1: a DATA chunk laid out byte by byte.
#[test]
fn data_chunk_layout() {
    let mut out = Vec::new();
    emit_data(
        &mut out,
        DATA_FLAG_B | DATA_FLAG_E,
        0x0102_0304,
        5,
        6,
        51,
        b"hello",
    );
    assert_eq!(
        out,
        [0, 3, 0, 21, 1, 2, 3, 4, 0, 5, 0, 6, 0, 0, 0, 51, b'h', b'e', b'l', b'l', b'o', 0, 0, 0]
    );
    let (c, used) = Chunk::parse(&out).unwrap();
    assert_eq!(used, 24);
    let Chunk::Data(d) = c else { panic!() };
    assert!(d.beginning() && d.ending() && !d.unordered());
    assert_eq!(
        (d.tsn, d.stream, d.ssn, d.ppid, d.payload),
        (0x0102_0304, 5, 6, 51, &b"hello"[..])
    );
}

/// RFC 9260 §3.2.1: the chunk length counts padding of every parameter but the last.
#[test]
fn init_length_excludes_last_param_padding() {
    let params = [
        Param::StateCookie(b"abc"),
        Param::Unknown {
            kind: 0x8123,
            value: b"x",
        },
    ];
    let c = Chunk::InitAck(Init {
        initiate_tag: 1,
        a_rwnd: 2,
        num_outbound_streams: 3,
        num_inbound_streams: 4,
        initial_tsn: 5,
        params: TlvList::Items(&params),
    });
    let mut out = Vec::new();
    c.emit(&mut out);
    // 4 header + 16 fixed + 8 (cookie padded) + 5 (last param unpadded) = 33.
    assert_eq!(u16::from_be_bytes([out[2], out[3]]), 33);
    assert_eq!(out.len(), 36);
    assert_eq!(Chunk::parse(&out).unwrap().0, c);
}

#[test]
fn unknown_chunk_and_param_actions() {
    assert_eq!(UnknownChunkAction::of(0x3F), UnknownChunkAction::Stop);
    assert_eq!(
        UnknownChunkAction::of(0x40),
        UnknownChunkAction::StopAndReport
    );
    assert_eq!(UnknownChunkAction::of(0x80), UnknownChunkAction::Skip);
    assert_eq!(
        UnknownChunkAction::of(0xC1),
        UnknownChunkAction::SkipAndReport
    );
    assert_eq!(UnknownParamAction::of(0x0123), UnknownParamAction::Stop);
    assert_eq!(
        UnknownParamAction::of(0x4123),
        UnknownParamAction::StopAndReport
    );
    assert_eq!(UnknownParamAction::of(0x8002), UnknownParamAction::Skip);
    assert_eq!(
        UnknownParamAction::of(0xC004),
        UnknownParamAction::SkipAndReport
    );
    let raw = [0xC7, 0x01, 0x00, 0x06, 0xAA, 0xBB, 0, 0];
    let (c, used) = Chunk::parse(&raw).unwrap();
    assert_eq!(used, 8);
    let Chunk::Unknown(u) = c else { panic!() };
    assert_eq!(u.action(), UnknownChunkAction::SkipAndReport);
    assert_eq!(u.raw, &raw[..6]);
    assert_eq!(u.value, &[0xAA, 0xBB]);
}

#[test]
fn malformed_chunks_give_typed_errors() {
    assert_eq!(Packet::parse(&[0; 11]).unwrap_err(), Error::PacketTooShort);
    assert!(matches!(
        Chunk::parse(&[0, 0, 0]),
        Err(Error::ChunkTruncated { .. })
    ));
    assert!(matches!(
        Chunk::parse(&[1, 0, 0, 3]),
        Err(Error::InvalidChunkLength { length: 3, .. })
    ));
    // Length past the end of the packet.
    assert!(matches!(
        Chunk::parse(&[11, 0, 0, 40, 0, 0]),
        Err(Error::ChunkTruncated {
            needed: 40,
            available: 6
        })
    ));
    // DATA without user data (RFC 9260 §3.3.1).
    let mut d = vec![0, 3, 0, 16];
    d.extend_from_slice(&[0; 12]);
    assert_eq!(Chunk::parse(&d).unwrap_err(), Error::EmptyData);
    // SACK whose counts do not match its length.
    let sack = [3, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 9, 0, 5, 0, 0];
    assert!(matches!(
        Chunk::parse(&sack),
        Err(Error::InvalidChunkLength { chunk_type: 3, .. })
    ));
    // COOKIE-ACK with a body.
    assert!(Chunk::parse(&[11, 0, 0, 8, 1, 2, 3, 4]).is_err());
    // FORWARD-TSN of odd size.
    assert!(Chunk::parse(&[192, 0, 0, 10, 0, 0, 0, 1, 0, 1, 0, 0]).is_err());
    // A parameter whose length runs past its chunk.
    let init = Chunk::parse(&[
        1, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 7, 0, 99,
    ])
    .unwrap()
    .0;
    let Chunk::Init(i) = init else { panic!() };
    assert!(matches!(
        i.params.iter().next(),
        Some(Err(Error::InvalidParamLength { param_type: 7 }))
    ));
    // A malformed chunk stops the packet iterator after one error.
    let mut pkt = vec![0u8; 12];
    pkt.extend_from_slice(&[11, 0, 0, 4, 3, 0, 0, 99]);
    let p = Packet::parse(&pkt).unwrap();
    let items: Vec<_> = p.chunks().collect();
    assert_eq!(items.len(), 2);
    assert!(items[1].is_err());
    // Zero-Checksum Acceptable with the wrong length.
    let l = TlvList::<Param>::Wire(&[0x80, 0x01, 0, 6, 0, 1, 0, 0]);
    assert!(l.validate().is_err());
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn nonempty(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..max)
}

fn roundtrip(c: &Chunk<'_>) {
    let mut out = Vec::new();
    c.emit(&mut out);
    assert_eq!(out.len(), c.encoded_len());
    assert_eq!(out.len() % 4, 0);
    let (back, used) = Chunk::parse(&out).unwrap();
    assert_eq!(used, out.len());
    assert_eq!(&back, c);
    // write(parse(b)) == b
    let mut again = Vec::new();
    back.emit(&mut again);
    assert_eq!(again, out);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn data_roundtrip(flags in 0u8..16, tsn: u32, stream: u16, ssn: u16, ppid: u32, payload in nonempty(300)) {
        roundtrip(&Chunk::Data(Data { flags, tsn, stream, ssn, ppid, payload: &payload }));
    }

    #[test]
    fn init_roundtrip(tag in 1u32.., a_rwnd: u32, os: u16, mis: u16, tsn: u32, cookie in bytes(64),
                      unk in bytes(9), edmid: u32, ack: bool) {
        let exts = [chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG];
        let params = [
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&exts),
            Param::ZeroChecksumAcceptable(edmid),
            Param::StateCookie(&cookie),
            Param::Ipv4Address([127, 0, 0, 1]),
            Param::SupportedAddressTypes(List::Items(&[5, 6])),
            Param::Unknown { kind: 0x8123, value: &unk },
        ];
        let init = Init { initiate_tag: tag, a_rwnd, num_outbound_streams: os, num_inbound_streams: mis,
                          initial_tsn: tsn, params: TlvList::Items(&params) };
        roundtrip(&if ack { Chunk::InitAck(init) } else { Chunk::Init(init) });
    }

    #[test]
    fn sack_roundtrip(cum: u32, rwnd: u32, gaps in prop::collection::vec((any::<u16>(), any::<u16>()), 0..20),
                      dups in prop::collection::vec(any::<u32>(), 0..20)) {
        let gaps: Vec<GapAckBlock> = gaps.into_iter().map(|(start, end)| GapAckBlock { start, end }).collect();
        roundtrip(&Chunk::Sack(Sack { cumulative_tsn_ack: cum, a_rwnd: rwnd,
            gap_blocks: List::Items(&gaps), duplicate_tsns: List::Items(&dups) }));
    }

    #[test]
    fn control_roundtrip(info in bytes(40), t: bool, cum: u32, cause in bytes(13)) {
        roundtrip(&Chunk::Heartbeat { info: &info });
        roundtrip(&Chunk::HeartbeatAck { info: &info });
        let causes = [ErrorCause { code: cause_code::USER_INITIATED_ABORT, info: &cause },
                      ErrorCause { code: cause_code::PROTOCOL_VIOLATION, info: b"bad" }];
        roundtrip(&Chunk::Abort { t, causes: TlvList::Items(&causes) });
        roundtrip(&Chunk::Error { causes: TlvList::Items(&causes[..1]) });
        roundtrip(&Chunk::Shutdown { cumulative_tsn_ack: cum });
        roundtrip(&Chunk::ShutdownAck);
        roundtrip(&Chunk::ShutdownComplete { t });
        roundtrip(&Chunk::CookieEcho { cookie: &info });
        roundtrip(&Chunk::CookieAck);
    }

    #[test]
    fn forward_tsn_roundtrip(cum: u32, s in prop::collection::vec((any::<u16>(), any::<u16>()), 0..16)) {
        let s: Vec<StreamSsn> = s.into_iter().map(|(stream, ssn)| StreamSsn { stream, ssn }).collect();
        roundtrip(&Chunk::ForwardTsn(ForwardTsn { new_cumulative_tsn: cum, streams: List::Items(&s) }));
    }

    #[test]
    fn reconfig_roundtrip(a: u32, b: u32, c: u32, streams in prop::collection::vec(any::<u16>(), 0..9), n: u16, with_tsns: bool) {
        let params = [
            ReconfigParam::OutgoingSsnResetRequest { request_seq: a, response_seq: b, last_tsn: c, streams: List::Items(&streams) },
            ReconfigParam::IncomingSsnResetRequest { request_seq: a, streams: List::Items(&streams) },
            ReconfigParam::SsnTsnResetRequest { request_seq: b },
            ReconfigParam::Response { response_seq: a, result: reconfig_result::IN_PROGRESS, next_tsns: with_tsns.then_some((b, c)) },
            ReconfigParam::AddOutgoingStreams { request_seq: a, new_streams: n },
            ReconfigParam::AddIncomingStreams { request_seq: c, new_streams: n },
        ];
        for p in params.chunks(2) {
            roundtrip(&Chunk::ReConfig { params: TlvList::Items(p) });
        }
    }

    #[test]
    fn unknown_roundtrip(ty in 64u8.., flags: u8, value in bytes(30)) {
        prop_assume!(ty != chunk_type::RE_CONFIG && ty != chunk_type::FORWARD_TSN);
        let mut out = Vec::new();
        let c = Chunk::Unknown(UnknownChunk { chunk_type: ty, flags, value: &value, raw: &[] });
        c.emit(&mut out);
        let (back, _) = Chunk::parse(&out).unwrap();
        let Chunk::Unknown(u) = back else { panic!() };
        prop_assert_eq!((u.chunk_type, u.flags, u.value), (ty, flags, &value[..]));
    }

    /// Arbitrary bytes never panic the parser, and every chunk it accepts
    /// re-encodes to something that parses to the same chunk.
    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(200)) {
        if let Ok(p) = Packet::parse(&data) {
            let _ = p.verify_checksum(true);
            for c in p.chunks().flatten() {
                if let Chunk::Init(i) | Chunk::InitAck(i) = &c { for _ in i.params.iter() {} }
                let mut out = Vec::new();
                c.emit(&mut out);
                if !matches!(c, Chunk::Unknown(_)) {
                    prop_assert_eq!(&Chunk::parse(&out).unwrap().0, &c);
                }
            }
        }
    }
}

#[test]
fn packet_with_several_chunks() {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5001, 42);
    w.push(&Chunk::Sack(Sack {
        cumulative_tsn_ack: 9,
        a_rwnd: 1000,
        gap_blocks: List::Items(&[GapAckBlock { start: 2, end: 3 }]),
        duplicate_tsns: List::Items(&[7]),
    }));
    emit_data(w.buffer(), DATA_FLAG_B | DATA_FLAG_E, 10, 1, 0, 53, b"x");
    let n = w.finish(false);
    let p = Packet::parse(&buf[..n]).unwrap();
    assert_eq!(
        (p.source_port(), p.destination_port(), p.verification_tag()),
        (5000, 5001, 42)
    );
    p.verify_checksum(false).unwrap();
    let chunks: Vec<_> = p.chunks().map(|c| c.unwrap()).collect();
    assert_eq!(chunks.len(), 2);
    let Chunk::Sack(s) = &chunks[0] else { panic!() };
    assert_eq!(
        s.gap_blocks.iter().collect::<Vec<_>>(),
        vec![GapAckBlock { start: 2, end: 3 }]
    );
    assert_eq!(s.duplicate_tsns.iter().collect::<Vec<_>>(), vec![7]);
}
