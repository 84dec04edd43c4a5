//! Typed attributes of RFC 8489, RFC 8445 and RFC 8656 written and read back,
//! long-term credentials (RFC 8489 §9.2), and the rules around
//! MESSAGE-INTEGRITY (RFC 8489 §14.5, §14.6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use fulmar_stun::attributes::*;
use fulmar_stun::*;

const TID: TransactionId = TransactionId::new([0x42; 12]);

#[test]
fn every_attribute_round_trips() {
    let v4: SocketAddr = "198.51.100.9:3478".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:49152".parse().unwrap();
    let unknown = [AttributeType(0x7777), AttributeType(0x0031)];
    let algos = [
        PasswordAlgorithm::new(PasswordAlgorithmId::SHA256),
        PasswordAlgorithm::new(PasswordAlgorithmId::MD5),
    ];
    let mut buf = [0u8; 1024];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::ALLOCATE, TID);
    b.add(&MappedAddress(v4))
        .add(&XorMappedAddress(v6))
        .add(&AlternateServer(v6))
        .add(&AlternateDomain("turn.example"))
        .add(&Username("user"))
        .add(&Userhash::new("user", "realm"))
        .add(&Realm("realm"))
        .add(&Nonce("obMatJos2wAAAabc"))
        .add(&Software("fulmar"))
        .add(&ErrorCode::new(438, "Stale Nonce"))
        .add(&UnknownAttributes::new(&unknown))
        .add(&PasswordAlgorithm::new(PasswordAlgorithmId::SHA256))
        .add(&PasswordAlgorithms::new(&algos))
        .add(&Priority(0x7e00_00ff))
        .add(&UseCandidate)
        .add(&IceControlled(1))
        .add(&IceControlling(u64::MAX))
        .add(&ChannelNumber(0x4001))
        .add(&Lifetime(600))
        .add(&XorPeerAddress(v4))
        .add(&Data(b"payload"))
        .add(&XorRelayedAddress(v6))
        .add(&RequestedAddressFamily(AddressFamily::Ipv6))
        .add(&EvenPort { reserve: true })
        .add(&RequestedTransport::UDP)
        .add(&DontFragment)
        .add(&ReservationToken(*b"tokentok"))
        .add(&AdditionalAddressFamily(AddressFamily::Ipv6))
        .add(&AddressErrorCode {
            family: AddressFamily::Ipv4,
            code: 440,
            reason: "Address Family not Supported",
        })
        .add(&Icmp {
            icmp_type: 3,
            code: 4,
            error_data: 1400,
        })
        .add(&GoogNetworkInfo {
            network_id: 1,
            network_cost: 10,
        });
    let bytes = b.finish().unwrap().to_vec();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.method(), Method::ALLOCATE);
    assert_eq!(m.get::<MappedAddress>().unwrap().0, v4);
    assert_eq!(m.get::<XorMappedAddress>().unwrap().0, v6);
    assert_eq!(m.get::<AlternateServer>().unwrap().0, v6);
    assert_eq!(m.get::<AlternateDomain>().unwrap().0, "turn.example");
    assert_eq!(m.get::<Username>().unwrap().0, "user");
    assert_eq!(m.get::<Userhash>().unwrap(), Userhash::new("user", "realm"));
    assert_eq!(m.get::<Realm>().unwrap().0, "realm");
    let nonce = m.get::<Nonce>().unwrap();
    assert_eq!(
        nonce.security_features(),
        Some(SecurityFeatures::PASSWORD_ALGORITHMS.union(SecurityFeatures::USERNAME_ANONYMITY))
    );
    assert_eq!(m.get::<Software>().unwrap().0, "fulmar");
    assert_eq!(
        m.get::<ErrorCode>().unwrap(),
        ErrorCode::new(438, "Stale Nonce")
    );
    assert_eq!(
        m.get::<UnknownAttributes>().unwrap(),
        UnknownAttributes::new(&unknown)
    );
    assert_eq!(
        m.get::<PasswordAlgorithm>().unwrap().algorithm,
        PasswordAlgorithmId::SHA256
    );
    assert_eq!(
        m.get::<PasswordAlgorithms>().unwrap(),
        PasswordAlgorithms::new(&algos)
    );
    assert_eq!(m.get::<Priority>().unwrap(), Priority(0x7e00_00ff));
    assert!(m.has(AttributeType::USE_CANDIDATE));
    assert_eq!(m.get::<UseCandidate>().unwrap(), UseCandidate);
    assert_eq!(m.get::<IceControlled>().unwrap(), IceControlled(1));
    assert_eq!(m.get::<IceControlling>().unwrap(), IceControlling(u64::MAX));
    assert_eq!(m.get::<ChannelNumber>().unwrap(), ChannelNumber(0x4001));
    assert_eq!(m.get::<Lifetime>().unwrap().duration().as_secs(), 600);
    assert_eq!(m.get::<XorPeerAddress>().unwrap().0, v4);
    assert_eq!(m.get::<Data>().unwrap().0, b"payload");
    assert_eq!(m.get::<XorRelayedAddress>().unwrap().0, v6);
    assert_eq!(
        m.get::<RequestedAddressFamily>().unwrap().0,
        AddressFamily::Ipv6
    );
    assert_eq!(m.get::<EvenPort>().unwrap(), EvenPort { reserve: true });
    assert_eq!(
        m.get::<RequestedTransport>().unwrap(),
        RequestedTransport::UDP
    );
    assert_eq!(m.get::<DontFragment>().unwrap(), DontFragment);
    assert_eq!(m.get::<ReservationToken>().unwrap().0, *b"tokentok");
    assert_eq!(
        m.get::<AdditionalAddressFamily>().unwrap().0,
        AddressFamily::Ipv6
    );
    let aec = m.get::<AddressErrorCode>().unwrap();
    assert_eq!(
        (aec.family, aec.code, aec.reason),
        (AddressFamily::Ipv4, 440, "Address Family not Supported")
    );
    assert_eq!(
        m.get::<Icmp>().unwrap(),
        Icmp {
            icmp_type: 3,
            code: 4,
            error_data: 1400
        }
    );
    assert_eq!(
        m.get::<GoogNetworkInfo>().unwrap(),
        GoogNetworkInfo {
            network_id: 1,
            network_cost: 10
        }
    );
    // Every one of these is known: nothing for a 420.
    assert_eq!(m.unknown_comprehension_required().count(), 0);
    assert_eq!(m.attributes().count(), 31);
}

#[test]
fn unknown_attributes_kept_or_reported() {
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add_raw(AttributeType(0xC059), b"misc") // GOOG-MISC-INFO: optional, kept
        .add_raw(AttributeType(0x0031), b"x") // unknown comprehension-required
        .add_raw(AttributeType(0x7FFF), b""); // another
    let bytes = b.finish().unwrap().to_vec();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.raw(AttributeType(0xC059)), Some(&b"misc"[..]));
    let unknown: Vec<_> = m.unknown_comprehension_required().collect();
    assert_eq!(unknown, [AttributeType(0x0031), AttributeType(0x7FFF)]);
}

#[test]
fn attributes_after_message_integrity_are_ignored() {
    let key = IntegrityKey::new(b"pw");
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    b.add(&Priority(1)).add_message_integrity(&key);
    let mut bytes = b.finish().unwrap().to_vec();
    // Append a PRIORITY and an unknown comprehension-required attribute after
    // MESSAGE-INTEGRITY, as an attacker could: RFC 8489 §14.5 says ignore them.
    bytes.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0, 0, 0, 99]);
    bytes.extend_from_slice(&[0x00, 0x31, 0x00, 0x00]);
    let len = (bytes.len() - 20) as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.get::<Priority>().unwrap(), Priority(1));
    assert_eq!(m.unknown_comprehension_required().count(), 0);
    // Integrity still verifies: its length field is rewritten to end at MI.
    m.verify_integrity(&key).unwrap();
    let types: Vec<_> = m.attributes().map(|a| a.attribute_type).collect();
    assert_eq!(
        types,
        [AttributeType::PRIORITY, AttributeType::MESSAGE_INTEGRITY]
    );
}

#[test]
fn sha256_integrity_full_and_truncated_with_both() {
    let key = IntegrityKey::long_term("user", "realm", "pass", PasswordAlgorithmId::SHA256);
    for len in [16, 20, 24, 28, 32] {
        let mut buf = [0u8; 256];
        let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::ALLOCATE, TID);
        b.add(&Userhash::new("user", "realm"))
            .add(&Realm("realm"))
            .add(&Nonce("n"))
            .add(&PasswordAlgorithm::new(PasswordAlgorithmId::SHA256))
            .add_message_integrity(&key)
            .add_message_integrity_sha256_truncated(&key, len)
            .add_fingerprint();
        let bytes = b.finish().unwrap().to_vec();
        let m = Message::parse(&bytes).unwrap();
        assert!(m.has_message_integrity() && m.has_message_integrity_sha256());
        m.verify_message_integrity(&key).unwrap();
        m.verify_message_integrity_sha256(&key).unwrap();
        m.verify_integrity(&key).unwrap();
        m.verify_fingerprint().unwrap();
        let other = IntegrityKey::long_term("user", "realm", "nope", PasswordAlgorithmId::SHA256);
        assert_eq!(m.verify_integrity(&other), Err(Error::IntegrityMismatch));
        assert_eq!(
            m.get::<MessageIntegritySha256>().unwrap().0.len(),
            len,
            "truncated to {len}"
        );
    }
}

#[test]
fn long_term_keys() {
    // RFC 8489 §9.2.2: key = MD5("user:realm:pass") / SHA-256(...).
    assert_eq!(
        long_term_key_md5("user", "realm", "pass"),
        [
            0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb, 0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc,
            0x40, 0xeb
        ]
    );
    assert_eq!(long_term_key_sha256("user", "realm", "pass").len(), 32);
}
