//! The sans-IO TURN client (RFC 8656 §6–§12): one allocation on one server.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_stun::attributes::{
    AdditionalAddressFamily, AddressFamily, ChannelNumber, Data, ErrorCode, Lifetime, Nonce,
    PasswordAlgorithm, PasswordAlgorithmId, PasswordAlgorithms, Realm, RequestedAddressFamily,
    RequestedTransport, SecurityFeatures, Software, Username, XorMappedAddress, XorPeerAddress,
    XorRelayedAddress,
};
use fulmar_stun::channel_data::{ChannelData, MAX_CHANNEL, MIN_CHANNEL};
use fulmar_stun::transaction::{ClientTransaction, TransactionConfig};
use fulmar_stun::{
    classify, Attribute, Class, IntegrityKey, Message, MessageBuilder, Method, PacketKind,
    TransactionId, Transmit, HEADER_LEN,
};
use rand_core::RngCore;

use crate::Error;

/// Lifetime of a permission on the server (RFC 8656 §9).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// Lifetime of a channel binding on the server (RFC 8656 §12).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// How long before a permission expires the client refreshes it.
const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// How long after binding a channel the client refreshes it.
const CHANNEL_REFRESH: Duration = Duration::from_secs(540);
/// When a refresh goes unanswered or fails, the next try comes this much later.
const REFRESH_RETRY: Duration = Duration::from_secs(30);
/// Most permissions (peer IPs) one client tracks.
pub const MAX_PERMISSIONS: usize = 1024;
/// Most outstanding requests.
pub const MAX_PENDING: usize = 256;
/// Longest REALM or NONCE accepted from a server.
const MAX_AUTH_TEXT: usize = 256;
/// Size of the buffer requests are built in.
const REQUEST_BUF: usize = 2048;
/// How often one request may be re-sent after a 401 or 438 challenge.
const MAX_AUTH_RETRIES: u8 = 3;

mod config;
mod events;
mod request;
mod response;

pub use config::{ClientConfig, ClientTransport};
pub use events::{ClientEvent, ClientState, ClientStats, Received};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Allocate,
    Refresh { lifetime: u32 },
    CreatePermission { peer: IpAddr },
    ChannelBind { peer: SocketAddr, channel: u16 },
}

#[derive(Debug)]
struct Pending {
    request: Request,
    transaction_id: TransactionId,
    tx: ClientTransaction,
    bytes: Vec<u8>,
    retries: u8,
    authenticated: bool,
}

#[derive(Debug, Clone)]
struct Auth {
    realm: String,
    nonce: String,
    key: IntegrityKey,
    /// PASSWORD-ALGORITHMS as received, echoed in requests (RFC 8489 §9.2.4).
    algorithms: Option<Vec<u8>>,
    algorithm: PasswordAlgorithmId,
}

#[derive(Debug, Clone, Copy)]
struct Permission {
    installed: bool,
    refresh_at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Channel {
    peer: SocketAddr,
    bound: bool,
    refresh_at: Instant,
}

/// A sans-IO TURN client for one allocation.
///
/// Feed it what the server sends ([`Client::handle_receive`]) and time
/// ([`Client::handle_timeout`]); drain [`Client::poll_transmit`] and
/// [`Client::poll_event`]; sleep until [`Client::poll_timeout`]. It handles
/// the 401 challenge, realm and nonce, 438 stale nonces, SHA-256 passwords
/// when the server offers them, refreshes the allocation, its permissions
/// and channels ahead of expiry, and deletes the allocation on
/// [`Client::close`]. Data to peers goes as ChannelData once a channel is
/// bound, as Send indications before.
pub struct Client {
    config: ClientConfig,
    rng: Box<dyn RngCore + Send>,
    state: ClientState,
    auth: Option<Auth>,
    pending: Vec<Pending>,
    /// Requests for the server waiting for [`Client::poll_transmit`].
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<ClientEvent>,
    relayed: Option<SocketAddr>,
    additional_relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    expires_at: Option<Instant>,
    refresh_at: Option<Instant>,
    permissions: HashMap<IpAddr, Permission>,
    channels: HashMap<u16, Channel>,
    peer_channels: HashMap<SocketAddr, u16>,
    next_channel: u16,
    stats: ClientStats,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.config.server)
            .field("state", &self.state)
            .field("relayed", &self.relayed)
            .finish_non_exhaustive()
    }
}

/// When to refresh something granted for `lifetime` at `now`: a minute
/// ahead for long lifetimes, halfway for short ones.
fn refresh_time(now: Instant, lifetime: Duration) -> Instant {
    if lifetime > Duration::from_secs(120) {
        now + lifetime - Duration::from_secs(60)
    } else {
        now + lifetime / 2
    }
}

impl Client {
    /// A client; nothing is sent until [`Client::allocate`].
    pub fn new(config: ClientConfig, rng: impl RngCore + Send + 'static) -> Self {
        Client {
            config,
            rng: Box::new(rng),
            state: ClientState::Idle,
            auth: None,
            pending: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            relayed: None,
            additional_relayed: None,
            mapped: None,
            expires_at: None,
            refresh_at: None,
            permissions: HashMap::new(),
            channels: HashMap::new(),
            peer_channels: HashMap::new(),
            next_channel: MIN_CHANNEL,
            stats: ClientStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The relayed transport address, once allocated.
    pub fn relayed_address(&self) -> Option<SocketAddr> {
        self.relayed
    }

    /// Every relayed transport address (two after a dual allocation).
    pub fn relayed_addresses(&self) -> impl Iterator<Item = SocketAddr> {
        self.relayed.into_iter().chain(self.additional_relayed)
    }

    /// The relayed address that talks to `peer` (same family), if any.
    pub fn relayed_address_for(&self, peer: SocketAddr) -> Option<SocketAddr> {
        self.relayed_addresses()
            .find(|r| r.is_ipv4() == peer.is_ipv4())
    }

    /// The server-reflexive address the server reported, once allocated.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// When the allocation expires unless refreshed.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Counters.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// True if a permission for `peer` is installed.
    pub fn has_permission(&self, peer: IpAddr) -> bool {
        self.permissions.get(&peer).is_some_and(|p| p.installed)
    }

    /// The bound channel for `peer`, if any.
    pub fn channel(&self, peer: SocketAddr) -> Option<u16> {
        let n = *self.peer_channels.get(&peer)?;
        self.channels.get(&n).filter(|c| c.bound).map(|_| n)
    }

    /// Start the allocation (RFC 8656 §7.1). The first Allocate carries no
    /// credentials; the server's 401 supplies realm and nonce.
    pub fn allocate(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != ClientState::Idle {
            return Err(Error::InvalidState("allocate called twice"));
        }
        self.state = ClientState::Allocating;
        self.start(now, Request::Allocate, 0)
    }

    /// Install (and keep refreshed) a permission for `peer` (RFC 8656 §9).
    pub fn create_permission(&mut self, now: Instant, peer: IpAddr) -> Result<(), Error> {
        self.check_allocated()?;
        self.check_family(SocketAddr::new(peer, 0))?;
        if self.permissions.contains_key(&peer) {
            return Ok(());
        }
        if self.permissions.len() >= MAX_PERMISSIONS {
            return Err(Error::LimitReached("permissions"));
        }
        self.permissions.insert(
            peer,
            Permission {
                installed: false,
                refresh_at: now + PERMISSION_REFRESH,
            },
        );
        self.start(now, Request::CreatePermission { peer }, 0)
    }

    /// Bind a channel to `peer` (RFC 8656 §11), which also installs a
    /// permission for its IP; returns the channel number. Data uses the
    /// channel once [`ClientEvent::ChannelBound`] arrives.
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) -> Result<u16, Error> {
        self.check_allocated()?;
        self.check_family(peer)?;
        if let Some(&n) = self.peer_channels.get(&peer) {
            return Ok(n);
        }
        if usize::from(self.next_channel) > usize::from(MAX_CHANNEL) {
            return Err(Error::NoChannelLeft);
        }
        let channel = self.next_channel;
        self.next_channel += 1;
        self.channels.insert(
            channel,
            Channel {
                peer,
                bound: false,
                refresh_at: now + CHANNEL_REFRESH,
            },
        );
        self.peer_channels.insert(peer, channel);
        self.start(now, Request::ChannelBind { peer, channel }, 0)?;
        Ok(channel)
    }

    /// Wraps `data` for `peer` into `out` (its contents replaced; no
    /// allocation once `out` has grown to fit): a ChannelData message when a
    /// channel is bound, else a Send indication (RFC 8656 §10.1, §12). Send
    /// the returned [`Transmit`] at once. A permission for the peer's IP is
    /// requested first if there is none (through [`Client::poll_transmit`];
    /// data sent before it is installed may be dropped by the server).
    pub fn send_to(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Transmit, Error> {
        self.check_allocated()?;
        if !self.permissions.contains_key(&peer.ip()) {
            self.create_permission(now, peer.ip())?;
        }
        // A Send indication is the larger wrapping (ChannelData adds 4 + 3).
        let need = data.len() + SEND_INDICATION_OVERHEAD;
        if out.len() < need {
            out.resize(need, 0);
        }
        let len = self.wrap(peer, data, out)?;
        out.truncate(len);
        Ok(Transmit {
            source: self.config.local,
            destination: self.config.server,
            len,
        })
    }

    /// Writes what carries `data` to `peer` into `out`; returns its length.
    fn wrap(&mut self, peer: SocketAddr, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        if let Some(channel) = self.channel(peer) {
            let cd = ChannelData::new(channel, data)?;
            return Ok(cd.encode(out, self.config.transport == ClientTransport::Stream)?);
        }
        self.check_family(peer)?;
        if data.len() > usize::from(u16::MAX) - 64 {
            return Err(Error::PayloadTooLong(data.len()));
        }
        let tid = TransactionId::random(&mut *self.rng);
        let mut b = MessageBuilder::new(out, Class::Indication, Method::SEND, tid);
        b.add(&XorPeerAddress(peer)).add(&Data(data));
        Ok(b.finish()?.len())
    }

    /// Delete the allocation: a Refresh with LIFETIME 0 (RFC 8656 §8).
    /// [`ClientEvent::Closed`] follows.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            ClientState::Allocated => {
                self.state = ClientState::Closing;
                self.pending
                    .retain(|p| matches!(p.request, Request::Allocate));
                // Nothing else should go out for this allocation.
                let _ = self.start(now, Request::Refresh { lifetime: 0 }, 0);
            }
            ClientState::Closing | ClientState::Closed => {}
            ClientState::Idle | ClientState::Allocating => {
                self.pending.clear();
                self.finish_closed(true);
            }
        }
    }

    fn finish_closed(&mut self, graceful: bool) {
        if self.state != ClientState::Closed {
            self.state = ClientState::Closed;
            self.pending.clear();
            self.expires_at = None;
            self.refresh_at = None;
            self.permissions.clear();
            self.channels.clear();
            self.peer_channels.clear();
            self.events.push_back(ClientEvent::Closed { graceful });
        }
    }

    fn check_allocated(&self) -> Result<(), Error> {
        if self.state == ClientState::Allocated {
            Ok(())
        } else {
            Err(Error::InvalidState("no allocation"))
        }
    }

    fn check_family(&self, peer: SocketAddr) -> Result<(), Error> {
        if self.relayed.is_some() && self.relayed_address_for(peer).is_none() {
            return Err(Error::PeerAddressFamilyMismatch(peer));
        }
        Ok(())
    }

    /// Advance timers: retransmissions, refreshes, expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut failed = Vec::new();
        for p in &mut self.pending {
            p.tx.handle_timeout(now);
            if p.tx.poll_transmit() {
                self.stats.retransmissions += 1;
                self.transmits.push_back(p.bytes.clone());
            }
            if p.tx.is_timed_out() {
                failed.push(p.request);
            }
        }
        self.pending.retain(|p| !p.tx.is_timed_out());
        for r in failed {
            self.on_failure(r, None);
        }
        if self.state == ClientState::Closing && self.pending.is_empty() {
            self.finish_closed(true);
        }
        if self.state != ClientState::Allocated {
            return;
        }
        if self.expires_at.is_some_and(|t| now >= t) {
            self.finish_closed(false);
            return;
        }
        if self.refresh_at.is_some_and(|t| now >= t) {
            // Retry in 30 s if this one fails; a success sets the real time.
            self.refresh_at = Some(now + REFRESH_RETRY);
            if !self.is_pending(|r| matches!(r, Request::Refresh { .. })) {
                let lifetime = self
                    .config
                    .lifetime
                    .map_or(600, |l| u32::try_from(l.as_secs()).unwrap_or(u32::MAX));
                let _ = self.start(now, Request::Refresh { lifetime }, 0);
            }
        }
        let due: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|(_, p)| p.installed && now >= p.refresh_at)
            .map(|(ip, _)| *ip)
            .collect();
        for peer in due {
            // Retry in 30 s unless the answer sets the next full period.
            if let Some(p) = self.permissions.get_mut(&peer) {
                p.refresh_at = now + REFRESH_RETRY;
            }
            if !self.is_pending(|r| r == Request::CreatePermission { peer }) {
                let _ = self.start(now, Request::CreatePermission { peer }, 0);
            }
        }
        let due: Vec<(u16, SocketAddr)> = self
            .channels
            .iter()
            .filter(|(_, c)| c.bound && now >= c.refresh_at)
            .map(|(n, c)| (*n, c.peer))
            .collect();
        for (channel, peer) in due {
            if let Some(c) = self.channels.get_mut(&channel) {
                c.refresh_at = now + REFRESH_RETRY;
            }
            if !self.is_pending(|r| r == Request::ChannelBind { peer, channel }) {
                let _ = self.start(now, Request::ChannelBind { peer, channel }, 0);
            }
        }
    }

    fn is_pending(&self, f: impl Fn(Request) -> bool) -> bool {
        self.pending.iter().any(|p| f(p.request))
    }

    /// Writes the next request for the server into `buf` (its contents
    /// replaced) and says where it goes: from [`ClientConfig::local`] to
    /// [`ClientConfig::server`].
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let request = self.transmits.pop_front()?;
        buf.clear();
        buf.extend_from_slice(&request);
        Some(Transmit {
            source: self.config.local,
            destination: self.config.server,
            len: buf.len(),
        })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self
            .pending
            .iter()
            .filter_map(|p| p.tx.poll_timeout())
            .min();
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        if self.state == ClientState::Allocated {
            consider(self.refresh_at);
            consider(self.expires_at);
            consider(
                self.permissions
                    .values()
                    .filter(|p| p.installed)
                    .map(|p| p.refresh_at)
                    .min(),
            );
            consider(
                self.channels
                    .values()
                    .filter(|c| c.bound)
                    .map(|c| c.refresh_at)
                    .min(),
            );
        }
        next
    }
}

/// Bytes a Send indication adds around IPv6 peer data (header, XOR-PEER-ADDRESS, DATA header, padding).
pub const SEND_INDICATION_OVERHEAD: usize = HEADER_LEN + 24 + 4 + 3;
