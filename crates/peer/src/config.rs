//! Configuration of a peer connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use fulmar_dtls::Certificate;

use crate::{ReceiveMode, RelayProtocol};

/// A TURN server to allocate a relay on (RFC 8656), with long-term
/// credentials (for time-limited ones the username is `expiry:user`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TurnServer {
    /// The server's transport address.
    pub addr: SocketAddr,
    /// The user name.
    pub username: String,
    /// The password.
    pub credential: String,
    /// How the server is reached: UDP from a host socket, or a TCP or TLS
    /// stream the driver opens (which also ranks the relayed candidate).
    pub transport: RelayProtocol,
    /// The name the server's TLS certificate must carry (a `turns:` URL's
    /// host), checked by the driver that opens the TLS stream (the core
    /// does not use it); the address's IP when `None`.
    pub server_name: Option<String>,
}

impl TurnServer {
    /// A TURN server reached over UDP at `addr`.
    pub fn new(addr: SocketAddr, username: &str, credential: &str) -> Self {
        TurnServer {
            addr,
            username: username.to_owned(),
            credential: credential.to_owned(),
            transport: RelayProtocol::Udp,
            server_name: None,
        }
    }

    /// The same server reached over another transport.
    pub fn with_transport(mut self, transport: RelayProtocol) -> Self {
        self.transport = transport;
        self
    }

    /// The same, its TLS certificate verified for `name`.
    pub fn with_server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }
}

/// Configuration of a [`PeerConnection`](crate::PeerConnection).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The DTLS certificate; one is generated when `None`.
    pub certificate: Option<Arc<Certificate>>,
    /// STUN servers for server-reflexive candidates.
    pub stun_servers: Vec<SocketAddr>,
    /// Public addresses of a 1:1 NAT in front of this host (a cloud VM's;
    /// Janus's `nat_1_1_mapping`): host candidates are signalled with these
    /// addresses of their family, and their own ports, in place of their
    /// own; a family without public addresses keeps its host addresses
    /// (`fulmar_ice::IceConfig::public_addresses`).
    pub public_addresses: Vec<IpAddr>,
    /// The `a=max-message-size` we accept (RFC 8841 §6).
    pub max_message_size: u64,
    /// The SCTP association's settings (ports and peer limits are set from SDP).
    pub sctp: fulmar_sctp::Config,
    /// What remote tracks yield by default (per transceiver:
    /// [`PeerConnection::set_receive_mode`](crate::PeerConnection::set_receive_mode)).
    pub receive_mode: ReceiveMode,
    /// Largest RTP/RTCP datagram built, before SRTP (default 1200).
    pub media_mtu: usize,
    /// The SRTP protection profiles offered (as DTLS client) or accepted (as
    /// server) in DTLS-SRTP, most preferred first (RFC 5764 §4.1.1).
    /// Default: [`fulmar_srtp::ProtectionProfile::PREFERRED`]. An operator may
    /// narrow it, e.g. to AEAD-GCM only; a peer that shares none gets no
    /// media keys (data channels still work).
    pub srtp_profiles: Vec<fulmar_srtp::ProtectionProfile>,
    /// TURN servers to allocate relays on: each relayed address becomes a
    /// candidate (see [`crate::PeerConnection::add_host_candidate`] for when the
    /// allocations start and the crate docs for how their datagrams move).
    pub turn_servers: Vec<TurnServer>,
    /// Offer relayed candidates only (`iceTransportPolicy: "relay"`) when
    /// TURN servers are configured: host sockets carry TURN traffic but are
    /// not candidates.
    pub relay_only: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            certificate: None,
            stun_servers: Vec::new(),
            public_addresses: Vec::new(),
            max_message_size: 262_144,
            sctp: fulmar_sctp::Config::default(),
            receive_mode: ReceiveMode::Frames,
            media_mtu: 1200,
            srtp_profiles: fulmar_srtp::ProtectionProfile::PREFERRED.to_vec(),
            turn_servers: Vec::new(),
            relay_only: false,
        }
    }
}
