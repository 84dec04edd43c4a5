//! The routing of one shared UDP socket's datagrams to its connections,
//! sans-IO (the server pattern: many peer connections, one port).
//!
//! Whoever reads the socket asks [`Endpoint::handle_receive`] which
//! connection a datagram belongs to, and tells [`Endpoint::handle_transmit`]
//! what its connections send, so that answers find their way back:
//! - a STUN request goes by the local ICE ufrag in its USERNAME
//!   (`local:remote`, RFC 8445 §7.2.2), and teaches the endpoint the
//!   sender's address;
//! - a datagram from a TURN server one of the connections allocated a
//!   relay on over this socket goes to that connection (an allocation is
//!   bound to the 5-tuple, RFC 8656 §2, so one connection per server);
//! - everything else goes by the sender's address, learnt from STUN
//!   requests received and STUN messages sent.
//!
//! Every table is bounded: connections and learnt addresses by
//! [`Endpoint::with_max_routes`]; a datagram that matches nothing is dropped
//! and counted.

use std::collections::HashMap;
use std::net::SocketAddr;

use fulmar_stun::{classify, AttributeType, Class, Message, PacketKind};

/// Default bound of an endpoint's connections and of its learnt addresses.
pub const MAX_ROUTES: usize = 65_536;

/// A connection known to an [`Endpoint`] (never reused by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(u64);

/// Why an [`Endpoint`] refused a connection or a route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The endpoint routes as many connections as it may.
    #[error("too many connections on the endpoint")]
    TooManyConnections,
    /// The handle is not (or no longer) one of the endpoint's connections.
    #[error("unknown connection")]
    UnknownConnection,
    /// Another connection routes STUN requests for this ufrag.
    #[error("ICE ufrag already routed to another connection")]
    UfragTaken,
    /// Another connection has a relay on this TURN server over the socket:
    /// a second allocation on the same 5-tuple would be refused (RFC 8656
    /// §7.2, 437 Allocation Mismatch).
    #[error("a relay on TURN server {0} already uses this socket")]
    RelayServerTaken(SocketAddr),
}

/// The routing tables of one shared socket: a STUN request goes by the local
/// ICE ufrag in its USERNAME, a datagram from a TURN server to the connection
/// with a relay on it, everything else by the sender's address (learnt from
/// STUN). So a remote address belongs to one connection at a time:
/// connections that talk to the same remote address (one client connecting
/// twice to a server's port from one socket) need sockets of their own, as a
/// browser gives each peer connection; DTLS 1.2 and SRTP carry no connection
/// id to tell them apart.
///
/// ```
/// use fulmar_peer::Endpoint;
/// let mut ep = Endpoint::new();
/// let a = ep.add_connection()?;
/// ep.set_local_ufrag(a, "aUfr")?;
/// let server = std::net::SocketAddr::from(([192, 0, 2, 7], 3478));
/// ep.add_relay_server(a, server)?;
/// // What the TURN server sends goes to the connection that allocated there;
/// // a stranger's datagram goes nowhere.
/// assert_eq!(ep.handle_receive(server, &[0x40, 0, 0, 0]), Some(a));
/// let stranger = std::net::SocketAddr::from(([192, 0, 2, 9], 9));
/// assert_eq!(ep.handle_receive(stranger, &[23, 254, 253]), None);
/// assert_eq!(ep.unrouted_datagrams(), 1);
/// # Ok::<(), fulmar_peer::EndpointError>(())
/// ```
#[derive(Debug)]
pub struct Endpoint {
    next: u64,
    /// Each connection with the ufrag it is routed by.
    connections: HashMap<ConnectionHandle, Option<String>>,
    by_ufrag: HashMap<String, ConnectionHandle>,
    by_addr: HashMap<SocketAddr, ConnectionHandle>,
    /// UDP TURN servers, each with the connection whose relay is there.
    by_server: HashMap<SocketAddr, ConnectionHandle>,
    max_routes: usize,
    unrouted: u64,
}

impl Default for Endpoint {
    fn default() -> Self {
        Self::new()
    }
}

impl Endpoint {
    /// An endpoint with no connections, bounded by [`MAX_ROUTES`].
    pub fn new() -> Self {
        Self::with_max_routes(MAX_ROUTES)
    }

    /// An endpoint routing at most `max` connections and `max` learnt
    /// addresses.
    pub fn with_max_routes(max: usize) -> Self {
        Endpoint {
            next: 0,
            connections: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            by_server: HashMap::new(),
            max_routes: max,
            unrouted: 0,
        }
    }

    /// A new connection, routed nothing until it has a ufrag, a relay or
    /// sends STUN.
    pub fn add_connection(&mut self) -> Result<ConnectionHandle, EndpointError> {
        if self.connections.len() >= self.max_routes {
            return Err(EndpointError::TooManyConnections);
        }
        let h = ConnectionHandle(self.next);
        self.next += 1;
        self.connections.insert(h, None);
        Ok(h)
    }

    /// Forgets `conn` and every route to it (it ended).
    pub fn remove_connection(&mut self, conn: ConnectionHandle) {
        if let Some(Some(ufrag)) = self.connections.remove(&conn) {
            self.by_ufrag.remove(&ufrag);
        }
        self.by_addr.retain(|_, c| *c != conn);
        self.by_server.retain(|_, c| *c != conn);
    }

    /// Routes STUN requests for the local ICE `ufrag` (from the local
    /// description) to `conn`, instead of its previous one (an ICE restart
    /// brings a new ufrag).
    pub fn set_local_ufrag(
        &mut self,
        conn: ConnectionHandle,
        ufrag: &str,
    ) -> Result<(), EndpointError> {
        match self.by_ufrag.get(ufrag) {
            Some(c) if *c == conn => return Ok(()),
            Some(_) => return Err(EndpointError::UfragTaken),
            None => {}
        }
        let slot = self
            .connections
            .get_mut(&conn)
            .ok_or(EndpointError::UnknownConnection)?;
        if let Some(old) = slot.replace(ufrag.to_owned()) {
            self.by_ufrag.remove(&old);
        }
        self.by_ufrag.insert(ufrag.to_owned(), conn);
        Ok(())
    }

    /// Routes what the TURN server at `server` sends to `conn`, which
    /// allocates a relay there over this socket. One connection per server:
    /// the allocation is the socket's 5-tuple's.
    pub fn add_relay_server(
        &mut self,
        conn: ConnectionHandle,
        server: SocketAddr,
    ) -> Result<(), EndpointError> {
        if !self.connections.contains_key(&conn) {
            return Err(EndpointError::UnknownConnection);
        }
        match self.by_server.get(&server) {
            Some(c) if *c != conn => Err(EndpointError::RelayServerTaken(server)),
            _ => {
                // Bounded: at most one per connection's configured server,
                // and the caller refuses the rest.
                if self.by_server.len() >= self.max_routes {
                    return Err(EndpointError::TooManyConnections);
                }
                self.by_server.insert(server, conn);
                self.by_addr.remove(&server);
                Ok(())
            }
        }
    }

    /// `conn` sent `datagram` to `destination`: a STUN message (a check, a
    /// request to a STUN server) teaches the endpoint that answers from
    /// there are `conn`'s.
    pub fn handle_transmit(
        &mut self,
        conn: ConnectionHandle,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        if classify(datagram) != PacketKind::Stun || self.by_server.contains_key(&destination) {
            return;
        }
        self.learn(conn, destination);
    }

    /// The connection a datagram from `source` belongs to, if any (`None`
    /// drops it; it is counted in [`Self::unrouted_datagrams`]).
    pub fn handle_receive(
        &mut self,
        source: SocketAddr,
        datagram: &[u8],
    ) -> Option<ConnectionHandle> {
        if let Some(c) = self.by_server.get(&source) {
            return Some(*c);
        }
        if let Some(conn) = stun_request_ufrag(datagram).and_then(|u| self.by_ufrag.get(u)) {
            let conn = *conn;
            self.learn(conn, source);
            return Some(conn);
        }
        let routed = self.by_addr.get(&source).copied();
        if routed.is_none() {
            self.unrouted += 1;
        }
        routed
    }

    /// Routes datagrams from `remote` to `conn`, if there is room.
    fn learn(&mut self, conn: ConnectionHandle, remote: SocketAddr) {
        if self.by_addr.len() < self.max_routes || self.by_addr.contains_key(&remote) {
            self.by_addr.insert(remote, conn);
        }
    }

    /// How many connections the endpoint routes.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Remote addresses learnt (at most the bound).
    pub fn learnt_addresses(&self) -> usize {
        self.by_addr.len()
    }

    /// Datagrams that matched no connection (and were dropped).
    pub fn unrouted_datagrams(&self) -> u64 {
        self.unrouted
    }
}

/// The local ufrag of a STUN request's USERNAME (`local:remote`).
fn stun_request_ufrag(data: &[u8]) -> Option<&str> {
    // Requests only (class bits 0b00): the first byte of a request is 0 or 1.
    if data.first().is_none_or(|b| *b > 1) {
        return None;
    }
    let msg = Message::parse(data).ok()?;
    if msg.class() != Class::Request {
        return None;
    }
    let user = std::str::from_utf8(msg.raw(AttributeType::USERNAME)?).ok()?;
    user.split(':').next()
}

#[cfg(test)]
mod tests;
