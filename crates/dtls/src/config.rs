//! Connection configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::cert::{Certificate, Fingerprint};
use crate::crypto::{CipherSuite, NamedGroup};

/// Default MTU: every datagram we send fits in it (WebRTC's usual 1200).
pub const DEFAULT_MTU: usize = 1200;

/// Configuration shared by client and server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Our certificate (ECDSA P-256).
    pub certificate: Arc<Certificate>,
    /// Fingerprints the peer's certificate must match one of (from SDP).
    pub expected_fingerprints: Vec<Fingerprint>,
    /// Accept any peer certificate (signatures are still verified). Only for
    /// tests and tools that check [`crate::Connection::peer_certificate`] themselves.
    pub insecure_accept_any_peer_certificate: bool,
    /// Cipher suites in preference order.
    pub cipher_suites: Vec<CipherSuite>,
    /// ECDHE groups in preference order.
    pub groups: Vec<NamedGroup>,
    /// DTLS-SRTP protection profiles (RFC 5764 §4.1.2) by IANA id, in
    /// preference order; empty (the default) disables use_srtp. The ids
    /// and what they mean are fulmar-srtp's (`ProtectionProfile::id`).
    pub srtp_profiles: Vec<u16>,
    /// Largest datagram we send.
    pub mtu: usize,
    /// Initial retransmission timeout (RFC 6347 §4.2.4.1: 1 s).
    pub initial_retransmit_timeout: Duration,
    /// Cap of the doubling retransmission timeout (RFC 6347 §4.2.4.1: 60 s).
    pub max_retransmit_timeout: Duration,
    /// Retransmissions of one flight before the handshake fails.
    pub max_retransmissions: u32,
    /// Server: answer a ClientHello without a valid cookie with a HelloVerifyRequest.
    pub hello_verify_cookie: bool,
    /// Require the extended master secret (RFC 7627 §5.2); it is used whenever offered.
    pub require_extended_master_secret: bool,
    /// Server: require a client certificate (WebRTC authenticates both ends).
    pub require_client_certificate: bool,
}

impl Config {
    /// Defaults for WebRTC with `certificate`, expecting one of `expected` from the peer.
    pub fn new(certificate: Arc<Certificate>, expected: Vec<Fingerprint>) -> Self {
        Config {
            certificate,
            expected_fingerprints: expected,
            insecure_accept_any_peer_certificate: false,
            cipher_suites: CipherSuite::ALL.to_vec(),
            groups: NamedGroup::ALL.to_vec(),
            srtp_profiles: Vec::new(),
            mtu: DEFAULT_MTU,
            initial_retransmit_timeout: Duration::from_secs(1),
            max_retransmit_timeout: Duration::from_secs(60),
            max_retransmissions: 7,
            hello_verify_cookie: true,
            require_extended_master_secret: true,
            require_client_certificate: true,
        }
    }
}
