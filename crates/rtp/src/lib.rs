//! # fulmar-rtp
//!
//! Sans-IO RTP and RTCP for the Fulmar WebRTC stack: zero-copy packet views
//! and builders that write into caller buffers (RFC 3550, RFC 8285), RTCP
//! compound packets (RFC 3550, 4585, 5104, 5506, transport-wide CC),
//! codec packetizers and depacketizers with frame assembly (Opus, VP8, VP9,
//! H.264, AV1), receive-side helpers (reorder buffer, NACK, RTX, statistics,
//! sender reports, send history) and media containers (IVF, Annex-B, Ogg).
//!
//! ```
//! use fulmar_rtp::{RtpPacket, RtpRepr, HeaderExtension, HeaderExtensionElement};
//! use fulmar_rtp::extension::{AudioLevel, ExtensionValue};
//!
//! // Build a packet with an audio-level extension into a stack buffer.
//! let mut level = [0u8; 1];
//! AudioLevel { voice_activity: true, level: 30 }.write(&mut level)?;
//! let elements = [HeaderExtensionElement { id: 1, data: &level }];
//! let repr = RtpRepr {
//!     payload_type: 111,
//!     sequence_number: 7,
//!     timestamp: 960,
//!     ssrc: 0x1234_5678,
//!     extension: HeaderExtension::Elements(&elements),
//!     payload: b"opus",
//!     ..Default::default()
//! };
//! let mut buf = [0u8; 1500];
//! let len = repr.emit(&mut buf)?;
//!
//! // Parse it back without copying.
//! let packet = RtpPacket::new_checked(&buf[..len])?;
//! assert_eq!(packet.sequence_number(), 7);
//! let level = AudioLevel::parse(packet.extension(1).unwrap_or_default())?;
//! assert_eq!(level.level, 30);
//! assert_eq!(packet.payload(), b"opus");
//! # Ok::<(), fulmar_rtp::Error>(())
//! ```

pub mod assembler;
pub mod codec;
pub mod container;
mod error;
pub mod extension;
pub mod history;
pub mod nack;
pub mod packet;
pub mod rtcp;
pub mod rtx;
pub mod seq;
pub mod stats;
mod wire;

pub use assembler::{Frame, FrameAssembler};
pub use codec::{Codec, Depacketizer, Packetizer};
pub use error::{Error, Result};
pub use extension::{ExtensionIter, ExtensionProfile, HeaderExtensionElement};
pub use history::SendHistory;
pub use nack::{NackConfig, NackGenerator};
pub use packet::{HeaderExtension, RtpPacket, RtpRepr};
pub use seq::SequenceUnwrapper;
pub use stats::{NtpClock, ReceiverStats, RtpNtpMapping, SenderStats};
