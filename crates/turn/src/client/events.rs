//! What the client hands the application: datagrams for the server,
//! events, received data, state and counters.

use super::*;

/// What the application learns from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The allocation succeeded (RFC 8656 §7.3).
    Allocated {
        /// The relayed transport address peers send to (the IPv4 one of a
        /// dual allocation).
        relayed: SocketAddr,
        /// The IPv6 relayed address of a dual allocation, if the server
        /// granted one (RFC 8656 §7.3).
        additional_relayed: Option<SocketAddr>,
        /// The client's address as the server saw it (XOR-MAPPED-ADDRESS).
        mapped: SocketAddr,
        /// Granted lifetime.
        lifetime: Duration,
    },
    /// The allocation failed: an error response (`code`) or no response (`None`).
    AllocationFailed {
        /// The ERROR-CODE, if the server answered.
        code: Option<u16>,
    },
    /// A Refresh succeeded with this lifetime.
    Refreshed {
        /// Granted lifetime.
        lifetime: Duration,
    },
    /// A permission for this peer IP is installed (or refreshed for the first time).
    PermissionCreated {
        /// The peer IP.
        peer: IpAddr,
    },
    /// A CreatePermission failed.
    PermissionFailed {
        /// The peer IP.
        peer: IpAddr,
        /// The ERROR-CODE, or `None` on timeout.
        code: Option<u16>,
    },
    /// A channel is bound: data to and from `peer` now uses ChannelData.
    ChannelBound {
        /// The peer.
        peer: SocketAddr,
        /// Its channel number.
        channel: u16,
    },
    /// A ChannelBind failed.
    ChannelBindFailed {
        /// The peer.
        peer: SocketAddr,
        /// The ERROR-CODE, or `None` on timeout.
        code: Option<u16>,
    },
    /// The allocation is gone: deleted on [`Client::close`] (`graceful`), or
    /// lost because a Refresh failed or it expired.
    Closed {
        /// True after a requested deallocation.
        graceful: bool,
    },
}

/// What [`Client::handle_receive`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Data from a peer through the relay (a Data indication or ChannelData),
    /// borrowed from the datagram.
    PeerData {
        /// The peer that sent it.
        peer: SocketAddr,
        /// The application data.
        data: &'a [u8],
    },
    /// A response or something dropped; nothing for the application.
    Consumed,
    /// Not from the server: the caller should handle it otherwise.
    NotFromServer,
}

/// The client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Created, nothing sent.
    Idle,
    /// Allocate in progress.
    Allocating,
    /// The allocation exists.
    Allocated,
    /// Deallocation requested.
    Closing,
    /// No allocation, and none will come.
    Closed,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Datagrams from the server that were malformed or unexpected.
    pub dropped: u64,
    /// Retransmitted requests.
    pub retransmissions: u64,
    /// Data received from peers.
    pub peer_data_received: u64,
}
