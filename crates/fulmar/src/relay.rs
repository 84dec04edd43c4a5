//! Relay candidates (RFC 8656 TURN, RFC 8445 §5.1.1.2): the driver owns a
//! sans-IO [`fulmar_turn::Client`] per configured TURN server, allocates
//! over UDP from one of the connection's sockets, or over TCP or TLS (RFC
//! 8656 §3.1, RFC 7065 `turn:...?transport=tcp` and `turns:` URLs) on a
//! stream of its own, offers the relayed address as a candidate, wraps what
//! the core sends from it (Send indications, then ChannelData once a channel
//! is bound) and unwraps what arrives.
//!
//! A stream relay has one task: it connects (bounded by a timeout), writes
//! the client's frames in order from a bounded queue, and hands each frame
//! read (split by [`fulmar_turn::StreamFramer`]) to the client under the
//! connection's lock, as a datagram from the server would be. A failed
//! connect, handshake or read settles the relay (gathering ends without it);
//! the task ends when the connection ends, after writing the last frames
//! (the Refresh with lifetime 0 that deletes the allocation).

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use fulmar_peer::{RelayProtocol, Transmit};
use fulmar_turn::{
    Client, ClientConfig, ClientEvent, ClientTransport, IceServerUrl, Received, StreamFramer,
    UrlScheme, UrlTransport,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::endpoint::EndpointInner;
use crate::{Error, Inner, Shared, MAX_PENDING};

/// Channels bound per allocation (one per remote candidate we talk to).
const MAX_CHANNELS: usize = 64;
/// Frames waiting for a stream to the server; more are dropped (TURN's
/// transactions and ICE's checks recover).
const STREAM_QUEUE: usize = 256;
/// Bound of a TCP connect plus TLS handshake to a TURN server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a stream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// How the client reaches a TURN server (RFC 7065 §3, RFC 8656 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnTransport {
    /// UDP datagrams (`turn:`, the default).
    Udp,
    /// A TCP connection (`turn:...?transport=tcp`).
    Tcp,
    /// TLS over TCP (`turns:`); trust comes from [`crate::Config::turn_tls`].
    Tls,
}

/// A TURN server to allocate a relay on, with long-term credentials (for
/// time-limited credentials the username is `expiry:user`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TurnServer {
    /// The server's transport address.
    pub addr: SocketAddr,
    /// The user name.
    pub username: String,
    /// The password.
    pub credential: String,
    /// UDP, TCP or TLS.
    pub transport: TurnTransport,
    /// The name the server's TLS certificate must carry (the URL's host);
    /// the address's IP when `None`.
    pub server_name: Option<String>,
}

impl TurnServer {
    /// A TURN server reached over UDP at `addr`.
    pub fn new(addr: SocketAddr, username: &str, credential: &str) -> Self {
        TurnServer {
            addr,
            username: username.to_owned(),
            credential: credential.to_owned(),
            transport: TurnTransport::Udp,
            server_name: None,
        }
    }

    /// The same server reached over another transport.
    pub fn with_transport(mut self, transport: TurnTransport) -> Self {
        self.transport = transport;
        self
    }

    /// The same, verifying the server's TLS certificate for `name`.
    pub fn with_server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }

    /// A TURN server from an ICE server URL as in `RTCIceServer.urls`
    /// (RFC 7065 §3): `turn:HOST[:PORT][?transport=udp|tcp]` (port 3478 by
    /// default) or `turns:HOST[:PORT][?transport=tcp]` (TLS, port 5349 by
    /// default; DTLS to the server is not supported, so `transport=udp` is
    /// refused). A host name is resolved here (blocking, at configuration)
    /// and kept as the TLS server name.
    ///
    /// ```
    /// use fulmar::{TurnServer, TurnTransport};
    /// let s = TurnServer::from_url("turns:127.0.0.1?transport=tcp", "user", "pass")?;
    /// assert_eq!((s.transport, s.addr.port()), (TurnTransport::Tls, 5349));
    /// let s = TurnServer::from_url("turn:127.0.0.1:3479?transport=tcp", "user", "pass")?;
    /// assert_eq!((s.transport, s.addr.port()), (TurnTransport::Tcp, 3479));
    /// # Ok::<(), fulmar::Error>(())
    /// ```
    pub fn from_url(url: &str, username: &str, credential: &str) -> Result<Self, Error> {
        let parsed = IceServerUrl::parse(url).map_err(|source| TurnConfigError::Url {
            url: url.to_owned(),
            source,
        })?;
        let transport = match (parsed.scheme, parsed.transport) {
            (UrlScheme::Turn, UrlTransport::Udp) => TurnTransport::Udp,
            (UrlScheme::Turn, UrlTransport::Tcp) => TurnTransport::Tcp,
            (UrlScheme::Turns, UrlTransport::Tcp) => TurnTransport::Tls,
            (UrlScheme::Turns, UrlTransport::Udp) => {
                return Err(TurnConfigError::TurnsOverUdp(url.to_owned()).into())
            }
            (UrlScheme::Stun | UrlScheme::Stuns, _) => {
                return Err(TurnConfigError::NotTurn(url.to_owned()).into())
            }
        };
        let (host, port, secure) = (parsed.host.as_str(), parsed.port, parsed.scheme.is_secure());
        let unresolved = || TurnConfigError::Unresolved(url.to_owned());
        let addr = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .map_err(|_| unresolved())?
                .next()
                .ok_or_else(unresolved)?,
        };
        let mut server = TurnServer::new(addr, username, credential).with_transport(transport);
        if secure {
            server.server_name = Some(host.to_owned());
        }
        Ok(server)
    }
}

/// Why a TURN server's configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TurnConfigError {
    /// The URL does not follow RFC 7065.
    #[error("{url}: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        source: fulmar_turn::Error,
    },
    /// A `stun:` or `stuns:` URL where a TURN server was expected.
    #[error("{0}: not a turn: or turns: URL")]
    NotTurn(String),
    /// `turns:` with `?transport=udp`: TURN over DTLS is not supported.
    #[error("{0}: turns: over UDP (DTLS) is not supported")]
    TurnsOverUdp(String),
    /// The host name did not resolve.
    #[error("{0}: cannot resolve host")]
    Unresolved(String),
    /// `turns:` without [`crate::Config::turn_tls`] (the trusted roots).
    #[error("TURN over TLS to {0} needs Config::turn_tls (the trusted roots)")]
    NoTlsRoots(SocketAddr),
    /// The TLS server name is not a valid DNS name or address.
    #[error("bad TLS server name: {0}")]
    BadServerName(String),
    /// The TURN client refused to start its allocation.
    #[error("allocation: {0}")]
    Client(fulmar_turn::Error),
}

/// How a relay reaches its server.
enum Link {
    /// Datagrams from our socket at this address.
    Udp { local: SocketAddr },
    /// Frames to the stream task (`None` once the connection ended).
    Stream { tx: Option<mpsc::Sender<Vec<u8>>> },
}

/// What a stream relay's task needs, until it is spawned.
pub(crate) struct StreamStart {
    index: usize,
    server: SocketAddr,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    rx: mpsc::Receiver<Vec<u8>>,
}

/// One allocation of a connection.
pub(crate) struct Relay {
    client: Client,
    server: SocketAddr,
    /// How the server is reached, which ranks the relayed candidate.
    protocol: RelayProtocol,
    link: Link,
    /// The relayed address, once allocated.
    relayed: Option<SocketAddr>,
    /// Allocated or failed: gathering need not wait for it.
    settled: bool,
    /// Peers we asked a channel for.
    channels: Vec<SocketAddr>,
}

/// Starts an allocation on each server: over UDP from the first socket of
/// its family, or on a stream whose task [`spawn_streams`] starts. A TLS
/// server needs `tls` (there is no default trust store).
pub(crate) fn start(
    servers: &[TurnServer],
    endpoints: &[Arc<EndpointInner>],
    tls: Option<&Arc<rustls::ClientConfig>>,
    now: Instant,
) -> Result<(Vec<Relay>, Vec<StreamStart>), Error> {
    let mut relays = Vec::new();
    let mut streams = Vec::new();
    for s in servers {
        let config = ClientConfig::new(s.addr, &s.username, &s.credential);
        let (config, link) = match s.transport {
            TurnTransport::Udp => {
                let Some(ep) = endpoints
                    .iter()
                    .find(|e| e.local.is_ipv4() == s.addr.is_ipv4())
                else {
                    continue;
                };
                (config.with_local(ep.local), Link::Udp { local: ep.local })
            }
            TurnTransport::Tcp | TurnTransport::Tls => {
                let tls = match s.transport {
                    TurnTransport::Tls => Some(tls_for(s, tls)?),
                    _ => None,
                };
                let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                streams.push(StreamStart {
                    index: relays.len(),
                    server: s.addr,
                    tls,
                    rx,
                });
                (
                    config.with_transport(ClientTransport::Stream),
                    Link::Stream { tx: Some(tx) },
                )
            }
        };
        let mut client = Client::new(config, StdRng::from_entropy());
        client.allocate(now).map_err(TurnConfigError::Client)?;
        relays.push(Relay {
            client,
            server: s.addr,
            protocol: match s.transport {
                TurnTransport::Udp => RelayProtocol::Udp,
                TurnTransport::Tcp => RelayProtocol::Tcp,
                TurnTransport::Tls => RelayProtocol::Tls,
            },
            link,
            relayed: None,
            settled: false,
            channels: Vec::new(),
        });
    }
    Ok((relays, streams))
}

/// The TLS connector and the name to verify for a `turns:` server.
fn tls_for(
    s: &TurnServer,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>), Error> {
    let config = tls.ok_or(TurnConfigError::NoTlsRoots(s.addr))?;
    let name = match &s.server_name {
        Some(n) => ServerName::try_from(n.clone())
            .map_err(|_| TurnConfigError::BadServerName(n.clone()))?,
        None => ServerName::IpAddress(s.addr.ip().into()),
    };
    Ok((tokio_rustls::TlsConnector::from(config.clone()), name))
}

/// Starts the tasks of the stream relays of a connection.
pub(crate) fn spawn_streams(shared: &Arc<Shared>, streams: Vec<StreamStart>) {
    for s in streams {
        tokio::spawn(stream_task(Arc::downgrade(shared), s));
    }
}

/// A stream relay: connects, then writes and reads until the connection
/// ends or the stream fails; a failure settles the relay.
async fn stream_task(shared: Weak<Shared>, s: StreamStart) {
    let StreamStart {
        index,
        server,
        tls,
        mut rx,
    } = s;
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let tcp = tokio::net::TcpStream::connect(server).await?;
        let _ = tcp.set_nodelay(true);
        Ok::<_, std::io::Error>(tcp)
    })
    .await;
    match (connected, tls) {
        (Ok(Ok(tcp)), None) => run_stream(&shared, index, server, tcp, &mut rx).await,
        (Ok(Ok(tcp)), Some((connector, name))) => {
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await;
            if let Ok(Ok(stream)) = tls {
                run_stream(&shared, index, server, stream, &mut rx).await;
            }
        }
        _ => {}
    }
    // Whatever ended the stream, the allocation is gone with it (RFC 8656
    // §3.1): gathering must not wait for it.
    rx.close();
    if let Some(shared) = shared.upgrade() {
        let mut g = shared.lock();
        let Some(r) = g.relays.get_mut(index) else {
            return;
        };
        let unsettled = !r.settled;
        r.settled = true;
        r.link = Link::Stream { tx: None };
        if unsettled {
            crate::after_io(&shared, &mut g);
        }
    }
}

/// Writes queued frames in order and hands read frames to the relay, until
/// the queue closes (the connection ended: the stream is shut down after
/// the last frames) or the stream fails.
async fn run_stream<S: AsyncRead + AsyncWrite>(
    shared: &Weak<Shared>,
    index: usize,
    server: SocketAddr,
    stream: S,
    rx: &mut mpsc::Receiver<Vec<u8>>,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let write = async {
        while let Some(frame) = rx.recv().await {
            wr.write_all(&frame).await?;
            while let Ok(frame) = rx.try_recv() {
                wr.write_all(&frame).await?;
            }
            wr.flush().await?;
        }
        wr.shutdown().await
    };
    let read = async {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return ReadEnd::StreamClosed,
                Ok(n) => n,
            };
            framer.push(buf.get(..n).unwrap_or_default());
            let Some(shared) = shared.upgrade() else {
                return ReadEnd::ConnectionGone;
            };
            let mut g = shared.lock();
            let now = Instant::now();
            let lost = loop {
                match framer.next_frame() {
                    Ok(Some(frame)) => {
                        hand_to_relay(&mut g, index, now, server, frame);
                    }
                    Ok(None) => break false,
                    // Neither STUN nor ChannelData: the stream is lost.
                    Err(_) => break true,
                }
            };
            crate::after_io(&shared, &mut g);
            if lost {
                return ReadEnd::StreamClosed;
            }
        }
    };
    tokio::pin!(write);
    tokio::select! {
        _ = &mut write => {},
        end = read => {
            // The connection ended while frames may still be queued (the
            // final Refresh of `close`): they go out before the stream
            // shuts, or the server would keep the allocation until EOF.
            if end == ReadEnd::ConnectionGone {
                let _ = tokio::time::timeout(FINAL_WRITE_TIMEOUT, write).await;
            }
        }
    }
}

/// Why a stream relay stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// The server closed the stream, it failed, or it lost its framing.
    StreamClosed,
    /// The connection the relay served is gone.
    ConnectionGone,
}

/// How long a stream relay may take to write its last frames once its
/// connection is gone.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Hands a datagram to the UDP allocation it belongs to; `true` if consumed
/// (what came from a peer through the relay went to the core).
pub(crate) fn receive(
    g: &mut Inner,
    now: Instant,
    from: SocketAddr,
    local: SocketAddr,
    data: &[u8],
) -> bool {
    let Some(index) = g
        .relays
        .iter()
        .position(|r| r.server == from && matches!(r.link, Link::Udp { local: l } if l == local))
    else {
        return false;
    };
    hand_to_relay(g, index, now, from, data)
}

/// Hands what came from `from` (a datagram, or a frame of a stream) to
/// relay `index`'s client; what a peer sent through the relay goes on to
/// the core. `false` if it did not come from the relay's server.
fn hand_to_relay(g: &mut Inner, index: usize, now: Instant, from: SocketAddr, data: &[u8]) -> bool {
    let Some(r) = g.relays.get_mut(index) else {
        return false;
    };
    match r.client.handle_receive(now, from, data) {
        Received::PeerData { peer, data } => {
            if let Some(relayed) = r.relayed {
                // The core opens datagrams in place: in a copy of what the
                // client unwrapped from the borrowed frame.
                RELAYED_RX.with_borrow_mut(|rx| {
                    rx.clear();
                    rx.extend_from_slice(data);
                    g.pc.handle_receive(now, peer, relayed, rx);
                });
            }
            true
        }
        Received::Consumed => true,
        Received::NotFromServer => false,
    }
}

thread_local! {
    /// The copy of a datagram that came through a relay (a per-thread
    /// buffer: connections need none of their own).
    static RELAYED_RX: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Learns allocation results: relayed candidates for the core, and the end
/// of gathering once every allocation settled; `true` if the core learnt
/// something (it has events to dispatch).
pub(crate) fn poll_events(g: &mut Inner, now: Instant) -> bool {
    let mut told = false;
    for r in &mut g.relays {
        while let Some(e) = r.client.poll_event() {
            match e {
                ClientEvent::Allocated {
                    relayed, mapped, ..
                } => {
                    r.relayed = Some(relayed);
                    r.settled = true;
                    let _ = g.pc.add_relayed_candidate_over(
                        now,
                        relayed,
                        mapped,
                        r.server.ip(),
                        r.protocol,
                    );
                    told = true;
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
        told = true;
    }
    told
}

/// Wraps a core datagram (`t`, written in `buf`) sent from a relayed
/// address for the TURN server (ChannelData or a Send indication): over UDP
/// it comes back in `buf`, addressed to the server from the relay's socket;
/// over a stream it joins the stream's queue. A datagram that is not from a
/// relayed address comes back as it is.
pub(crate) fn wrap(
    g: &mut Inner,
    now: Instant,
    t: Transmit,
    buf: &mut Vec<u8>,
) -> Option<Transmit> {
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
    let mut out = Vec::new();
    let wrapped = r.client.send_to(now, t.destination, buf, &mut out).ok()?;
    match &r.link {
        Link::Udp { local } => {
            *buf = out;
            Some(Transmit {
                source: *local,
                destination: wrapped.destination,
                len: buf.len(),
            })
        }
        // A full queue drops the frame, as a full socket would.
        Link::Stream { tx: Some(tx) } => {
            let _ = tx.try_send(out);
            None
        }
        Link::Stream { tx: None } => None,
    }
}

/// Moves the TURN clients' messages to the send queue (UDP) or to their
/// stream's queue.
pub(crate) fn drain_transmits(g: &mut Inner, now: Instant) {
    for r in &mut g.relays {
        let mut buf = Vec::new();
        while let Some(t) = r.client.poll_transmit(now, &mut buf) {
            match &r.link {
                Link::Udp { local } => {
                    if let Some(ep) = g.endpoints.iter().find(|e| e.local == *local) {
                        ep.learn(g.route, t.destination, &buf);
                    }
                    if g.pending.len() < MAX_PENDING {
                        g.pending.push(*local, t.destination, &buf);
                    }
                }
                // A full queue drops the frame, as a full socket would.
                Link::Stream { tx: Some(tx) } => {
                    let _ = tx.try_send(std::mem::take(&mut buf));
                }
                Link::Stream { tx: None } => {}
            }
        }
    }
}

/// Ends the stream relays' queues: their tasks write what is queued (the
/// final Refresh of [`close`]) and shut their streams down.
pub(crate) fn end_streams(g: &mut Inner) {
    for r in &mut g.relays {
        if let Link::Stream { tx } = &mut r.link {
            *tx = None;
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
    use super::{TurnServer, TurnTransport};

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
        assert_eq!(t.transport, TurnTransport::Udp);
        assert_eq!(t.server_name, None);
        // RFC 7065 §3: TCP, and TLS with its own default port.
        let t = TurnServer::from_url("turn:127.0.0.1?transport=tcp", "u", "p").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3478".parse().unwrap());
        assert_eq!(t.transport, TurnTransport::Tcp);
        let t = TurnServer::from_url("turns:localhost", "u", "p").unwrap();
        assert_eq!(t.addr.port(), 5349);
        assert_eq!(t.transport, TurnTransport::Tls);
        assert_eq!(t.server_name.as_deref(), Some("localhost"));
        let t = TurnServer::from_url("turns:[::1]:443?transport=tcp", "u", "p").unwrap();
        assert_eq!(t.addr, "[::1]:443".parse().unwrap());
        assert_eq!(t.transport, TurnTransport::Tls);
        assert_eq!(t.server_name.as_deref(), Some("::1"));
        for bad in [
            "stun:127.0.0.1",
            "turns:127.0.0.1:5349?transport=udp",
            "turn:127.0.0.1?transport=sctp",
            "turn:127.0.0.1?transport=tcp&x=1",
            "turns:",
            "turn:127.0.0.1:99999",
            "turn::3478",
            "turn:[::1",
            "turn:",
        ] {
            assert!(TurnServer::from_url(bad, "u", "p").is_err(), "{bad}");
        }
    }
}
