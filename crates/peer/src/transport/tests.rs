//! The lazy transport state: buffers, SACK batching, close order, SRTP on demand.

use super::*;
use crate::ChannelId;
use bytes::Bytes;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Two peers with an open data channel (the shared netsim harness), taken
/// off the link: the tests below move their datagrams by hand.
fn open_pair() -> (PeerConnection, PeerConnection, ChannelId) {
    let (p, ch) = crate::test_harness::open_pair((1, 2, 9));
    (p.a.pc, p.b.pc, ch)
}

/// [`open_pair`] with nothing left in flight, its time and its channel.
fn quiet_pair() -> Result<(PeerConnection, PeerConnection, Instant, ChannelId), &'static str> {
    let (mut a, mut b, ch) = open_pair();
    let now = a.now.ok_or("the pair has no time yet")?;
    let mut buf = Vec::new();
    while a.poll_transmit(now, &mut buf).is_some() {}
    while b.poll_transmit(now, &mut buf).is_some() {}
    Ok((a, b, now, ch))
}

#[test]
fn quiet_connection_releases_buffers_and_keeps_working() -> TestResult {
    let (mut a, mut b, ch) = open_pair();
    let t = a.now.ok_or("the pair has no time yet")? + IDLE_RELEASE_AFTER;
    // Whatever the last timers queued (a consent check) goes out first.
    let mut buf = Vec::new();
    while let Some(x) = a.poll_transmit(t, &mut buf) {
        b.handle_receive(t, x.source, x.destination, &mut buf);
    }
    a.release_idle_buffers();
    assert_eq!(a.transport.transmits.capacity(), 0);
    assert_eq!(a.events.capacity(), 0);
    a.send_text(t, ch, "after idle")?;
    while let Some(x) = a.poll_transmit(t, &mut buf) {
        b.handle_receive(t, x.source, x.destination, &mut buf);
    }
    let got = core::iter::from_fn(|| b.poll_event())
        .any(|e| matches!(e, Event::DataChannelMessage { data, .. } if &data[..] == b"after idle"));
    assert!(got);
    Ok(())
}

/// SCTP packets `p`'s association has built so far (sent or waiting to be
/// polled): a due SACK the peer counts on is built as it falls due.
fn sctp_packets_built(p: &PeerConnection) -> Result<usize, std::num::TryFromIntError> {
    let built = p
        .data
        .sctp
        .get()
        .map(|dc| dc.association().stats().packets_sent);
    usize::try_from(built.unwrap_or(0))
}

/// Moves `bytes` from `a` to `b`, polling each side after every
/// datagram, so that `b` acknowledges every second packet; 3 MiB
/// carry it past the peer's slow start (twice its 1 MiB window).
fn move_polled_each(
    a: &mut PeerConnection,
    b: &mut PeerConnection,
    now: Instant,
    ch: ChannelId,
    bytes: usize,
) -> TestResult {
    let (mut buf, mut back) = (Vec::new(), Vec::new());
    let (mut sent, mut received) = (0, 0);
    for _ in 0..100_000 {
        if received >= bytes {
            return Ok(());
        }
        while sent < bytes && a.buffered_amount(ch) < 256 << 10 {
            a.send(now, ch, Bytes::from(vec![1u8; 64 << 10]), true)?;
            sent += 64 << 10;
        }
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_receive(now, t.source, t.destination, &mut buf);
            while let Some(t) = b.poll_transmit(now, &mut back) {
                a.handle_receive(now, t.source, t.destination, &mut back);
            }
        }
        while let Some(e) = b.poll_event() {
            if let Event::DataChannelMessage { data, .. } = e {
                received += data.len();
            }
        }
        while a.poll_event().is_some() {}
    }
    panic!("moved {received} of {bytes} bytes");
}

/// Sends a 60 kB message as a batch of datagrams `b` reads before it
/// is polled, and checks the SACKs and the message: one SACK per two
/// packets while `a` may be in slow start, one for the whole batch
/// once past it.
fn batch_then_deliver(past_slow_start: bool) -> TestResult {
    let (mut a, mut b, now, ch) = quiet_pair()?;
    if past_slow_start {
        move_polled_each(&mut a, &mut b, now, ch, 3 << 20)?;
    }
    let msg: Bytes = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    a.send(now, ch, msg.clone(), true)?;
    assert!(
        a.transport.transmits.is_empty(),
        "nothing is sealed before a poll"
    );
    // Everything the window allows, into one reused buffer, handed to b
    // without polling b in between (as a driver reading a batch does).
    let mut buf = Vec::new();
    let mut data_packets = 0;
    let built = sctp_packets_built(&b)?;
    while let Some(t) = a.poll_transmit(now, &mut buf) {
        b.handle_receive(now, t.source, t.destination, &mut buf);
        data_packets += 1;
    }
    assert!(data_packets >= 2, "{data_packets}");
    // During slow start each SACK was built when due (RFC 9260 §6.2),
    // each acknowledging what had arrived by then, and waits to be
    // sealed; past it, one SACK built when b is polled stands for all.
    let due = if past_slow_start { 0 } else { data_packets / 2 };
    assert_eq!(sctp_packets_built(&b)? - built, due);
    assert!(b.transport.transmits.is_empty());
    let mut sacks = 0;
    while let Some(t) = b.poll_transmit(now, &mut buf) {
        a.handle_receive(now, t.source, t.destination, &mut buf);
        sacks += 1;
    }
    assert_eq!(sacks, due.max(1), "SACKs for {data_packets} packets");
    let mut got = None;
    for _ in 0..200 {
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_receive(now, t.source, t.destination, &mut buf);
        }
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_receive(now, t.source, t.destination, &mut buf);
        }
        while let Some(e) = b.poll_event() {
            if let Event::DataChannelMessage { data, .. } = e {
                got = Some(data);
            }
        }
        if got.is_some() {
            break;
        }
    }
    assert_eq!(got, Some(msg));
    Ok(())
}

#[test]
fn a_batch_past_slow_start_is_acknowledged_by_one_sack() -> TestResult {
    batch_then_deliver(true)
}

#[test]
fn data_packets_are_built_when_polled_and_sacks_leave_at_once() -> TestResult {
    batch_then_deliver(false)
}

/// Hands `b` the datagrams `a` has to send but the `lost`-th, without
/// polling `b`; returns how many reached it.
fn batch_with_one_lost(
    a: &mut PeerConnection,
    b: &mut PeerConnection,
    now: Instant,
    lost: usize,
) -> usize {
    let mut buf = Vec::new();
    let mut delivered = 0;
    let mut n = 0;
    while let Some(t) = a.poll_transmit(now, &mut buf) {
        if n != lost {
            b.handle_receive(now, t.source, t.destination, &mut buf);
            delivered += 1;
        }
        n += 1;
    }
    delivered
}

#[test]
fn sacks_reporting_a_gap_are_each_kept_for_the_sender_to_count() -> TestResult {
    let (mut a, mut b, now, ch) = quiet_pair()?;
    move_polled_each(&mut a, &mut b, now, ch, 3 << 20)?;
    let msg: Bytes = (0..30_000u32).map(|i| (i % 251) as u8).collect();
    a.send(now, ch, msg.clone(), true)?;
    // Past slow start, but the second packet is lost: every packet
    // after it reports the gap (RFC 9260 §6.7), and each of those
    // SACKs is built at once.
    let built = sctp_packets_built(&b)?;
    let delivered = batch_with_one_lost(&mut a, &mut b, now, 1);
    assert!(delivered >= 3, "{delivered}");
    assert_eq!(sctp_packets_built(&b)? - built, delivered - 1);
    let mut buf = Vec::new();
    let sacks = core::iter::from_fn(|| b.poll_transmit(now, &mut buf)).count();
    assert_eq!(sacks, delivered - 1);
    Ok(())
}

#[test]
fn data_packets_are_sealed_into_the_callers_buffer() -> TestResult {
    let (mut a, mut b, now, ch) = quiet_pair()?;
    a.send(now, ch, Bytes::from(vec![5u8; 3000]), true)?;
    let mut buf = Vec::with_capacity(2048);
    let ptr = buf.as_ptr();
    let mut sent = 0;
    while let Some(t) = a.poll_transmit(now, &mut buf) {
        // Each packet replaces the last, in the same allocation.
        assert_eq!(t.len, buf.len());
        assert_eq!(buf.as_ptr(), ptr);
        assert_eq!(buf.first(), Some(&23), "a DTLS application_data record");
        b.handle_receive(now, t.source, t.destination, &mut buf);
        sent += 1;
    }
    assert!(sent >= 3, "{sent}");
    let got = core::iter::from_fn(|| b.poll_event())
        .any(|e| matches!(e, Event::DataChannelMessage { data, .. } if data.len() == 3000));
    assert!(got);
    Ok(())
}

#[test]
fn close_sends_the_sctp_abort_before_close_notify() -> TestResult {
    let (mut a, _b, now, _) = quiet_pair()?;
    a.close(now);
    // First byte of a DTLS record: 23 application data, 21 alert.
    let mut buf = Vec::new();
    let kinds: Vec<u8> =
        core::iter::from_fn(|| a.poll_transmit(now, &mut buf).map(|_| buf[0])).collect();
    assert_eq!(kinds, [23, 21], "ABORT in a record, then close_notify");
    Ok(())
}

#[test]
fn close_seals_the_sacks_still_due_before_close_notify() -> TestResult {
    let (mut a, mut b, now, ch) = quiet_pair()?;
    a.send(now, ch, Bytes::from(vec![9u8; 20_000]), true)?;
    // A lost packet makes the SACKs after it due at once.
    let built = sctp_packets_built(&b)?;
    batch_with_one_lost(&mut a, &mut b, now, 0);
    let due = sctp_packets_built(&b)? - built;
    assert!(due >= 2, "{due}");
    b.close(now);
    // First byte of a DTLS record: 23 application data, 21 alert.
    let mut buf = Vec::new();
    let kinds: Vec<u8> =
        core::iter::from_fn(|| b.poll_transmit(now, &mut buf).map(|_| buf[0])).collect();
    let mut want = vec![23; due + 1];
    want.push(21);
    assert_eq!(kinds, want, "the due SACKs, the ABORT, then close_notify");
    Ok(())
}

#[test]
fn data_only_session_keys_srtp_only_on_demand() -> TestResult {
    let (mut a, mut b, _) = open_pair();
    assert!(
        a.transport.srtp.is_none() && b.transport.srtp.is_none(),
        "no media, no SRTP"
    );
    assert!(a.jsep.snapshot.is_none() && b.jsep.snapshot.is_none());
    assert!(
        a.media.engine.is_none() && b.media.engine.is_none(),
        "no media engine"
    );
    // The exporter still keys them when asked (RFC 5764 §4.2).
    let rtp = [
        0x80u8, 0x60, 0, 1, 0, 0, 0, 10, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3,
    ];
    let mut packet = rtp.to_vec();
    a.ensure_srtp()
        .ok_or("no SRTP keys on the sending side")?
        .local
        .protect_rtp(&mut packet)?;
    b.ensure_srtp()
        .ok_or("no SRTP keys on the receiving side")?
        .remote
        .unprotect_rtp(&mut packet)?;
    assert_eq!(packet, rtp);
    Ok(())
}
