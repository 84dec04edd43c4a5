//! SCTP (RFC 9260) as WebRTC carries it over DTLS (RFC 8261): a zero-copy
//! packet and chunk codec, and a sans-IO association.
//!
//! ```
//! use fulmar_sctp::{Chunk, Packet, PacketWriter};
//!
//! let mut buf = Vec::new();
//! let mut w = PacketWriter::new(&mut buf, 5000, 5000, 0x1234_5678);
//! w.push(&Chunk::CookieAck);
//! w.finish(false);
//!
//! let pkt = Packet::parse(&buf).unwrap();
//! pkt.verify_checksum(false).unwrap();
//! assert_eq!(pkt.verification_tag(), 0x1234_5678);
//! assert_eq!(pkt.chunks().next().unwrap().unwrap(), Chunk::CookieAck);
//! ```

pub mod association;
pub mod chunk;
pub mod error;
pub mod list;
pub mod packet;
pub mod param;

pub use association::{
    Association, CloseReason, Config, Event, Message, SendOptions, State, Stats,
};
pub use chunk::{Chunk, Data, ForwardTsn, Init, Sack, UnknownChunk, UnknownChunkAction};
pub use error::Error;
pub use list::{List, TlvList};
pub use packet::{Packet, PacketWriter};
pub use param::{ErrorCause, GapAckBlock, Param, ReconfigParam, StreamSsn, UnknownParamAction};
