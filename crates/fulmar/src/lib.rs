//! Fulmar: WebRTC in Rust. This crate is the tokio driver around the sans-IO
//! [`fulmar_peer::PeerConnection`]: it binds UDP sockets, gathers host
//! candidates, runs the core with timers from `poll_timeout`, and exposes a
//! cloneable async [`PeerConnection`] and [`DataChannel`]s with async
//! `send`/`recv` and back-pressure.
//!
//! - Many connections can share one socket: [`Endpoint`] (the server pattern).
//! - Every interface: a socket bound to `0.0.0.0` or `[::]`
//!   ([`Config::with_all_interfaces`]) gives a host candidate per interface
//!   address; a server behind a 1:1 NAT advertises its public address
//!   ([`Config::with_public_address`]).
//! - Trickle ICE: [`PeerConnection::next_local_candidate`] and
//!   [`PeerConnection::add_ice_candidate`].
//! - ICE servers as the web gives them ([`Config::with_ice_servers`]):
//!   server-reflexive candidates from `stun:` servers, relay candidates
//!   through `turn:`/`turns:` servers over UDP, TCP or TLS (or, with
//!   addresses already resolved, [`Config::with_turn_server`]).
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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
pub use fulmar_peer::PeerConnectionState;
use fulmar_peer::{ChannelId, Event};
use rand::rngs::OsRng;
use tokio::sync::Notify;

pub use fulmar_datachannel::{ChannelConfig, Reliability};
pub use fulmar_peer::{
    EndpointError, Failure, IceFailure, SdpType, SessionDescription, SignalingState, Stats,
};

mod endpoint;
pub use endpoint::Endpoint;
mod ice_servers;
mod interfaces;
pub use ice_servers::{public_address_from_stun, IceServer, IceServerError, MAX_ICE_SERVER_URLS};
mod media;
mod outbox;
mod queue;
pub use media::{LocalTrack, RemoteTrack};
mod relay;
pub use fulmar_peer::{RelayProtocol, TurnServer};
pub use relay::{turn_server_from_url, TurnConfigError};
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
    /// An ICE server of [`Config::ice_servers`] was refused: a malformed
    /// URL, a host that does not resolve, missing TURN credentials.
    #[error("ICE server: {0}")]
    IceServer(#[from] IceServerError),
    /// A shared [`Endpoint`] refused the connection: a UDP relay on a TURN
    /// server another of its connections has a relay on (an allocation
    /// belongs to the socket's 5-tuple, RFC 8656 §2), or too many
    /// connections.
    #[error("shared endpoint: {0}")]
    Endpoint(#[from] fulmar_peer::EndpointError),
}

mod config;
mod connection;
mod datachannel;
mod driver;
pub use config::Config;
pub use connection::PeerConnection;
pub use datachannel::{DataChannel, Message};
use driver::*;

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
    pending: outbox::Outbox,
    /// The buffer the core writes each datagram into.
    tx: Vec<u8>,
    /// The deadline the driver task sleeps until.
    armed: Option<Instant>,
    /// The connection's handle in its shared endpoint's routing tables.
    route: Option<fulmar_peer::ConnectionHandle>,
    /// Media tracks' queues.
    media: media::MediaSlots,
    /// Streams to TCP and TLS TURN servers.
    streams: Vec<relay::Stream>,
    /// Local gathering is complete (until an ICE restart gathers again).
    gathered: bool,
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
