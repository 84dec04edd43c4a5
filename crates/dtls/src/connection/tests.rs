//! Unit tests that look inside the connection: a tampered Finished, and
//! the handshake state freed once connected. The two connections talk over
//! fulmar-netsim's two-party `Pair`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::*;

/// The integration tests' harness (tests/common): the connection as a
/// fulmar-netsim party on a two-party `Pair`.
#[path = "../../tests/common/mod.rs"]
mod common;

use common::{has_epoch1_record, perfect, Pair};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A client and a server over a 10 ms link, without use_srtp.
fn pair() -> Pair {
    let (a, b) = common::certs();
    let cc = Config::new(a.clone(), vec![b.fingerprint()]);
    let sc = Config::new(b, vec![a.fingerprint()]);
    Pair::new(cc, sc, perfect(), 1)
}

#[test]
fn tampered_finished_fails_with_decrypt_error() {
    let mut p = pair();
    p.client().corrupt_finished = true;
    p.drive(Duration::from_secs(5));
    let sent = Failure::AlertSent {
        alert: AlertDescription::DecryptError,
        reason: Error::Protocol {
            alert: AlertDescription::DecryptError,
            reason: "Finished verify_data mismatch",
        },
    };
    assert_eq!(p.server().failure(), Some(&sent));
    assert_eq!(p.server_failure(), Some(sent));
    let received = Failure::AlertReceived(AlertDescription::DecryptError);
    assert_eq!(p.client_failure(), Some(received.clone()));
    assert_eq!(p.client().failure(), Some(&received));
}

#[test]
fn handshake_state_is_freed_once_connected() -> TestResult {
    let mut p = pair();
    // Lose the server's flight 6 (its only epoch-1 datagram) while `lose`
    // holds, so that the client retransmits flight 5.
    let lose = Rc::new(Cell::new(true));
    let losing = lose.clone();
    p.set_tamper(move |from_client, d| !(losing.get() && !from_client && has_epoch1_record(d)));
    let flight6_lost = |n: &mut fulmar_netsim::Pair<common::Dtls, common::Dtls>| {
        n.stats(fulmar_netsim::Direction::BToA).tampered_dropped > 0
    };
    assert!(p.net.run_until(Duration::from_millis(500), flight6_lost));
    assert!(p.server().is_connected() && !p.client().is_connected());
    // The server keeps its last flight and resends it when the client's
    // last flight comes again (RFC 6347 §4.2.4)...
    assert!(p.server().flights.has_flight());
    lose.set(false);
    assert!(p
        .net
        .run_until(Duration::from_secs(5), |n| n.a.conn.is_connected()));
    assert_eq!(p.client().stats().retransmissions, 1, "flight 5 resent");
    assert_eq!(p.server().stats().retransmissions, 1, "flight 6 resent");
    for conn in [&p.net.a.conn, &p.net.b.conn] {
        // No handshake state but the session; no handshake buffers.
        assert!(matches!(conn.state, State::Connected(_)));
        assert_eq!(conn.records.early.capacity(), 0);
    }
    assert!(
        !p.client().flights.has_flight(),
        "the client's flight was acknowledged"
    );
    // ...until application data of epoch 1 proves it arrived.
    let now = p.now();
    let d = common::sealed(p.client(), b"hello");
    assert_eq!(
        common::receive(p.server(), now, &d),
        vec![b"hello".to_vec()]
    );
    assert!(!p.server().flights.has_flight());
    // A late copy of the client's last flight is answered by nothing.
    let (_, flight5) = p
        .sent(true)
        .into_iter()
        .rev()
        .find(|(_, d)| has_epoch1_record(d))
        .ok_or("the client's flight 5 among its sent datagrams")?;
    common::receive(p.server(), now, &flight5);
    assert!(
        common::transmits(p.server(), now).is_empty(),
        "nothing left to resend"
    );
    assert!(p.server().is_connected());
    for conn in [&p.net.a.conn, &p.net.b.conn] {
        assert_eq!(conn.transmits.capacity(), 0, "idle output queue freed");
    }
    Ok(())
}

#[test]
fn untampered_pair_connects_and_exports_the_same_keys() -> TestResult {
    let mut p = pair();
    p.drive(Duration::from_secs(5));
    assert!(p.client().is_connected() && p.server().is_connected());
    let (mut a, mut b) = ([0u8; 56], [0u8; 56]);
    p.client()
        .export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut a)?;
    p.server()
        .export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut b)?;
    assert_eq!(a, b);
    assert_ne!(a, [0u8; 56]);
    Ok(())
}
