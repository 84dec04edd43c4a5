//! SCTP's end as the application sees it: a peer whose association aborts
//! with a cause fails the connection with that cause; a peer that closes
//! (a User-Initiated Abort, then close_notify) closes it. Two peer
//! connections on fulmar-netsim's two-party `Pair`; the misbehaving one has
//! a forged SCTP packet slipped under its DTLS, which is what it takes to
//! make our own association abort.

use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_sctp::param::cause_code;
use fulmar_sctp::{
    AbortCause, Chunk, CloseReason, List, Packet, PacketWriter, ProtocolViolation, Sack,
};

use crate::{ChannelId, Event, Failure, PeerConnection, PeerConnectionState};

use crate::test_harness::{failure, open_pair};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The next SCTP packet `pc`'s association sends, taken before DTLS seals
/// it (it is lost; SCTP retransmits what it carried).
fn plaintext_packet(pc: &mut PeerConnection, now: Instant) -> Result<Vec<u8>, &'static str> {
    let mut buf = Vec::new();
    let dc = pc.data.sctp.get_mut().ok_or("no SCTP association")?;
    dc.poll_transmit(now, &mut buf)
        .ok_or("the association has no packet to send")?;
    Ok(buf)
}

/// The first DATA chunk's TSN in an SCTP packet.
fn first_tsn(packet: &[u8]) -> Result<u32, Box<dyn std::error::Error>> {
    let chunks = Packet::parse(packet)?.chunks();
    let tsn = chunks
        .filter_map(|c| match c {
            Ok(Chunk::Data(d)) => Some(d.tsn),
            _ => None,
        })
        .next()
        .ok_or("no DATA chunk in the packet")?;
    Ok(tsn)
}

#[test]
fn a_peer_that_aborts_fails_the_connection_with_its_cause() -> TestResult {
    let (mut p, chat) = open_pair((11, 12, 9));
    let now = p.now();
    // B's ports and verification tag, from a packet A sends it; a TSN B
    // has sent, from a packet of its own.
    p.a.pc.send(now, chat, Bytes::from_static(b"to b"), true)?;
    let to_b = plaintext_packet(&mut p.a.pc, now)?;
    let to_b = Packet::parse(&to_b)?;
    let b_stream =
        p.b.pc
            .data
            .by_stream
            .keys()
            .copied()
            .next()
            .ok_or("B has no data channel stream")?;
    let b_channel = ChannelId(p.b.pc.data.by_stream[&b_stream]);
    p.b.pc
        .send(now, b_channel, Bytes::from_static(b"to a"), true)?;
    let sent_by_b = first_tsn(&plaintext_packet(&mut p.b.pc, now)?)?;
    // A SACK for TSNs B never sent: B's association aborts with the
    // Protocol Violation cause (RFC 9260 §9.2) and says so to A.
    let mut forged = Vec::new();
    let mut w = PacketWriter::new(
        &mut forged,
        to_b.source_port(),
        to_b.destination_port(),
        to_b.verification_tag(),
    );
    w.push(&Chunk::Sack(Sack {
        cumulative_tsn_ack: sent_by_b.wrapping_add(100),
        a_rwnd: 1 << 20,
        gap_blocks: List::empty(),
        duplicate_tsns: List::empty(),
    }));
    w.finish(false);
    p.b.pc
        .data
        .sctp
        .get_mut()
        .ok_or("B has no SCTP association")?
        .handle_receive(now, &forged);
    let failed = p.run_until(Duration::from_secs(5), |p| {
        failure(&p.events_a).is_some() && failure(&p.events_b).is_some()
    });
    assert!(failed, "both failed");
    // A, whose peer aborted, learns the peer's cause.
    let cause = AbortCause {
        code: cause_code::PROTOCOL_VIOLATION,
        info: b"cumulative TSN ack beyond the highest TSN sent".to_vec(),
    };
    assert_eq!(
        failure(&p.events_a),
        Some(Failure::Sctp(CloseReason::PeerAbort(Some(cause))))
    );
    assert!(p.events_a.contains(&Event::DataChannelClose(chat)));
    // B, which saw the violation, names it.
    assert_eq!(
        failure(&p.events_b),
        Some(Failure::Sctp(CloseReason::ProtocolViolation(
            ProtocolViolation::AckOfUnsentTsn
        )))
    );
    assert!(p.events_b.contains(&Event::DataChannelClose(b_channel)));
    Ok(())
}

#[test]
fn a_peer_that_closes_closes_the_connection_without_failing_it() -> TestResult {
    let (mut p, chat) = open_pair((11, 12, 9));
    let now = p.now();
    // A User-Initiated Abort, then close_notify: the peer's application
    // closed, nobody misbehaved.
    p.b.pc.close(now);
    let closed = p.run_until(Duration::from_secs(5), |p| {
        p.a.pc.connection_state() == PeerConnectionState::Closed
    });
    assert!(closed, "{:?}", p.a.pc.connection_state());
    assert!(p.events_a.contains(&Event::DataChannelClose(chat)));
    assert_eq!(failure(&p.events_a), None);
    Ok(())
}
