//! Malformed input gives a typed error, never a panic (RFC 8489 §5, §6.3, §14).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_stun::attributes::*;
use fulmar_stun::*;

const TID: TransactionId = TransactionId::new([9; 12]);

/// A valid Binding request with USERNAME, PRIORITY, MESSAGE-INTEGRITY and FINGERPRINT.
fn good(key: &IntegrityKey) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add(&Username("a:b"))
        .add(&Priority(7))
        .add_message_integrity(key)
        .add_fingerprint();
    b.finish().unwrap().to_vec()
}

fn set_len(m: &mut [u8], len: u16) {
    m[2..4].copy_from_slice(&len.to_be_bytes());
}

#[test]
fn truncated_header() {
    for n in 0..20 {
        assert_eq!(
            Message::parse(&[0u8; 20][..n]),
            Err(Error::Truncated {
                needed: 20,
                available: n
            })
        );
    }
}

#[test]
fn leading_bits_not_zero() {
    let mut m = good(&IntegrityKey::new(b"k"));
    m[0] |= 0x80;
    assert_eq!(Message::parse(&m), Err(Error::NotStun));
    m[0] = 0x40;
    assert_eq!(Message::parse(&m), Err(Error::NotStun));
}

#[test]
fn bad_magic_cookie() {
    let mut m = good(&IntegrityKey::new(b"k"));
    m[4] = 0x99;
    assert_eq!(Message::parse(&m), Err(Error::BadMagicCookie(0x9912_A442)));
}

#[test]
fn bad_length() {
    let m = good(&IntegrityKey::new(b"k"));
    // Datagram shorter than the length field says.
    assert_eq!(
        Message::parse(&m[..m.len() - 4]),
        Err(Error::LengthMismatch {
            declared: m.len() - 20,
            available: m.len() - 24
        })
    );
    // Datagram longer than the length field says.
    let mut longer = m.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(matches!(
        Message::parse(&longer),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn padding_errors() {
    // A length that is not a multiple of 4 means an attribute lacks its padding.
    let mut m = Vec::from(&good(&IntegrityKey::new(b"k"))[..20]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x03, b'a', b':', b'b']); // USERNAME without padding
    set_len(&mut m, 7);
    assert_eq!(Message::parse(&m), Err(Error::UnalignedLength(7)));
}

#[test]
fn attribute_past_the_end() {
    let mut m = Vec::from(&good(&IntegrityKey::new(b"k"))[..20]);
    // USERNAME claiming 40 bytes in an 8-byte body.
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x28, b'a', b'b', b'c', b'd']);
    set_len(&mut m, 8);
    assert_eq!(
        Message::parse(&m),
        Err(Error::AttributeOverrun {
            attribute: AttributeType::USERNAME,
            offset: 20
        })
    );
    // Value fits exactly but its padding does not.
    let mut m = Vec::from(&m[..20]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x05, b'a', b'b', b'c', b'd']);
    set_len(&mut m, 8);
    assert!(matches!(
        Message::parse(&m),
        Err(Error::AttributeOverrun { .. })
    ));
}

#[test]
fn integrity_not_where_allowed() {
    let key = IntegrityKey::new(b"k");
    let m = good(&key);
    // Swap MESSAGE-INTEGRITY and FINGERPRINT: FINGERPRINT is no longer last.
    let fp_off = m.len() - 8;
    let mi_off = fp_off - 24;
    let mut swapped = Vec::from(&m[..mi_off]);
    swapped.extend_from_slice(&m[fp_off..]);
    swapped.extend_from_slice(&m[mi_off..fp_off]);
    assert_eq!(
        Message::parse(&swapped),
        Err(Error::AttributeAfterFingerprint(
            AttributeType::MESSAGE_INTEGRITY
        ))
    );
    // MESSAGE-INTEGRITY of the wrong size.
    let mut bad = Vec::from(&m[..20]);
    bad.extend_from_slice(&[0x00, 0x08, 0x00, 0x10]);
    bad.extend_from_slice(&[0; 16]);
    set_len(&mut bad, 20);
    assert_eq!(
        Message::parse(&bad),
        Err(Error::InvalidAttribute {
            attribute: AttributeType::MESSAGE_INTEGRITY,
            reason: "must be 20 bytes"
        })
    );
    // MESSAGE-INTEGRITY-SHA256 of a forbidden size (12 bytes).
    let mut bad = Vec::from(&m[..20]);
    bad.extend_from_slice(&[0x00, 0x1C, 0x00, 0x0C]);
    bad.extend_from_slice(&[0; 12]);
    set_len(&mut bad, 16);
    assert!(matches!(
        Message::parse(&bad),
        Err(Error::InvalidAttribute { .. })
    ));
    // Missing integrity altogether.
    let mut buf = [0u8; 64];
    let plain = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID)
        .finish()
        .unwrap()
        .to_vec();
    assert_eq!(
        Message::parse(&plain).unwrap().verify_integrity(&key),
        Err(Error::MissingAttribute(AttributeType::MESSAGE_INTEGRITY))
    );
}

#[test]
fn fingerprint_mismatch() {
    let key = IntegrityKey::new(b"k");
    let mut m = good(&key);
    let n = m.len();
    m[n - 1] ^= 1;
    let msg = Message::parse(&m).unwrap();
    assert_eq!(msg.verify_fingerprint(), Err(Error::FingerprintMismatch));
    // Integrity does not cover FINGERPRINT, so it still verifies.
    msg.verify_integrity(&key).unwrap();
    // A flipped body bit breaks both.
    let mut m = good(&key);
    m[25] ^= 1;
    let msg = Message::parse(&m).unwrap();
    assert_eq!(msg.verify_fingerprint(), Err(Error::FingerprintMismatch));
    assert_eq!(msg.verify_integrity(&key), Err(Error::IntegrityMismatch));
}

#[test]
fn fingerprint_wrong_size() {
    let mut m = Vec::from(&good(&IntegrityKey::new(b"k"))[..20]);
    m.extend_from_slice(&[0x80, 0x28, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]);
    set_len(&mut m, 12);
    assert!(matches!(
        Message::parse(&m),
        Err(Error::InvalidAttribute {
            attribute: AttributeType::FINGERPRINT,
            ..
        })
    ));
}

#[test]
fn malformed_attribute_values_are_typed_errors() {
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add_raw(AttributeType::XOR_MAPPED_ADDRESS, &[0, 3, 0, 0, 1, 2, 3, 4]) // family 3
        .add_raw(AttributeType::PRIORITY, &[1, 2, 3]) // 3 bytes
        .add_raw(AttributeType::USERNAME, &[0xff, 0xfe]) // not UTF-8
        .add_raw(AttributeType::ERROR_CODE, &[0, 0, 7, 0]) // class 7
        .add_raw(AttributeType::USE_CANDIDATE, &[1]) // not empty
        .add_raw(AttributeType::UNKNOWN_ATTRIBUTES, &[0, 1, 0]) // odd
        .add_raw(AttributeType::PASSWORD_ALGORITHMS, &[0, 1, 0, 9, 1]); // params past end
    let bytes = b.finish().unwrap().to_vec();
    let msg = Message::parse(&bytes).unwrap();
    assert!(matches!(
        msg.get::<XorMappedAddress>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert!(matches!(
        msg.get::<Priority>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert!(matches!(
        msg.get::<Username>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert!(matches!(
        msg.get::<ErrorCode>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert!(matches!(
        msg.get::<UseCandidate>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert!(matches!(
        msg.get::<UnknownAttributes>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert!(matches!(
        msg.get::<PasswordAlgorithms>(),
        Err(Error::InvalidAttribute { .. })
    ));
    assert_eq!(
        msg.get::<Realm>(),
        Err(Error::MissingAttribute(AttributeType::REALM))
    );
}

#[test]
fn builder_misuse_is_reported() {
    let key = IntegrityKey::new(b"k");
    let mut tiny = [0u8; 10];
    assert!(matches!(
        MessageBuilder::new(&mut tiny, Class::Request, Method::BINDING, TID).finish(),
        Err(Error::BufferTooSmall { .. })
    ));
    let mut small = [0u8; 30];
    let mut b = MessageBuilder::new(&mut small, Class::Request, Method::BINDING, TID);
    b.add(&Username("longer than ten bytes"));
    assert!(matches!(b.finish(), Err(Error::BufferTooSmall { .. })));

    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add_fingerprint().add(&Priority(1));
    assert!(matches!(b.finish(), Err(Error::InvalidValue(_))));

    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add_message_integrity(&key).add_message_integrity(&key);
    assert!(matches!(b.finish(), Err(Error::InvalidValue(_))));

    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add(&ErrorCode::new(999, "nope"));
    assert!(matches!(b.finish(), Err(Error::InvalidValue(_))));

    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add(&Fingerprint(0));
    assert!(matches!(b.finish(), Err(Error::InvalidValue(_))));
}

#[test]
fn every_prefix_and_bit_flip_is_handled() {
    // Exhaustive small-scale robustness: no input derived from a valid message panics.
    let key = IntegrityKey::new(b"k");
    let m = good(&key);
    for n in 0..=m.len() {
        let _ = Message::parse(&m[..n]).map(|msg| {
            let _ = msg.verify_integrity(&key);
            let _ = msg.verify_fingerprint();
        });
    }
    for i in 0..m.len() * 8 {
        let mut c = m.clone();
        c[i / 8] ^= 1 << (i % 8);
        if let Ok(msg) = Message::parse(&c) {
            let _ = msg.get::<Username>();
            let _ = msg.get::<Priority>();
            let ok = msg.verify_integrity(&key).is_ok() && msg.verify_fingerprint().is_ok();
            // A single flipped bit must never pass both checks, except in ignored
            // bits: the length field's padding-free region has none, so any accepted
            // flip must be in the header type (still covered) -- i.e. never.
            assert!(!ok, "bit {i} flipped and still verified");
        }
    }
}

#[test]
fn is_stun_quick_check() {
    let m = good(&IntegrityKey::new(b"k"));
    assert!(is_stun(&m));
    assert!(!is_stun(&m[..19]));
    let mut c = m.clone();
    c[7] ^= 1;
    assert!(!is_stun(&c));
    c = m.clone();
    c[0] = 0x80;
    assert!(!is_stun(&c));
}
