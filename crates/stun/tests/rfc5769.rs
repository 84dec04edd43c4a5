//! RFC 5769 "Test Vectors for STUN", every vector byte for byte: parse, verify
//! and read each one, and rebuild it with the builder to the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use fulmar_stun::attributes::*;
use fulmar_stun::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// RFC 5769 §2.1 Sample Request.
fn sample_request() -> Vec<u8> {
    hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
         00 24 00 04 6e 00 01 ff
         80 29 00 08 93 2f f9 b1 51 26 3b 36
         00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
         00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
         80 28 00 04 e5 7a 3b cf")
}

/// RFC 5769 §2.2 Sample IPv4 Response.
fn ipv4_response() -> Vec<u8> {
    hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 08 00 01 a1 47 e1 12 a6 43
         00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
         80 28 00 04 c0 7d 4c 96")
}

/// RFC 5769 §2.3 Sample IPv6 Response.
fn ipv6_response() -> Vec<u8> {
    hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
         00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
         80 28 00 04 c8 fb 0b 4c")
}

/// RFC 5769 §2.4 Sample Request with Long-Term Authentication.
fn long_term_request() -> Vec<u8> {
    hex("00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
         00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
         00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
         00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
         00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66")
}

const SHORT_TERM_PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

#[test]
fn rfc5769_2_1_sample_request_parses_and_verifies() {
    let bytes = sample_request();
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.class(), Class::Request);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(msg.transaction_id(), TransactionId::new(TID));
    assert_eq!(msg.get::<Software>().unwrap().as_str(), "STUN test client");
    assert_eq!(msg.get::<Priority>().unwrap(), Priority(0x6e0001ff));
    assert_eq!(
        msg.get::<IceControlled>().unwrap(),
        IceControlled(0x932ff9b151263b36)
    );
    assert_eq!(msg.get::<Username>().unwrap().as_str(), "evtj:h6vY");
    msg.verify_fingerprint().unwrap();
    msg.verify_message_integrity(&IntegrityKey::short_term(SHORT_TERM_PASSWORD))
        .unwrap();
    msg.verify_integrity(&IntegrityKey::short_term(SHORT_TERM_PASSWORD))
        .unwrap();
    assert_eq!(
        msg.verify_integrity(&IntegrityKey::short_term("wrong")),
        Err(Error::IntegrityMismatch)
    );
    let types: Vec<_> = msg.attributes().map(|a| a.attribute_type).collect();
    assert_eq!(
        types,
        [
            AttributeType::SOFTWARE,
            AttributeType::PRIORITY,
            AttributeType::ICE_CONTROLLED,
            AttributeType::USERNAME,
            AttributeType::MESSAGE_INTEGRITY,
            AttributeType::FINGERPRINT
        ]
    );
}

#[test]
fn rfc5769_2_1_sample_request_rebuilt_byte_for_byte() {
    let mut buf = [0u8; 200];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId::new(TID),
    );
    b.padding_byte(0x20)
        .add(&Software("STUN test client"))
        .add(&Priority(0x6e0001ff))
        .add(&IceControlled(0x932ff9b151263b36))
        .add(&Username("evtj:h6vY"))
        .add_message_integrity(&IntegrityKey::short_term(SHORT_TERM_PASSWORD))
        .add_fingerprint();
    assert_eq!(b.finish().unwrap(), &sample_request()[..]);
}

fn check_response(bytes: &[u8], mapped: SocketAddr) {
    let msg = Message::parse(bytes).unwrap();
    assert_eq!(msg.class(), Class::SuccessResponse);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(msg.get::<Software>().unwrap().as_str(), "test vector");
    assert_eq!(msg.get::<XorMappedAddress>().unwrap().0, mapped);
    msg.verify_fingerprint().unwrap();
    msg.verify_integrity(&IntegrityKey::short_term(SHORT_TERM_PASSWORD))
        .unwrap();

    let mut buf = [0u8; 200];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::SuccessResponse,
        Method::BINDING,
        TransactionId::new(TID),
    );
    b.padding_byte(0x20)
        .add(&Software("test vector"))
        .add(&XorMappedAddress(mapped))
        .add_message_integrity(&IntegrityKey::short_term(SHORT_TERM_PASSWORD))
        .add_fingerprint();
    assert_eq!(b.finish().unwrap(), bytes);
}

#[test]
fn rfc5769_2_2_ipv4_response() {
    check_response(&ipv4_response(), "192.0.2.1:32853".parse().unwrap());
}

#[test]
fn rfc5769_2_3_ipv6_response() {
    check_response(
        &ipv6_response(),
        "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .unwrap(),
    );
}

const LT_USERNAME: &str = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
const LT_PASSWORD_PREPPED: &str = "TheMatrIX"; // SASLprep("The\u{00AD}M\u{00AA}tr\u{2168}")
const LT_NONCE: &str = "f//499k954d6OL34oL9FSTvy64sA";
const LT_REALM: &str = "example.org";

#[test]
fn rfc5769_2_4_long_term_request() {
    let bytes = long_term_request();
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.get::<Username>().unwrap().as_str(), LT_USERNAME);
    assert_eq!(msg.get::<Nonce>().unwrap().as_str(), LT_NONCE);
    assert_eq!(msg.get::<Realm>().unwrap().as_str(), LT_REALM);
    assert!(!msg.has_fingerprint());
    let key = IntegrityKey::long_term(
        LT_USERNAME,
        LT_REALM,
        LT_PASSWORD_PREPPED,
        PasswordAlgorithmId::MD5,
    );
    msg.verify_integrity(&key).unwrap();
    let key2 = IntegrityKey::new(&long_term_key_md5(
        LT_USERNAME,
        LT_REALM,
        LT_PASSWORD_PREPPED,
    ));
    msg.verify_message_integrity(&key2).unwrap();

    let mut buf = [0u8; 200];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId::new([
            0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
        ]),
    );
    b.add(&Username(LT_USERNAME))
        .add(&Nonce(LT_NONCE))
        .add(&Realm(LT_REALM))
        .add_message_integrity(&key);
    assert_eq!(b.finish().unwrap(), &bytes[..]);
}
