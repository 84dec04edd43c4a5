//! SCTP's end as the application sees it: a peer whose association aborts
//! with a cause fails the connection with that cause; a peer that closes
//! (a User-Initiated Abort, then close_notify) closes it. Two peer
//! connections on fulmar-netsim's two-party `Pair`; the misbehaving one has
//! a forged SCTP packet slipped under its DTLS, which is what it takes to
//! make our own association abort.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_datachannel::ChannelConfig;
use fulmar_netsim::{LinkConfig, Pair, Party};
use fulmar_sctp::param::cause_code;
use fulmar_sctp::{
    AbortCause, Chunk, CloseReason, List, Packet, PacketWriter, ProtocolViolation, Sack,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::{ChannelId, Config, Event, Failure, PeerConnection, PeerConnectionState};

/// A peer connection on the pair's link, which has one address at each
/// end (its host candidate).
struct Peer {
    pc: PeerConnection,
    local: SocketAddr,
    remote: SocketAddr,
}

impl Party for Peer {
    type Event = Event;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.pc
            .handle_receive_in_place(now, self.remote, self.local, datagram);
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.pc.poll_transmit_into(buf).map(|_| buf.len())
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.pc.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

/// A and B connected, with the data channel "chat" from A open at both.
fn open_pair() -> (Pair<Peer, Peer>, ChannelId) {
    let now = Instant::now();
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (
        "198.51.100.1:4000".parse().unwrap(),
        "198.51.100.2:5000".parse().unwrap(),
    );
    let new = |seed| PeerConnection::new(Config::default(), StdRng::seed_from_u64(seed)).unwrap();
    let (mut a, mut b) = (new(11), new(12));
    let chat = a.create_data_channel(ChannelConfig::new("chat")).unwrap();
    a.add_host_candidate(now, a_addr).unwrap();
    b.add_host_candidate(now, b_addr).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, offer.clone()).unwrap();
    b.set_remote_description(now, offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, answer.clone()).unwrap();
    a.set_remote_description(now, answer).unwrap();
    let a = Peer {
        pc: a,
        local: a_addr,
        remote: b_addr,
    };
    let b = Peer {
        pc: b,
        local: b_addr,
        remote: a_addr,
    };
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(10));
    let mut p = Pair::new(now, a, b, 9).with_link(link);
    let open = p.run_until(Duration::from_secs(10), |p| {
        p.events_a.contains(&Event::DataChannelOpen(chat))
            && p.events_b
                .iter()
                .any(|e| matches!(e, Event::DataChannelOpen(_)))
    });
    assert!(open, "the channel opened");
    (p, chat)
}

/// The failure a party's application was told of, if any.
fn failure(events: &[Event]) -> Option<Failure> {
    events.iter().find_map(|e| match e {
        Event::ConnectionStateChange(PeerConnectionState::Failed(f)) => Some(f.clone()),
        _ => None,
    })
}

/// The next SCTP packet `pc`'s association sends, taken before DTLS seals
/// it (it is lost; SCTP retransmits what it carried).
fn plaintext_packet(pc: &mut PeerConnection, now: Instant) -> Vec<u8> {
    let mut buf = Vec::new();
    let dc = pc.data.sctp.get_mut().unwrap();
    dc.poll_transmit(now, &mut buf).unwrap();
    buf
}

/// The first DATA chunk's TSN in an SCTP packet.
fn first_tsn(packet: &[u8]) -> u32 {
    let chunks = Packet::parse(packet).unwrap().chunks();
    chunks
        .filter_map(|c| match c {
            Ok(Chunk::Data(d)) => Some(d.tsn),
            _ => None,
        })
        .next()
        .unwrap()
}

#[test]
fn a_peer_that_aborts_fails_the_connection_with_its_cause() {
    let (mut p, chat) = open_pair();
    let now = p.now();
    // B's ports and verification tag, from a packet A sends it; a TSN B
    // has sent, from a packet of its own.
    p.a.pc
        .send(now, chat, Bytes::from_static(b"to b"), true)
        .unwrap();
    let to_b = plaintext_packet(&mut p.a.pc, now);
    let to_b = Packet::parse(&to_b).unwrap();
    let b_stream = p.b.pc.data.by_stream.keys().copied().next().unwrap();
    let b_channel = ChannelId(p.b.pc.data.by_stream[&b_stream]);
    p.b.pc
        .send(now, b_channel, Bytes::from_static(b"to a"), true)
        .unwrap();
    let sent_by_b = first_tsn(&plaintext_packet(&mut p.b.pc, now));
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
        .unwrap()
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
}

#[test]
fn a_peer_that_closes_closes_the_connection_without_failing_it() {
    let (mut p, chat) = open_pair();
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
}
