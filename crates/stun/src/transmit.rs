//! The one addressed datagram type of the stack's sans-IO contract.
//!
//! Every addressed sans-IO type in Fulmar (the Binding responder here, the
//! ICE agent, the TURN client and server, the peer connection) hands back
//! datagrams the same way: `poll_transmit(now, &mut Vec<u8>)` writes the bytes
//! into the caller's buffer and returns a [`Transmit`] that says where they go.
//! The byte-pipe layers (DTLS, SCTP) return a length instead.

use std::net::SocketAddr;

/// A datagram written at the start of the caller's buffer by a
/// `poll_transmit(now, &mut Vec<u8>)`: send `buf[..len]` from `source` to
/// `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transmit {
    /// The local transport address to send from.
    pub source: SocketAddr,
    /// Where to send.
    pub destination: SocketAddr,
    /// Bytes written into the caller's buffer (which also has this length).
    pub len: usize,
}
