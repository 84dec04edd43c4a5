//! Fulmar: WebRTC in Rust. This crate is the tokio driver around the sans-IO
//! [`fulmar_peer::PeerConnection`]: it binds UDP sockets, gathers host
//! candidates, runs the core with timers from `poll_timeout`, and exposes a
//! cloneable async [`PeerConnection`] and [`DataChannel`]s with async
//! `send`/`recv` and back-pressure.
//!
//! - Many connections can share one socket: [`Endpoint`] (the server pattern).
//! - Trickle ICE: [`PeerConnection::next_local_candidate`] and
//!   [`PeerConnection::add_ice_candidate`].
//! - Relay candidates through TURN servers over UDP, TCP or TLS:
//!   [`Config::with_turn_server`], [`TurnServer::from_url`].
//! - Media: [`PeerConnection::add_track`] gives a [`LocalTrack`] that takes
//!   encoded frames or RTP; [`PeerConnection::accept_track`] a
//!   [`RemoteTrack`] that yields frames or RTP.
//! - Datagrams leave in batches (GSO) and arrive in batches (GRO) where the
//!   OS offers it; connections close when `close` is called, when the peer
//!   closes, or when the last handle is dropped, and then free their sockets.
//!
//! ```
//! use fulmar::{Config, Message, PeerConnection};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fulmar::Error> {
//! let a = PeerConnection::new(Config::default()).await?;
//! let b = PeerConnection::new(Config::default()).await?;
//! let chat = a.create_data_channel("chat").await?;
//! // Non-trickle signaling: each description carries all candidates.
//! let offer = a.create_offer().await?;
//! b.set_remote_description(offer).await?;
//! let answer = b.create_answer().await?;
//! a.set_remote_description(answer).await?;
//!
//! let remote = b.accept_data_channel().await.ok_or(fulmar::Error::Closed)?;
//! chat.send_text("ping").await?;
//! assert_eq!(remote.recv().await, Some(Message::Text("ping".into())));
//! a.close().await;
//! # Ok(()) }
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
pub use fulmar_peer::PeerConnectionState;
use fulmar_peer::{ChannelId, Event, Transmit};
use rand::rngs::{OsRng, StdRng};
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;

pub use fulmar_datachannel::{ChannelConfig, Reliability};
pub use fulmar_peer::{Failure, IceFailure, SessionDescription, Stats};

mod endpoint;
pub use endpoint::Endpoint;
mod media;
mod queue;
pub use media::{LocalTrack, RemoteTrack};
mod relay;
pub use relay::{TurnConfigError, TurnServer, TurnTransport};
/// The TLS library of `turns:` relays, for [`Config::turn_tls`].
pub use tokio_rustls::rustls;

use endpoint::EndpointInner;
pub use fulmar_peer::{
    Codec, CodecParams, KeyframeKind, MediaFrame, MediaKind, MediaStats, ReceiveMode, Transceiver,
    TransceiverId,
};
/// RTP and RTCP packets, codecs and media files (fulmar-rtp), for what a
/// media application does with `RemoteTrack`'s packets and frames.
pub use fulmar_rtp as rtp;
/// SDP (fulmar-sdp), for applications that read or edit descriptions.
pub use fulmar_sdp as sdp;
pub use fulmar_sdp::Direction;
/// An SRTP protection profile ([`Config::with_srtp_profiles`]).
pub use fulmar_srtp::ProtectionProfile as SrtpProfile;

/// Errors of the driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sans-IO core refused.
    #[error(transparent)]
    Peer(#[from] fulmar_peer::Error),
    /// A socket failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The connection or channel is closed.
    #[error("closed")]
    Closed,
    /// The connection failed: ICE, DTLS or SCTP gave up, and the failure
    /// names which and who misbehaved.
    #[error("connection failed: {0}")]
    Failed(fulmar_peer::Failure),
    /// A TURN server's configuration was refused.
    #[error("TURN: {0}")]
    Turn(#[from] TurnConfigError),
}

/// Driver configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Local addresses to bind UDP sockets on; each becomes a host candidate
    /// (ignored by [`PeerConnection::new_on`]).
    pub bind: Vec<SocketAddr>,
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
    /// Test-only fault injection: drop this fraction (0.0..=1.0) of outgoing
    /// datagrams, chosen by a generator seeded with the second value.
    pub outgoing_loss: Option<(f64, u64)>,
    /// TURN servers to allocate relays on (relay candidates).
    pub turn_servers: Vec<TurnServer>,
    /// Offer relay candidates only (`iceTransportPolicy: "relay"`): host
    /// sockets carry TURN traffic but are not offered.
    pub relay_only: bool,
    /// The TLS configuration (trusted roots) for TURN servers reached over
    /// TLS (`turns:`); such a server without it is a configuration error.
    pub turn_tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for Config {
    /// Binds one socket on 127.0.0.1 with an ephemeral port.
    fn default() -> Self {
        Config {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            peer: fulmar_peer::Config::default(),
            max_buffered: 1 << 20,
            max_backlog: 8 << 20,
            outgoing_loss: None,
            turn_servers: Vec::new(),
            relay_only: false,
            turn_tls: None,
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

    /// Binds on these addresses instead.
    pub fn with_bind(mut self, bind: Vec<SocketAddr>) -> Self {
        self.bind = bind;
        self
    }

    /// Allocates a relay on this TURN server (over UDP, TCP or TLS) and
    /// offers it as a candidate; gathering completes once the allocation is
    /// done or failed.
    pub fn with_turn_server(mut self, server: TurnServer) -> Self {
        self.turn_servers.push(server);
        self
    }

    /// Verifies TURN servers reached over TLS with this configuration.
    pub fn with_turn_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.turn_tls = Some(tls);
        self
    }

    /// Offers relay candidates only (`iceTransportPolicy: "relay"`).
    pub fn with_relay_only(mut self) -> Self {
        self.relay_only = true;
        self
    }

    /// What remote tracks yield by default: assembled frames, RTP, or both.
    pub fn with_receive_mode(mut self, mode: ReceiveMode) -> Self {
        self.peer.receive_mode = mode;
        self
    }

    /// Test-only: drops `percent` % of outgoing datagrams, reproducibly
    /// from `seed` (to exercise retransmission, NACK and RTX on loopback,
    /// where the kernel offers no loss emulation).
    pub fn with_outgoing_loss(mut self, percent: f64, seed: u64) -> Self {
        self.outgoing_loss = Some(((percent / 100.0).clamp(0.0, 1.0), seed));
        self
    }
}

/// A data-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A string.
    Text(String),
    /// Binary data.
    Binary(Bytes),
}

/// A received message while queued: counted in the connection's backlog
/// until the application takes it (or the queue is dropped).
struct Queued {
    msg: Option<Message>,
    backlog: Arc<AtomicUsize>,
    len: usize,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.backlog.fetch_sub(self.len, Ordering::AcqRel);
    }
}

struct ChannelSlot {
    tx: queue::Sender<Queued>,
    signals: Arc<ChannelSignals>,
}

impl Drop for ChannelSlot {
    /// The driver forgot the channel (closed, or the connection ended).
    fn drop(&mut self) {
        self.signals.closed.store(true, Ordering::Release);
        self.signals.changed.notify_waiters();
    }
}

/// What a channel's handles wait on (one small allocation per channel).
#[derive(Default)]
struct ChannelSignals {
    /// The channel opened (stays true after a close).
    open: AtomicBool,
    /// The driver forgot the channel.
    closed: AtomicBool,
    /// `open` or `closed` changed.
    changed: Notify,
    /// The send buffer drained below its low threshold.
    low: Notify,
}

/// Bound of datagrams waiting for a full socket buffer to drain.
pub(crate) const MAX_PENDING: usize = 1024;

pub(crate) struct Inner {
    pc: fulmar_peer::PeerConnection,
    channels: HashMap<ChannelId, ChannelSlot>,
    incoming: Option<queue::Sender<DataChannel>>,
    candidates: Option<queue::Sender<String>>,
    /// What accepted channels keep alive (the users' guard).
    guard: Weak<Guard>,
    /// Sockets to send on (cleared when the driver ends: frees them).
    endpoints: Vec<Arc<EndpointInner>>,
    /// Datagrams to send (kept while the socket refuses: `WouldBlock`).
    pending: VecDeque<Transmit>,
    /// The deadline the driver task sleeps until.
    armed: Option<Instant>,
    /// The local ICE ufrag routed by shared endpoints.
    ufrag: Option<String>,
    /// Test-only outgoing loss (boxed: a generator is 320 bytes).
    loss: Option<Box<(StdRng, f64)>>,
    /// Media tracks' queues.
    media: media::MediaSlots,
    /// TURN allocations.
    relays: Vec<relay::Relay>,
    /// End of local candidates given to the core.
    gathering_done: bool,
    closed: bool,
    ended: bool,
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    /// The connection state, and a signal for each change.
    state: Mutex<PeerConnectionState>,
    state_changed: Notify,
    incoming_rx: queue::Receiver<DataChannel>,
    candidates_rx: queue::Receiver<String>,
    tracks_rx: queue::Receiver<RemoteTrack>,
    local_addrs: Vec<SocketAddr>,
    max_buffered: usize,
    close_requested: AtomicBool,
    /// Received bytes queued for the application.
    pub(crate) backlog: Arc<AtomicUsize>,
    /// See [`Config::max_backlog`].
    pub(crate) max_backlog: usize,
    /// Unread bytes beyond `max_backlog` last reported to the core.
    unread_reported: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent sans-IO state
        // (every call is atomic), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> PeerConnectionState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What an operation on an ended connection reports: its failure, or
    /// that it closed.
    fn ended(&self) -> Error {
        match self.state() {
            PeerConnectionState::Failed(f) => Error::Failed(f),
            _ => Error::Closed,
        }
    }

    /// Records a state change and wakes whoever waits on one. A failed
    /// connection stays `Failed`, with its reason, when it is then closed
    /// (by the driver ending it or by the application).
    fn set_state(&self, s: PeerConnectionState) {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if !(s == PeerConnectionState::Closed && state.failure().is_some()) {
                *state = s;
            }
        }
        self.state_changed.notify_waiters();
    }

    /// Unread bytes beyond the allowance, which close the receive window.
    fn unread_over_allowance(&self) -> usize {
        self.backlog
            .load(Ordering::Acquire)
            .saturating_sub(self.max_backlog)
    }

    /// Tells the core how much the application leaves unread beyond the
    /// allowance (see [`Config::max_backlog`]), when that changed.
    fn report_unread(&self, g: &mut Inner) {
        let over = self.unread_over_allowance();
        // Called under the connection lock, so load-then-store is not racy.
        if self.unread_reported.load(Ordering::Acquire) != over {
            self.unread_reported.store(over, Ordering::Release);
            g.pc.set_unread_bytes(over);
        }
    }

    /// After the application read: reopens a window that unread messages
    /// had narrowed, once it grew by a useful amount (or fully reopened).
    fn note_read(self: &Arc<Self>) {
        let reported = self.unread_reported.load(Ordering::Acquire);
        if reported == 0 {
            return;
        }
        let over = self.unread_over_allowance();
        if over == 0 || reported.saturating_sub(over) >= WINDOW_REOPEN_STEP {
            let mut g = self.lock();
            after_io(self, &mut g);
        }
    }
}

/// How much reading must reopen a narrowed receive window before the core
/// hears of it (between reads it hears at every input anyway).
const WINDOW_REOPEN_STEP: usize = 64 * 1024;

/// Closes the connection when the last user handle is dropped.
struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        // Never lock here (a drop may happen while the lock is held): ask
        // the driver to close.
        self.0.close_requested.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// A cloneable handle to a peer connection run by a background task.
#[derive(Clone)]
pub struct PeerConnection {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("local_addrs", &self.shared.local_addrs)
            .finish()
    }
}

impl PeerConnection {
    /// Binds the configured sockets, adds them as host candidates (gathering
    /// completes at once) and starts the driver task. Needs a tokio runtime.
    pub async fn new(config: Config) -> Result<Self, Error> {
        let mut endpoints = Vec::new();
        for addr in &config.bind {
            endpoints.push(EndpointInner::bind(*addr, false)?);
        }
        Self::start(config, endpoints)
    }

    /// A connection on a shared [`Endpoint`] (many connections, one port):
    /// the endpoint's address is its only host candidate. TURN servers over
    /// UDP are refused here: an allocation belongs to one socket's 5-tuple,
    /// which the endpoint's connections share (TCP and TLS ones have a
    /// stream of their own).
    pub async fn new_on(endpoint: &Endpoint, config: Config) -> Result<Self, Error> {
        if config
            .turn_servers
            .iter()
            .any(|s| s.transport == TurnTransport::Udp)
        {
            return Err(TurnConfigError::UdpRelayOnEndpoint.into());
        }
        Self::start(config, vec![endpoint.inner.clone()])
    }

    fn start(config: Config, endpoints: Vec<Arc<EndpointInner>>) -> Result<Self, Error> {
        let mut pc = fulmar_peer::PeerConnection::new(config.peer.clone(), OsRng)?;
        let now = Instant::now();
        let mut local_addrs = Vec::new();
        let relay_only = config.relay_only && !config.turn_servers.is_empty();
        for e in &endpoints {
            if !relay_only {
                pc.add_host_candidate(now, e.local)?;
            }
            local_addrs.push(e.local);
        }
        let (relays, streams) = relay::start(
            &config.turn_servers,
            &endpoints,
            config.turn_tls.as_ref(),
            now,
        )?;
        if relays.is_empty() {
            pc.end_of_local_candidates(now);
        }
        let (incoming, incoming_rx) = queue::channel();
        let (candidates, candidates_rx) = queue::channel();
        let (tracks, tracks_rx) = queue::channel();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                pc,
                channels: HashMap::new(),
                incoming: Some(incoming),
                candidates: Some(candidates),
                guard: Weak::new(),
                endpoints: endpoints.clone(),
                pending: VecDeque::new(),
                armed: None,
                ufrag: None,
                loss: config
                    .outgoing_loss
                    .map(|(p, seed)| Box::new((StdRng::seed_from_u64(seed), p))),
                media: media::MediaSlots::new(tracks),
                gathering_done: relays.is_empty(),
                relays,
                closed: false,
                ended: false,
            }),
            wake: Notify::new(),
            state: Mutex::new(PeerConnectionState::New),
            state_changed: Notify::new(),
            incoming_rx,
            candidates_rx,
            tracks_rx,
            local_addrs,
            max_buffered: config.max_buffered,
            close_requested: AtomicBool::new(false),
            backlog: Arc::new(AtomicUsize::new(0)),
            max_backlog: config.max_backlog,
            unread_reported: AtomicUsize::new(0),
        });
        let guard = Arc::new(Guard(shared.clone()));
        shared.lock().guard = Arc::downgrade(&guard);
        for e in &endpoints {
            e.attach(&shared);
        }
        relay::spawn_streams(&shared, streams);
        let handle = PeerConnection {
            shared: shared.clone(),
            _guard: guard.clone(),
        };
        // The driver holds only a weak guard so dropping every handle closes.
        tokio::spawn(drive(shared, Arc::downgrade(&guard)));
        Ok(handle)
    }

    /// The local socket addresses (host candidates).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }

    /// Runs `f` on the core, then sends what it queued and learns its events.
    fn with<T>(&self, f: impl FnOnce(&mut fulmar_peer::PeerConnection) -> T) -> T {
        let mut g = self.shared.lock();
        let r = f(&mut g.pc);
        after_io(&self.shared, &mut g);
        r
    }

    /// Applies `desc` as the local description and routes its ufrag.
    fn apply_local(
        &self,
        make: impl FnOnce(
            &mut fulmar_peer::PeerConnection,
        ) -> Result<SessionDescription, fulmar_peer::Error>,
    ) -> Result<SessionDescription, Error> {
        let mut g = self.shared.lock();
        let r = make(&mut g.pc).and_then(|d| g.pc.set_local_description(Instant::now(), d));
        let desc = r
            .map_err(Error::from)
            .and_then(|()| g.pc.local_description().ok_or(Error::Closed));
        if let Ok(d) = &desc {
            let ufrag = d.sdp.first_ice_ufrag().map(str::to_owned);
            if let Some(u) = ufrag {
                if g.ufrag.as_deref() != Some(&u) {
                    for e in &g.endpoints {
                        e.set_ufrag(&self.shared, g.ufrag.as_deref(), &u);
                    }
                    g.ufrag = Some(u);
                }
            }
        }
        after_io(&self.shared, &mut g);
        desc
    }

    /// Creates an offer and applies it as the local description.
    pub async fn create_offer(&self) -> Result<SessionDescription, Error> {
        self.apply_local(|pc| pc.create_offer())
    }

    /// Creates an answer to the applied offer and applies it.
    pub async fn create_answer(&self) -> Result<SessionDescription, Error> {
        self.apply_local(|pc| pc.create_answer())
    }

    /// Applies the peer's offer or answer.
    pub async fn set_remote_description(&self, desc: SessionDescription) -> Result<(), Error> {
        self.with(|pc| Ok(pc.set_remote_description(Instant::now(), desc)?))
    }

    /// Answers an SDP offer in one step (`POST /offer` style): returns the
    /// answer text with every candidate (non-trickle).
    pub async fn answer_offer(&self, offer_sdp: &str) -> Result<String, Error> {
        let offer = SessionDescription::offer(offer_sdp)?;
        self.set_remote_description(offer).await?;
        Ok(self.create_answer().await?.sdp.to_string())
    }

    /// Asks for an ICE restart (RFC 8445 §9): the next [`Self::create_offer`]
    /// carries new ICE credentials; the current path carries data meanwhile.
    pub async fn restart_ice(&self) {
        self.with(|pc| pc.restart_ice());
    }

    /// The applied local description with its candidates.
    pub fn local_description(&self) -> Option<SessionDescription> {
        self.shared.lock().pc.local_description()
    }

    /// Adds a trickled remote candidate (empty: end-of-candidates).
    pub async fn add_ice_candidate(&self, candidate: &str) -> Result<(), Error> {
        self.with(|pc| Ok(pc.add_ice_candidate(Instant::now(), candidate)?))
    }

    /// Adds a remote candidate already parsed (from an SDP fragment, say).
    pub async fn add_remote_candidate(&self, candidate: sdp::Candidate) -> Result<(), Error> {
        self.with(|pc| Ok(pc.add_remote_candidate(Instant::now(), candidate)?))
    }

    /// The remote peer has no more candidates to trickle (RFC 8838 §4.4).
    pub async fn end_of_remote_candidates(&self) -> Result<(), Error> {
        self.with(|pc| Ok(pc.end_of_remote_candidates(Instant::now())?))
    }

    /// The next local candidate to trickle to the peer (`candidate:...`, for
    /// m-line 0 / the BUNDLE group), as the core gathers them after the first
    /// `create_offer` or `set_remote_description`; `None` once gathering is
    /// complete (signal end-of-candidates then) or the connection ended.
    pub async fn next_local_candidate(&self) -> Option<String> {
        self.shared.candidates_rx.recv().await
    }

    /// Creates a reliable, ordered data channel.
    pub async fn create_data_channel(&self, label: &str) -> Result<DataChannel, Error> {
        self.create_data_channel_with(ChannelConfig::new(label))
            .await
    }

    /// Creates a data channel with full options (ordering, reliability,
    /// negotiated id).
    pub async fn create_data_channel_with(
        &self,
        config: ChannelConfig,
    ) -> Result<DataChannel, Error> {
        let label = config.label.clone();
        let mut g = self.shared.lock();
        let id = g.pc.create_data_channel(config)?;
        let (dc, slot) = DataChannel::new(self.clone(), id, label);
        g.channels.insert(id, slot);
        after_io(&self.shared, &mut g);
        Ok(dc)
    }

    /// Waits for the next channel opened by the peer; `None` once closed.
    pub async fn accept_data_channel(&self) -> Option<DataChannel> {
        self.shared.incoming_rx.recv().await
    }

    /// The connection state.
    pub fn state(&self) -> PeerConnectionState {
        self.shared.state()
    }

    /// Waits until the connection is connected (`Ok`), failed
    /// ([`Error::Failed`], naming why) or closed ([`Error::Closed`]).
    pub async fn connected(&self) -> Result<(), Error> {
        queue::wait_for(&self.shared.state_changed, || match self.shared.state() {
            PeerConnectionState::Connected => Some(Ok(())),
            PeerConnectionState::Failed(f) => Some(Err(Error::Failed(f))),
            PeerConnectionState::Closed => Some(Err(Error::Closed)),
            _ => None,
        })
        .await
    }

    /// Waits until the connection is closed or failed and its driver task
    /// has ended (its sockets are released once no handle uses them).
    pub async fn closed(&self) {
        queue::wait_for(&self.shared.state_changed, || {
            self.shared.lock().ended.then_some(())
        })
        .await
    }

    /// Data-channel bytes received and not yet taken with `recv` (at most
    /// about [`Config::max_backlog`]).
    pub fn queued_received_bytes(&self) -> usize {
        self.shared.backlog.load(Ordering::Acquire)
    }

    /// Counters comparable to `getStats()`.
    pub fn stats(&self) -> Stats {
        self.shared.lock().pc.stats()
    }

    /// Closes the connection (SCTP abort, DTLS close_notify) and ends the
    /// driver; returns at once (see [`Self::closed`]).
    pub async fn close(&self) {
        let mut g = self.shared.lock();
        close_core(&mut g, Instant::now());
        after_io(&self.shared, &mut g);
        drop(g);
        self.shared.wake.notify_one();
    }
}

/// A data channel: async `send` (with back-pressure) and `recv`.
pub struct DataChannel {
    pc: PeerConnection,
    id: ChannelId,
    label: String,
    rx: queue::Receiver<Queued>,
    signals: Arc<ChannelSignals>,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("id", &self.id)
            .field("label", &self.label)
            .finish()
    }
}

impl DataChannel {
    fn new(pc: PeerConnection, id: ChannelId, label: String) -> (Self, ChannelSlot) {
        let (tx, rx) = queue::channel();
        let signals = Arc::new(ChannelSignals::default());
        let slot = ChannelSlot {
            tx,
            signals: signals.clone(),
        };
        (
            DataChannel {
                pc,
                id,
                label,
                rx,
                signals,
            },
            slot,
        )
    }

    /// The label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The SCTP stream id, once known.
    pub fn stream_id(&self) -> Option<u16> {
        self.pc.shared.lock().pc.channel_stream_id(self.id)
    }

    /// Bytes queued for sending on this channel (`bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.pc.shared.lock().pc.buffered_amount(self.id)
    }

    /// Waits until the channel is open; `Err` if it closed first
    /// ([`Error::Failed`] when the connection failed under it).
    pub async fn opened(&self) -> Result<(), Error> {
        let s = &self.signals;
        queue::wait_for(&s.changed, || {
            if s.open.load(Ordering::Acquire) {
                Some(Ok(()))
            } else {
                s.closed
                    .load(Ordering::Acquire)
                    .then(|| Err(self.pc.shared.ended()))
            }
        })
        .await
    }

    /// Sends binary data (waits for the channel to open and for the buffer
    /// to drain below the configured limit).
    pub async fn send(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send_message(data.into(), true).await
    }

    /// Sends a string.
    pub async fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_message(Bytes::copy_from_slice(text.as_bytes()), false)
            .await
    }

    /// Sends a [`Message`].
    pub async fn send_msg(&self, msg: Message) -> Result<(), Error> {
        match msg {
            Message::Text(t) => self.send_text(&t).await,
            Message::Binary(b) => self.send(b).await,
        }
    }

    async fn send_message(&self, data: Bytes, binary: bool) -> Result<(), Error> {
        self.opened().await?;
        let shared = &self.pc.shared;
        loop {
            // Registered before the check, so a BufferedAmountLow dispatched
            // between the check and the wait is not missed.
            let low = self.signals.low.notified();
            tokio::pin!(low);
            low.as_mut().enable();
            {
                let mut g = shared.lock();
                if g.closed || g.ended {
                    drop(g);
                    return Err(shared.ended());
                }
                if g.pc.buffered_amount(self.id) <= shared.max_buffered {
                    let r = g.pc.send(Instant::now(), self.id, data, binary);
                    after_io(shared, &mut g);
                    return Ok(r?);
                }
                g.pc.set_buffered_amount_low_threshold(self.id, shared.max_buffered / 2);
            }
            // The timeout guards a channel closed while waiting.
            let _ = tokio::time::timeout(Duration::from_millis(200), low).await;
        }
    }

    /// The next message; `None` once the channel closed.
    pub async fn recv(&self) -> Option<Message> {
        let mut q = self.rx.recv().await?;
        let msg = q.msg.take();
        drop(q);
        self.pc.shared.note_read();
        msg
    }

    /// Closes the channel (stream reset).
    pub async fn close(&self) -> Result<(), Error> {
        let r = self.pc.with(|pc| pc.close_channel(Instant::now(), self.id));
        Ok(r?)
    }
}

/// After any input to the core: routes its events, sends its datagrams and
/// wakes the driver task if the core now wants an earlier timeout.
pub(crate) fn after_io(shared: &Arc<Shared>, g: &mut Inner) {
    dispatch(shared, g);
    shared.report_unread(g);
    flush(shared, g);
    let t = next_timeout(g);
    let earlier = match (t, g.armed) {
        (Some(t), Some(a)) => t < a,
        (Some(_), None) => true,
        (None, _) => false,
    };
    // The driver also ends the connection once the core closed or failed
    // (e.g. on the peer's close_notify).
    let ended = matches!(
        g.pc.connection_state(),
        PeerConnectionState::Closed | PeerConnectionState::Failed(_)
    );
    if earlier || ended || g.closed || !g.pending.is_empty() {
        shared.wake.notify_one();
    }
}

/// Closes the core and deletes the TURN allocations.
fn close_core(g: &mut Inner, now: Instant) {
    g.pc.close(now);
    relay::close(g, now);
    g.closed = true;
}

/// The earliest deadline of the core and the TURN clients.
fn next_timeout(g: &Inner) -> Option<Instant> {
    match (g.pc.poll_timeout(), relay::poll_timeout(g)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Hands a received datagram to its TURN allocation or to the core, which
/// may decrypt it in place (the receive buffer is refilled next read).
fn receive(g: &mut Inner, now: Instant, from: SocketAddr, local: SocketAddr, data: &mut [u8]) {
    if !relay::receive(g, now, from, local, data) {
        g.pc.handle_receive_in_place(now, from, local, data);
    }
}

/// Sends the core's datagrams without waiting; what a full socket buffer
/// refuses waits in `pending` for the driver task.
fn flush(shared: &Arc<Shared>, g: &mut Inner) {
    let now = Instant::now();
    // A relayed candidate or the end of gathering: events for the
    // application now (nothing else may wake the driver).
    if relay::poll_events(g, now) {
        dispatch(shared, g);
    }
    // The core builds data packets as they are polled: take up to the
    // bound, send, and go on while the socket keeps taking them (what is
    // left waits in the core until the socket is writable again).
    loop {
        while g.pending.len() < MAX_PENDING {
            let Some(t) = g.pc.poll_transmit() else {
                break;
            };
            let Some(t) = relay::wrap(g, now, t) else {
                continue;
            };
            // STUN (first byte 0..=3, RFC 7983): its answers route back to us.
            if t.payload.first().is_some_and(|b| *b < 4) {
                if let Some(ep) = endpoint_for(&g.endpoints, t.source) {
                    ep.learn(shared, t.destination);
                }
            }
            if let Some((rng, p)) = g.loss.as_deref_mut() {
                if rng.gen_bool(*p) {
                    continue;
                }
            }
            g.pending.push_back(t);
        }
        let more = g.pending.len() >= MAX_PENDING;
        relay::drain_transmits(shared, g, now);
        if !send_pending(g) || !more {
            break;
        }
    }
}

/// The socket bound to `source` (the first one if none is).
fn endpoint_for(
    endpoints: &[Arc<EndpointInner>],
    source: SocketAddr,
) -> Option<&Arc<EndpointInner>> {
    endpoints
        .iter()
        .find(|e| e.local == source)
        .or(endpoints.first())
}

/// Sends queued datagrams, several per system call where they allow (GSO:
/// consecutive equal-size datagrams on one path); `false` if the socket
/// buffer is full.
fn send_pending(g: &mut Inner) -> bool {
    while let Some(first) = g.pending.front() {
        let (src, dst, size) = (first.source, first.destination, first.payload.len());
        let Some(ep) = endpoint_for(&g.endpoints, src).cloned() else {
            g.pending.clear();
            return true;
        };
        let max = ep.max_segments();
        let mut n = 1;
        let mut bytes = size;
        if max > 1 && size > 0 {
            for t in g.pending.iter().skip(1) {
                let len = t.payload.len();
                if n >= max
                    || t.source != src
                    || t.destination != dst
                    || len > size
                    || len == 0
                    || bytes + len > endpoint::MAX_GSO_BYTES
                {
                    break;
                }
                n += 1;
                bytes += len;
                // A shorter datagram can only end a GSO batch.
                if len < size {
                    break;
                }
            }
        }
        let r = if n == 1 {
            ep.try_send(dst, &first.payload, None)
        } else {
            GSO_BATCH.with(|batch| {
                let mut batch = batch.borrow_mut();
                batch.clear();
                for t in g.pending.iter().take(n) {
                    batch.extend_from_slice(&t.payload);
                }
                ep.try_send(dst, &batch, Some(size))
            })
        };
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            // Other errors (unreachable, no route) lose the datagrams, as
            // UDP may.
            _ => {
                // The core reuses the buffers (no allocation per packet).
                for t in g.pending.drain(..n) {
                    g.pc.recycle(t.payload);
                }
            }
        }
    }
    true
}

thread_local! {
    /// The datagrams of one GSO send, copied together (a per-thread buffer:
    /// connections need none of their own).
    static GSO_BATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The per-connection task: timers, close, datagrams the socket refused,
/// and reading the connection's private sockets (a shared endpoint's
/// socket has a reader task of its own).
async fn drive(shared: Arc<Shared>, guard: Weak<Guard>) {
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    let private: Vec<Arc<EndpointInner>> = shared
        .lock()
        .endpoints
        .iter()
        .filter(|e| !e.is_shared())
        .cloned()
        .collect();
    let mut timer_fired = false;
    loop {
        let (waiting, done) = {
            let mut g = shared.lock();
            let now = Instant::now();
            // On timer wake-ups (not per packet): a drained send queue gives
            // its room back, so an idle connection holds none.
            if std::mem::take(&mut timer_fired) && g.pending.is_empty() {
                g.pending = VecDeque::new();
            }
            if shared.close_requested.load(Ordering::Acquire) && !g.closed {
                close_core(&mut g, now);
            }
            if g.pc.poll_timeout().is_some_and(|t| t <= now) {
                g.pc.handle_timeout(now);
            }
            relay::handle_timeout(&mut g, now);
            dispatch(&shared, &mut g);
            flush(&shared, &mut g);
            let waiting = g
                .pending
                .front()
                .and_then(|t| endpoint_for(&g.endpoints, t.source))
                .map(|e| e.socket.clone());
            let ended = matches!(
                g.pc.connection_state(),
                PeerConnectionState::Closed | PeerConnectionState::Failed(_)
            );
            // A deadline already past (a core that asks again at once) is
            // retried after a millisecond rather than spinning.
            let deadline = next_timeout(&g).map(|t| t.max(now + Duration::from_millis(1)));
            g.armed = deadline;
            if deadline != armed {
                armed = deadline;
                let at = deadline.unwrap_or(now + Duration::from_secs(3600));
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
            }
            (waiting, (g.closed && g.pending.is_empty()) || ended)
        };
        if done || guard.strong_count() == 0 {
            break;
        }
        tokio::select! {
            _ = &mut sleep => { armed = None; timer_fired = true; },
            _ = shared.wake.notified() => {},
            _ = async {
                match &waiting {
                    Some(s) => { let _ = s.writable().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {},
            _ = any_readable(&private) => {
                for e in &private {
                    e.read_batches();
                }
            },
        }
    }
    let mut g = shared.lock();
    // The last handle may have gone after the check above: close now, so
    // the peer still gets close_notify.
    if !g.closed {
        close_core(&mut g, Instant::now());
    }
    dispatch(&shared, &mut g);
    flush(&shared, &mut g);
    relay::end_streams(&mut g);
    g.channels.clear();
    g.incoming = None;
    g.candidates = None;
    g.media.clear();
    g.closed = true;
    g.ended = true;
    g.pending.clear();
    for e in std::mem::take(&mut g.endpoints) {
        e.detach(Arc::as_ptr(&shared));
    }
    drop(g);
    shared.set_state(PeerConnectionState::Closed);
}

/// Ready when any of `endpoints` has datagrams to read (never if none).
async fn any_readable(endpoints: &[Arc<EndpointInner>]) {
    std::future::poll_fn(|cx| {
        // Polls every socket, so each registers this task for wake-up. An
        // error (the runtime shutting down) is not readiness.
        let mut ready = false;
        for e in endpoints {
            ready |= matches!(e.socket.poll_recv_ready(cx), std::task::Poll::Ready(Ok(())));
        }
        if ready {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Bytes of a message.
fn data_len(m: &Message) -> usize {
    match m {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
    }
}

/// Routes core events to channel queues, waiters and the accept queue.
fn dispatch(shared: &Arc<Shared>, g: &mut Inner) {
    while let Some(e) = g.pc.poll_event() {
        let Some(e) = media::dispatch_media(shared, g, e) else {
            continue;
        };
        match e {
            Event::ConnectionStateChange(s) => {
                shared.set_state(s);
            }
            Event::LocalCandidate(c) => {
                if let Some(tx) = &g.candidates {
                    let _ = tx.send(c);
                }
            }
            Event::GatheringComplete => g.candidates = None,
            Event::DataChannel { id, label } => {
                // An accepted channel shares the users' guard: it keeps the
                // connection open while held.
                let Some(guard) = g.guard.upgrade() else {
                    continue;
                };
                let pc = PeerConnection {
                    shared: shared.clone(),
                    _guard: guard,
                };
                let (dc, slot) = DataChannel::new(pc, id, label);
                g.channels.insert(id, slot);
                if let Some(tx) = &g.incoming {
                    let _ = tx.send(dc);
                }
            }
            Event::DataChannelOpen(id) => {
                if let Some(s) = g.channels.get(&id) {
                    s.signals.open.store(true, Ordering::Release);
                    s.signals.changed.notify_waiters();
                }
            }
            Event::DataChannelMessage { id, data, binary } => {
                if let Some(s) = g.channels.get(&id) {
                    let msg = if binary {
                        Message::Binary(data)
                    } else {
                        Message::Text(String::from_utf8_lossy(&data).into_owned())
                    };
                    let len = data_len(&msg);
                    shared.backlog.fetch_add(len, Ordering::AcqRel);
                    let _ = s.tx.send(Queued {
                        msg: Some(msg),
                        backlog: shared.backlog.clone(),
                        len,
                    });
                }
            }
            Event::BufferedAmountLow(id) => {
                if let Some(s) = g.channels.get(&id) {
                    s.signals.low.notify_waiters();
                }
            }
            Event::DataChannelClose(id) => {
                g.channels.remove(&id);
            }
            _ => {}
        }
    }
}
