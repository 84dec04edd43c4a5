//! Configuration of a peer connection.

use std::net::SocketAddr;
use std::sync::Arc;

use fulmar_dtls::Certificate;

use crate::ReceiveMode;

/// Configuration of a [`PeerConnection`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The DTLS certificate; one is generated when `None`.
    pub certificate: Option<Arc<Certificate>>,
    /// STUN servers for server-reflexive candidates.
    pub stun_servers: Vec<SocketAddr>,
    /// The `a=max-message-size` we accept (RFC 8841 §6).
    pub max_message_size: u64,
    /// The SCTP association's settings (ports and peer limits are set from SDP).
    pub sctp: fulmar_sctp::Config,
    /// What remote tracks yield by default (per transceiver:
    /// [`PeerConnection::set_receive_mode`]).
    pub receive_mode: ReceiveMode,
    /// Largest RTP/RTCP datagram built, before SRTP (default 1200).
    pub media_mtu: usize,
    /// The SRTP protection profiles offered (as DTLS client) or accepted (as
    /// server) in DTLS-SRTP, most preferred first (RFC 5764 §4.1.1).
    /// Default: [`fulmar_srtp::ProtectionProfile::PREFERRED`]. An operator may
    /// narrow it, e.g. to AEAD-GCM only; a peer that shares none gets no
    /// media keys (data channels still work).
    pub srtp_profiles: Vec<fulmar_srtp::ProtectionProfile>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            certificate: None,
            stun_servers: Vec::new(),
            max_message_size: 262_144,
            sctp: fulmar_sctp::Config::default(),
            receive_mode: ReceiveMode::Frames,
            media_mtu: 1200,
            srtp_profiles: fulmar_srtp::ProtectionProfile::PREFERRED.to_vec(),
        }
    }
}
