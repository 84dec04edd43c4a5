//! Sans-IO DTLS 1.2 (RFC 6347) client and server for WebRTC.
//!
//! - Record layer: zero-copy record views, epochs, 48-bit sequence numbers,
//!   a sliding anti-replay window, every datagram within a configurable MTU.
//! - Handshake: message codecs, reassembly of out-of-order, overlapping and
//!   duplicate fragments, flights with retransmission (RFC 6347 §4.2.4),
//!   HelloVerifyRequest cookies, alerts and close_notify.
//! - ECDHE_ECDSA with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305; X25519,
//!   P-256 and P-384; extended master secret (RFC 7627); use_srtp (RFC 5764)
//!   and the RFC 5705 exporter; peers authenticated by certificate
//!   fingerprint, as in WebRTC.
//!
//! Room for DTLS 1.3 (RFC 9147) was left at each layer: the record parser
//! rejects the unified header by its first byte, so a 1.3 parser can branch
//! there; the handshake and extension codecs already carry 1.3 types
//! (supported_versions, key_share); the crypto seam names hashes and AEADs
//! independently of TLS 1.2's PRF; and handshake states are separate types,
//! so 1.3 states can join them.
//! Today a ClientHello offering 1.3 and 1.2 is answered with 1.2.
//!
//! The [`Connection`] never touches a socket or a clock: feed it datagrams with
//! `handle_receive(now, ..)`, call `handle_timeout(now)` at `poll_timeout()`,
//! and drain `poll_transmit()` and `poll_event()`.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use fulmar_dtls::{Certificate, Config, Connection, Event};
//!
//! let (ca, cb) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
//! // Each side expects the other's fingerprint, as signalled in SDP.
//! let client_cfg = Arc::new(Config::new(ca.clone(), vec![cb.fingerprint()]));
//! let server_cfg = Arc::new(Config::new(cb.clone(), vec![ca.fingerprint()]));
//! let now = Instant::now();
//! let mut client = Connection::client(client_cfg, now, rand::rngs::OsRng);
//! let mut server = Connection::server(server_cfg, rand::rngs::OsRng);
//! for _ in 0..10 {
//!     while let Some(d) = client.poll_transmit() { server.handle_receive(now, &d); }
//!     while let Some(d) = server.poll_transmit() { client.handle_receive(now, &d); }
//! }
//! assert!(client.is_connected() && server.is_connected());
//! let a = client.srtp_keying_material()?;
//! let b = server.srtp_keying_material()?;
//! assert_eq!(a, b);
//! client.send(b"hello")?;
//! while let Some(d) = client.poll_transmit() { server.handle_receive(now, &d); }
//! let mut got = None;
//! while let Some(e) = server.poll_event() {
//!     if let Event::ApplicationData(d) = e { got = Some(d); }
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # Ok::<(), fulmar_dtls::Error>(())
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
mod srtp;
#[cfg(test)]
mod tests;

pub use alert::{Alert, AlertDescription, AlertLevel};
pub use cert::{Certificate, Fingerprint};
pub use config::{Config, DEFAULT_MTU};
pub use connection::{Connection, Event, Role, State, Stats};
pub use crypto::{CipherSuite, HashAlgorithm, NamedGroup};
pub use error::{Error, Result};
pub use srtp::{SrtpKeyingMaterial, SrtpProfile};
