//! A client transaction (RFC 8489 §6.2.1) against the sans-IO Binding
//! responder over a simulated lossy link, in simulated time: the request is
//! retransmitted on schedule until one copy gets through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fulmar_stun::attributes::XorMappedAddress;
use fulmar_stun::server::BindingResponder;
use fulmar_stun::transaction::{ClientTransaction, TransactionConfig};
use fulmar_stun::{Class, Message, MessageBuilder, Method, TransactionId};

/// Run one transaction where the link drops the first `lost` requests;
/// returns the simulated time of the response (ms) and the transmissions.
fn run(lost: u32) -> Option<(u128, u32)> {
    let client: SocketAddr = "192.0.2.2:40000".parse().unwrap();
    let one_way = Duration::from_millis(20);
    let t0 = Instant::now();
    let mut now = t0;
    let mut server = BindingResponder::new();
    let tid = TransactionId::new([0xAB; 12]);
    let mut buf = [0u8; 64];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, tid);
    b.add_fingerprint();
    let request = b.finish().unwrap().to_vec();

    let mut tx = ClientTransaction::new(now, TransactionConfig::default());
    let mut in_flight: Option<Instant> = None; // arrival time of the response
    let mut out = Vec::new();
    let local = SocketAddr::from(([192, 0, 2, 1], 3478));
    let mut reply = Vec::new();
    for _ in 0..1000 {
        if tx.poll_transmit() && tx.transmissions() > lost {
            // This copy survives: the server answers, the answer arrives later.
            server.handle_receive(now + one_way, client, local, &request);
            let t = server.poll_transmit(now + one_way, &mut out).unwrap();
            assert_eq!((t.source, t.destination), (local, client));
            reply = out.clone();
            in_flight.get_or_insert(now + 2 * one_way);
        }
        let next = match (tx.poll_timeout(), in_flight) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        now = now.max(next);
        if in_flight.is_some_and(|at| at <= now) {
            let m = Message::parse(&reply).unwrap();
            assert_eq!(m.transaction_id(), tid);
            m.verify_fingerprint().unwrap();
            assert_eq!(m.get::<XorMappedAddress>().unwrap().0, client);
            tx.handle_response();
            return Some(((now - t0).as_millis(), tx.transmissions()));
        }
        tx.handle_timeout(now);
        if tx.is_timed_out() {
            return None;
        }
    }
    panic!("did not finish");
}

#[test]
fn no_loss_one_round_trip() {
    assert_eq!(run(0), Some((40, 1)));
}

#[test]
fn retransmissions_follow_rto_doubling() {
    // Sends at 0, 500, 1500, 3500 ms; the 4th gets through and is answered 40 ms later.
    assert_eq!(run(3), Some((3540, 4)));
    // Only the 7th and last transmission (31.5 s) gets through.
    assert_eq!(run(6), Some((31540, 7)));
}

#[test]
fn total_loss_times_out_after_rc_transmissions() {
    assert_eq!(run(7), None);
}
