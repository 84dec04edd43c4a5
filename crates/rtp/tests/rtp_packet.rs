//! RTP packets (RFC 3550 §5.1) and header extensions (RFC 8285 §4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_rtp::extension::*;
use fulmar_rtp::{Error, HeaderExtension, HeaderExtensionElement, RtpPacket, RtpRepr};
use proptest::prelude::*;

/// RFC 3550 §5.1 layout with one CSRC, an RFC 8285 §4.2 one-byte extension
/// (ID 1 with L=0, ID 2 with L=1, one padding octet) and 4 octets of padding.
const PACKET: [u8; 36] = [
    0xb1, 0xe0, 0x12, 0x34, // V=2 P=1 X=1 CC=1, M=1 PT=96, seq 0x1234
    0x00, 0x00, 0x0b, 0xb8, // timestamp 3000
    0xca, 0xfe, 0xba, 0xbe, // SSRC
    0x01, 0x02, 0x03, 0x04, // CSRC
    0xbe, 0xde, 0x00, 0x02, // profile 0xBEDE, length 2 words
    0x10, 0xaa, 0x21, 0xbb, // ID=1 L=0 [aa], ID=2 L=1 [bb cc]
    0xcc, 0x00, 0x00, 0x00, // ... padding
    0xde, 0xad, 0xbe, 0xef, // payload
    0x00, 0x00, 0x00, 0x04, // padding, count 4
];

#[test]
fn rfc3550_5_1_parse_fields() {
    let p = RtpPacket::new_checked(&PACKET[..]).unwrap();
    assert_eq!(p.version(), 2);
    assert!(p.has_padding() && p.has_extension() && p.marker());
    assert_eq!(p.csrc_count(), 1);
    assert_eq!(p.payload_type(), 96);
    assert_eq!(p.sequence_number(), 0x1234);
    assert_eq!(p.timestamp(), 3000);
    assert_eq!(p.ssrc(), 0xcafe_babe);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![0x0102_0304]);
    assert_eq!(p.extension_profile(), Some(0xbede));
    assert_eq!(p.header_len(), 28);
    assert_eq!(p.padding_len(), 4);
    assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    let els: Vec<_> = p.extensions().map(|e| e.unwrap()).collect();
    assert_eq!(
        els,
        vec![
            HeaderExtensionElement {
                id: 1,
                data: &[0xaa]
            },
            HeaderExtensionElement {
                id: 2,
                data: &[0xbb, 0xcc]
            }
        ]
    );
    assert_eq!(p.extension(2), Some(&[0xbb, 0xcc][..]));
    assert_eq!(p.extension(3), None);
}

#[test]
fn rfc3550_5_1_build_byte_exact() {
    let els = [
        HeaderExtensionElement {
            id: 1,
            data: &[0xaa],
        },
        HeaderExtensionElement {
            id: 2,
            data: &[0xbb, 0xcc],
        },
    ];
    let repr = RtpRepr {
        marker: true,
        payload_type: 96,
        sequence_number: 0x1234,
        timestamp: 3000,
        ssrc: 0xcafe_babe,
        csrcs: &[0x0102_0304],
        extension: HeaderExtension::Elements(&els),
        payload: &[0xde, 0xad, 0xbe, 0xef],
        padding_len: 4,
    };
    let mut buf = [0u8; 64];
    let n = repr.emit(&mut buf).unwrap();
    assert_eq!(&buf[..n], &PACKET[..]);
    // Parsing and re-emitting the raw form is lossless.
    let p = RtpPacket::new_checked(&buf[..n]).unwrap();
    let mut csrcs = [0; 15];
    let parsed = RtpRepr::parse(&p, &mut csrcs);
    let mut out = [0u8; 64];
    let m = parsed.emit(&mut out).unwrap();
    assert_eq!(&out[..m], &PACKET[..]);
}

#[test]
fn rfc8285_4_3_two_byte_form() {
    // Two-byte form: ID 1 with 0 bytes, ID 20 with 3 bytes, a padding octet.
    let data = [0x01, 0x00, 0x14, 0x03, 1, 2, 3, 0x00];
    let it = ExtensionIter::new(0x1000, &data);
    let els: Vec<_> = it.map(|e| e.unwrap()).collect();
    assert_eq!(els.len(), 2);
    assert_eq!(els[0], HeaderExtensionElement { id: 1, data: &[] });
    assert_eq!(
        els[1],
        HeaderExtensionElement {
            id: 20,
            data: &[1, 2, 3]
        }
    );
    // An element that does not fit the one-byte form selects the two-byte form.
    let long = [7u8; 17];
    let e = [HeaderExtensionElement { id: 3, data: &long }];
    assert_eq!(ExtensionProfile::choose(&e), ExtensionProfile::TwoByte);
    let repr = RtpRepr {
        extension: HeaderExtension::Elements(&e),
        ..Default::default()
    };
    let mut buf = [0u8; 64];
    let n = repr.emit(&mut buf).unwrap();
    let p = RtpPacket::new_checked(&buf[..n]).unwrap();
    assert_eq!(p.extension_profile(), Some(0x1000));
    assert_eq!(p.extension(3), Some(&long[..]));
}

#[test]
fn rfc8285_id15_stops_processing() {
    let data = [0x10, 0xaa, 0xf0, 0x20, 0xbb];
    let els: Vec<_> = ExtensionIter::new(0xbede, &data).collect();
    assert_eq!(
        els,
        vec![Ok(HeaderExtensionElement {
            id: 1,
            data: &[0xaa]
        })]
    );
}

#[test]
fn malformed_packets_give_typed_errors() {
    assert_eq!(
        RtpPacket::new_checked(&[0x80u8; 11][..]).unwrap_err(),
        Error::Truncated("RTP fixed header")
    );
    let mut v1 = PACKET;
    v1[0] = 0x71;
    assert_eq!(
        RtpPacket::new_checked(&v1[..]).unwrap_err(),
        Error::BadVersion(1)
    );
    let mut cc = [0u8; 12];
    cc[0] = 0x8f;
    assert_eq!(
        RtpPacket::new_checked(&cc[..]).unwrap_err(),
        Error::Truncated("RTP CSRC list")
    );
    let mut ext = PACKET;
    ext[19] = 0x40;
    assert_eq!(
        RtpPacket::new_checked(&ext[..]).unwrap_err(),
        Error::Truncated("RTP header extension")
    );
    let mut pad = PACKET;
    pad[35] = 0;
    assert_eq!(
        RtpPacket::new_checked(&pad[..]).unwrap_err(),
        Error::BadPadding
    );
    pad[35] = 9;
    assert_eq!(
        RtpPacket::new_checked(&pad[..]).unwrap_err(),
        Error::BadPadding
    );
    // Extension element running past the data.
    let bad = [0x1f, 0xaa];
    let r: Vec<_> = ExtensionIter::new(0xbede, &bad).collect();
    assert_eq!(r, vec![Err(Error::BadExtension)]);
    // Output buffer too small.
    let repr = RtpRepr {
        payload: &[1, 2, 3],
        ..Default::default()
    };
    assert_eq!(
        repr.emit(&mut [0u8; 14]).unwrap_err(),
        Error::BufferTooSmall { needed: 15 }
    );
}

#[test]
fn setters_write_in_place() {
    let mut buf = PACKET;
    let mut p = RtpPacket::new_checked(&mut buf[..]).unwrap();
    p.set_sequence_number(9);
    p.set_timestamp(10);
    p.set_ssrc(11);
    p.set_marker(false);
    p.set_payload_type(111);
    p.payload_mut()[0] = 0x55;
    assert_eq!((p.sequence_number(), p.timestamp(), p.ssrc()), (9, 10, 11));
    assert!(!p.marker());
    assert_eq!(p.payload_type(), 111);
    assert_eq!(p.payload()[0], 0x55);
}

#[test]
fn typed_extensions_round_trip() {
    fn rt<'a, T: ExtensionValue<'a> + PartialEq + core::fmt::Debug>(v: T, buf: &'a mut [u8]) {
        let n = v.write(buf).unwrap();
        assert_eq!(n, v.wire_len());
        assert_eq!(T::parse(&buf[..n]).unwrap(), v);
    }
    rt(SdesMid("0"), &mut [0; 16]);
    rt(RtpStreamId("hi"), &mut [0; 16]);
    rt(RepairedRtpStreamId("lo"), &mut [0; 16]);
    rt(AbsSendTime(0x12_3456), &mut [0; 16]);
    rt(TransportSequenceNumber(0xbeef), &mut [0; 16]);
    rt(
        AudioLevel {
            voice_activity: true,
            level: 127,
        },
        &mut [0; 16],
    );
    rt(
        VideoOrientation {
            back_camera: true,
            flip: false,
            rotation: 3,
        },
        &mut [0; 16],
    );
    rt(
        PlayoutDelay {
            min: 0xabc,
            max: 0x123,
        },
        &mut [0; 16],
    );
    rt(
        AbsCaptureTime {
            absolute_capture_timestamp: 1 << 40,
            estimated_capture_clock_offset: None,
        },
        &mut [0; 16],
    );
    rt(
        AbsCaptureTime {
            absolute_capture_timestamp: 5,
            estimated_capture_clock_offset: Some(-3),
        },
        &mut [0; 16],
    );
    // Byte-exact forms.
    let mut b = [0u8; 3];
    PlayoutDelay {
        min: 0x001,
        max: 0x002,
    }
    .write(&mut b)
    .unwrap();
    assert_eq!(b, [0x00, 0x10, 0x02]);
    let mut a = [0u8; 1];
    AudioLevel {
        voice_activity: true,
        level: 0x21,
    }
    .write(&mut a)
    .unwrap();
    assert_eq!(a, [0xa1]);
    assert_eq!(VideoOrientation::parse(&[0x0b]).unwrap().degrees(), 270);
    assert_eq!(AbsSendTime::from_ntp(0x0000_0001_8000_0000).0, 0x06_0000);
    assert!(AbsSendTime::parse(&[1, 2]).is_err());
    assert!(SdesMid::parse(&[0xff]).is_err());
    assert!(AbsCaptureTime::parse(&[0; 9]).is_err());
}

fn element() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (1u8..=255, proptest::collection::vec(any::<u8>(), 0..20))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn rtp_round_trip(
        marker: bool, pt in 0u8..128, seq: u16, ts: u32, ssrc: u32,
        csrcs in proptest::collection::vec(any::<u32>(), 0..=15),
        els in proptest::collection::vec(element(), 0..6),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        padding_len in 0u8..=255,
    ) {
        let elements: Vec<_> = els.iter().map(|(id, d)| HeaderExtensionElement { id: *id, data: d }).collect();
        let extension = if elements.is_empty() { HeaderExtension::None } else { HeaderExtension::Elements(&elements) };
        let repr = RtpRepr { marker, payload_type: pt, sequence_number: seq, timestamp: ts, ssrc,
            csrcs: &csrcs, extension, payload: &payload, padding_len };
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf).unwrap();
        prop_assert_eq!(n, buf.len());
        let p = RtpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(p.marker(), marker);
        prop_assert_eq!(p.payload_type(), pt);
        prop_assert_eq!(p.sequence_number(), seq);
        prop_assert_eq!(p.timestamp(), ts);
        prop_assert_eq!(p.ssrc(), ssrc);
        prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs.clone());
        prop_assert_eq!(p.payload(), &payload[..]);
        prop_assert_eq!(p.padding_len(), usize::from(padding_len));
        let parsed: Vec<_> = p.extensions().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&parsed, &elements);
        // The direct lookup agrees with the iterator (first element with an id wins).
        for id in 1u8..=255 {
            let want = parsed.iter().find(|e| e.id == id).map(|e| e.data);
            prop_assert_eq!(p.extension(id), want);
        }
        // write(parse(b)) == b
        let mut cs = [0; 15];
        let again = RtpRepr::parse(&p, &mut cs);
        let mut out = vec![0u8; again.buffer_len()];
        again.emit(&mut out).unwrap();
        prop_assert_eq!(out, buf.clone());
    }

    #[test]
    fn rtp_parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
        if let Ok(p) = RtpPacket::new_checked(&data[..]) {
            let _ = p.payload();
            let _ = p.extensions().count();
        }
    }
}
