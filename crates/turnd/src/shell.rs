//! The socket shell around the sans-IO core.
//!
//! The [`fulmar_turn::Server`] sits behind one short-held mutex that every
//! socket task locks for the few hundred nanoseconds a packet takes in the
//! core; the system calls happen outside the lock, so the tasks of a
//! multi-threaded runtime relay in parallel on every core.
//!
//! The data path allocates nothing per packet:
//! - client datagrams are read into the listener task's own buffer and the
//!   data for the peer is sent straight from it (the core returns a borrow);
//! - each allocation's relay socket has a task that waits for readiness
//!   and then drains the socket into a per-thread scratch buffer, so ten
//!   thousand allocations cost ten thousand small tasks, not ten thousand
//!   64 KiB buffers;
//! - TCP and TLS clients get their frames through a reused byte queue.
//!
//! UDP listeners are opened `SO_REUSEPORT` once per core so that the kernel
//! spreads clients over several receiving tasks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fulmar_turn::{
    FiveTuple, RelayAllocator, Server, ServerEvent, StreamFramer, TransportProtocol,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::metrics;

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65536;
/// Room the core needs around peer data (Data indication with an IPv6 peer).
const OUT_SLACK: usize = 128;
/// Datagrams a relay task takes from its socket before yielding.
const RELAY_BATCH: usize = 64;
/// Bytes queued for one TCP/TLS client before further frames are dropped.
const MAX_STREAM_BACKLOG: usize = 1 << 20;

/// Lock a mutex, shrugging off poisoning (a panicked task leaves the core
/// in a consistent state: every core call is all-or-nothing).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Socket buffer sizes (`SO_RCVBUF` / `SO_SNDBUF`).
#[derive(Debug, Clone, Copy)]
pub struct Buffers {
    /// For each UDP listener socket.
    pub listener: usize,
    /// For each relay socket.
    pub relay: usize,
}

/// Binds one OS-chosen UDP port per allocation on the relay IP of the
/// requested family; the shell picks the socket up when the core reports
/// the allocation.
pub struct SocketAllocator {
    /// Relay IPv4 address, if any.
    pub ipv4: Option<IpAddr>,
    /// Relay IPv6 address, if any.
    pub ipv6: Option<IpAddr>,
    /// `SO_RCVBUF`/`SO_SNDBUF` of relay sockets.
    pub buffer: usize,
    /// Sockets bound and not yet taken by the shell.
    pub bound: Arc<Mutex<HashMap<SocketAddr, std::net::UdpSocket>>>,
}

impl RelayAllocator for SocketAllocator {
    fn allocate(&mut self, ipv6: bool, even_port: bool) -> Option<SocketAddr> {
        let ip = if ipv6 { self.ipv6? } else { self.ipv4? };
        for _ in 0..16 {
            let s = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).ok()?;
            let addr = s.local_addr().ok()?;
            if even_port && addr.port() % 2 == 1 {
                continue;
            }
            s.set_nonblocking(true).ok()?;
            let r = socket2::SockRef::from(&s);
            let _ = r.set_recv_buffer_size(self.buffer);
            let _ = r.set_send_buffer_size(self.buffer);
            lock(&self.bound).insert(addr, s);
            return Some(addr);
        }
        None
    }

    fn release(&mut self, relayed: SocketAddr) {
        lock(&self.bound).remove(&relayed);
    }
}

/// A UDP listener socket bound with `SO_REUSEPORT` (so that several can share
/// `addr`) and the given buffer sizes.
pub fn reuseport_udp(addr: SocketAddr, buffer: usize) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_port(true)?;
    let _ = s.set_recv_buffer_size(buffer);
    let _ = s.set_send_buffer_size(buffer);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// Frames queued for one TCP/TLS client; the connection's writer task
/// swaps the queue out and writes it, so the buffers are reused.
struct StreamOut {
    queue: Mutex<Vec<u8>>,
    notify: Notify,
}

impl StreamOut {
    /// Queue one whole frame; false (dropped) when the backlog is full.
    fn push(&self, frame: &[u8]) -> bool {
        {
            let mut q = lock(&self.queue);
            if q.len() + frame.len() > MAX_STREAM_BACKLOG {
                return false;
            }
            q.extend_from_slice(frame);
        }
        self.notify.notify_one();
        true
    }
}

struct Relay {
    sock: Arc<UdpSocket>,
    task: JoinHandle<()>,
}

/// The mutable state: the sans-IO core and what the shell keeps per
/// allocation and connection.
struct Core {
    server: Server,
    relays: HashMap<SocketAddr, Relay>,
    streams: HashMap<FiveTuple, Arc<StreamOut>>,
    bound: Arc<Mutex<HashMap<SocketAddr, std::net::UdpSocket>>>,
}

/// Everything the socket tasks share.
pub struct Shared {
    core: Mutex<Core>,
    /// UDP listener sockets by local address (several with SO_REUSEPORT);
    /// fixed after start, so read without a lock.
    udp: HashMap<SocketAddr, Vec<Arc<UdpSocket>>>,
    metrics_text: Arc<Mutex<String>>,
}

impl Shared {
    /// The shell over `server`, answering UDP clients through `udp`.
    pub fn new(
        server: Server,
        bound: Arc<Mutex<HashMap<SocketAddr, std::net::UdpSocket>>>,
        udp: HashMap<SocketAddr, Vec<Arc<UdpSocket>>>,
        metrics_text: Arc<Mutex<String>>,
    ) -> Arc<Self> {
        Arc::new(Shared {
            core: Mutex::new(Core {
                server,
                relays: HashMap::new(),
                streams: HashMap::new(),
                bound,
            }),
            udp,
            metrics_text,
        })
    }

    /// The listener socket that answers a UDP client on `server`, spread by `hint`.
    fn udp_socket(&self, server: SocketAddr, hint: u16) -> Option<&Arc<UdpSocket>> {
        let socks = self.udp.get(&server)?;
        socks.get(usize::from(hint) % socks.len().max(1))
    }

    /// A datagram or frame from a client: through the core, then to the peer.
    fn from_client(self: &Arc<Self>, ft: FiveTuple, data: &[u8]) {
        let now = Instant::now();
        let send = {
            let mut core = lock(&self.core);
            let r = core.server.handle_client(now, ft, data);
            let send = r.and_then(|r| {
                core.relays
                    .get(&r.relayed)
                    .map(|relay| (relay.sock.clone(), r.peer, r.data))
            });
            core.flush(self);
            send
        };
        if let Some((sock, peer, data)) = send {
            send_now(&sock, data, peer);
        }
    }

    /// Publish the metrics page.
    fn publish_metrics(&self) {
        let text = {
            let core = lock(&self.core);
            metrics::render(&core.server.stats(), &core.server.gauges(Instant::now()))
        };
        *lock(&self.metrics_text) = text;
    }
}

impl Core {
    /// Send queued responses and act on allocation events.
    fn flush(&mut self, shared: &Arc<Shared>) {
        while let Some(t) = self.server.poll_transmit() {
            self.send_to_client(shared, t.five_tuple, &t.payload);
        }
        while let Some(e) = self.server.poll_event() {
            match e {
                ServerEvent::AllocationCreated {
                    five_tuple,
                    relayed,
                    username,
                } => {
                    for relayed in relayed.iter() {
                        self.open_relay(shared, five_tuple, relayed);
                    }
                    info!(client = %five_tuple.client, protocol = ?five_tuple.protocol, relayed = ?relayed, user = %username, "allocation created");
                }
                ServerEvent::AllocationDeleted {
                    five_tuple,
                    relayed,
                    expired,
                } => {
                    for relayed in relayed.iter() {
                        if let Some(r) = self.relays.remove(&relayed) {
                            r.task.abort();
                        }
                    }
                    info!(client = %five_tuple.client, relayed = ?relayed, expired, "allocation deleted");
                }
                _ => {}
            }
        }
    }

    fn open_relay(&mut self, shared: &Arc<Shared>, ft: FiveTuple, relayed: SocketAddr) {
        let std_sock = lock(&self.bound).remove(&relayed);
        match std_sock.map(UdpSocket::from_std) {
            Some(Ok(sock)) => {
                let sock = Arc::new(sock);
                let task = tokio::spawn(relay_task(shared.clone(), sock.clone(), relayed));
                self.relays.insert(relayed, Relay { sock, task });
            }
            _ => {
                warn!(%relayed, "relay socket unavailable; deleting allocation");
                self.server.delete_allocation(&ft);
            }
        }
    }

    fn send_to_client(&self, shared: &Shared, ft: FiveTuple, bytes: &[u8]) {
        match ft.protocol {
            TransportProtocol::Udp => {
                if let Some(sock) = shared.udp_socket(ft.server, ft.client.port()) {
                    send_now(sock, bytes, ft.client);
                }
            }
            TransportProtocol::Tcp | TransportProtocol::Tls => {
                if let Some(out) = self.streams.get(&ft) {
                    out.push(bytes);
                }
            }
        }
    }
}

/// Send one datagram with a direct non-blocking `sendto`; a full socket
/// buffer drops it, as UDP may.
///
/// Not tokio's `try_send_to`: that answers `WouldBlock` without a system
/// call until the reactor has seen the socket writable, so the first
/// datagrams sent through a freshly opened relay socket were lost whenever
/// the reactor had not turned since the allocation was made.
fn send_now(sock: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = socket2::SockRef::from(sock).send_to(data, &to.into()) {
        debug!(%to, error = %e, "UDP send failed");
    }
}

/// Per-thread buffers of the relay tasks: one datagram in, one message out.
struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: vec![0; MAX_DATAGRAM],
        output: vec![0; MAX_DATAGRAM + OUT_SLACK],
    });
}

/// One allocation's relay socket: peer datagrams through the core to the client.
async fn relay_task(shared: Arc<Shared>, sock: Arc<UdpSocket>, relayed: SocketAddr) {
    loop {
        if sock.readable().await.is_err() {
            return;
        }
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let Scratch { input, output } = &mut *s;
            for _ in 0..RELAY_BATCH {
                let (n, peer) = match sock.try_recv_from(input) {
                    Ok(x) => x,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                    Err(e) => {
                        debug!(%relayed, error = %e, "relay receive error");
                        continue;
                    }
                };
                let Some(data) = input.get(..n) else { continue };
                relay_from_peer(&shared, relayed, peer, data, output);
            }
        });
        // A full batch: let other tasks run before draining more.
        tokio::task::yield_now().await;
    }
}

fn relay_from_peer(
    shared: &Arc<Shared>,
    relayed: SocketAddr,
    peer: SocketAddr,
    data: &[u8],
    out: &mut [u8],
) {
    let now = Instant::now();
    let mut core = lock(&shared.core);
    let Some((ft, n)) = core.server.handle_peer(now, relayed, peer, data, out) else {
        return;
    };
    let Some(bytes) = out.get(..n) else { return };
    if ft.protocol == TransportProtocol::Udp {
        drop(core);
        if let Some(sock) = shared.udp_socket(ft.server, ft.client.port()) {
            send_now(sock, bytes, ft.client);
        }
    } else if let Some(q) = core.streams.get(&ft).cloned() {
        drop(core);
        q.push(bytes);
    }
}

/// Receive client datagrams on one UDP listener socket.
pub async fn udp_listener(shared: Arc<Shared>, sock: Arc<UdpSocket>, local: SocketAddr) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let ft = FiveTuple {
                    client: from,
                    server: local,
                    protocol: TransportProtocol::Udp,
                };
                if let Some(d) = buf.get(..n) {
                    shared.from_client(ft, d);
                }
            }
            Err(e) => debug!(error = %e, "UDP receive error"),
        }
    }
}

/// Accept TCP (or, with an acceptor, TLS) clients.
pub async fn tcp_listener(
    shared: Arc<Shared>,
    l: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let protocol = if tls.is_some() {
        TransportProtocol::Tls
    } else {
        TransportProtocol::Tcp
    };
    loop {
        let Ok((stream, from)) = l.accept().await else {
            continue;
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ft = FiveTuple {
            client: from,
            server: local,
            protocol,
        };
        let shared = shared.clone();
        match tls.clone() {
            None => {
                tokio::spawn(connection(shared, stream, ft));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => connection(shared, s, ft).await,
                        _ => debug!(client = %from, "TLS handshake failed"),
                    }
                });
            }
        }
    }
}

/// One TCP or TLS connection: frames in (RFC 8656 §12.5), frames out.
async fn connection<S>(shared: Arc<Shared>, stream: S, ft: FiveTuple)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let out = Arc::new(StreamOut {
        queue: Mutex::new(Vec::new()),
        notify: Notify::new(),
    });
    lock(&shared.core).streams.insert(ft, out.clone());
    let per_record = ft.protocol == TransportProtocol::Tls;
    let writer = tokio::spawn(async move {
        let mut pending = Vec::new();
        loop {
            out.notify.notified().await;
            std::mem::swap(&mut *lock(&out.queue), &mut pending);
            // Over TLS one record per frame (some clients, coturn's
            // turnutils_uclient among them, read a record as one message);
            // over TCP the whole batch in one write. Flush too: TLS may
            // hold records back until asked.
            if !pending.is_empty() && write_frames(&mut wr, &pending, per_record).await.is_err() {
                break;
            }
            pending.clear();
        }
        let _ = wr.shutdown().await;
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16384];
    'read: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(buf.get(..n).unwrap_or_default());
        loop {
            match framer.next_frame() {
                Ok(Some(frame)) => shared.from_client(ft, frame),
                Ok(None) => break,
                Err(e) => {
                    debug!(client = %ft.client, error = %e, "closing stream");
                    break 'read;
                }
            }
        }
    }
    {
        let mut core = lock(&shared.core);
        core.streams.remove(&ft);
        // RFC 8656 §3.1: the allocation lives as long as its TCP/TLS connection.
        core.server.delete_allocation(&ft);
        core.flush(&shared);
    }
    writer.abort();
}

/// Write queued frames (whole STUN messages and padded ChannelData, as the
/// core made them): at once, or one write per frame when `per_frame`.
async fn write_frames<W: AsyncWrite + Unpin>(
    wr: &mut W,
    mut frames: &[u8],
    per_frame: bool,
) -> std::io::Result<()> {
    if !per_frame {
        wr.write_all(frames).await?;
        return wr.flush().await;
    }
    while !frames.is_empty() {
        let len = fulmar_turn::frame_len(frames)
            .ok()
            .flatten()
            .unwrap_or(frames.len());
        let (frame, rest) = frames.split_at(len.min(frames.len()));
        wr.write_all(frame).await?;
        frames = rest;
    }
    wr.flush().await
}

/// Expire state at the core's deadlines and publish metrics every second,
/// until shutdown.
pub async fn timers(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut next_metrics = tokio::time::Instant::now();
    loop {
        let deadline = lock(&shared.core)
            .server
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .map_or(next_metrics, |d| d.min(next_metrics));
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => break,
        }
        {
            let mut core = lock(&shared.core);
            core.server.handle_timeout(Instant::now());
            core.flush(&shared);
        }
        if tokio::time::Instant::now() >= next_metrics {
            shared.publish_metrics();
            next_metrics += Duration::from_secs(1);
        }
    }
    shared.publish_metrics();
    let core = lock(&shared.core);
    let s = core.server.stats();
    info!(
        allocations = core.server.allocation_count(),
        created = s.allocations_created,
        packets_to_peer = s.packets_to_peer,
        packets_to_client = s.packets_to_client,
        "core stopped"
    );
}
