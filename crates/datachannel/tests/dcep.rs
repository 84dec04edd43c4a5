//! DCEP message codec (RFC 8832 §5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_datachannel::dcep::{channel_type, MESSAGE_TYPE_ACK};
use fulmar_datachannel::*;
use proptest::prelude::*;

/// RFC 8832 §5.1 layout of DATA_CHANNEL_OPEN, byte by byte.
#[test]
fn open_layout_rfc8832_5_1() {
    let o = Open {
        ordered: false,
        reliability: Reliability::MaxLifetimeMs(3000),
        priority: 256,
        label: b"chat",
        protocol: b"p",
    };
    let mut out = Vec::new();
    DcepMessage::Open(o).emit(&mut out).unwrap();
    assert_eq!(
        out,
        [0x03, 0x82, 0x01, 0x00, 0, 0, 0x0B, 0xB8, 0, 4, 0, 1, b'c', b'h', b'a', b't', b'p']
    );
    assert_eq!(
        o.channel_type(),
        channel_type::PARTIAL_RELIABLE_TIMED_UNORDERED
    );
    assert_eq!(DcepMessage::parse(&out).unwrap(), DcepMessage::Open(o));
}

/// RFC 8832 §5.2: DATA_CHANNEL_ACK is one byte.
#[test]
fn ack_layout_rfc8832_5_2() {
    let mut out = Vec::new();
    DcepMessage::Ack.emit(&mut out).unwrap();
    assert_eq!(out, [MESSAGE_TYPE_ACK]);
    assert_eq!(DcepMessage::parse(&[0x02]).unwrap(), DcepMessage::Ack);
}

#[test]
fn malformed_dcep() {
    assert!(matches!(DcepMessage::parse(&[]), Err(Error::Malformed(_))));
    assert!(matches!(
        DcepMessage::parse(&[0x09]),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        DcepMessage::parse(&[0x03, 0, 0, 0]),
        Err(Error::Malformed(_))
    ));
    // Label length past the end.
    assert!(matches!(
        DcepMessage::parse(&[0x03, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, b'a']),
        Err(Error::Malformed(_))
    ));
    // Unknown channel type.
    assert!(matches!(
        DcepMessage::parse(&[0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(Error::Malformed(_))
    ));
    let long = vec![b'x'; 70_000];
    let o = Open {
        ordered: true,
        reliability: Reliability::Reliable,
        priority: 0,
        label: &long,
        protocol: b"",
    };
    assert_eq!(
        DcepMessage::Open(o).emit(&mut Vec::new()),
        Err(Error::LabelTooLong)
    );
}

proptest! {
    #[test]
    fn open_roundtrip(ordered: bool, kind in 0u8..3, param: u32, priority: u16,
                      label in prop::collection::vec(any::<u8>(), 0..40),
                      protocol in prop::collection::vec(any::<u8>(), 0..40)) {
        let reliability = match kind {
            0 => Reliability::Reliable,
            1 => Reliability::MaxRetransmits(param),
            _ => Reliability::MaxLifetimeMs(param),
        };
        let o = Open { ordered, reliability, priority, label: &label, protocol: &protocol };
        let mut out = Vec::new();
        DcepMessage::Open(o).emit(&mut out).unwrap();
        prop_assert_eq!(out.len(), o.encoded_len());
        prop_assert_eq!(DcepMessage::parse(&out).unwrap(), DcepMessage::Open(o));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(m) = DcepMessage::parse(&data) {
            let mut out = Vec::new();
            m.emit(&mut out).unwrap();
            prop_assert_eq!(DcepMessage::parse(&out).unwrap(), m);
        }
    }
}
