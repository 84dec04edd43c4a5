//! Fulmar: WebRTC in Rust. This crate is the tokio driver around the sans-IO
//! [`fulmar_peer::PeerConnection`]: it binds UDP sockets, gathers host
//! candidates, runs the core with timers from `poll_timeout`, and exposes a
//! cloneable async [`PeerConnection`] and [`DataChannel`]s with async
//! `send`/`recv` and back-pressure.
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
//! let remote = b.accept_data_channel().await.expect("channel");
//! chat.send_text("ping").await?;
//! assert_eq!(remote.recv().await, Some(Message::Text("ping".into())));
//! a.close().await;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
pub use fulmar_peer::PeerConnectionState;
use fulmar_peer::{ChannelId, Event};
use rand::rngs::OsRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch, Notify};

pub use fulmar_datachannel::{ChannelConfig, Reliability};
pub use fulmar_peer::{SessionDescription, Stats};

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
}

/// Driver configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Local addresses to bind UDP sockets on; each becomes a host candidate.
    pub bind: Vec<SocketAddr>,
    /// The sans-IO core's configuration.
    pub peer: fulmar_peer::Config,
    /// `send` waits while a channel has more than this many bytes queued.
    pub max_buffered: usize,
}

impl Default for Config {
    /// Binds one socket on 127.0.0.1 with an ephemeral port.
    fn default() -> Self {
        Config {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            peer: fulmar_peer::Config::default(),
            max_buffered: 1 << 20,
        }
    }
}

impl Config {
    /// Binds on these addresses instead.
    pub fn with_bind(mut self, bind: Vec<SocketAddr>) -> Self {
        self.bind = bind;
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

struct ChannelSlot {
    tx: mpsc::UnboundedSender<Message>,
    open: watch::Sender<bool>,
    low: Arc<Notify>,
}

struct Inner {
    pc: fulmar_peer::PeerConnection,
    channels: HashMap<ChannelId, ChannelSlot>,
    incoming: Option<mpsc::UnboundedSender<DataChannel>>,
    closed: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    state: watch::Sender<PeerConnectionState>,
    incoming_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<DataChannel>>,
    local_addrs: Vec<SocketAddr>,
    max_buffered: usize,
    close_requested: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent sans-IO state
        // (every call is atomic), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
        let mut sockets = Vec::new();
        for addr in &config.bind {
            sockets.push(Arc::new(UdpSocket::bind(addr).await?));
        }
        let mut pc = fulmar_peer::PeerConnection::new(config.peer.clone(), OsRng)?;
        let now = Instant::now();
        let mut local_addrs = Vec::new();
        for s in &sockets {
            let a = s.local_addr()?;
            pc.add_host_candidate(now, a)?;
            local_addrs.push(a);
        }
        pc.end_of_local_candidates(now);
        let (incoming, incoming_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                pc,
                channels: HashMap::new(),
                incoming: Some(incoming),
                closed: false,
            }),
            wake: Notify::new(),
            state: watch::channel(PeerConnectionState::New).0,
            incoming_rx: tokio::sync::Mutex::new(incoming_rx),
            local_addrs,
            max_buffered: config.max_buffered,
            close_requested: AtomicBool::new(false),
        });
        let guard = Arc::new(Guard(shared.clone()));
        let handle = PeerConnection {
            shared: shared.clone(),
            _guard: guard.clone(),
        };
        // The driver holds only a weak guard so dropping every handle closes.
        tokio::spawn(drive(shared, Arc::downgrade(&guard), sockets));
        Ok(handle)
    }

    /// The local socket addresses (host candidates).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }

    fn with<T>(&self, f: impl FnOnce(&mut fulmar_peer::PeerConnection) -> T) -> T {
        let r = f(&mut self.shared.lock().pc);
        self.shared.wake.notify_one();
        r
    }

    /// Creates an offer and applies it as the local description.
    pub async fn create_offer(&self) -> Result<SessionDescription, Error> {
        self.with(|pc| {
            let offer = pc.create_offer()?;
            pc.set_local_description(Instant::now(), offer)?;
            pc.local_description().ok_or(Error::Closed)
        })
    }

    /// Creates an answer to the applied offer and applies it.
    pub async fn create_answer(&self) -> Result<SessionDescription, Error> {
        self.with(|pc| {
            let answer = pc.create_answer()?;
            pc.set_local_description(Instant::now(), answer)?;
            pc.local_description().ok_or(Error::Closed)
        })
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

    /// The applied local description with its candidates.
    pub fn local_description(&self) -> Option<SessionDescription> {
        self.shared.lock().pc.local_description()
    }

    /// Adds a trickled remote candidate (empty: end-of-candidates).
    pub async fn add_ice_candidate(&self, candidate: &str) -> Result<(), Error> {
        self.with(|pc| Ok(pc.add_ice_candidate(Instant::now(), candidate)?))
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
        drop(g);
        self.shared.wake.notify_one();
        Ok(dc)
    }

    /// Waits for the next channel opened by the peer; `None` once closed.
    pub async fn accept_data_channel(&self) -> Option<DataChannel> {
        self.shared.incoming_rx.lock().await.recv().await
    }

    /// The connection state.
    pub fn state(&self) -> PeerConnectionState {
        *self.shared.state.borrow()
    }

    /// Waits until the connection is connected (`Ok`) or failed/closed.
    pub async fn connected(&self) -> Result<(), Error> {
        let mut rx = self.shared.state.subscribe();
        loop {
            match *rx.borrow_and_update() {
                PeerConnectionState::Connected => return Ok(()),
                PeerConnectionState::Failed | PeerConnectionState::Closed => {
                    return Err(Error::Closed)
                }
                _ => {}
            }
            rx.changed().await.map_err(|_| Error::Closed)?;
        }
    }

    /// Counters comparable to `getStats()`.
    pub fn stats(&self) -> Stats {
        self.shared.lock().pc.stats()
    }

    /// Closes the connection (SCTP abort, DTLS close_notify) and ends the driver.
    pub async fn close(&self) {
        let mut g = self.shared.lock();
        g.pc.close(Instant::now());
        g.closed = true;
        drop(g);
        self.shared.wake.notify_one();
    }
}

/// A data channel: async `send` (with back-pressure) and `recv`.
pub struct DataChannel {
    pc: PeerConnection,
    id: ChannelId,
    label: String,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>,
    open: watch::Receiver<bool>,
    low: Arc<Notify>,
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
        let (tx, rx) = mpsc::unbounded_channel();
        let (open_tx, open) = watch::channel(false);
        let low = Arc::new(Notify::new());
        let slot = ChannelSlot {
            tx,
            open: open_tx,
            low: low.clone(),
        };
        (
            DataChannel {
                pc,
                id,
                label,
                rx: tokio::sync::Mutex::new(rx),
                open,
                low,
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

    /// Waits until the channel is open; `Err` if it closed first.
    pub async fn opened(&self) -> Result<(), Error> {
        let mut open = self.open.clone();
        loop {
            if *open.borrow_and_update() {
                return Ok(());
            }
            open.changed().await.map_err(|_| Error::Closed)?;
        }
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
            {
                let mut g = shared.lock();
                if g.closed {
                    return Err(Error::Closed);
                }
                if g.pc.buffered_amount(self.id) <= shared.max_buffered {
                    g.pc.send(Instant::now(), self.id, data, binary)?;
                    drop(g);
                    shared.wake.notify_one();
                    return Ok(());
                }
                g.pc.set_buffered_amount_low_threshold(self.id, shared.max_buffered / 2);
            }
            // Woken by BufferedAmountLow; the timeout guards a missed wake-up.
            let _ = tokio::time::timeout(Duration::from_millis(50), self.low.notified()).await;
        }
    }

    /// The next message; `None` once the channel closed.
    pub async fn recv(&self) -> Option<Message> {
        self.rx.lock().await.recv().await
    }

    /// Closes the channel (stream reset).
    pub async fn close(&self) -> Result<(), Error> {
        let r = self.pc.with(|pc| pc.close_channel(Instant::now(), self.id));
        Ok(r?)
    }
}

type Received = (SocketAddr, SocketAddr, Vec<u8>);

async fn drive(shared: Arc<Shared>, guard: Weak<Guard>, sockets: Vec<Arc<UdpSocket>>) {
    let (tx, mut rx) = mpsc::channel::<Received>(1024);
    let mut readers = Vec::new();
    for s in &sockets {
        let (s, tx) = (s.clone(), tx.clone());
        readers.push(tokio::spawn(async move {
            let Ok(local) = s.local_addr() else { return };
            let mut buf = vec![0u8; 65536];
            loop {
                match s.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        if tx.send((from, local, buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                    // ICMP errors (port unreachable) surface here: keep reading.
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        }));
    }
    drop(tx);
    loop {
        let (transmits, deadline, done) = {
            let mut g = shared.lock();
            let now = Instant::now();
            if shared.close_requested.load(Ordering::Acquire) && !g.closed {
                g.pc.close(now);
                g.closed = true;
            }
            if g.pc.poll_timeout().is_some_and(|t| t <= now) {
                g.pc.handle_timeout(now);
            }
            dispatch(&shared, &guard, &mut g);
            let mut out = Vec::new();
            while let Some(t) = g.pc.poll_transmit() {
                out.push(t);
            }
            let ended = matches!(
                g.pc.connection_state(),
                PeerConnectionState::Closed | PeerConnectionState::Failed
            );
            (out, g.pc.poll_timeout(), g.closed || ended)
        };
        for t in transmits {
            if let Some(s) = sockets
                .iter()
                .find(|s| s.local_addr().ok() == Some(t.source))
                .or(sockets.first())
            {
                let _ = s.send_to(&t.payload, t.destination).await;
            }
        }
        if done || guard.strong_count() == 0 {
            break;
        }
        let sleep = deadline.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(Instant::now())
        });
        tokio::select! {
            r = rx.recv() => match r {
                Some((from, local, data)) => {
                    let mut g = shared.lock();
                    g.pc.handle_receive(Instant::now(), from, local, &data);
                    // Take whatever else is queued without waking again.
                    while let Ok((from, local, data)) = rx.try_recv() {
                        g.pc.handle_receive(Instant::now(), from, local, &data);
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep(sleep) => {},
            _ = shared.wake.notified() => {},
        }
    }
    for r in readers {
        r.abort();
    }
    let mut g = shared.lock();
    dispatch(&shared, &guard, &mut g);
    g.channels.clear();
    g.incoming = None;
    g.closed = true;
    shared.state.send_replace(PeerConnectionState::Closed);
}

/// Routes core events to channel queues, waiters and the accept queue.
fn dispatch(shared: &Arc<Shared>, guard: &Weak<Guard>, g: &mut Inner) {
    while let Some(e) = g.pc.poll_event() {
        match e {
            Event::ConnectionStateChange(s) => {
                shared.state.send_replace(s);
            }
            Event::DataChannel { id, label } => {
                // An accepted channel shares the users' guard: it keeps the
                // connection open while held.
                let Some(guard) = guard.upgrade() else {
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
                    s.open.send_replace(true);
                }
            }
            Event::DataChannelMessage { id, data, binary } => {
                if let Some(s) = g.channels.get(&id) {
                    let msg = if binary {
                        Message::Binary(data)
                    } else {
                        Message::Text(String::from_utf8_lossy(&data).into_owned())
                    };
                    let _ = s.tx.send(msg);
                }
            }
            Event::BufferedAmountLow(id) => {
                if let Some(s) = g.channels.get(&id) {
                    s.low.notify_waiters();
                }
            }
            Event::DataChannelClose(id) => {
                g.channels.remove(&id);
            }
            _ => {}
        }
    }
}
