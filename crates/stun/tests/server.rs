//! The Binding responder answers per RFC 8489 §6.3: 200 with
//! XOR-MAPPED-ADDRESS, 420 with UNKNOWN-ATTRIBUTES, 400 for malformed
//! requests, silence for everything else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Instant;

use fulmar_stun::attributes::*;
use fulmar_stun::server::{BindingResponder, ResponderStats};
use fulmar_stun::*;

const TID: TransactionId = TransactionId::new([5; 12]);

fn client() -> SocketAddr {
    "[2001:db8::7]:5000".parse().unwrap()
}

fn request(fingerprint: bool, extra: &[(AttributeType, &[u8])]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TID);
    for (t, v) in extra {
        b.add_raw(*t, v);
    }
    if fingerprint {
        b.add_fingerprint();
    }
    b.finish().unwrap().to_vec()
}

fn answer(server: &mut BindingResponder, datagram: &[u8]) -> Option<Vec<u8>> {
    let now = Instant::now();
    let local = SocketAddr::from(([192, 0, 2, 1], 3478));
    server.handle_receive(now, client(), local, datagram);
    let mut out = Vec::new();
    let t = server.poll_transmit(now, &mut out)?;
    assert_eq!(
        (t.source, t.destination, t.len),
        (local, client(), out.len())
    );
    let reply = out.clone();
    assert!(server.poll_transmit(now, &mut out).is_none());
    Some(reply)
}

#[test]
fn success_with_and_without_fingerprint() {
    let mut s = BindingResponder::new().with_software("fulmar-stun test");
    for fp in [false, true] {
        let resp = answer(&mut s, &request(fp, &[])).unwrap();
        let m = Message::parse(&resp).unwrap();
        assert_eq!(m.class(), Class::SuccessResponse);
        assert_eq!(m.method(), Method::BINDING);
        assert_eq!(m.transaction_id(), TID);
        assert_eq!(m.get::<XorMappedAddress>().unwrap().0, client());
        assert_eq!(m.get::<Software>().unwrap().0, "fulmar-stun test");
        assert_eq!(m.has_fingerprint(), fp);
        if fp {
            m.verify_fingerprint().unwrap();
        }
    }
    assert_eq!(
        s.stats(),
        ResponderStats {
            success_responses: 2,
            error_responses: 0,
            dropped: 0
        }
    );
}

#[test]
fn optional_unknown_attributes_are_fine() {
    let mut s = BindingResponder::new();
    let resp = answer(
        &mut s,
        &request(true, &[(AttributeType::GOOG_NETWORK_INFO, &[0, 1, 0, 10])]),
    )
    .unwrap();
    assert_eq!(
        Message::parse(&resp).unwrap().class(),
        Class::SuccessResponse
    );
}

#[test]
fn unknown_comprehension_required_gets_420() {
    let mut s = BindingResponder::new();
    let resp = answer(
        &mut s,
        &request(
            true,
            &[
                (AttributeType(0x0031), b"x"),
                (AttributeType(0x7000), b""),
                (AttributeType(0x0031), b"again"),
            ],
        ),
    )
    .unwrap();
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.class(), Class::ErrorResponse);
    assert_eq!(m.get::<ErrorCode>().unwrap().code, 420);
    let listed: Vec<_> = m.get::<UnknownAttributes>().unwrap().iter().collect();
    assert_eq!(listed, [AttributeType(0x0031), AttributeType(0x7000)]);
    m.verify_fingerprint().unwrap();
}

#[test]
fn malformed_request_gets_400() {
    let mut s = BindingResponder::new();
    let mut bad = request(false, &[]);
    // An attribute whose length runs past the end, behind a sound header.
    bad.extend_from_slice(&[0x00, 0x06, 0x00, 0x40]);
    bad[2..4].copy_from_slice(&4u16.to_be_bytes());
    let resp = answer(&mut s, &bad).unwrap();
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.class(), Class::ErrorResponse);
    assert_eq!(m.transaction_id(), TID);
    assert_eq!(
        m.get::<ErrorCode>().unwrap(),
        ErrorCode::new(400, "Bad Request")
    );
}

#[test]
fn garbage_and_non_requests_are_dropped() {
    let mut s = BindingResponder::new();
    let mut bad_fp = request(true, &[]);
    let n = bad_fp.len();
    bad_fp[n - 1] ^= 0xFF;
    let mut indication = request(false, &[]);
    indication[..2].copy_from_slice(
        &MessageType::new(Method::BINDING, Class::Indication)
            .to_u16()
            .to_be_bytes(),
    );
    let mut response = request(false, &[]);
    response[..2].copy_from_slice(&0x0101u16.to_be_bytes());
    let mut allocate = request(false, &[]);
    allocate[..2].copy_from_slice(&0x0003u16.to_be_bytes());
    let mut bad_cookie = request(false, &[]);
    bad_cookie[5] = 0;
    let inputs: [&[u8]; 8] = [
        b"",
        b"\x16\xfe\xfd\x00\x00",
        &[0x80; 40],
        &bad_fp,
        &indication,
        &response,
        &allocate,
        &bad_cookie,
    ];
    for d in inputs {
        assert!(answer(&mut s, d).is_none(), "answered {d:02x?}");
    }
    assert_eq!(s.stats().dropped, inputs.len() as u64);
    assert_eq!(s.poll_timeout(), None);
}
