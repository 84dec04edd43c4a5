//! What the core hands the shell: transmits, events, data to relay, and
//! counters.

use super::*;

/// A message for a client, or for a peer from an allocation's relayed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTransmit {
    /// The client's 5-tuple.
    pub five_tuple: FiveTuple,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// What the shell must know about allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// An allocation was created: start relaying on `relayed`.
    AllocationCreated {
        /// The client's 5-tuple.
        five_tuple: FiveTuple,
        /// Its relayed transport addresses (two for a dual allocation).
        relayed: RelayedAddresses,
        /// The authenticated user name.
        username: String,
    },
    /// An allocation was deleted (by the client) or expired: stop relaying on `relayed`.
    AllocationDeleted {
        /// The client's 5-tuple.
        five_tuple: FiveTuple,
        /// Its relayed transport addresses.
        relayed: RelayedAddresses,
        /// True when it expired rather than being deleted.
        expired: bool,
    },
}

/// Data the shell must send to a peer from a relayed address, borrowed from
/// the client's datagram (no copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayToPeer<'a> {
    /// The allocation's relayed address to send from.
    pub relayed: SocketAddr,
    /// The peer.
    pub peer: SocketAddr,
    /// The application data.
    pub data: &'a [u8],
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// STUN requests received (all methods).
    pub requests: u64,
    /// Binding requests answered.
    pub binding_requests: u64,
    /// Allocations created.
    pub allocations_created: u64,
    /// Allocations deleted by their client.
    pub allocations_deleted: u64,
    /// Allocations that expired.
    pub allocations_expired: u64,
    /// Permissions installed (not counting refreshes).
    pub permissions_created: u64,
    /// Channels bound (not counting refreshes).
    pub channels_bound: u64,
    /// 401 challenges to requests without credentials.
    pub challenges: u64,
    /// Requests with wrong or unknown credentials.
    pub auth_failures: u64,
    /// 438 answers.
    pub stale_nonces: u64,
    /// Allocations refused by a quota (486 or 508).
    pub quota_rejections: u64,
    /// Requests naming a peer the policy denies (403).
    pub peer_denied: u64,
    /// Error responses sent (all codes).
    pub error_responses: u64,
    /// Malformed datagrams dropped (bad STUN, bad ChannelData, bad FINGERPRINT).
    pub malformed: u64,
    /// Data dropped for want of an allocation, permission or channel.
    pub dropped_no_permission: u64,
    /// Data dropped by the bandwidth limit.
    pub dropped_bandwidth: u64,
    /// Packets relayed client → peer.
    pub packets_to_peer: u64,
    /// Bytes relayed client → peer (application data).
    pub bytes_to_peer: u64,
    /// Packets relayed peer → client.
    pub packets_to_client: u64,
    /// Bytes relayed peer → client (application data).
    pub bytes_to_client: u64,
}

/// Counts of what exists now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerGauges {
    /// Live allocations.
    pub allocations: usize,
    /// Live permissions, all allocations.
    pub permissions: usize,
    /// Live channel bindings, all allocations.
    pub channels: usize,
}
