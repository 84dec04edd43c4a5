//! TURN servers (RFC 8656) as the driver sees them: their configuration
//! (`turn:`/`turns:` URLs, TLS names), and the TCP and TLS streams (RFC 8656
//! §3.1, RFC 7065) it opens to them. The protocol, allocations, relayed
//! candidates, channel binding, wrapping and unwrapping, is the sans-IO
//! core's (`fulmar_peer`'s relay): what it sends over UDP leaves from the
//! connection's socket as any datagram, and what it sends to a stream
//! relay's server (from the unspecified address) is queued on that stream.
//!
//! A stream relay has one task: it connects (bounded by a timeout), writes
//! the queued bytes in order (a bounded buffer, no allocation per frame),
//! and hands each frame read (split by [`fulmar_turn::StreamFramer`]) to
//! the core under the connection's lock, as a datagram from the server. A
//! failed connect, handshake or read tells the core the relay is gone
//! (gathering ends without it); the task ends when the connection ends,
//! after writing the last bytes (the Refresh with lifetime 0 that deletes
//! the allocation).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use fulmar_peer::{RelayProtocol, Transmit, TurnServer};
use fulmar_turn::{IceServerUrl, StreamFramer, UrlScheme, UrlTransport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::{Error, Inner, Shared};

/// Bytes waiting for a stream to the server; a frame that does not fit is
/// dropped (TURN's transactions and ICE's checks recover).
const STREAM_QUEUE: usize = 256 * 1500;
/// Bound of a TCP connect plus TLS handshake to a TURN server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a stream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A TURN server from an ICE server URL as in `RTCIceServer.urls` (RFC
/// 7065 §3): `turn:HOST[:PORT][?transport=udp|tcp]` (port 3478 by default)
/// or `turns:HOST[:PORT][?transport=tcp]` (TLS, port 5349 by default,
/// trusting [`crate::Config::turn_tls`]; DTLS to the server is not
/// supported, so `transport=udp` is refused). A host name is resolved here
/// (blocking, at configuration) and kept as the TLS server name.
///
/// ```
/// use fulmar::{turn_server_from_url, RelayProtocol};
/// let s = turn_server_from_url("turns:127.0.0.1?transport=tcp", "user", "pass")?;
/// assert_eq!((s.transport, s.addr.port()), (RelayProtocol::Tls, 5349));
/// let s = turn_server_from_url("turn:127.0.0.1:3479?transport=tcp", "user", "pass")?;
/// assert_eq!((s.transport, s.addr.port()), (RelayProtocol::Tcp, 3479));
/// # Ok::<(), fulmar::Error>(())
/// ```
pub fn turn_server_from_url(
    url: &str,
    username: &str,
    credential: &str,
) -> Result<TurnServer, Error> {
    let parsed = IceServerUrl::parse(url).map_err(|source| TurnConfigError::Url {
        url: url.to_owned(),
        source,
    })?;
    if !parsed.scheme.is_turn() {
        return Err(TurnConfigError::NotTurn(url.to_owned()).into());
    }
    let unresolved = || TurnConfigError::Unresolved(url.to_owned());
    let addr = match parsed.ip() {
        Some(ip) => SocketAddr::new(ip, parsed.port),
        None => std::net::ToSocketAddrs::to_socket_addrs(&(parsed.host.as_str(), parsed.port))
            .map_err(|_| unresolved())?
            .next()
            .ok_or_else(unresolved)?,
    };
    Ok(turn_server_for(url, &parsed, addr, username, credential)?)
}

/// The TURN server of a parsed `turn:`/`turns:` URL at `addr` (its host
/// resolved by the caller).
pub(crate) fn turn_server_for(
    url: &str,
    parsed: &IceServerUrl,
    addr: SocketAddr,
    username: &str,
    credential: &str,
) -> Result<TurnServer, TurnConfigError> {
    let transport = match (parsed.scheme, parsed.transport) {
        (UrlScheme::Turn, UrlTransport::Udp) => RelayProtocol::Udp,
        (UrlScheme::Turn, UrlTransport::Tcp) => RelayProtocol::Tcp,
        (UrlScheme::Turns, UrlTransport::Tcp) => RelayProtocol::Tls,
        (UrlScheme::Turns, UrlTransport::Udp) => {
            return Err(TurnConfigError::TurnsOverUdp(url.to_owned()))
        }
        (UrlScheme::Stun | UrlScheme::Stuns, _) => {
            return Err(TurnConfigError::NotTurn(url.to_owned()))
        }
    };
    let server = TurnServer::new(addr, username, credential).with_transport(transport);
    Ok(if parsed.scheme.is_secure() {
        server.with_server_name(&parsed.host)
    } else {
        server
    })
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
}

/// Bytes queued for a stream, and whether the connection ended.
#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    closed: bool,
}

/// What the connection queues for a stream relay's task.
#[derive(Default)]
struct StreamOut {
    outbox: Mutex<Outbox>,
    ready: Notify,
}

impl StreamOut {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream to a TURN server, as the connection sees it.
pub(crate) struct Stream {
    server: SocketAddr,
    out: Arc<StreamOut>,
}

/// What a stream relay's task needs, until it is spawned.
pub(crate) struct StreamStart {
    server: SocketAddr,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    out: Arc<StreamOut>,
}

/// The streams to open: one per TCP or TLS server. A TLS server needs
/// `tls` (there is no default trust store).
pub(crate) fn start(
    servers: &[TurnServer],
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(Vec<Stream>, Vec<StreamStart>), Error> {
    let mut streams: Vec<Stream> = Vec::new();
    let mut starts = Vec::new();
    for s in servers {
        let tls = match s.transport {
            RelayProtocol::Tcp => None,
            RelayProtocol::Tls => Some(tls_for(s, tls)?),
            _ => continue,
        };
        // The core keeps one stream relay per server address.
        if streams.iter().any(|t| t.server == s.addr) {
            continue;
        }
        let out = Arc::new(StreamOut::default());
        streams.push(Stream {
            server: s.addr,
            out: out.clone(),
        });
        starts.push(StreamStart {
            server: s.addr,
            tls,
            out,
        });
    }
    Ok((streams, starts))
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
pub(crate) fn spawn_streams(shared: &Arc<Shared>, starts: Vec<StreamStart>) {
    for s in starts {
        tokio::spawn(stream_task(Arc::downgrade(shared), s));
    }
}

/// A stream relay: connects, then writes and reads until the connection
/// ends or the stream fails; then the core learns the relay is gone.
async fn stream_task(shared: Weak<Shared>, s: StreamStart) {
    let StreamStart { server, tls, out } = s;
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let tcp = tokio::net::TcpStream::connect(server).await?;
        let _ = tcp.set_nodelay(true);
        Ok::<_, std::io::Error>(tcp)
    })
    .await;
    match (connected, tls) {
        (Ok(Ok(tcp)), None) => run_stream(&shared, server, tcp, &out).await,
        (Ok(Ok(tcp)), Some((connector, name))) => {
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await;
            if let Ok(Ok(stream)) = tls {
                run_stream(&shared, server, stream, &out).await;
            }
        }
        _ => {}
    }
    // Whatever ended the stream, the allocation is gone with it (RFC 8656
    // §3.1): gathering must not wait for it.
    out.outbox().closed = true;
    if let Some(shared) = shared.upgrade() {
        let mut g = shared.lock();
        if !g.ended {
            g.pc.handle_relay_closed(Instant::now(), server);
            crate::after_io(&shared, &mut g);
        }
    }
}

/// The local address a stream relay's frames arrive at, for the core: the
/// one its transmits to the server come from.
fn stream_local(server: SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = if server.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, 0)
}

/// Writes queued bytes in order and hands read frames to the core, until
/// the connection ended (the stream is shut down after the last bytes) or
/// the stream fails.
async fn run_stream<S: AsyncRead + AsyncWrite>(
    shared: &Weak<Shared>,
    server: SocketAddr,
    stream: S,
    out: &StreamOut,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let write = async {
        // Two buffers swapped with the outbox: none allocated per frame.
        let mut writing = Vec::new();
        loop {
            let closed = {
                let mut o = out.outbox();
                std::mem::swap(&mut o.bytes, &mut writing);
                o.closed
            };
            if !writing.is_empty() {
                wr.write_all(&writing).await?;
                wr.flush().await?;
                writing.clear();
                continue;
            }
            if closed {
                return wr.shutdown().await;
            }
            out.ready.notified().await;
        }
    };
    let read = async {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let local = stream_local(server);
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
            if g.ended {
                return ReadEnd::ConnectionGone;
            }
            let now = Instant::now();
            let lost = loop {
                match framer.next_frame() {
                    Ok(Some(frame)) => g.pc.handle_receive(now, server, local, frame),
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
            // The connection ended while bytes may still be queued (the
            // final Refresh of close): they go out before the stream
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

/// Queues a core datagram for a stream relay, if it is one: sent from the
/// unspecified address to a stream relay's server. `false` leaves it to
/// the sockets.
pub(crate) fn to_stream(g: &Inner, t: &Transmit, datagram: &[u8]) -> bool {
    if t.source != stream_local(t.destination) {
        return false;
    }
    let Some(s) = g.streams.iter().find(|s| s.server == t.destination) else {
        return false;
    };
    let mut o = s.out.outbox();
    // A full queue drops the frame, as a full socket would; an ended
    // stream drops everything.
    if !o.closed && o.bytes.len() + datagram.len() <= STREAM_QUEUE {
        o.bytes.extend_from_slice(datagram);
        drop(o);
        s.out.ready.notify_one();
    }
    true
}

/// Ends the stream relays' queues: their tasks write what is queued (the
/// final Refresh of close) and shut their streams down.
pub(crate) fn end_streams(g: &mut Inner) {
    for s in &g.streams {
        s.out.outbox().closed = true;
        s.out.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::{turn_server_from_url, RelayProtocol};

    #[test]
    fn turn_urls() {
        let t = turn_server_from_url("turn:127.0.0.1:3479?transport=udp", "u", "p").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3479".parse().unwrap());
        assert_eq!((t.username.as_str(), t.credential.as_str()), ("u", "p"));
        let t = turn_server_from_url("turn:127.0.0.1", "u", "p").unwrap();
        assert_eq!(t.addr.port(), 3478);
        let t = turn_server_from_url("turn:[::1]:5000", "u", "p").unwrap();
        assert_eq!(t.addr, "[::1]:5000".parse().unwrap());
        let t = turn_server_from_url("turn:[::1]", "u", "p").unwrap();
        assert_eq!(t.addr, "[::1]:3478".parse().unwrap());
        assert!(turn_server_from_url("turn:localhost:3478", "u", "p")
            .unwrap()
            .addr
            .ip()
            .is_loopback());
        assert_eq!(t.transport, RelayProtocol::Udp);
        assert_eq!(t.server_name, None);
        // RFC 7065 §3: TCP, and TLS with its own default port.
        let t = turn_server_from_url("turn:127.0.0.1?transport=tcp", "u", "p").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3478".parse().unwrap());
        assert_eq!(t.transport, RelayProtocol::Tcp);
        let t = turn_server_from_url("turns:localhost", "u", "p").unwrap();
        assert_eq!(t.addr.port(), 5349);
        assert_eq!(t.transport, RelayProtocol::Tls);
        assert_eq!(t.server_name.as_deref(), Some("localhost"));
        let t = turn_server_from_url("turns:[::1]:443?transport=tcp", "u", "p").unwrap();
        assert_eq!(t.addr, "[::1]:443".parse().unwrap());
        assert_eq!(t.transport, RelayProtocol::Tls);
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
            assert!(turn_server_from_url(bad, "u", "p").is_err(), "{bad}");
        }
    }
}
