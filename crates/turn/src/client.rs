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
    TransactionId, HEADER_LEN,
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

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTransport {
    /// UDP datagrams: requests are retransmitted (RFC 8489 §6.2.1).
    Udp,
    /// A TCP or TLS stream: no retransmission, ChannelData padded to four
    /// bytes (RFC 8656 §12.5); split the received stream with
    /// [`crate::StreamFramer`].
    Stream,
}

/// What the client needs to know to allocate.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The TURN server's transport address.
    pub server: SocketAddr,
    /// Long-term credential user name (or `expiry:user` for time-limited credentials).
    pub username: String,
    /// Long-term credential password.
    pub password: String,
    /// UDP or a stream.
    pub transport: ClientTransport,
    /// Allocation lifetime to ask for (LIFETIME); the server's default when `None`.
    pub lifetime: Option<Duration>,
    /// A SOFTWARE attribute for requests.
    pub software: Option<String>,
    /// REQUESTED-ADDRESS-FAMILY: the family of the relayed address; the
    /// server allocates IPv4 when `None` (RFC 8656 §7.1).
    pub requested_family: Option<AddressFamily>,
    /// ADDITIONAL-ADDRESS-FAMILY IPv6: ask for an IPv6 relayed address
    /// beside the IPv4 one, a dual allocation (RFC 8656 §7.1); ignored when
    /// `requested_family` is set.
    pub dual_allocation: bool,
}

impl ClientConfig {
    /// A UDP client of `server` with long-term credentials.
    pub fn new(server: SocketAddr, username: &str, password: &str) -> Self {
        ClientConfig {
            server,
            username: username.to_owned(),
            password: password.to_owned(),
            transport: ClientTransport::Udp,
            lifetime: None,
            software: None,
            requested_family: None,
            dual_allocation: false,
        }
    }

    /// The same, asking for a relayed address of `family` only.
    pub fn with_requested_family(mut self, family: AddressFamily) -> Self {
        self.requested_family = Some(family);
        self
    }

    /// The same, asking for both an IPv4 and an IPv6 relayed address.
    pub fn with_dual_allocation(mut self) -> Self {
        self.dual_allocation = true;
        self
    }

    /// The same with another transport.
    pub fn with_transport(mut self, transport: ClientTransport) -> Self {
        self.transport = transport;
        self
    }
}

/// A message for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The server's address (the one in [`ClientConfig::server`]).
    pub destination: SocketAddr,
    /// The bytes: a STUN message or a ChannelData message.
    pub payload: Vec<u8>,
}

/// What the application learns from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The allocation succeeded (RFC 8656 §7.3).
    Allocated {
        /// The relayed transport address peers send to (the IPv4 one of a
        /// dual allocation).
        relayed: SocketAddr,
        /// The IPv6 relayed address of a dual allocation, if the server
        /// granted one (RFC 8656 §7.3).
        additional_relayed: Option<SocketAddr>,
        /// The client's address as the server saw it (XOR-MAPPED-ADDRESS).
        mapped: SocketAddr,
        /// Granted lifetime.
        lifetime: Duration,
    },
    /// The allocation failed: an error response (`code`) or no response (`None`).
    AllocationFailed {
        /// The ERROR-CODE, if the server answered.
        code: Option<u16>,
    },
    /// A Refresh succeeded with this lifetime.
    Refreshed {
        /// Granted lifetime.
        lifetime: Duration,
    },
    /// A permission for this peer IP is installed (or refreshed for the first time).
    PermissionCreated {
        /// The peer IP.
        peer: IpAddr,
    },
    /// A CreatePermission failed.
    PermissionFailed {
        /// The peer IP.
        peer: IpAddr,
        /// The ERROR-CODE, or `None` on timeout.
        code: Option<u16>,
    },
    /// A channel is bound: data to and from `peer` now uses ChannelData.
    ChannelBound {
        /// The peer.
        peer: SocketAddr,
        /// Its channel number.
        channel: u16,
    },
    /// A ChannelBind failed.
    ChannelBindFailed {
        /// The peer.
        peer: SocketAddr,
        /// The ERROR-CODE, or `None` on timeout.
        code: Option<u16>,
    },
    /// The allocation is gone: deleted on [`Client::close`] (`graceful`), or
    /// lost because a Refresh failed or it expired.
    Closed {
        /// True after a requested deallocation.
        graceful: bool,
    },
}

/// What [`Client::handle_receive`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Data from a peer through the relay (a Data indication or ChannelData),
    /// borrowed from the datagram.
    PeerData {
        /// The peer that sent it.
        peer: SocketAddr,
        /// The application data.
        data: &'a [u8],
    },
    /// A response or something dropped; nothing for the application.
    Consumed,
    /// Not from the server: the caller should handle it otherwise.
    NotFromServer,
}

/// The client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Created, nothing sent.
    Idle,
    /// Allocate in progress.
    Allocating,
    /// The allocation exists.
    Allocated,
    /// Deallocation requested.
    Closing,
    /// No allocation, and none will come.
    Closed,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Datagrams from the server that were malformed or unexpected.
    pub dropped: u64,
    /// Retransmitted requests.
    pub retransmissions: u64,
    /// Data received from peers.
    pub peer_data_received: u64,
}

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
    transmits: VecDeque<Transmit>,
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

    /// Queue `data` for `peer` through the relay: ChannelData if a channel is
    /// bound, else a Send indication. A permission for the peer's IP is
    /// requested first if there is none (data sent before it is installed
    /// may be dropped by the server).
    pub fn send_to(&mut self, now: Instant, peer: SocketAddr, data: &[u8]) -> Result<(), Error> {
        self.check_allocated()?;
        if !self.permissions.contains_key(&peer.ip()) {
            self.create_permission(now, peer.ip())?;
        }
        let mut buf = vec![0u8; data.len() + 64];
        let n = self.encode_to_peer(peer, data, &mut buf)?;
        buf.truncate(n);
        self.transmits.push_back(Transmit {
            destination: self.config.server,
            payload: buf,
        });
        Ok(())
    }

    /// Write what carries `data` to `peer` into `out` (no allocation): a
    /// ChannelData message when a channel is bound, else a Send indication
    /// (RFC 8656 §10.1). Returns its length; send it to the server. Needs
    /// about `data.len() + 48` bytes.
    pub fn encode_to_peer(
        &mut self,
        peer: SocketAddr,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_allocated()?;
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

    fn transaction_config(&self) -> TransactionConfig {
        match self.config.transport {
            ClientTransport::Udp => TransactionConfig::default(),
            ClientTransport::Stream => TransactionConfig::reliable(),
        }
    }

    /// Build and queue a request.
    fn start(&mut self, now: Instant, request: Request, retries: u8) -> Result<(), Error> {
        if self.pending.len() >= MAX_PENDING {
            return Err(Error::LimitReached("pending requests"));
        }
        let tid = TransactionId::random(&mut *self.rng);
        let bytes = self.build(request, tid)?;
        let mut tx = ClientTransaction::new(now, self.transaction_config());
        if tx.poll_transmit() {
            self.transmits.push_back(Transmit {
                destination: self.config.server,
                payload: bytes.clone(),
            });
        }
        self.pending.push(Pending {
            request,
            transaction_id: tid,
            tx,
            bytes,
            retries,
            authenticated: self.auth.is_some(),
        });
        Ok(())
    }

    fn build(&self, request: Request, tid: TransactionId) -> Result<Vec<u8>, Error> {
        let mut buf = [0u8; REQUEST_BUF];
        let method = match request {
            Request::Allocate => Method::ALLOCATE,
            Request::Refresh { .. } => Method::REFRESH,
            Request::CreatePermission { .. } => Method::CREATE_PERMISSION,
            Request::ChannelBind { .. } => Method::CHANNEL_BIND,
        };
        let mut b = MessageBuilder::new(&mut buf, Class::Request, method, tid);
        match request {
            Request::Allocate => {
                b.add(&RequestedTransport::UDP);
                match self.config.requested_family {
                    Some(f) => {
                        b.add(&RequestedAddressFamily(f));
                    }
                    None if self.config.dual_allocation => {
                        b.add(&AdditionalAddressFamily(AddressFamily::Ipv6));
                    }
                    None => {}
                }
                if let Some(l) = self.config.lifetime {
                    b.add(&Lifetime(u32::try_from(l.as_secs()).unwrap_or(u32::MAX)));
                }
            }
            Request::Refresh { lifetime } => {
                b.add(&Lifetime(lifetime));
            }
            Request::CreatePermission { peer } => {
                b.add(&XorPeerAddress(SocketAddr::new(peer, 0)));
            }
            Request::ChannelBind { peer, channel } => {
                b.add(&ChannelNumber(channel)).add(&XorPeerAddress(peer));
            }
        }
        if let Some(s) = &self.config.software {
            b.add(&Software(s));
        }
        if let Some(auth) = &self.auth {
            b.add(&Username(&self.config.username))
                .add(&Realm(&auth.realm))
                .add(&Nonce(&auth.nonce));
            if let Some(raw) = &auth.algorithms {
                let algs = PasswordAlgorithms::decode(raw, &tid)?;
                b.add(&algs).add(&PasswordAlgorithm::new(auth.algorithm));
            }
            b.add_message_integrity(&auth.key);
        }
        b.add_fingerprint();
        Ok(b.finish()?.to_vec())
    }

    /// Handle a datagram (or a stream frame) from `source`. Data from peers
    /// comes back borrowed from `datagram`.
    pub fn handle_receive<'a>(
        &mut self,
        now: Instant,
        source: SocketAddr,
        datagram: &'a [u8],
    ) -> Received<'a> {
        if source != self.config.server {
            return Received::NotFromServer;
        }
        match classify(datagram) {
            PacketKind::ChannelData => self.handle_channel_data(datagram),
            PacketKind::Stun => match Message::parse(datagram) {
                Ok(msg) => self.handle_message(now, &msg),
                Err(_) => {
                    self.stats.dropped += 1;
                    Received::Consumed
                }
            },
            _ => {
                self.stats.dropped += 1;
                Received::Consumed
            }
        }
    }

    fn handle_channel_data<'a>(&mut self, datagram: &'a [u8]) -> Received<'a> {
        let Ok(cd) = ChannelData::parse(datagram) else {
            self.stats.dropped += 1;
            return Received::Consumed;
        };
        match self.channels.get(&cd.channel_number()) {
            Some(c) if self.state == ClientState::Allocated => {
                self.stats.peer_data_received += 1;
                Received::PeerData {
                    peer: c.peer,
                    data: cd.data(),
                }
            }
            _ => {
                self.stats.dropped += 1;
                Received::Consumed
            }
        }
    }

    fn handle_message<'a>(&mut self, now: Instant, msg: &Message<'a>) -> Received<'a> {
        match msg.class() {
            Class::Indication if msg.method() == Method::DATA => {
                // RFC 8656 §10.4: XOR-PEER-ADDRESS and DATA must both be there.
                let (Ok(peer), Ok(data)) = (msg.get::<XorPeerAddress>(), msg.get::<Data>()) else {
                    self.stats.dropped += 1;
                    return Received::Consumed;
                };
                if self.state != ClientState::Allocated
                    || !self.permissions.contains_key(&peer.0.ip())
                {
                    self.stats.dropped += 1;
                    return Received::Consumed;
                }
                self.stats.peer_data_received += 1;
                Received::PeerData {
                    peer: peer.0,
                    data: data.0,
                }
            }
            Class::SuccessResponse | Class::ErrorResponse => {
                self.handle_response(now, msg);
                Received::Consumed
            }
            _ => {
                self.stats.dropped += 1;
                Received::Consumed
            }
        }
    }

    fn handle_response(&mut self, now: Instant, msg: &Message<'_>) {
        let tid = msg.transaction_id();
        let Some(idx) = self.pending.iter().position(|p| p.transaction_id == tid) else {
            self.stats.dropped += 1;
            return;
        };
        // Responses to authenticated requests are checked when they carry
        // integrity (RFC 8489 §9.2.5); forged ones are ignored and the
        // transaction goes on.
        if msg.class() == Class::SuccessResponse
            && (msg.has_message_integrity() || msg.has_message_integrity_sha256())
        {
            if let Some(auth) = &self.auth {
                if msg.verify_integrity(&auth.key).is_err() {
                    self.stats.dropped += 1;
                    return;
                }
            }
        }
        let p = self.pending.swap_remove(idx);
        if msg.class() == Class::SuccessResponse {
            self.on_success(now, p.request, msg);
            return;
        }
        let code = msg.get::<ErrorCode>().map(|e| e.code).ok();
        match code {
            Some(ErrorCode::UNAUTHENTICATED)
                if !p.authenticated && p.retries < MAX_AUTH_RETRIES && self.take_challenge(msg) =>
            {
                let _ = self.start(now, p.request, p.retries + 1);
            }
            Some(ErrorCode::STALE_NONCE) if p.retries < MAX_AUTH_RETRIES => {
                if self.take_nonce(msg) {
                    let _ = self.start(now, p.request, p.retries + 1);
                } else {
                    self.on_failure(p.request, code);
                }
            }
            _ => self.on_failure(p.request, code),
        }
    }

    /// Learn realm, nonce and password algorithm from a 401 (RFC 8489 §9.2.4).
    fn take_challenge(&mut self, msg: &Message<'_>) -> bool {
        let (Ok(realm), Ok(nonce)) = (msg.get::<Realm>(), msg.get::<Nonce>()) else {
            return false;
        };
        if realm.0.len() > MAX_AUTH_TEXT || nonce.0.len() > MAX_AUTH_TEXT {
            return false;
        }
        let offers = nonce
            .security_features()
            .is_some_and(|f| f.contains(SecurityFeatures::PASSWORD_ALGORITHMS));
        let (algorithms, algorithm) = match msg.get::<PasswordAlgorithms>() {
            Ok(list) if offers => {
                let alg = if list.contains(PasswordAlgorithmId::SHA256) {
                    PasswordAlgorithmId::SHA256
                } else if list.contains(PasswordAlgorithmId::MD5) {
                    PasswordAlgorithmId::MD5
                } else {
                    return false;
                };
                let raw = msg
                    .raw(fulmar_stun::AttributeType::PASSWORD_ALGORITHMS)
                    .unwrap_or_default();
                (Some(raw.to_vec()), alg)
            }
            _ => (None, PasswordAlgorithmId::MD5),
        };
        let key = IntegrityKey::long_term(
            &self.config.username,
            realm.0,
            &self.config.password,
            algorithm,
        );
        self.auth = Some(Auth {
            realm: realm.0.to_owned(),
            nonce: nonce.0.to_owned(),
            key,
            algorithms,
            algorithm,
        });
        true
    }

    /// Take a new nonce from a 438 (RFC 8656 §7.4, RFC 8489 §9.2.5).
    fn take_nonce(&mut self, msg: &Message<'_>) -> bool {
        let Ok(nonce) = msg.get::<Nonce>() else {
            return false;
        };
        if nonce.0.len() > MAX_AUTH_TEXT {
            return false;
        }
        match &mut self.auth {
            Some(a) => {
                if let Ok(realm) = msg.get::<Realm>() {
                    if realm.0 != a.realm {
                        return false;
                    }
                }
                a.nonce = nonce.0.to_owned();
                true
            }
            None => self.take_challenge(msg),
        }
    }

    fn on_success(&mut self, now: Instant, request: Request, msg: &Message<'_>) {
        match request {
            Request::Allocate => {
                if self.state != ClientState::Allocating {
                    return;
                }
                // One XOR-RELAYED-ADDRESS, or two for a dual allocation.
                let tid = msg.transaction_id();
                let mut relayed_addrs = msg
                    .attributes()
                    .filter(|a| a.attribute_type == XorRelayedAddress::TYPE)
                    .filter_map(|a| XorRelayedAddress::decode(a.value, &tid).ok())
                    .map(|a| a.0);
                let first = relayed_addrs.next();
                let second = relayed_addrs
                    .next()
                    .filter(|b| first.is_some_and(|a| a.is_ipv4() != b.is_ipv4()));
                let (Some(relayed), Ok(mapped)) = (first, msg.get::<XorMappedAddress>()) else {
                    self.state = ClientState::Closed;
                    self.events
                        .push_back(ClientEvent::AllocationFailed { code: None });
                    return;
                };
                let lifetime = msg
                    .get::<Lifetime>()
                    .map(|l| l.duration())
                    .unwrap_or(Duration::from_secs(600));
                self.state = ClientState::Allocated;
                // IPv4 first, as `relayed`.
                let (relayed, additional) = match second {
                    Some(b) if b.is_ipv4() => (b, Some(relayed)),
                    _ => (relayed, second),
                };
                self.relayed = Some(relayed);
                self.additional_relayed = additional;
                self.mapped = Some(mapped.0);
                self.expires_at = Some(now + lifetime);
                self.refresh_at = Some(refresh_time(now, lifetime));
                self.events.push_back(ClientEvent::Allocated {
                    relayed,
                    additional_relayed: additional,
                    mapped: mapped.0,
                    lifetime,
                });
            }
            Request::Refresh { lifetime: 0 } => self.finish_closed(true),
            Request::Refresh { .. } => {
                if self.state != ClientState::Allocated {
                    return;
                }
                let lifetime = msg
                    .get::<Lifetime>()
                    .map(|l| l.duration())
                    .unwrap_or(Duration::from_secs(600));
                if lifetime.is_zero() {
                    self.finish_closed(false);
                    return;
                }
                self.expires_at = Some(now + lifetime);
                self.refresh_at = Some(refresh_time(now, lifetime));
                self.events.push_back(ClientEvent::Refreshed { lifetime });
            }
            Request::CreatePermission { peer } => {
                if let Some(p) = self.permissions.get_mut(&peer) {
                    p.refresh_at = now + PERMISSION_REFRESH;
                    if !p.installed {
                        p.installed = true;
                        self.events
                            .push_back(ClientEvent::PermissionCreated { peer });
                    }
                }
            }
            Request::ChannelBind { peer, channel } => {
                if let Some(c) = self.channels.get_mut(&channel) {
                    c.refresh_at = now + CHANNEL_REFRESH;
                    if !c.bound {
                        c.bound = true;
                        self.events
                            .push_back(ClientEvent::ChannelBound { peer, channel });
                    }
                }
                // A channel binding installs or refreshes the permission too (§11.2).
                if self.permissions.len() < MAX_PERMISSIONS
                    || self.permissions.contains_key(&peer.ip())
                {
                    let p = self.permissions.entry(peer.ip()).or_insert(Permission {
                        installed: false,
                        refresh_at: now + PERMISSION_REFRESH,
                    });
                    if !p.installed {
                        p.installed = true;
                        p.refresh_at = now + PERMISSION_REFRESH;
                    }
                }
            }
        }
    }

    fn on_failure(&mut self, request: Request, code: Option<u16>) {
        match request {
            Request::Allocate => {
                if self.state == ClientState::Allocating {
                    self.state = ClientState::Closed;
                    self.pending.clear();
                    self.events
                        .push_back(ClientEvent::AllocationFailed { code });
                }
            }
            Request::Refresh { lifetime: 0 } => self.finish_closed(true),
            Request::Refresh { .. } => {
                // 437: the allocation is gone. Other errors: keep it until it
                // expires, retrying at the next refresh time.
                if code == Some(ErrorCode::ALLOCATION_MISMATCH) {
                    self.finish_closed(false);
                }
            }
            Request::CreatePermission { peer } => {
                if let Some(p) = self.permissions.get(&peer) {
                    if !p.installed {
                        self.permissions.remove(&peer);
                    }
                }
                self.events
                    .push_back(ClientEvent::PermissionFailed { peer, code });
            }
            Request::ChannelBind { peer, channel } => {
                if self.channels.get(&channel).is_some_and(|c| !c.bound) {
                    self.channels.remove(&channel);
                    self.peer_channels.remove(&peer);
                }
                self.events
                    .push_back(ClientEvent::ChannelBindFailed { peer, code });
            }
        }
    }

    /// Advance timers: retransmissions, refreshes, expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut failed = Vec::new();
        for p in &mut self.pending {
            p.tx.handle_timeout(now);
            if p.tx.poll_transmit() {
                self.stats.retransmissions += 1;
                self.transmits.push_back(Transmit {
                    destination: self.config.server,
                    payload: p.bytes.clone(),
                });
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

    /// The next message for the server.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
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
