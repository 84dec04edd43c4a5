//! # fulmar-stun
//!
//! STUN (RFC 8489) and TURN (RFC 8656) messages for the Fulmar WebRTC stack,
//! usable on their own:
//!
//! - [`Message`]: a zero-copy, validated view of a received message with typed
//!   access to every attribute of RFC 8489, ICE (RFC 8445) and TURN (RFC 8656)
//!   through [`Message::get`]; unknown comprehension-optional attributes (such
//!   as Chromium's GOOG-NETWORK-INFO) stay readable as raw attributes, and
//!   unknown comprehension-required ones are reported so a server can answer 420.
//! - [`MessageBuilder`]: writes a message into a caller's buffer without
//!   allocating, with MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT.
//! - [`IntegrityKey`]: short-term and long-term credentials (MD5 or SHA-256 keys),
//!   verified in constant time.
//! - [`channel_data`]: TURN ChannelData framing (RFC 8656 §12); [`demux`]: the
//!   RFC 7983 first-byte classifier.
//! - [`transaction`]: client retransmission timing (RTO, Rc, Rm); [`server`]: a
//!   sans-IO Binding responder; [`Transmit`]: the addressed datagram every
//!   sans-IO type of the stack hands back from `poll_transmit`.
//!
//! ```
//! use fulmar_stun::attributes::{Priority, Username, XorMappedAddress};
//! use fulmar_stun::{Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};
//!
//! // An ICE connectivity check signed with the peer's ice-pwd.
//! let key = IntegrityKey::short_term("the-remote-password");
//! let mut buf = [0u8; 128];
//! let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TransactionId::new([1; 12]));
//! b.add(&Username("remote:local"))
//!     .add(&Priority(1_845_501_695))
//!     .add_message_integrity(&key)
//!     .add_fingerprint();
//! let request = b.finish()?;
//!
//! // The receiving side: parse, check, read.
//! let msg = Message::parse(request)?;
//! msg.verify_fingerprint()?;
//! msg.verify_integrity(&key)?;
//! assert_eq!(msg.method(), Method::BINDING);
//! assert_eq!(msg.get::<Username>()?.as_str(), "remote:local");
//! assert!(msg.get::<XorMappedAddress>().is_err()); // absent
//! # Ok::<(), fulmar_stun::Error>(())
//! ```

pub mod attributes;
mod builder;
pub mod channel_data;
pub mod demux;
mod error;
mod header;
mod integrity;
mod message;
pub mod server;
pub mod transaction;
mod transmit;

pub use attributes::{Attribute, AttributeType, RawAttribute};
pub use builder::MessageBuilder;
pub use channel_data::ChannelData;
pub use demux::{classify, classify_in, PacketKind};
pub use error::Error;
pub use header::{
    Class, MessageType, Method, TransactionId, HEADER_LEN, MAGIC_COOKIE, MAX_MESSAGE_LEN,
};
pub use integrity::{long_term_key_md5, long_term_key_sha256, IntegrityKey, FINGERPRINT_XOR};
pub use message::{is_stun, message_len, Attributes, Message};
pub use transmit::Transmit;
