//! How a client is configured: the server, credentials, transport and
//! address families.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTransport {
    /// UDP datagrams: requests are retransmitted (RFC 8489 §6.2.1).
    Udp,
    /// A TCP or TLS stream: no retransmission, ChannelData padded to four
    /// bytes (RFC 8656 §12.5); split the received stream with
    /// [`crate::StreamFramer`].
    Stream,
}

/// What the client needs to know to allocate.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The TURN server's transport address.
    pub server: SocketAddr,
    /// The local transport address the client sends from (its socket's),
    /// reported as the source of every [`crate::Transmit`]; the unspecified
    /// address of the server's family until set with
    /// [`ClientConfig::with_local`].
    pub local: SocketAddr,
    /// Long-term credential user name (or `expiry:user` for time-limited credentials).
    pub username: String,
    /// Long-term credential password.
    pub password: String,
    /// UDP or a stream.
    pub transport: ClientTransport,
    /// Allocation lifetime to ask for (LIFETIME); the server's default when `None`.
    pub lifetime: Option<Duration>,
    /// A SOFTWARE attribute for requests.
    pub software: Option<String>,
    /// REQUESTED-ADDRESS-FAMILY: the family of the relayed address; the
    /// server allocates IPv4 when `None` (RFC 8656 §7.1).
    pub requested_family: Option<AddressFamily>,
    /// ADDITIONAL-ADDRESS-FAMILY IPv6: ask for an IPv6 relayed address
    /// beside the IPv4 one, a dual allocation (RFC 8656 §7.1); ignored when
    /// `requested_family` is set.
    pub dual_allocation: bool,
}

impl ClientConfig {
    /// A UDP client of `server` with long-term credentials.
    pub fn new(server: SocketAddr, username: &str, password: &str) -> Self {
        let unspecified: IpAddr = if server.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        ClientConfig {
            server,
            local: SocketAddr::new(unspecified, 0),
            username: username.to_owned(),
            password: password.to_owned(),
            transport: ClientTransport::Udp,
            lifetime: None,
            software: None,
            requested_family: None,
            dual_allocation: false,
        }
    }

    /// The same, asking for a relayed address of `family` only.
    pub fn with_requested_family(mut self, family: AddressFamily) -> Self {
        self.requested_family = Some(family);
        self
    }

    /// The same, asking for both an IPv4 and an IPv6 relayed address.
    pub fn with_dual_allocation(mut self) -> Self {
        self.dual_allocation = true;
        self
    }

    /// The same, sending from the local transport address `local`.
    pub fn with_local(mut self, local: SocketAddr) -> Self {
        self.local = local;
        self
    }

    /// The same with another transport.
    pub fn with_transport(mut self, transport: ClientTransport) -> Self {
        self.transport = transport;
        self
    }
}
