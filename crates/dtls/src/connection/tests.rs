//! Unit tests that look inside the connection: a tampered Finished, and
//! the handshake state freed once connected. The two connections talk over
//! fulmar-netsim's two-party `Pair`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_netsim::{Direction, LinkConfig, Pair, Party};

use super::*;
use crate::Certificate;

/// A connection as a netsim party; the application data it opens is kept.
struct Conn {
    conn: Connection,
    data: Vec<Vec<u8>>,
}

impl Party for Conn {
    type Event = Event;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.conn.handle_receive(now, datagram);
        while let Some(r) = self.conn.poll_application_data() {
            self.data.push(datagram[r].to_vec());
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.conn.poll_transmit(now, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.conn.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }
}

/// A client (party A) and a server (party B) over a 10 ms link.
fn pair() -> Pair<Conn, Conn> {
    let (a, b) = (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    );
    let cc = Config::new(a.clone(), vec![b.fingerprint()]);
    let sc = Config::new(b, vec![a.fingerprint()]);
    let now = Instant::now();
    let party = |conn| Conn {
        conn,
        data: Vec::new(),
    };
    let c = Connection::client(Arc::new(cc), now, rand_core::OsRng);
    let s = Connection::server(Arc::new(sc), rand_core::OsRng);
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(10));
    Pair::new(now, party(c), party(s), 1).with_link(link)
}

/// Whether a datagram carries a record of epoch 1 (RFC 6347 §4.1 header:
/// epoch at bytes 3..5, length at 11..13).
fn has_epoch1_record(d: &[u8]) -> bool {
    let mut at = 0;
    while let Some(h) = d.get(at..at + 13) {
        if u16::from_be_bytes([h[3], h[4]]) == 1 {
            return true;
        }
        at += 13 + usize::from(u16::from_be_bytes([h[11], h[12]]));
    }
    false
}

#[test]
fn tampered_finished_fails_with_decrypt_error() {
    let mut p = pair();
    p.a.conn.corrupt_finished = true;
    assert!(p.run_until_idle(Duration::from_secs(5)));
    let sent = Failure::AlertSent {
        alert: AlertDescription::DecryptError,
        reason: Error::Protocol {
            alert: AlertDescription::DecryptError,
            reason: "Finished verify_data mismatch",
        },
    };
    assert_eq!(p.b.conn.failure(), Some(&sent));
    assert!(p.events_b.contains(&Event::Failed(sent)));
    let received = Failure::AlertReceived(AlertDescription::DecryptError);
    assert!(p.events_a.contains(&Event::Failed(received.clone())));
    assert_eq!(p.a.conn.failure(), Some(&received));
}

#[test]
fn handshake_state_is_freed_once_connected() {
    let mut p = pair();
    p.enable_trace();
    // Lose the server's flight 6 (its only epoch-1 datagram) while `lose`
    // holds, so that the client retransmits flight 5.
    let lose = Rc::new(Cell::new(true));
    let losing = lose.clone();
    p.set_tamper(move |dir, d| !(losing.get() && dir == Direction::BToA && has_epoch1_record(d)));
    let flight6_lost = |p: &mut Pair<Conn, Conn>| p.stats(Direction::BToA).tampered_dropped > 0;
    assert!(p.run_until(Duration::from_millis(500), flight6_lost));
    assert!(p.b.conn.is_connected() && !p.a.conn.is_connected());
    // The server keeps its last flight and resends it when the client's
    // last flight comes again (RFC 6347 §4.2.4)...
    assert!(p.b.conn.flights.has_flight());
    lose.set(false);
    assert!(p.run_until(Duration::from_secs(5), |p| p.a.conn.is_connected()));
    assert_eq!(p.a.conn.stats().retransmissions, 1, "flight 5 resent");
    assert_eq!(p.b.conn.stats().retransmissions, 1, "flight 6 resent");
    for conn in [&p.a.conn, &p.b.conn] {
        // No handshake state but the session; no handshake buffers.
        assert!(matches!(conn.state, State::Connected(_)));
        assert_eq!(conn.records.early.capacity(), 0);
    }
    assert!(
        !p.a.conn.flights.has_flight(),
        "the client's flight was acknowledged"
    );
    // ...until application data of epoch 1 proves it arrived.
    let now = p.now();
    let mut d = Vec::new();
    p.a.conn.seal_application_data(b"hello", &mut d).unwrap();
    p.b.handle_receive(now, &mut d);
    assert!(!p.b.conn.flights.has_flight());
    assert_eq!(p.b.data, vec![b"hello".to_vec()]);
    // A late copy of the client's last flight is answered by nothing.
    let flight5 = p
        .trace()
        .iter()
        .rev()
        .find(|s| s.direction == Direction::AToB && has_epoch1_record(&s.datagram))
        .map(|s| s.datagram.clone())
        .unwrap();
    p.b.conn.handle_receive(now, &mut flight5.clone());
    let mut buf = Vec::new();
    assert_eq!(
        p.b.conn.poll_transmit(now, &mut buf),
        None,
        "nothing left to resend"
    );
    assert!(p.b.conn.is_connected());
    for conn in [&p.a.conn, &p.b.conn] {
        assert_eq!(conn.transmits.capacity(), 0, "idle output queue freed");
    }
}

#[test]
fn untampered_pair_connects_and_exports_the_same_keys() {
    let mut p = pair();
    assert!(p.run_until_idle(Duration::from_secs(5)));
    let (c, s) = (&p.a.conn, &p.b.conn);
    assert!(c.is_connected() && s.is_connected());
    let (mut a, mut b) = ([0u8; 56], [0u8; 56]);
    c.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut a)
        .unwrap();
    s.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut b)
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, [0u8; 56]);
}
