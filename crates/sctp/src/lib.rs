//! SCTP (RFC 9260) as WebRTC carries it over DTLS (RFC 8261): a zero-copy
//! packet and chunk codec, and a sans-IO association.
//!
//! ```
//! use fulmar_sctp::{Chunk, Packet, PacketWriter};
//! # fn main() -> Result<(), fulmar_sctp::Error> {
//!
//! let mut buf = Vec::new();
//! let mut w = PacketWriter::new(&mut buf, 5000, 5000, 0x1234_5678);
//! w.push(&Chunk::CookieAck);
//! w.finish(false);
//!
//! let pkt = Packet::parse(&buf)?;
//! pkt.verify_checksum(false)?;
//! assert_eq!(pkt.verification_tag(), 0x1234_5678);
//! assert_eq!(pkt.chunks().next().transpose()?, Some(Chunk::CookieAck));
//! # Ok(()) }
//! ```
//!
//! Two associations talking in memory (a real driver carries the packets
//! in DTLS records and sleeps until `poll_timeout`). The association
//! follows the stack's sans-IO contract: `handle_receive(now, &[u8])`,
//! `poll_transmit(now, &mut Vec<u8>) -> Option<usize>`, `poll_event`,
//! `poll_timeout` and `handle_timeout`; the application's input comes
//! through `connect`, `send`, `reset_streams`, `shutdown` and `abort`.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use fulmar_sctp::{Association, Config, Event, SendOptions};
//! use rand::SeedableRng;
//!
//! let now = Instant::now();
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let mut a = Association::new(Config::default(), &mut rng, now);
//! let mut b = Association::new(Config::default(), &mut rng, now);
//! a.connect(now)?;
//! b.connect(now)?; // both send INIT, as browsers do (RFC 9260 §5.2.1)
//! a.send(now, 0, 51, Bytes::from_static(b"hi"), SendOptions::default())?;
//! let (mut got, mut buf) = (Vec::new(), Vec::new());
//! for _ in 0..10 {
//!     // One reused buffer: `poll_transmit` appends (a DTLS layer reserves
//!     // room for its record header first), so each packet starts empty.
//!     while a.poll_transmit(now, &mut buf).is_some() { b.handle_receive(now, &buf); buf.clear(); }
//!     while b.poll_transmit(now, &mut buf).is_some() { a.handle_receive(now, &buf); buf.clear(); }
//!     while let Some(e) = b.poll_event() {
//!         if let Event::Message(m) = e { got.push(m.data); }
//!     }
//! }
//! assert_eq!(got, [Bytes::from_static(b"hi")]);
//! assert!(a.is_established() && b.is_established());
//! # Ok::<(), fulmar_sctp::Error>(())
//! ```
//!
//! Specifications: RFC 9260 (SCTP), RFC 8261 (SCTP over DTLS), RFC 3758
//! (PR-SCTP), RFC 6525 (stream reconfiguration), RFC 9653 (zero checksum),
//! RFC 7053 (I bit).

pub mod association;
pub mod chunk;
pub mod error;
pub mod list;
pub mod packet;
pub mod param;

pub use association::{
    AbortCause, Association, CloseReason, Config, Event, Message, ProtocolViolation,
    RetransmissionLimit, SendOptions, State, Stats,
};
pub use chunk::{Chunk, Data, ForwardTsn, Init, Sack, UnknownChunk, UnknownChunkAction};
pub use error::Error;
pub use list::{List, TlvList};
pub use packet::{Packet, PacketWriter};
pub use param::{ErrorCause, GapAckBlock, Param, ReconfigParam, StreamSsn, UnknownParamAction};
