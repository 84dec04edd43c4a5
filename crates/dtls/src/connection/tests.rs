//! Unit tests that look inside the connection: a tampered Finished, and
//! the handshake state freed once connected.

use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::Certificate;

fn pair() -> (Connection, Connection, Instant) {
    let (a, b) = (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    );
    let cc = Config::new(a.clone(), vec![b.fingerprint()]);
    let sc = Config::new(b, vec![a.fingerprint()]);
    let now = Instant::now();
    let c = Connection::client(Arc::new(cc), now, rand_core::OsRng);
    let s = Connection::server(Arc::new(sc), rand_core::OsRng);
    (c, s, now)
}

/// Every datagram `from` has to send.
fn drain(from: &mut Connection, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    core::iter::from_fn(|| from.poll_transmit(now, &mut buf).map(|_| buf.clone())).collect()
}

fn exchange(c: &mut Connection, s: &mut Connection, now: Instant) {
    for _ in 0..8 {
        for mut d in drain(c, now) {
            s.handle_receive(now, &mut d);
        }
        for mut d in drain(s, now) {
            c.handle_receive(now, &mut d);
        }
    }
}

#[test]
fn tampered_finished_fails_with_decrypt_error() {
    let (mut c, mut s, now) = pair();
    c.corrupt_finished = true;
    exchange(&mut c, &mut s, now);
    let sent = Failure::AlertSent {
        alert: AlertDescription::DecryptError,
        reason: Error::Protocol {
            alert: AlertDescription::DecryptError,
            reason: "Finished verify_data mismatch",
        },
    };
    assert_eq!(s.failure(), Some(&sent));
    let se: Vec<Event> = core::iter::from_fn(|| s.poll_event()).collect();
    assert!(se.contains(&Event::Failed(sent)));
    let ce: Vec<Event> = core::iter::from_fn(|| c.poll_event()).collect();
    let received = Failure::AlertReceived(AlertDescription::DecryptError);
    assert!(ce.contains(&Event::Failed(received.clone())));
    assert_eq!(c.failure(), Some(&received));
}

#[test]
fn handshake_state_is_freed_once_connected() {
    let (mut c, mut s, mut now) = pair();
    // Lose the server's flight 6 so that the client retransmits flight 5.
    for _ in 0..8 {
        for mut d in drain(&mut c, now) {
            s.handle_receive(now, &mut d);
        }
        for mut d in drain(&mut s, now) {
            if !s.is_connected() {
                c.handle_receive(now, &mut d);
            }
        }
    }
    assert!(s.is_connected() && !c.is_connected());
    let mut resend = || {
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        drain(&mut c, now)
    };
    let (first, second) = (resend(), resend());
    assert!(!first.is_empty() && !second.is_empty());
    // The server keeps its last flight and resends it when the client's
    // last flight comes again (RFC 6347 §4.2.4)...
    assert!(s.flights.has_flight());
    for d in &first {
        s.handle_receive(now, &mut d.clone());
    }
    let flight6 = drain(&mut s, now);
    assert!(!flight6.is_empty(), "flight 6 resent");
    for d in &flight6 {
        c.handle_receive(now, &mut d.clone());
    }
    assert!(c.is_connected());
    for conn in [&c, &s] {
        // No handshake state but the session; no handshake buffers.
        assert!(matches!(conn.state, State::Connected(_)));
        assert_eq!(conn.records.early.capacity(), 0);
    }
    assert!(
        !c.flights.has_flight(),
        "the client's flight was acknowledged"
    );
    // ...until application data of epoch 1 proves it arrived.
    let mut d = Vec::new();
    c.seal_application_data(b"hello", &mut d).unwrap();
    s.handle_receive(now, &mut d);
    assert!(!s.flights.has_flight());
    let got = s.poll_application_data().map(|r| d[r].to_vec());
    assert_eq!(got.as_deref(), Some(&b"hello"[..]));
    for d in &second {
        s.handle_receive(now, &mut d.clone());
    }
    assert!(drain(&mut s, now).is_empty(), "nothing left to resend");
    assert!(s.is_connected());
    for conn in [&c, &s] {
        assert_eq!(conn.transmits.capacity(), 0, "idle output queue freed");
    }
}

#[test]
fn untampered_pair_connects_and_exports_the_same_keys() {
    let (mut c, mut s, now) = pair();
    exchange(&mut c, &mut s, now);
    assert!(c.is_connected() && s.is_connected());
    let (mut a, mut b) = ([0u8; 56], [0u8; 56]);
    c.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut a)
        .unwrap();
    s.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut b)
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, [0u8; 56]);
}
