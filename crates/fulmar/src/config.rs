//! The driver's configuration.

use super::*;

/// Driver configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Local addresses to bind UDP sockets on; each becomes a host
    /// candidate, except that `0.0.0.0` and `[::]` give one host candidate per
    /// usable interface address of their family, all on the one socket
    /// (ignored by [`PeerConnection::new_on`], which uses its endpoint's).
    pub bind: Vec<SocketAddr>,
    /// With an unspecified bind: gather loopback and link-local addresses
    /// too. Without it they are used only when their family has no other
    /// address, as libwebrtc does.
    pub loopback_and_link_local: bool,
    /// The sans-IO core's configuration.
    pub peer: fulmar_peer::Config,
    /// `send` waits while a channel has more than this many bytes queued.
    pub max_buffered: usize,
    /// Received bytes a connection may queue unread for the application
    /// before the peer is flow-controlled: beyond this, unread bytes count
    /// against the SCTP receive window, so the peer's DATA waits while
    /// acknowledgements and control traffic keep flowing. Bounds the memory
    /// an application that does not read can be made to use (this plus the
    /// receive window).
    pub max_backlog: usize,
    /// STUN and TURN servers as URLs ([`Config::with_ice_servers`]),
    /// resolved when a connection starts.
    pub ice_servers: Vec<IceServer>,
    /// The TLS configuration (trusted roots) for TURN servers reached over
    /// TLS (`turns:`); such a server without it is a configuration error.
    pub turn_tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for Config {
    /// Binds one socket on 127.0.0.1 with an ephemeral port.
    fn default() -> Self {
        Config {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            loopback_and_link_local: false,
            peer: fulmar_peer::Config::default(),
            max_buffered: 1 << 20,
            max_backlog: 8 << 20,
            turn_tls: None,
            ice_servers: Vec::new(),
        }
    }
}

impl Config {
    /// The SRTP protection profiles to negotiate, most preferred first
    /// (`fulmar_peer::Config::srtp_profiles`), e.g. `&[SrtpProfile::AeadAes128Gcm]`
    /// for an operator who wants AEAD-GCM only.
    pub fn with_srtp_profiles(mut self, profiles: &[SrtpProfile]) -> Self {
        self.peer.srtp_profiles = profiles.to_vec();
        self
    }

    /// Queues at most about `bytes` of received data for the application.
    pub fn with_max_backlog(mut self, bytes: usize) -> Self {
        self.max_backlog = bytes;
        self
    }

    /// Binds on these addresses instead: `0.0.0.0:port` and/or
    /// `[::]:port` for every interface ([`Config::bind`]).
    pub fn with_bind(mut self, bind: Vec<SocketAddr>) -> Self {
        self.bind = bind;
        self
    }

    /// Binds one socket per family on every interface, `0.0.0.0:port` and
    /// `[::]:port` (0: an ephemeral port each): a host candidate per usable
    /// interface address.
    pub fn with_all_interfaces(self, port: u16) -> Self {
        self.with_bind(vec![
            SocketAddr::from(([0, 0, 0, 0], port)),
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
        ])
    }

    /// With an unspecified bind, gathers loopback and link-local addresses
    /// as well ([`Config::loopback_and_link_local`]).
    pub fn with_loopback_and_link_local(mut self) -> Self {
        self.loopback_and_link_local = true;
        self
    }

    /// Advertises `ip` in place of the host addresses of its family: the
    /// public address of a 1:1 NAT in front of this host (a cloud VM's;
    /// Janus's `nat_1_1_mapping`, LiveKit's `node_ip`), which forwards
    /// every port unchanged. Each host candidate is signalled as `ip` with
    /// its own port; checks still go out from, and arrive on, the bound
    /// socket. Call once per address (one IPv4 and one IPv6, say); a family
    /// without a public address keeps its host candidates.
    pub fn with_public_address(mut self, ip: std::net::IpAddr) -> Self {
        if !self.peer.public_addresses.contains(&ip) {
            self.peer.public_addresses.push(ip);
        }
        self
    }

    /// STUN and TURN servers, as `RTCConfiguration.iceServers` gives them
    /// (`stun:`, `turn:`, `turns:` URLs, RFC 7064 / RFC 7065): each STUN
    /// server yields server-reflexive candidates from every host candidate
    /// of its family, each TURN server a relayed candidate. Host names are
    /// resolved when a connection starts ([`Error::IceServer`] if one does
    /// not, or a URL is malformed). Gathering completes once every server
    /// answered or gave up (an unreachable STUN server: about 11.5 s).
    pub fn with_ice_servers(mut self, servers: Vec<IceServer>) -> Self {
        self.ice_servers.extend(servers);
        self
    }

    /// Allocates a relay on this TURN server, its address already known
    /// (for URLs: [`Config::with_ice_servers`]), over UDP, TCP or TLS, and
    /// offers it as a candidate; gathering completes once the allocation is
    /// done or failed.
    pub fn with_turn_server(mut self, server: TurnServer) -> Self {
        self.peer.turn_servers.push(server);
        self
    }

    /// Verifies TURN servers reached over TLS with this configuration.
    pub fn with_turn_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.turn_tls = Some(tls);
        self
    }

    /// Offers relay candidates only (`iceTransportPolicy: "relay"`).
    pub fn with_relay_only(mut self) -> Self {
        self.peer.relay_only = true;
        self
    }

    /// What remote tracks yield by default: assembled frames, RTP, or both.
    pub fn with_receive_mode(mut self, mode: ReceiveMode) -> Self {
        self.peer.receive_mode = mode;
        self
    }
}
