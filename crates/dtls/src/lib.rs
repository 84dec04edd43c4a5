//! Sans-IO DTLS 1.2 (RFC 6347) client and server for WebRTC.
//!
//! - Record layer: zero-copy record views, epochs, 48-bit sequence numbers,
//!   a sliding anti-replay window, every datagram within a configurable MTU;
//!   records are opened and sealed in place in the caller's buffers.
//! - Handshake: message codecs, reassembly of out-of-order, overlapping and
//!   duplicate fragments, flights with retransmission (RFC 6347 §4.2.4),
//!   HelloVerifyRequest cookies, alerts and close_notify; each handshake
//!   step is a state that owns its randoms, transcript and secrets.
//! - ECDHE_ECDSA with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305; X25519,
//!   P-256 and P-384; extended master secret (RFC 7627); use_srtp (RFC 5764)
//!   negotiated by protection-profile id and the RFC 5705 exporter (the
//!   profiles themselves and the split of the exported keys are
//!   fulmar-srtp's); peers authenticated by certificate fingerprint, as in
//!   WebRTC.
//! - Failures name who misbehaved ([`Failure`]): an alert received, an
//!   alert we sent and why, a fingerprint mismatch, a handshake timeout.
//!
//! Room for DTLS 1.3 (RFC 9147) was left at each layer: the record parser
//! rejects the unified header by its first byte, so a 1.3 parser can branch
//! there; the handshake and extension codecs already carry 1.3 types
//! (supported_versions, key_share); the crypto seam names hashes and AEADs
//! independently of TLS 1.2's PRF; and handshake states are separate types,
//! so 1.3 states can join them. Today a ClientHello offering 1.3 and 1.2 is
//! answered with 1.2.
//!
//! The [`Connection`] never touches a socket or a clock and follows the
//! stack's one sans-IO contract as a byte pipe: feed it datagrams with
//! `handle_receive(now, &mut datagram)` (decrypted in place; the
//! application data is then `poll_application_data()` ranges of it), call
//! `handle_timeout(now)` at `poll_timeout()`, and drain
//! `poll_transmit(now, &mut buf)` and `poll_event()`.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use fulmar_dtls::{Certificate, Config, Connection, Event};
//!
//! let (ca, cb) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
//! // Each side expects the other's fingerprint, as signalled in SDP, and
//! // offers DTLS-SRTP with SRTP_AEAD_AES_128_GCM (RFC 7714 §14.2).
//! let mut client_cfg = Config::new(ca.clone(), vec![cb.fingerprint()]);
//! let mut server_cfg = Config::new(cb.clone(), vec![ca.fingerprint()]);
//! client_cfg.srtp_profiles = vec![0x0007];
//! server_cfg.srtp_profiles = vec![0x0007];
//! let now = Instant::now();
//! let mut client = Connection::client(Arc::new(client_cfg), now, rand::rngs::OsRng);
//! let mut server = Connection::server(Arc::new(server_cfg), rand::rngs::OsRng);
//! let mut buf = Vec::new();
//! for _ in 0..10 {
//!     while client.poll_transmit(now, &mut buf).is_some() { server.handle_receive(now, &mut buf); }
//!     while server.poll_transmit(now, &mut buf).is_some() { client.handle_receive(now, &mut buf); }
//! }
//! assert!(client.is_connected() && server.is_connected());
//! assert_eq!(client.srtp_profile(), Some(0x0007));
//! // Both ends export the same DTLS-SRTP keying material (RFC 5764 §4.2).
//! let (mut a, mut b) = ([0u8; 56], [0u8; 56]);
//! client.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut a)?;
//! server.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut b)?;
//! assert_eq!(a, b);
//! // Application data is sealed into the caller's buffer and opened in place.
//! let mut datagram = Vec::new();
//! client.seal_application_data(b"hello", &mut datagram)?;
//! server.handle_receive(now, &mut datagram);
//! let range = server.poll_application_data().ok_or("no data")?;
//! assert_eq!(&datagram[range], b"hello");
//! while let Some(e) = server.poll_event() {
//!     assert!(!matches!(e, Event::Failed(_)));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alert;
mod cert;
mod codec;
mod config;
mod connection;
mod crypto;
mod error;
mod extensions;
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod reassembly;
mod record;
mod replay;
#[cfg(test)]
mod tests;
// The unit tests share the integration tests' harness, which names the
// crate by its name.
#[cfg(test)]
extern crate self as fulmar_dtls;

pub use alert::AlertDescription;
pub use cert::{Certificate, Fingerprint};
pub use config::{Config, DEFAULT_MTU};
pub use connection::{Connection, Event, Role, Stats};
pub use crypto::{CipherSuite, HashAlgorithm, NamedGroup};
pub use error::{Error, Failure, Result};
