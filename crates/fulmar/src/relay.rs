//! Relay candidates (RFC 8656 TURN, RFC 8445 §5.1.1.2): the driver owns a
//! sans-IO [`fulmar_turn::Client`] per configured TURN server, allocates over
//! UDP from one of the connection's sockets, offers the relayed address as a
//! candidate, wraps what the core sends from it (Send indications, then
//! ChannelData once a channel is bound) and unwraps what arrives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use fulmar_peer::Transmit;
use fulmar_turn::{Client, ClientConfig, ClientEvent, Received};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::endpoint::EndpointInner;
use crate::{Error, Inner, Shared, MAX_PENDING};

/// Channels bound per allocation (one per remote candidate we talk to).
const MAX_CHANNELS: usize = 64;

/// A TURN server to allocate a relay on, with long-term credentials (for
/// time-limited credentials the username is `expiry:user`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TurnServer {
    /// The server's UDP address.
    pub addr: SocketAddr,
    /// The user name.
    pub username: String,
    /// The password.
    pub credential: String,
}

impl TurnServer {
    /// A TURN server reached over UDP at `addr`.
    pub fn new(addr: SocketAddr, username: &str, credential: &str) -> Self {
        TurnServer {
            addr,
            username: username.to_owned(),
            credential: credential.to_owned(),
        }
    }
}

impl TurnServer {
    /// A TURN server from an ICE server URL as in `RTCIceServer.urls`
    /// (RFC 7065): `turn:HOST[:PORT][?transport=udp]`, port 3478 by default.
    /// Only UDP is supported so far (`turns:` and `transport=tcp` are
    /// refused); a host name is resolved here (blocking, at configuration).
    pub fn from_url(url: &str, username: &str, credential: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Turn(format!("{why}: {url}"));
        let rest = url
            .strip_prefix("turn:")
            .ok_or_else(|| bad("not a turn: URL (turns: is not supported yet)"))?;
        let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
        match query {
            "" | "transport=udp" => {}
            _ => return Err(bad("only transport=udp is supported")),
        }
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h, p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port: u16 = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None => 3478,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let addr = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .map_err(|_| bad("cannot resolve host"))?
                .next()
                .ok_or_else(|| bad("cannot resolve host"))?,
        };
        Ok(TurnServer::new(addr, username, credential))
    }
}

/// One allocation of a connection.
pub(crate) struct Relay {
    client: Client,
    server: SocketAddr,
    /// Our socket the server sees.
    local: SocketAddr,
    /// The relayed address, once allocated.
    relayed: Option<SocketAddr>,
    /// Allocated or failed: gathering need not wait for it.
    settled: bool,
    /// Peers we asked a channel for.
    channels: Vec<SocketAddr>,
}

/// Starts an allocation on each server from the first socket of its family.
pub(crate) fn start(
    servers: &[TurnServer],
    endpoints: &[Arc<EndpointInner>],
    now: Instant,
) -> Result<Vec<Relay>, Error> {
    let mut relays = Vec::new();
    for s in servers {
        let Some(ep) = endpoints
            .iter()
            .find(|e| e.local.is_ipv4() == s.addr.is_ipv4())
        else {
            continue;
        };
        let config = ClientConfig::new(s.addr, &s.username, &s.credential);
        let mut client = Client::new(config, StdRng::from_entropy());
        client
            .allocate(now)
            .map_err(|e| Error::Turn(e.to_string()))?;
        relays.push(Relay {
            client,
            server: s.addr,
            local: ep.local,
            relayed: None,
            settled: false,
            channels: Vec::new(),
        });
    }
    Ok(relays)
}

/// Hands a datagram to the allocation it belongs to; `true` if consumed
/// (what came from a peer through the relay went to the core).
pub(crate) fn receive(
    g: &mut Inner,
    now: Instant,
    from: SocketAddr,
    local: SocketAddr,
    data: &[u8],
) -> bool {
    let Some(r) = g
        .relays
        .iter_mut()
        .find(|r| r.server == from && r.local == local)
    else {
        return false;
    };
    match r.client.handle_receive(now, from, data) {
        Received::PeerData { peer, data } => {
            if let Some(relayed) = r.relayed {
                g.pc.handle_receive(now, peer, relayed, data);
            }
            true
        }
        Received::Consumed => true,
        Received::NotFromServer => false,
    }
}

/// Learns allocation results: relayed candidates for the core, and the end
/// of gathering once every allocation settled.
pub(crate) fn poll_events(g: &mut Inner, now: Instant) {
    for r in &mut g.relays {
        while let Some(e) = r.client.poll_event() {
            match e {
                ClientEvent::Allocated {
                    relayed, mapped, ..
                } => {
                    r.relayed = Some(relayed);
                    r.settled = true;
                    let _ =
                        g.pc.add_relayed_candidate(now, relayed, mapped, r.server.ip());
                }
                ClientEvent::AllocationFailed { .. } | ClientEvent::Closed { .. } => {
                    r.settled = true;
                }
                _ => {}
            }
        }
    }
    if !g.gathering_done && g.relays.iter().all(|r| r.settled) {
        g.gathering_done = true;
        g.pc.end_of_local_candidates(now);
    }
}

/// Wraps a core datagram sent from a relayed address; gives it back if it
/// is not one.
pub(crate) fn wrap(g: &mut Inner, now: Instant, t: Transmit) -> Option<Transmit> {
    let Some(r) = g.relays.iter_mut().find(|r| r.relayed == Some(t.source)) else {
        return Some(t);
    };
    // ChannelData (4 bytes of overhead instead of ~36) once bound.
    if r.client.channel(t.destination).is_none()
        && !r.channels.contains(&t.destination)
        && r.channels.len() < MAX_CHANNELS
    {
        r.channels.push(t.destination);
        let _ = r.client.bind_channel(now, t.destination);
    }
    let _ = r.client.send_to(now, t.destination, &t.payload);
    None
}

/// Moves the TURN clients' messages to the send queue.
pub(crate) fn drain_transmits(shared: &Arc<Shared>, g: &mut Inner) {
    for r in &mut g.relays {
        while let Some(t) = r.client.poll_transmit() {
            if let Some(ep) = g.endpoints.iter().find(|e| e.local == r.local) {
                ep.learn(shared, t.destination);
            }
            if g.pending.len() < MAX_PENDING {
                g.pending.push_back(Transmit {
                    source: r.local,
                    destination: t.destination,
                    payload: t.payload,
                });
            }
        }
    }
}

/// The earliest TURN deadline.
pub(crate) fn poll_timeout(g: &Inner) -> Option<Instant> {
    g.relays
        .iter()
        .filter_map(|r| r.client.poll_timeout())
        .min()
}

/// Runs due TURN timers (retransmissions, refreshes).
pub(crate) fn handle_timeout(g: &mut Inner, now: Instant) {
    for r in &mut g.relays {
        if r.client.poll_timeout().is_some_and(|t| t <= now) {
            r.client.handle_timeout(now);
        }
    }
}

/// Deletes the allocations (a Refresh with lifetime 0, RFC 8656 §8).
pub(crate) fn close(g: &mut Inner, now: Instant) {
    for r in &mut g.relays {
        r.client.close(now);
    }
}

#[cfg(test)]
mod tests {
    use super::TurnServer;

    #[test]
    fn turn_urls() {
        let t = TurnServer::from_url("turn:127.0.0.1:3479?transport=udp", "u", "p").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3479".parse().unwrap());
        assert_eq!((t.username.as_str(), t.credential.as_str()), ("u", "p"));
        let t = TurnServer::from_url("turn:127.0.0.1", "u", "p").unwrap();
        assert_eq!(t.addr.port(), 3478);
        let t = TurnServer::from_url("turn:[::1]:5000", "u", "p").unwrap();
        assert_eq!(t.addr, "[::1]:5000".parse().unwrap());
        let t = TurnServer::from_url("turn:[::1]", "u", "p").unwrap();
        assert_eq!(t.addr, "[::1]:3478".parse().unwrap());
        assert!(TurnServer::from_url("turn:localhost:3478", "u", "p")
            .unwrap()
            .addr
            .ip()
            .is_loopback());
        for bad in [
            "stun:127.0.0.1",
            "turns:127.0.0.1:5349",
            "turn:127.0.0.1?transport=tcp",
            "turn:127.0.0.1:99999",
            "turn::3478",
            "turn:[::1",
            "turn:",
        ] {
            assert!(TurnServer::from_url(bad, "u", "p").is_err(), "{bad}");
        }
    }
}
