//! Property tests: build then parse gives back every value; parse then
//! rebuild gives back the bytes; arbitrary bytes never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};

use fulmar_stun::attributes::*;
use fulmar_stun::channel_data::ChannelData;
use fulmar_stun::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| SocketAddr::new(IpAddr::from(a), p)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, p)| SocketAddr::new(IpAddr::from(a), p)),
    ]
}

fn class() -> impl Strategy<Value = Class> {
    (0u16..4).prop_map(Class::from_bits)
}

#[derive(Debug, Clone)]
struct Ice {
    username: String,
    priority: u32,
    controlling: Option<u64>,
    use_candidate: bool,
    mapped: SocketAddr,
    peer: SocketAddr,
    data: Vec<u8>,
    error: Option<(u16, String)>,
    password: Vec<u8>,
    sha256: bool,
    fingerprint: bool,
}

fn ice() -> impl Strategy<Value = Ice> {
    (
        "[a-zA-Z0-9+/:]{0,64}",
        any::<u32>(),
        proptest::option::of(any::<u64>()),
        any::<bool>(),
        socket_addr(),
        socket_addr(),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::option::of((300u16..700, "[ -~]{0,40}")),
        proptest::collection::vec(any::<u8>(), 0..100),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                username,
                priority,
                controlling,
                use_candidate,
                mapped,
                peer,
                data,
                error,
                password,
                sha256,
                fingerprint,
            )| Ice {
                username,
                priority,
                controlling,
                use_candidate,
                mapped,
                peer,
                data,
                error,
                password,
                sha256,
                fingerprint,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn build_then_parse(v in ice(), class in class(), method in 0u16..0x1000, tid in any::<[u8; 12]>()) {
        let key = IntegrityKey::new(&v.password);
        let mut buf = [0u8; 1024];
        let mut b = MessageBuilder::new(&mut buf, class, Method::new(method).unwrap(), TransactionId::new(tid));
        b.add(&Username(&v.username)).add(&Priority(v.priority));
        if let Some(t) = v.controlling {
            b.add(&IceControlling(t));
        } else {
            b.add(&IceControlled(7));
        }
        if v.use_candidate {
            b.add(&UseCandidate);
        }
        b.add(&XorMappedAddress(v.mapped)).add(&XorPeerAddress(v.peer)).add(&Data(&v.data));
        if let Some((code, reason)) = &v.error {
            b.add(&ErrorCode::new(*code, reason));
        }
        b.add_message_integrity(&key);
        if v.sha256 {
            b.add_message_integrity_sha256(&key);
        }
        if v.fingerprint {
            b.add_fingerprint();
        }
        let bytes = b.finish().unwrap();
        let m = Message::parse(bytes).unwrap();
        prop_assert_eq!(m.class(), class);
        prop_assert_eq!(m.method().value(), method);
        prop_assert_eq!(m.transaction_id(), TransactionId::new(tid));
        prop_assert_eq!(m.get::<Username>().unwrap().0, v.username.as_str());
        prop_assert_eq!(m.get::<Priority>().unwrap().0, v.priority);
        if let Some(t) = v.controlling {
            prop_assert_eq!(m.get::<IceControlling>().unwrap().0, t);
        }
        prop_assert_eq!(m.has(AttributeType::USE_CANDIDATE), v.use_candidate);
        prop_assert_eq!(m.get::<XorMappedAddress>().unwrap().0, v.mapped);
        prop_assert_eq!(m.get::<XorPeerAddress>().unwrap().0, v.peer);
        prop_assert_eq!(m.get::<Data>().unwrap().0, &v.data[..]);
        if let Some((code, reason)) = &v.error {
            prop_assert_eq!(m.get::<ErrorCode>().unwrap(), ErrorCode::new(*code, reason));
        }
        prop_assert!(m.verify_message_integrity(&key).is_ok());
        prop_assert!(m.verify_integrity(&key).is_ok());
        prop_assert_eq!(m.has_fingerprint(), v.fingerprint);
        if v.fingerprint {
            prop_assert!(m.verify_fingerprint().is_ok());
        }
        let mut wrong = v.password.clone();
        wrong.push(1);
        prop_assert_eq!(m.verify_integrity(&IntegrityKey::new(&wrong)), Err(Error::IntegrityMismatch));
    }

    /// write(parse(b)) == b: rebuilding from the raw attributes reproduces the message.
    #[test]
    fn parse_then_rebuild(v in ice(), tid in any::<[u8; 12]>()) {
        let mut buf = [0u8; 1024];
        let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TransactionId::new(tid));
        b.add(&Username(&v.username)).add(&Data(&v.data)).add(&XorMappedAddress(v.mapped)).add_raw(AttributeType(0xC057), &[0, 1, 0, 10]);
        let bytes = b.finish().unwrap().to_vec();
        let m = Message::parse(&bytes).unwrap();
        let mut out = [0u8; 1024];
        let mut r = MessageBuilder::with_type(&mut out, m.message_type(), m.transaction_id());
        for a in m.attributes() {
            r.add_raw(a.attribute_type, a.value);
        }
        prop_assert_eq!(r.finish().unwrap(), &bytes[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let key = IntegrityKey::new(b"key");
        if let Ok(m) = Message::parse(&data) {
            let _ = m.verify_integrity(&key);
            let _ = m.verify_fingerprint();
            for a in m.attributes() {
                prop_assert!(a.value.len() <= data.len());
            }
            let _ = m.get::<XorMappedAddress>();
            let _ = m.get::<ErrorCode>();
            let _ = m.get::<PasswordAlgorithms>().map(|p| p.iter().count());
            let _ = m.get::<UnknownAttributes>().map(|u| u.iter().count());
        }
        let _ = ChannelData::parse(&data);
    }

    /// Random attribute soup behind a valid header always parses or errors cleanly.
    #[test]
    fn valid_header_random_body(body in proptest::collection::vec(any::<u8>(), 0..40).prop_map(|mut v| { v.truncate(v.len() / 4 * 4); v })) {
        let mut m = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42];
        m.extend_from_slice(&[1; 12]);
        m[2..4].copy_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&body);
        match Message::parse(&m) {
            Ok(msg) => { let _ = msg.attributes().count(); }
            Err(e) => {
                let expected = matches!(e, Error::AttributeOverrun { .. } | Error::InvalidAttribute { .. } | Error::AttributeAfterFingerprint(_));
                prop_assert!(expected, "unexpected error {:?}", e);
            }
        }
    }

    #[test]
    fn channel_data_round_trip(channel in 0x4000u16..=0x4FFF, data in proptest::collection::vec(any::<u8>(), 0..300), padded in any::<bool>()) {
        let cd = ChannelData::new(channel, &data).unwrap();
        let mut buf = [0u8; 320];
        let n = cd.encode(&mut buf, padded).unwrap();
        prop_assert_eq!(n, cd.encoded_len(padded));
        let back = ChannelData::parse(&buf[..n]).unwrap();
        prop_assert_eq!(back.channel_number(), channel);
        prop_assert_eq!(back.data(), &data[..]);
    }
}
