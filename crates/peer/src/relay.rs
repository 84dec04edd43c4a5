//! ICE over TURN (RFC 8656, RFC 8445 §5.1.1.2): a sans-IO
//! [`fulmar_turn::Client`] per configured TURN server, whose relayed address
//! becomes a candidate.
//!
//! - **Allocation.** A UDP server is reached from the first host socket of
//!   its family, as soon as one is added; a TCP or TLS one over a stream the
//!   driver opens (its transmits come from the unspecified address, port 0,
//!   and the driver frames them onto the stream it opened for the server).
//!   Local gathering completes once every allocation succeeded or failed
//!   (a server that never answers fails when its transaction times out,
//!   RFC 8489 §6.2.1).
//! - **Sending.** What the peer sends from a relayed address is wrapped for
//!   the server: a Send indication to a new destination, while a channel is
//!   bound to it (RFC 8656 §11; at most [`MAX_CHANNELS`] per allocation),
//!   then ChannelData (4 bytes of overhead instead of ~36, RFC 8656 §12).
//! - **Receiving.** A datagram (or stream frame) from a relay's server goes
//!   to its client; the peer data it carries is handed on in place, as if it
//!   had arrived at the relayed address from the peer.
//! - **Closing.** [`PeerConnection::close`] deletes the allocations with a
//!   Refresh of lifetime 0 (RFC 8656 §7.5); their timers keep running until
//!   the server answers or the transaction times out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::time::Instant;

use fulmar_turn::{Client, ClientConfig, ClientEvent, ClientTransport, Received};

use crate::{PeerConnection, RelayProtocol, TurnServer};

/// A datagram's local and remote addresses.
type Path = (SocketAddr, SocketAddr);

/// Channels bound per allocation (one per remote candidate we talk to).
pub(crate) const MAX_CHANNELS: usize = 64;
/// Most TURN servers a connection allocates on; more are ignored.
const MAX_RELAYS: usize = 8;
/// Most host sockets remembered for relays.
const MAX_SOCKETS: usize = 16;

/// One allocation.
struct Relay {
    server: TurnServer,
    /// Started once a socket (UDP) or the first instant (streams) is known.
    client: Option<Client>,
    /// The relayed address, once allocated.
    relayed: Option<SocketAddr>,
    /// Allocated or failed: gathering need not wait for it.
    settled: bool,
    /// Peers we asked a channel for.
    channels: Vec<SocketAddr>,
}

impl Relay {
    fn is_stream(&self) -> bool {
        self.server.transport != RelayProtocol::Udp
    }

    /// The address the client sends from (and datagrams from the server
    /// arrive at): its socket's, or the unspecified address for a stream.
    fn local(&self) -> Option<SocketAddr> {
        self.client.as_ref().map(|c| c.config().local)
    }
}

/// The relays of a connection.
#[derive(Default)]
pub(crate) struct Relays {
    list: Vec<Relay>,
    /// Host sockets, for UDP allocations.
    sockets: Vec<SocketAddr>,
    /// The application added every socket ([`PeerConnection::end_of_local_candidates`]).
    hosts_done: bool,
    /// End of candidates given to ICE.
    gathering_done: bool,
    /// The connection closed: the allocations are deleted once what it
    /// sent last (close_notify) went through them.
    close_when_flushed: bool,
    /// What the peer sent, while it is wrapped into the caller's buffer.
    scratch: Vec<u8>,
}

impl Relays {
    /// The relays of `servers` (a duplicate, or any beyond [`MAX_RELAYS`],
    /// is ignored).
    pub(crate) fn new(servers: &[TurnServer]) -> Self {
        let mut list: Vec<Relay> = Vec::new();
        for s in servers {
            let dup = list.iter().any(|r| {
                r.server.addr == s.addr && r.is_stream() == (s.transport != RelayProtocol::Udp)
            });
            if !dup && list.len() < MAX_RELAYS {
                list.push(Relay {
                    server: s.clone(),
                    client: None,
                    relayed: None,
                    settled: false,
                    channels: Vec::new(),
                });
            }
        }
        Relays {
            list,
            ..Relays::default()
        }
    }

    /// Whether no TURN server is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Remembers a host socket for UDP allocations.
    pub(crate) fn add_socket(&mut self, addr: SocketAddr) {
        if !self.list.is_empty()
            && self.sockets.len() < MAX_SOCKETS
            && !self.sockets.contains(&addr)
        {
            self.sockets.push(addr);
        }
    }

    /// The earliest TURN deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.list
            .iter()
            .filter_map(|r| r.client.as_ref()?.poll_timeout())
            .min()
    }

    /// Deletes the allocations once the connection's last datagrams are
    /// polled ([`PeerConnection::close`]).
    pub(crate) fn close_when_flushed(&mut self) {
        self.close_when_flushed = true;
    }

    /// Writes the next request of a TURN client (Allocate, Refresh,
    /// CreatePermission, ChannelBind) into `buf`.
    fn poll_request(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Path> {
        self.list.iter_mut().find_map(|r| {
            let t = r.client.as_mut()?.poll_transmit(now, buf)?;
            Some((t.source, t.destination))
        })
    }
}

/// What [`PeerConnection::unwrap_relayed`] made of a datagram.
pub(crate) enum Unwrapped {
    /// Not from a relay's server: handle it as it is.
    NotRelayed,
    /// For the TURN client alone (a response, or dropped).
    Consumed,
    /// Peer data at `range` of the datagram, from `peer` to `relayed`.
    PeerData {
        peer: SocketAddr,
        relayed: SocketAddr,
        range: Range<usize>,
    },
}

/// Where `inner`, borrowed from `outer`, lies in it.
fn range_in(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

/// The unspecified address of `addr`'s family, port 0.
fn unspecified_like(addr: SocketAddr) -> SocketAddr {
    let ip: IpAddr = if addr.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, 0)
}

impl PeerConnection {
    /// Starts the allocations that can start: a stream one at once, a UDP
    /// one from the first host socket of its family; once every socket is
    /// known, a UDP one without a socket of its family fails.
    pub(crate) fn start_relays(&mut self, now: Instant) {
        for i in 0..self.relays.list.len() {
            let Some(r) = self.relays.list.get(i) else {
                break;
            };
            if r.client.is_some() || r.settled {
                continue;
            }
            let s = &r.server;
            let mut config = ClientConfig::new(s.addr, &s.username, &s.credential);
            if r.is_stream() {
                config = config
                    .with_transport(ClientTransport::Stream)
                    .with_local(unspecified_like(s.addr));
            } else {
                match self
                    .relays
                    .sockets
                    .iter()
                    .find(|a| a.is_ipv4() == s.addr.is_ipv4())
                {
                    Some(local) => config = config.with_local(*local),
                    None => {
                        if self.relays.hosts_done {
                            if let Some(r) = self.relays.list.get_mut(i) {
                                r.settled = true;
                            }
                        }
                        continue;
                    }
                }
            }
            let mut client = Client::new(config, self.sub_rng());
            let started = client.allocate(now).is_ok();
            if let Some(r) = self.relays.list.get_mut(i) {
                r.settled = !started;
                r.client = Some(client);
            }
        }
        self.drain_relays(now);
    }

    /// Learns the allocations' results: relayed candidates for ICE, and the
    /// end of gathering once every allocation settled.
    pub(crate) fn drain_relays(&mut self, now: Instant) {
        for i in 0..self.relays.list.len() {
            while let Some(e) = self
                .relays
                .list
                .get_mut(i)
                .and_then(|r| r.client.as_mut()?.poll_event())
            {
                let Some(r) = self.relays.list.get_mut(i) else {
                    break;
                };
                match e {
                    ClientEvent::Allocated {
                        relayed, mapped, ..
                    } => {
                        r.relayed = Some(relayed);
                        r.settled = true;
                        let (server, protocol) = (r.server.addr.ip(), r.server.transport);
                        let _ =
                            self.add_relayed_candidate_over(now, relayed, mapped, server, protocol);
                    }
                    ClientEvent::AllocationFailed { .. } | ClientEvent::Closed { .. } => {
                        r.settled = true;
                    }
                    _ => {}
                }
            }
        }
        let r = &mut self.relays;
        if r.hosts_done && !r.gathering_done && r.list.iter().all(|r| r.settled) {
            r.gathering_done = true;
            self.end_ice_gathering(now);
        }
    }

    /// Local sockets are all added: allocations that can start do, and ICE
    /// hears the end of candidates once they all settled.
    pub(crate) fn end_of_hosts(&mut self, now: Instant) {
        self.relays.hosts_done = true;
        self.start_relays(now);
    }

    /// A datagram from `source` at local `destination`: what a relay's
    /// server sent goes to its client, and the peer data it carries comes
    /// back as a range of `datagram`.
    pub(crate) fn unwrap_relayed(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) -> Unwrapped {
        if self.relays.list.is_empty() {
            return Unwrapped::NotRelayed;
        }
        // A UDP relay by its 5-tuple first: a stream relay's server may
        // listen on the same address for TCP.
        let list = &mut self.relays.list;
        let index = list
            .iter()
            .position(|r| {
                !r.is_stream() && r.server.addr == source && r.local() == Some(destination)
            })
            .or_else(|| {
                list.iter()
                    .position(|r| r.is_stream() && r.server.addr == source)
            });
        let Some(r) = index.and_then(|i| list.get_mut(i)) else {
            return Unwrapped::NotRelayed;
        };
        let relayed = r.relayed;
        let Some(client) = r.client.as_mut() else {
            return Unwrapped::Consumed;
        };
        let got = match client.handle_receive(now, source, datagram) {
            Received::PeerData { peer, data } => match (relayed, range_in(datagram, data)) {
                (Some(relayed), Some(range)) => Unwrapped::PeerData {
                    peer,
                    relayed,
                    range,
                },
                _ => Unwrapped::Consumed,
            },
            Received::Consumed => Unwrapped::Consumed,
            Received::NotFromServer => Unwrapped::NotRelayed,
        };
        if matches!(got, Unwrapped::Consumed) {
            self.drain_relays(now);
        }
        got
    }

    /// The next datagram into `buf` as it leaves: a TURN client's request,
    /// or the peer's next datagram, wrapped for the TURN server if it is
    /// sent from a relayed address; last, once the connection closed and
    /// sent its last datagrams (close_notify), the Refreshes that delete the
    /// allocations (lifetime 0, RFC 8656 §7.5).
    pub(crate) fn next_relayed(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Path> {
        if self.relays.list.is_empty() {
            // No TURN server: nothing to ask for, wrap or close.
            return self.next_datagram(now, buf);
        }
        if let Some(p) = self.relays.poll_request(now, buf) {
            return Some(p);
        }
        while let Some(path) = self.next_datagram(now, buf) {
            if let Some(p) = self.wrap_relayed(now, path, buf) {
                return Some(p);
            }
        }
        if !std::mem::take(&mut self.relays.close_when_flushed) {
            return None;
        }
        for r in &mut self.relays.list {
            if let Some(c) = r.client.as_mut() {
                c.close(now);
            }
        }
        self.relays.poll_request(now, buf)
    }

    /// Wraps a datagram the peer sends from a relayed address for the TURN
    /// server, in `buf`; a datagram from elsewhere passes as it is. `None`
    /// drops it (the allocation is not there, or is gone).
    fn wrap_relayed(&mut self, now: Instant, path: Path, buf: &mut Vec<u8>) -> Option<Path> {
        let (source, peer) = path;
        let Some(r) = self
            .relays
            .list
            .iter_mut()
            .find(|r| r.relayed == Some(source))
        else {
            return Some(path);
        };
        let client = r.client.as_mut()?;
        // RFC 8656 §12: ChannelData once bound; until then Send indications.
        if client.channel(peer).is_none()
            && !r.channels.contains(&peer)
            && r.channels.len() < MAX_CHANNELS
        {
            r.channels.push(peer);
            let _ = client.bind_channel(now, peer);
        }
        let data = &mut self.relays.scratch;
        std::mem::swap(data, buf);
        let wrapped = client.send_to(now, peer, data, buf).ok()?;
        Some((wrapped.source, wrapped.destination))
    }

    /// The stream to the TURN server at `server` closed or never opened:
    /// its allocation is gone with it (RFC 8656 §3.1), nothing more is sent
    /// through it, and gathering no longer waits for it.
    pub fn handle_relay_closed(&mut self, now: Instant, server: SocketAddr) {
        for r in &mut self.relays.list {
            if r.is_stream() && r.server.addr == server {
                r.client = None;
                r.relayed = None;
                r.settled = true;
            }
        }
        self.drain_relays(now);
    }

    /// Runs due TURN timers (retransmissions, refreshes).
    pub(crate) fn relay_timeouts(&mut self, now: Instant) {
        for r in &mut self.relays.list {
            if let Some(c) = r.client.as_mut() {
                if c.poll_timeout().is_some_and(|t| t <= now) {
                    c.handle_timeout(now);
                }
            }
        }
        self.drain_relays(now);
    }
}

#[cfg(test)]
mod tests {
    use super::range_in;

    #[test]
    fn ranges_of_borrowed_slices() {
        let outer = [0u8; 16];
        assert_eq!(range_in(&outer, &outer[4..9]), Some(4..9));
        assert_eq!(range_in(&outer, &outer[16..]), Some(16..16));
        assert_eq!(range_in(&outer[..8], &outer[6..12]), None, "overruns");
        assert_eq!(range_in(&outer[8..], &outer[..4]), None, "before");
    }
}
