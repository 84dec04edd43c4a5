//! SRTP and SRTCP (RFC 3711) with the AES-CM/HMAC-SHA1 profiles and the
//! AEAD AES-GCM profiles of RFC 7714, for DTLS-SRTP (RFC 5764).
//!
//! A [`Context`] is keyed once from a master key and salt (for DTLS-SRTP,
//! one direction of the exporter's output as [`KeyingMaterial::split`]
//! divides it) and then protects or unprotects packets in place in the
//! caller's buffer: no allocation per packet. It tracks per-SSRC rollover counters (RFC 3711 Appendix A), replay
//! windows (default 64 packets, configurable) and SRTCP indices.
//!
//! The crate stands alone: it reads just the RTP and RTCP header fields that
//! SRTP needs ([`RtpHeader`], [`RtcpHeader`]). Master key identifiers (MKI)
//! and key derivation rates other than 0 are not supported (DTLS-SRTP uses
//! neither).
//!
//! This crate alone knows the protection profiles: their IANA ids (which a
//! DTLS stack negotiates in use_srtp, RFC 5764 §4.1.2), their key and salt
//! lengths, and the split of the exported keying material (§4.2).
//!
//! ```
//! use fulmar_srtp::{Config, KeyingMaterial, ProtectionProfile};
//!
//! // The profile DTLS agreed on, by its IANA id.
//! let profile = ProtectionProfile::from_id(0x0007)?;
//! // The 56 bytes both ends' DTLS exporters gave for
//! // `DTLS_SRTP_EXPORTER_LABEL` (RFC 5764 §4.2).
//! let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
//! let keys = KeyingMaterial::split(profile, &material)?;
//! // The DTLS client sends with the client's write key, the server receives
//! // with it (and the other way round with the server's).
//! let mut client_tx = keys.client_write.context(profile, Config::default())?;
//! let mut server_rx = keys.client_write.context(profile, Config::default())?;
//!
//! // An RTP packet: 12-byte header (seq 1, SSRC 0x11223344), then the payload.
//! let rtp = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, b'h', b'i'];
//! let mut packet = Vec::with_capacity(1500);
//! packet.extend_from_slice(&rtp);
//!
//! client_tx.protect_rtp(&mut packet)?;
//! assert_eq!(packet.len(), rtp.len() + profile.rtp_overhead());
//! let copy = packet.clone();
//! server_rx.unprotect_rtp(&mut packet)?;
//! assert_eq!(packet, rtp);
//!
//! // The same SRTP packet again is a replay.
//! let mut again = copy;
//! assert!(matches!(
//!     server_rx.unprotect_rtp(&mut again),
//!     Err(fulmar_srtp::Error::Replayed { .. })
//! ));
//! # Ok::<(), fulmar_srtp::Error>(())
//! ```

mod buffer;
mod cipher;
mod context;
mod dtls;
mod error;
mod header;
mod keys;
mod profile;
mod replay;
mod ssrc_map;

pub use buffer::PacketBuffer;
pub use context::{Config, Context};
pub use dtls::{KeyingMaterial, MasterKey, DTLS_SRTP_EXPORTER_LABEL, MAX_KEYING_MATERIAL_LEN};
pub use error::Error;
pub use header::{RtcpHeader, RtpHeader, RTCP_HEADER_LEN, RTP_FIXED_HEADER_LEN};
pub use keys::{derive_key, SessionKeys};
pub use profile::ProtectionProfile;
pub use replay::{MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
pub use ssrc_map::{SsrcHasher, SsrcMap};
