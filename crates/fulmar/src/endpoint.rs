//! UDP sockets and the routing of received datagrams to connections.
//!
//! Every socket is an [`Endpoint`]. A connection made with
//! [`PeerConnection::new`](crate::PeerConnection::new) gets private ones (all
//! datagrams go to it); an endpoint made with [`Endpoint::bind`] is shared by
//! any number of connections (the server pattern): its reader task asks the
//! sans-IO [`fulmar_peer::Endpoint`] which connection each datagram belongs
//! to (by the local ICE ufrag of a STUN request, RFC 8445 §7.2.2, by the
//! TURN server a connection's UDP relay allocated on, else by remote
//! address) and hands it over. Connections sharing an endpoint must talk
//! to distinct remote addresses (see [`fulmar_peer::Endpoint`]).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use std::io::IoSliceMut;

use quinn_udp::{RecvMeta, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use fulmar_peer::ConnectionHandle;

use crate::{Error, Shared};

/// Socket buffer size asked of the kernel (it caps it at `rmem_max` /
/// `wmem_max`): bursts of a fast SCTP sender must not overflow the default
/// ~200 KiB, or losses halve the congestion window.
const SOCKET_BUFFER: usize = 4 << 20;
/// Receive buffers per read: each holds one datagram, or with GRO several
/// coalesced ones of one sender (up to 64 KiB).
const RECV_BUFFERS: usize = 4;
/// Size of a receive buffer: the largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;
/// Most reads in one batch before the other tasks get a turn.
const MAX_READS: usize = 16;
/// Most idle receive buffer sets kept for reuse by the whole process: a set
/// is only borrowed while one reader task handles one batch (no await in
/// between), so at most one per runtime worker thread is in use at a time.
const MAX_POOLED: usize = 8;
/// Largest GSO send (the kernel's limit for one UDP message).
pub(crate) const MAX_GSO_BYTES: usize = 65_000;

/// A UDP socket that one or many peer connections send and receive on.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), fulmar::Error> {
/// let endpoint = fulmar::Endpoint::bind(([127, 0, 0, 1], 0).into()).await?;
/// let a = fulmar::PeerConnection::new_on(&endpoint, fulmar::Config::default()).await?;
/// let b = fulmar::PeerConnection::new_on(&endpoint, fulmar::Config::default()).await?;
/// assert_eq!(a.local_addrs(), b.local_addrs());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) inner: Arc<EndpointInner>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("local_addr", &self.inner.local)
            .finish()
    }
}

impl Endpoint {
    /// Binds a UDP socket shared by the connections made on it with
    /// [`PeerConnection::new_on`](crate::PeerConnection::new_on). It closes
    /// when this handle and every connection on it are gone. Needs a tokio
    /// runtime.
    pub async fn bind(addr: SocketAddr) -> Result<Self, Error> {
        Ok(Endpoint {
            inner: EndpointInner::bind(addr, true)?,
        })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// How many connections are routed through this endpoint.
    pub fn connection_count(&self) -> usize {
        let r = self.inner.routes();
        r.table.connection_count() + usize::from(r.single.is_some())
    }

    /// Datagrams received that matched no connection (and were dropped).
    pub fn unrouted_datagrams(&self) -> u64 {
        self.inner.routes().table.unrouted_datagrams()
    }
}

/// Connections known to an endpoint: the one of a private endpoint, or
/// the sans-IO routing tables of a shared one and the connection behind
/// each of their handles.
#[derive(Default)]
pub(crate) struct Routes {
    /// The only connection of a private endpoint.
    single: Option<Weak<Shared>>,
    /// Shared endpoint: which connection a datagram belongs to.
    table: fulmar_peer::Endpoint,
    /// Shared endpoint: the connection of each handle of `table`.
    conns: HashMap<ConnectionHandle, Weak<Shared>>,
}

pub(crate) struct EndpointInner {
    pub(crate) socket: Arc<UdpSocket>,
    /// GSO/GRO and ancillary-data state of the socket.
    state: Arc<UdpSocketState>,
    pub(crate) local: SocketAddr,
    shared_mode: bool,
    routes: Mutex<Routes>,
    stop: Arc<Notify>,
}

impl Drop for EndpointInner {
    fn drop(&mut self) {
        // Ends the reader task, which holds the last socket reference.
        self.stop.notify_one();
    }
}

impl EndpointInner {
    /// Binds a socket with large buffers; a shared endpoint gets its reader
    /// task, a private one is read by its connection's task.
    pub(crate) fn bind(addr: SocketAddr, shared_mode: bool) -> Result<Arc<Self>, Error> {
        let domain = socket2::Domain::for_address(addr);
        let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        // Best effort: the kernel caps (or a sandbox refuses) larger buffers.
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
        s.set_nonblocking(true)?;
        // [::] takes IPv6 only, so 0.0.0.0 may be bound on the same port
        // (and IPv4 host candidates come from the IPv4 socket).
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            s.set_only_v6(true)?;
        }
        s.bind(&addr.into())?;
        let state = Arc::new(UdpSocketState::new((&s).into())?);
        let socket = Arc::new(UdpSocket::from_std(s.into())?);
        let local = socket.local_addr()?;
        let stop = Arc::new(Notify::new());
        let inner = Arc::new(EndpointInner {
            socket: socket.clone(),
            state: state.clone(),
            local,
            shared_mode,
            routes: Mutex::new(Routes::default()),
            stop: stop.clone(),
        });
        // A private endpoint is read by its connection's task (one task per
        // connection); a shared one by a task of its own.
        if shared_mode {
            tokio::spawn(read_loop(Arc::downgrade(&inner), socket, stop));
        }
        Ok(inner)
    }

    /// Whether several connections share this socket (it has a reader task).
    pub(crate) fn is_shared(&self) -> bool {
        self.shared_mode
    }

    /// How many equal-size datagrams one send may carry (GSO; 1 without).
    pub(crate) fn max_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// Whether datagrams from `source` leave through this socket: its
    /// address, or for a socket bound to the unspecified address any
    /// address of its family with its port (see crate::interfaces).
    pub(crate) fn serves(&self, source: SocketAddr) -> bool {
        self.local == source
            || (self.local.ip().is_unspecified()
                && self.local.port() == source.port()
                && self.local.is_ipv4() == source.is_ipv4())
    }

    /// The local address a datagram arrived at: the socket's, or on an
    /// unspecified bind the destination address the kernel reported.
    fn arrived_at(&self, dst_ip: Option<std::net::IpAddr>) -> SocketAddr {
        match dst_ip {
            Some(ip) if self.local.ip().is_unspecified() => {
                let ip = match ip {
                    std::net::IpAddr::V6(v6) => {
                        v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4)
                    }
                    v4 => v4,
                };
                SocketAddr::new(ip, self.local.port())
            }
            _ => self.local,
        }
    }

    /// Sends `contents` from `source` to `destination` without waiting: one
    /// datagram, or with `segment` several of that size (the last may be
    /// shorter). On an unspecified bind the kernel is told the source
    /// address (`IP_PKTINFO`), so the datagram leaves from the host
    /// candidate ICE chose.
    pub(crate) fn try_send(
        &self,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
        segment: Option<usize>,
    ) -> io::Result<()> {
        let src_ip = (self.local.ip().is_unspecified()
            && self.serves(source)
            && !source.ip().is_unspecified())
        .then_some(source.ip());
        let t = quinn_udp::Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: segment,
            src_ip,
        };
        self.socket.try_io(Interest::WRITABLE, || {
            self.state.try_send((&*self.socket).into(), &t)
        })
    }

    pub(crate) fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes everything to `conn` (private endpoint), or gives `conn` a
    /// handle in the routing tables (shared), routed nothing yet; relays
    /// on UDP `relay_servers` route to it (an allocation is the socket's
    /// 5-tuple: each server serves one connection of a shared socket).
    pub(crate) fn attach(
        &self,
        conn: &Arc<Shared>,
        relay_servers: impl Iterator<Item = SocketAddr>,
    ) -> Result<Option<ConnectionHandle>, Error> {
        let mut r = self.routes();
        if !self.shared_mode {
            r.single = Some(Arc::downgrade(conn));
            return Ok(None);
        }
        let h = r.table.add_connection()?;
        for server in relay_servers {
            if let Err(e) = r.table.add_relay_server(h, server) {
                r.table.remove_connection(h);
                return Err(e.into());
            }
        }
        r.conns.insert(h, Arc::downgrade(conn));
        Ok(Some(h))
    }

    /// A shared endpoint routes STUN requests for `ufrag` to `conn`.
    pub(crate) fn set_ufrag(&self, conn: Option<ConnectionHandle>, ufrag: &str) {
        if let Some(h) = conn {
            // A ufrag another connection holds (random ones do not collide
            // in practice) leaves this one unreachable by checks: ICE fails.
            let _ = self.routes().table.set_local_ufrag(h, ufrag);
        }
    }

    /// A shared endpoint routes answers to the STUN `datagram` that `conn`
    /// sends to `remote` back to it.
    pub(crate) fn learn(
        &self,
        conn: Option<ConnectionHandle>,
        remote: SocketAddr,
        datagram: &[u8],
    ) {
        if let Some(h) = conn {
            if fulmar_stun::classify(datagram) == fulmar_stun::PacketKind::Stun {
                self.routes().table.handle_transmit(h, remote, datagram);
            }
        }
    }

    /// Forgets every route to the connection (it ended).
    pub(crate) fn detach(&self, conn: *const Shared, handle: Option<ConnectionHandle>) {
        let mut r = self.routes();
        if r.single
            .as_ref()
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), conn))
        {
            r.single = None;
        }
        if let Some(h) = handle {
            r.table.remove_connection(h);
            r.conns.remove(&h);
        }
    }

    /// The connection a datagram from `from` belongs to.
    fn route(r: &mut Routes, from: SocketAddr, data: &[u8]) -> Option<Arc<Shared>> {
        if let Some(single) = &r.single {
            return single.upgrade();
        }
        let h = r.table.handle_receive(from, data)?;
        r.conns.get(&h).and_then(Weak::upgrade)
    }
}

/// A received buffer: sender, buffer index, length, GRO segment size, the
/// local address it arrived at.
type Received = (SocketAddr, usize, usize, usize, SocketAddr);

/// `RECV_BUFFERS` receive buffers and their metadata.
struct BatchSet {
    bufs: [Vec<u8>; RECV_BUFFERS],
    meta: [RecvMeta; RECV_BUFFERS],
    /// The connections the datagrams of one read go to (empty between reads).
    conns: Vec<Arc<Shared>>,
    /// Each datagram of one read with the index of its connection in `conns`.
    items: Vec<(usize, Received)>,
}

/// Receive buffer sets not in use, shared by every socket of the process,
/// so an idle socket holds no receive buffers (each set is 256 KiB).
static POOL: Mutex<Vec<BatchSet>> = Mutex::new(Vec::new());

/// A set of receive buffers borrowed from [`POOL`] for one batch of reads;
/// dropping it gives the set back.
struct Batch(Option<BatchSet>);

impl Batch {
    /// A pooled set, or a new one when every pooled set is in use.
    fn take() -> Self {
        let pooled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Batch(Some(pooled.unwrap_or_else(|| BatchSet {
            bufs: std::array::from_fn(|_| vec![0u8; MAX_DATAGRAM]),
            meta: [RecvMeta::default(); RECV_BUFFERS],
            conns: Vec::new(),
            items: Vec::new(),
        })))
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = self.0.take() {
            if pool.len() < MAX_POOLED {
                pool.push(set);
            }
        }
    }
}

/// A shared endpoint's reader task: waits for datagrams and hands each
/// batch to its connections. (A private endpoint is read by its
/// connection's own task: see [`EndpointInner::read_batches`].)
async fn read_loop(ep: Weak<EndpointInner>, socket: Arc<UdpSocket>, stop: Arc<Notify>) {
    loop {
        tokio::select! {
            r = socket.readable() => if r.is_err() { return },
            _ = stop.notified() => return,
        }
        let Some(ep) = ep.upgrade() else { return };
        ep.read_batches();
    }
}

impl EndpointInner {
    /// Reads what the socket holds (a bounded number of batches, then the
    /// caller's task yields) and hands each datagram to its connection.
    pub(crate) fn read_batches(&self) {
        // Borrowed until the end of this call (no await): an idle
        // connection, woken every few seconds by consent checks, holds none.
        let mut batch = Batch::take();
        let Some(BatchSet {
            bufs,
            meta,
            conns,
            items,
        }) = batch.0.as_mut()
        else {
            return;
        };
        let mut errors = 0;
        for _ in 0..MAX_READS {
            let n = {
                let mut slices = bufs.each_mut().map(|b| IoSliceMut::new(b));
                match self.socket.try_io(Interest::READABLE, || {
                    self.state.recv((&*self.socket).into(), &mut slices, meta)
                }) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // ICMP errors (port unreachable) surface here: keep reading.
                    Err(_) => {
                        errors += 1;
                        if errors > MAX_READS {
                            break;
                        }
                        continue;
                    }
                }
            };
            // Group by connection so each is locked once per read.
            {
                let mut r = self.routes();
                for (i, m) in meta.iter().enumerate().take(n) {
                    let Some(buf) = bufs.get(i) else { continue };
                    let len = m.len.min(buf.len());
                    let stride = if m.stride == 0 { len } else { m.stride };
                    let first = &buf[..len.min(stride)];
                    // Unrouted: dropped (the table counts it).
                    if let Some(conn) = EndpointInner::route(&mut r, m.addr, first) {
                        let c = match conns.iter().position(|c| Arc::ptr_eq(c, &conn)) {
                            Some(c) => c,
                            None => {
                                conns.push(conn);
                                conns.len() - 1
                            }
                        };
                        let local = self.arrived_at(m.dst_ip);
                        items.push((c, (m.addr, i, len, stride, local)));
                    }
                }
            }
            let now = Instant::now();
            for (c, conn) in conns.drain(..).enumerate() {
                let mut g = conn.lock();
                if g.ended {
                    continue;
                }
                for &(_, (from, i, len, stride, local)) in items.iter().filter(|(ic, _)| *ic == c) {
                    let Some(buf) = bufs.get_mut(i).and_then(|b| b.get_mut(..len)) else {
                        continue;
                    };
                    // GRO: equal segments of `stride` bytes, the last shorter.
                    for d in buf.chunks_mut(stride.max(1)) {
                        crate::receive(&mut g, now, from, local, d);
                    }
                }
                crate::after_io(&conn, &mut g);
            }
            items.clear();
        }
    }
}
