//! The sans-IO WebRTC peer connection of Fulmar: JSEP offer/answer
//! (RFC 9429) with BUNDLE (max-bundle) and rtcp-mux, ICE (fulmar-ice), DTLS
//! (fulmar-dtls) with `a=setup` roles (RFC 8842), SCTP data channels over
//! DTLS (fulmar-sctp, fulmar-datachannel, RFC 8831/8832/8261) and media:
//! transceivers with codec and header-extension negotiation, SRTP keyed from
//! the DTLS exporter (RFC 5764), tracks that take encoded frames or RTP and
//! yield frames or RTP ([`PeerConnection::write_frame`],
//! [`PeerConnection::write_rtp`], [`Event::MediaFrame`], [`Event::Rtp`]),
//! and the RTCP duties (reports, NACK/RTX, PLI/FIR, transport-wide CC), all
//! demultiplexed on one transport by first byte (RFC 7983).
//!
//! Like every Fulmar protocol core, [`PeerConnection`] never touches a socket
//! or a clock: feed it datagrams with [`PeerConnection::handle_receive`], call
//! [`PeerConnection::handle_timeout`] at [`PeerConnection::poll_timeout`], and
//! drain [`PeerConnection::poll_transmit`] and [`PeerConnection::poll_event`].
//! Data-channel packets are built and sealed when polled, as the congestion
//! window allows, so poll after every input; a sender that reuses one
//! buffer with [`PeerConnection::poll_transmit_into`] allocates nothing per
//! datagram, and a receiver that owns its buffer saves a copy per datagram
//! with [`PeerConnection::handle_receive_in_place`].
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use fulmar_peer::{Config, Event, PeerConnection};
//! use fulmar_datachannel::ChannelConfig;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let now = Instant::now();
//! let mut a = PeerConnection::new(Config::default(), StdRng::seed_from_u64(1))?;
//! let mut b = PeerConnection::new(Config::default(), StdRng::seed_from_u64(2))?;
//! a.add_host_candidate(now, SocketAddr::from(([192, 0, 2, 1], 4000)))?;
//! b.add_host_candidate(now, SocketAddr::from(([192, 0, 2, 2], 5000)))?;
//! let chat = a.create_data_channel(ChannelConfig::new("chat"))?;
//! // Non-trickle offer/answer: the descriptions carry every candidate.
//! let offer = a.create_offer()?;
//! a.set_local_description(now, offer.clone())?;
//! b.set_remote_description(now, offer)?;
//! let answer = b.create_answer()?;
//! b.set_local_description(now, answer.clone())?;
//! a.set_remote_description(now, answer)?;
//!
//! // A zero-delay network between the two.
//! let (mut now, mut got) = (now, None);
//! for _ in 0..2000 {
//!     while let Some(t) = a.poll_transmit() { b.handle_receive(now, t.source, t.destination, &t.payload); }
//!     while let Some(t) = b.poll_transmit() { a.handle_receive(now, t.source, t.destination, &t.payload); }
//!     while let Some(e) = a.poll_event() {
//!         if let Event::DataChannelOpen(id) = e { a.send_text(now, id, "hello")?; }
//!     }
//!     while let Some(e) = b.poll_event() {
//!         if let Event::DataChannelMessage { data, .. } = e { got = Some(data); }
//!     }
//!     if got.is_some() { break; }
//!     if let Some(t) = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
//!         now = now.max(t);
//!     }
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # let _ = chat;
//! # Ok::<(), fulmar_peer::Error>(())
//! ```

mod due;
mod media;
mod rng;
mod streams;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_datachannel::{ChannelConfig, DataChannels, DtlsRole, MessageKind};
use fulmar_dtls::{Certificate, Fingerprint};
use fulmar_ice::{IceAgent, IceConfig, IceConnectionState, IceEvent, IceGatheringState, IceRole};
use fulmar_sdp::builder::{MediaBuilder, SessionBuilder};
use fulmar_sdp::{Direction, SessionDescription as Sdp, Setup};
use fulmar_stun::{classify, PacketKind};
use rand::RngCore;
use rng::CompactRng;

/// How a relayed candidate's TURN server is reached (ranks relays).
pub use fulmar_ice::RelayProtocol;
pub use fulmar_rtp::Codec;
pub use media::{
    answer_direction, default_codecs, default_extensions, CodecParams, MediaKind, TrackInfo,
    Transceiver, TransceiverId,
};
pub use streams::{uri, KeyframeKind, MediaFrame, MediaStats, ReceiveMode, RtpReceived};

/// Errors of fulmar-peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A description does not parse as SDP.
    #[error("SDP: {0}")]
    Sdp(#[from] fulmar_sdp::Error),
    /// A description lacks something WebRTC requires or contradicts itself.
    #[error("invalid description: {0}")]
    InvalidDescription(&'static str),
    /// The call is not valid in the current signaling state (RFC 9429 §4.1.8).
    #[error("invalid signaling state for {0}")]
    InvalidState(&'static str),
    /// ICE refused (bad credentials or candidate).
    #[error("ICE: {0}")]
    Ice(#[from] fulmar_ice::Error),
    /// DTLS failed or a certificate could not be made.
    #[error("DTLS: {0}")]
    Dtls(#[from] fulmar_dtls::Error),
    /// The data-channel layer refused.
    #[error("data channel: {0}")]
    DataChannel(#[from] fulmar_datachannel::Error),
    /// No such data channel.
    #[error("unknown data channel")]
    UnknownChannel,
    /// The connection is closed.
    #[error("peer connection closed")]
    Closed,
    /// A media call that does not fit the transceiver's state (not
    /// negotiated, not sending, unknown id, SRTP not keyed yet).
    #[error("media: {0}")]
    Media(&'static str),
    /// An RTP packet or frame could not be parsed or built.
    #[error("RTP: {0}")]
    Rtp(#[from] fulmar_rtp::Error),
    /// SRTP protection failed.
    #[error("SRTP: {0}")]
    Srtp(#[from] fulmar_srtp::Error),
}

/// Offer or answer (RFC 9429 §4.1.8; `pranswer` and `rollback` are not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// A session description with its type, as exchanged over signaling.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDescription {
    /// Offer or answer.
    pub kind: SdpType,
    /// The SDP.
    pub sdp: Sdp,
}

impl SessionDescription {
    /// Parses an offer.
    pub fn offer(text: &str) -> Result<Self, Error> {
        Ok(SessionDescription {
            kind: SdpType::Offer,
            sdp: Sdp::parse(text)?,
        })
    }

    /// Parses an answer.
    pub fn answer(text: &str) -> Result<Self, Error> {
        Ok(SessionDescription {
            kind: SdpType::Answer,
            sdp: Sdp::parse(text)?,
        })
    }
}

/// The JSEP signaling state (RFC 9429 §3.2, without provisional answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// Our offer is applied, awaiting the answer.
    HaveLocalOffer,
    /// The remote offer is applied, our answer is due.
    HaveRemoteOffer,
    /// Closed.
    Closed,
}

/// The DTLS transport state (as `RTCDtlsTransportState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsState {
    /// Not started.
    New,
    /// Handshaking.
    Connecting,
    /// Handshake done, fingerprint verified.
    Connected,
    /// close_notify received or sent.
    Closed,
    /// Handshake or verification failed.
    Failed,
}

/// The aggregate state (as `RTCPeerConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerConnectionState {
    /// Nothing started.
    New,
    /// ICE or DTLS in progress.
    Connecting,
    /// ICE and DTLS connected.
    Connected,
    /// ICE lost connectivity for now.
    Disconnected,
    /// ICE or DTLS failed.
    Failed,
    /// Closed.
    Closed,
}

/// Identifies a data channel of a [`PeerConnection`] (stable before and
/// after its SCTP stream id is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// What the application learns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A local candidate to trickle (`candidate:...`, for `mid` "0" / m-line 0).
    LocalCandidate(String),
    /// Local gathering finished (send end-of-candidates).
    GatheringComplete,
    /// The ICE connection state changed.
    IceConnectionStateChange(IceConnectionState),
    /// The ICE gathering state changed.
    IceGatheringStateChange(IceGatheringState),
    /// The DTLS transport state changed.
    DtlsStateChange(DtlsState),
    /// The peer connection state changed.
    ConnectionStateChange(PeerConnectionState),
    /// The signaling state changed.
    SignalingStateChange(SignalingState),
    /// A renegotiation is needed (a channel or transceiver was added).
    NegotiationNeeded,
    /// The remote side opened a channel (`ondatachannel`); it is open.
    DataChannel {
        /// The channel.
        id: ChannelId,
        /// Its label.
        label: String,
    },
    /// A channel is open and may send.
    DataChannelOpen(ChannelId),
    /// A message arrived on a channel.
    DataChannelMessage {
        /// The channel.
        id: ChannelId,
        /// The payload (empty for empty messages).
        data: Bytes,
        /// Binary (`true`) or string.
        binary: bool,
    },
    /// A channel's buffered amount fell to its low threshold.
    BufferedAmountLow(ChannelId),
    /// A channel closed.
    DataChannelClose(ChannelId),
    /// A remote stream appeared on a transceiver (`ontrack`): its first
    /// packet arrived. Each simulcast layer is its own stream with its `rid`.
    Track {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Audio or video.
        kind: MediaKind,
        /// The transceiver's mid.
        mid: Option<String>,
        /// The RTP stream id (simulcast layer), if any.
        rid: Option<String>,
        /// The SSRC of the stream.
        ssrc: u32,
        /// The codec of its first packet.
        codec: Option<CodecParams>,
    },
    /// An assembled frame from a remote stream ([`ReceiveMode::Frames`]).
    MediaFrame(MediaFrame),
    /// An RTP packet from a remote stream ([`ReceiveMode::Rtp`]).
    Rtp(RtpReceived),
    /// The remote receiver of a local track asks for a keyframe (PLI or FIR).
    KeyframeRequest {
        /// The transceiver whose track is asked.
        transceiver: TransceiverId,
        /// PLI or FIR.
        kind: KeyframeKind,
    },
}

/// A datagram to send from `source` to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Local address to send from.
    pub source: SocketAddr,
    /// Remote address.
    pub destination: SocketAddr,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Where a datagram written by [`PeerConnection::poll_transmit_into`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransmitPath {
    /// Local address to send from.
    pub source: SocketAddr,
    /// Remote address.
    pub destination: SocketAddr,
}

/// Configuration of a [`PeerConnection`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The DTLS certificate; one is generated when `None`.
    pub certificate: Option<Arc<Certificate>>,
    /// STUN servers for server-reflexive candidates.
    pub stun_servers: Vec<SocketAddr>,
    /// The `a=max-message-size` we accept (RFC 8841 §6).
    pub max_message_size: u64,
    /// The SCTP association's settings (ports and peer limits are set from SDP).
    pub sctp: fulmar_sctp::Config,
    /// What remote tracks yield by default (per transceiver:
    /// [`PeerConnection::set_receive_mode`]).
    pub receive_mode: ReceiveMode,
    /// Largest RTP/RTCP datagram built, before SRTP (default 1200).
    pub media_mtu: usize,
    /// The SRTP protection profiles offered (as DTLS client) or accepted (as
    /// server) in DTLS-SRTP, most preferred first (RFC 5764 §4.1.1).
    /// Default: [`fulmar_srtp::ProtectionProfile::PREFERRED`]. An operator may
    /// narrow it, e.g. to AEAD-GCM only; a peer that shares none gets no
    /// media keys (data channels still work).
    pub srtp_profiles: Vec<fulmar_srtp::ProtectionProfile>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            certificate: None,
            stun_servers: Vec::new(),
            max_message_size: 262_144,
            sctp: fulmar_sctp::Config::default(),
            receive_mode: ReceiveMode::Frames,
            media_mtu: 1200,
            srtp_profiles: fulmar_srtp::ProtectionProfile::PREFERRED.to_vec(),
        }
    }
}

/// Counters comparable to `getStats()` (transport, candidate pair, channels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams and bytes sent on the transport.
    pub packets_sent: u64,
    /// Bytes sent on the transport.
    pub bytes_sent: u64,
    /// Datagrams received on the transport.
    pub packets_received: u64,
    /// Bytes received on the transport.
    pub bytes_received: u64,
    /// Datagrams dropped by the RFC 7983 classifier (unknown first byte).
    pub unknown_packets: u64,
    /// SRTP/SRTCP datagrams received (media is handled by a later layer).
    pub rtp_packets_received: u64,
    /// Data-channel messages sent.
    pub messages_sent: u64,
    /// Data-channel messages received.
    pub messages_received: u64,
    /// Data channels opened (either side).
    pub data_channels_opened: u64,
    /// Data channels closed.
    pub data_channels_closed: u64,
    /// The selected candidate pair, local then remote address.
    pub selected_pair: Option<(SocketAddr, SocketAddr)>,
    /// The negotiated DTLS cipher suite.
    pub dtls_cipher: Option<String>,
    /// The negotiated SRTP profile.
    pub srtp_profile: Option<String>,
    /// SCTP packets go without CRC32c: both sides negotiated RFC 9653 zero
    /// checksum (DTLS authenticates every packet).
    pub sctp_zero_checksum: bool,
    /// Round-trip time of the selected pair, if measured.
    pub rtt: Option<Duration>,
    /// SRTP/SRTCP datagrams dropped (authentication, replay, unroutable).
    pub rtp_packets_dropped: u64,
    /// Media counters per transceiver (`inbound-rtp`/`outbound-rtp`).
    pub media: Vec<MediaStats>,
}

/// SRTP contexts for sending (local) and receiving (remote).
pub struct SrtpContexts {
    /// Protects what we send.
    pub local: fulmar_srtp::Context,
    /// Unprotects what we receive.
    pub remote: fulmar_srtp::Context,
}

struct Channel {
    stream: Option<u16>,
    config: ChannelConfig,
    open: bool,
}

/// The sans-IO peer connection (see the [crate docs](crate)).
pub struct PeerConnection {
    rng: CompactRng,
    certificate: Arc<Certificate>,
    config: Config,
    session_id: u64,
    session_version: u64,
    signaling: SignalingState,
    ice: Option<IceAgent>,
    ice_state: IceConnectionState,
    pending_hosts: Vec<SocketAddr>,
    pending_relays: Vec<(SocketAddr, SocketAddr, IpAddr, RelayProtocol)>,
    local_end_of_candidates: bool,
    local_desc: Option<SessionDescription>,
    remote_desc: Option<SessionDescription>,
    remote_fingerprints: Vec<Fingerprint>,
    remote_sctp_port: Option<u16>,
    remote_max_message_size: usize,
    remote_ice_creds: Option<(String, String)>,
    dtls_role: Option<DtlsRole>,
    dtls: Option<fulmar_dtls::Connection>,
    dtls_state: DtlsState,
    dtls_peer: Option<(SocketAddr, SocketAddr)>,
    selected: Option<(SocketAddr, SocketAddr)>,
    sctp: Option<DataChannels>,
    sctp_up: bool,
    /// Keyed on first need: a session without media holds none.
    srtp: Option<Box<SrtpContexts>>,
    channels: HashMap<u32, Channel>,
    by_stream: HashMap<u16, u32>,
    next_channel: u32,
    data_mid: Option<String>,
    snapshot: Option<Box<Snapshot>>,
    ice_restart: bool,
    want_data: bool,
    transceivers: Vec<Transceiver>,
    /// The media engine, created with the first transceiver or media call
    /// (a data-only session holds none).
    media: Option<Box<streams::Media>>,
    /// Its randomness: an own stream of our seed.
    media_seed: [u8; 32],
    /// The SCTP packet being handed to DTLS.
    sctp_tx: Vec<u8>,
    /// SCTP packets (SACKs) that fell due before a poll, sealed when polled.
    due_sctp: due::DuePackets,
    next_mid: u32,
    state: PeerConnectionState,
    events: VecDeque<Event>,
    transmits: VecDeque<Transmit>,
    /// Datagram buffers handed back ([`PeerConnection::recycle`], or copied
    /// out by `poll_transmit_into`) for the next records sealed.
    spare_payloads: Vec<Vec<u8>>,
    stats: Stats,
    closed: bool,
    now: Option<Instant>,
    /// Last datagram received or message sent, for idle housekeeping.
    last_activity: Option<Instant>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("signaling", &self.signaling)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Default `a=max-message-size` when the peer writes none (RFC 8841 §6.1).
const DEFAULT_REMOTE_MAX_MESSAGE_SIZE: usize = 65_536;
/// Bound of queued outgoing datagrams.
const MAX_TRANSMITS: usize = 4096;
/// Most datagram buffers kept for reuse.
const MAX_SPARE_PAYLOADS: usize = 32;
/// Room a DTLS record adds to an SCTP packet (header, explicit nonce, tag),
/// rounded up.
const DATAGRAM_OVERHEAD: usize = 64;
/// How long a connection is quiet before its timers hand back idle buffers.
const IDLE_RELEASE_AFTER: Duration = Duration::from_secs(1);

/// A buffer for one datagram: a recycled one from `pool`, or a new one of
/// `capacity`.
/// A received datagram, borrowed or handed over to be decrypted in place.
enum Received<'a> {
    Shared(&'a [u8]),
    Owned(&'a mut [u8]),
}

impl Received<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Received::Shared(b) => b,
            Received::Owned(b) => b,
        }
    }
}

fn take_spare(pool: &mut Vec<Vec<u8>>, capacity: usize) -> Vec<u8> {
    match pool.pop() {
        Some(mut b) => {
            b.clear();
            b
        }
        None => Vec::with_capacity(capacity),
    }
}

impl PeerConnection {
    /// A new peer connection; randomness (ICE credentials, tie-breakers, DTLS
    /// randoms, SCTP tags) comes from `rng`.
    pub fn new(config: Config, mut rng: impl RngCore) -> Result<Self, Error> {
        let certificate = match &config.certificate {
            Some(c) => c.clone(),
            None => Arc::new(Certificate::generate()?),
        };
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut rng = CompactRng::from_seed(seed);
        let session_id = rng.next_u64() >> 2;
        // The media engine's randomness (SSRC of reports, sequence and
        // timestamp bases, RTCP intervals) from its own stream of the seed.
        let mut media_seed = seed;
        media_seed[0] ^= 0x6d;
        Ok(PeerConnection {
            rng,
            certificate,
            config,
            session_id,
            session_version: 1,
            signaling: SignalingState::Stable,
            ice: None,
            ice_state: IceConnectionState::New,
            pending_hosts: Vec::new(),
            pending_relays: Vec::new(),
            local_end_of_candidates: false,
            local_desc: None,
            remote_desc: None,
            remote_fingerprints: Vec::new(),
            remote_sctp_port: None,
            remote_max_message_size: DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
            remote_ice_creds: None,
            dtls_role: None,
            dtls: None,
            dtls_state: DtlsState::New,
            dtls_peer: None,
            selected: None,
            sctp: None,
            sctp_up: false,
            srtp: None,
            channels: HashMap::new(),
            by_stream: HashMap::new(),
            next_channel: 0,
            data_mid: None,
            snapshot: None,
            ice_restart: false,
            want_data: false,
            transceivers: Vec::new(),
            media: None,
            media_seed,
            sctp_tx: Vec::new(),
            due_sctp: due::DuePackets::default(),
            next_mid: 0,
            state: PeerConnectionState::New,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            spare_payloads: Vec::new(),
            stats: Stats::default(),
            closed: false,
            now: None,
            last_activity: None,
        })
    }

    // ------------------------------------------------------------------
    // Accessors
    // ------------------------------------------------------------------

    /// Our DTLS certificate's fingerprint (as in `a=fingerprint`).
    pub fn fingerprint(&self) -> Fingerprint {
        self.certificate.fingerprint()
    }

    /// The signaling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// The aggregate connection state.
    pub fn connection_state(&self) -> PeerConnectionState {
        self.state
    }

    /// The ICE connection state.
    pub fn ice_connection_state(&self) -> IceConnectionState {
        self.ice_state
    }

    /// The DTLS transport state.
    pub fn dtls_state(&self) -> DtlsState {
        self.dtls_state
    }

    /// The applied local description, with every candidate gathered so far
    /// (as `localDescription`).
    pub fn local_description(&self) -> Option<SessionDescription> {
        let mut d = self.local_desc.clone()?;
        self.add_local_candidates(&mut d.sdp);
        Some(d)
    }

    /// The applied remote description.
    pub fn remote_description(&self) -> Option<&SessionDescription> {
        self.remote_desc.as_ref()
    }

    /// The transceivers, in m-line order of creation.
    pub fn transceivers(&self) -> &[Transceiver] {
        &self.transceivers
    }

    /// The transceiver of an m-section, by its mid.
    pub fn transceiver_by_mid(&self, mid: &str) -> Option<TransceiverId> {
        self.transceivers
            .iter()
            .position(|t| t.mid.as_deref() == Some(mid))
            .map(TransceiverId)
    }

    /// SRTP contexts, once DTLS connected with use_srtp (RFC 5764 §4.2).
    pub fn srtp_contexts(&mut self) -> Option<&mut SrtpContexts> {
        self.ensure_srtp()
    }

    /// The label, ordering and reliability a channel was created with.
    pub fn channel_config(&self, id: ChannelId) -> Option<&ChannelConfig> {
        self.channels.get(&id.0).map(|c| &c.config)
    }

    /// The SCTP stream id of a channel, once known.
    pub fn channel_stream_id(&self, id: ChannelId) -> Option<u16> {
        self.channels.get(&id.0).and_then(|c| c.stream)
    }

    /// Bytes queued on a channel and not yet acknowledged.
    pub fn buffered_amount(&self, id: ChannelId) -> usize {
        match (self.channel_stream_id(id), &self.sctp) {
            (Some(s), Some(dc)) => dc.buffered_amount(s),
            _ => 0,
        }
    }

    /// Tells the SCTP association how many bytes of delivered messages the
    /// application has not read yet: they count against the receive window
    /// the peer sees, so a peer whose messages pile up unread is
    /// flow-controlled while everything else (SACKs for our own data
    /// included) keeps flowing. See `fulmar_sctp::Association::set_unread_bytes`.
    pub fn set_unread_bytes(&mut self, bytes: usize) {
        if let Some(dc) = self.sctp.as_mut() {
            dc.association_mut().set_unread_bytes(bytes);
        }
    }

    /// Sets the threshold under which [`Event::BufferedAmountLow`] fires.
    pub fn set_buffered_amount_low_threshold(&mut self, id: ChannelId, threshold: usize) {
        if let (Some(s), Some(dc)) = (self.channel_stream_id(id), self.sctp.as_mut()) {
            dc.set_buffered_amount_low_threshold(s, threshold);
        }
    }

    /// Counters comparable to `getStats()`.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.selected_pair = self.selected;
        if let Some(d) = &self.dtls {
            s.dtls_cipher = d.cipher_suite().map(|c| format!("{c:?}"));
            s.srtp_profile = d.srtp_profile().map(|p| format!("{p:?}"));
        }
        if let Some(dc) = &self.sctp {
            s.sctp_zero_checksum = dc.association().zero_checksum_in_use();
        }
        if let Some(m) = self.media.as_deref() {
            s.rtp_packets_dropped = m.dropped;
            s.media = m.stats();
        }
        s.rtt = self.stats_rtt();
        s
    }

    /// The round-trip time ICE measured on the selected pair.
    fn stats_rtt(&self) -> Option<Duration> {
        let (Some(ice), Some((src, dst))) = (&self.ice, self.selected) else {
            return None;
        };
        ice.pair_stats()
            .into_iter()
            .find(|p| p.local == src && p.remote == dst)
            .and_then(|p| p.current_rtt)
    }

    // ------------------------------------------------------------------
    // Candidates
    // ------------------------------------------------------------------

    /// Adds a host candidate: a local UDP socket bound to `addr`.
    pub fn add_host_candidate(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
        self.now = Some(now);
        match self.ice.as_mut() {
            Some(ice) => {
                ice.add_host_candidate(now, 1, addr)?;
            }
            None => {
                if !self.pending_hosts.contains(&addr) {
                    self.pending_hosts.push(addr);
                }
            }
        }
        self.drain_ice(now);
        Ok(())
    }

    /// Adds a relayed candidate (RFC 8445 §5.1.1.2): `relayed` is the
    /// address a TURN server allocated, `mapped` the server-reflexive address
    /// it saw, `server` the TURN server. The caller owns the TURN client and
    /// feeds what arrives on the allocation to [`Self::handle_receive`] with
    /// `relayed` as the destination; transmits whose source is `relayed` go
    /// through the allocation.
    pub fn add_relayed_candidate(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
    ) -> Result<(), Error> {
        self.add_relayed_candidate_over(now, relayed, mapped, server, RelayProtocol::Udp)
    }

    /// [`Self::add_relayed_candidate`] for a TURN server reached over
    /// `protocol`, which ranks the candidate (UDP before TCP before TLS).
    pub fn add_relayed_candidate_over(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
        protocol: RelayProtocol,
    ) -> Result<(), Error> {
        self.now = Some(now);
        match self.ice.as_mut() {
            Some(ice) => {
                ice.add_relayed_candidate_over(now, 1, relayed, mapped, server, protocol)?;
            }
            None => {
                if !self.pending_relays.iter().any(|r| r.0 == relayed) {
                    self.pending_relays
                        .push((relayed, mapped, server, protocol));
                }
            }
        }
        self.drain_ice(now);
        Ok(())
    }

    /// Declares local gathering complete (`a=end-of-candidates`).
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.now = Some(now);
        self.local_end_of_candidates = true;
        if let Some(ice) = self.ice.as_mut() {
            ice.end_of_local_candidates(now);
        }
        self.drain_ice(now);
    }

    /// Adds a trickled remote candidate (`candidate:...`); an empty string
    /// means end-of-candidates (RFC 8838 §4.4).
    pub fn add_ice_candidate(&mut self, now: Instant, candidate: &str) -> Result<(), Error> {
        let ice = self
            .ice
            .as_mut()
            .ok_or(Error::InvalidState("add_ice_candidate"))?;
        let c = candidate.trim();
        if c.is_empty() || c == "a=end-of-candidates" {
            ice.end_of_remote_candidates(now);
        } else {
            let cand = fulmar_ice::Candidate::parse(c)?;
            if cand.component == 1 {
                ice.add_remote_candidate(now, cand)?;
            }
        }
        self.drain_ice(now);
        Ok(())
    }

    // ------------------------------------------------------------------
    // Data channels and transceivers
    // ------------------------------------------------------------------

    /// Creates a data channel (`createDataChannel`); it opens once SCTP is up
    /// ([`Event::DataChannelOpen`]). The first one needs a negotiation.
    pub fn create_data_channel(&mut self, config: ChannelConfig) -> Result<ChannelId, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let id = self.next_channel;
        self.next_channel = self.next_channel.wrapping_add(1);
        let mut ch = Channel {
            stream: None,
            config,
            open: false,
        };
        let now = self.now;
        if let (Some(dc), Some(now)) = (self.sctp.as_mut(), now) {
            let sid = dc.open(now, ch.config.clone())?;
            ch.stream = Some(sid);
            self.by_stream.insert(sid, id);
            if self.sctp_up {
                ch.open = true;
                self.stats.data_channels_opened += 1;
                self.events.push_back(Event::DataChannelOpen(ChannelId(id)));
            }
        }
        self.channels.insert(id, ch);
        if !self.want_data && self.data_mid.is_none() {
            self.want_data = true;
            self.events.push_back(Event::NegotiationNeeded);
        }
        Ok(ChannelId(id))
    }

    /// Adds a transceiver of `kind` with `direction` (`addTransceiver`).
    pub fn add_transceiver(&mut self, kind: MediaKind, direction: Direction) -> TransceiverId {
        self.transceivers.push(Transceiver::new(kind, direction));
        self.events.push_back(Event::NegotiationNeeded);
        TransceiverId(self.transceivers.len() - 1)
    }

    /// Adds a local track (`addTrack`): reuses a free transceiver of the kind
    /// or adds a sendrecv one, and gives it `a=msid:<stream> <track>`.
    pub fn add_track(&mut self, kind: MediaKind, stream_id: &str, track_id: &str) -> TransceiverId {
        let ssrc = self.rng.next_u32();
        let rtx_ssrc = (kind == MediaKind::Video).then(|| self.rng.next_u32());
        let track = TrackInfo {
            stream_id: stream_id.to_owned(),
            track_id: track_id.to_owned(),
            ssrc,
            rtx_ssrc,
        };
        if let Some(i) = self
            .transceivers
            .iter()
            .position(|t| t.kind == kind && t.track.is_none() && !t.stopped)
        {
            let t = &mut self.transceivers[i];
            t.track = Some(track);
            t.direction = match t.direction {
                Direction::RecvOnly | Direction::SendRecv => Direction::SendRecv,
                _ => Direction::SendOnly,
            };
            self.events.push_back(Event::NegotiationNeeded);
            return TransceiverId(i);
        }
        let id = self.add_transceiver(kind, Direction::SendRecv);
        self.transceivers[id.0].track = Some(track);
        id
    }

    /// Sets the codecs a transceiver offers and accepts, in preference
    /// order (`setCodecPreferences`, RFC 9429 §4.2.6); takes effect at the
    /// next negotiation. Each must be one of [`default_codecs`] (by name,
    /// clock rate and format parameters); RTX entries follow their `apt`.
    pub fn set_codec_preferences(
        &mut self,
        id: TransceiverId,
        codecs: Vec<CodecParams>,
    ) -> Result<(), Error> {
        let t = self
            .transceivers
            .get_mut(id.0)
            .ok_or(Error::Media("unknown transceiver"))?;
        let supported = default_codecs(t.kind);
        let kept = media::negotiate_codecs(&codecs, &supported);
        if kept.iter().all(CodecParams::is_rtx) {
            return Err(Error::Media("no supported codec in the preferences"));
        }
        t.codecs = kept;
        self.events.push_back(Event::NegotiationNeeded);
        Ok(())
    }

    /// Stops a transceiver: its m-section is rejected in the next negotiation.
    pub fn stop_transceiver(&mut self, id: TransceiverId) {
        if let Some(t) = self.transceivers.get_mut(id.0) {
            t.stopped = true;
            if let Some(m) = self.media.as_deref_mut() {
                m.stop(id.0);
            }
            self.events.push_back(Event::NegotiationNeeded);
        }
    }

    /// Sends a string on a channel.
    pub fn send_text(&mut self, now: Instant, id: ChannelId, text: &str) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(text.as_bytes()), false)
    }

    /// Sends a message on a channel: binary or string, possibly empty.
    pub fn send(
        &mut self,
        now: Instant,
        id: ChannelId,
        data: Bytes,
        binary: bool,
    ) -> Result<(), Error> {
        let sid = self.channel_stream_id(id).ok_or(Error::UnknownChannel)?;
        self.last_activity = Some(now);
        let dc = self.sctp.as_mut().ok_or(Error::UnknownChannel)?;
        let kind = if binary {
            MessageKind::Binary
        } else {
            MessageKind::Text
        };
        dc.send(now, sid, data, kind)?;
        self.stats.messages_sent += 1;
        self.pump(now);
        Ok(())
    }

    /// Closes a channel (stream reset, RFC 8831 §6.7);
    /// [`Event::DataChannelClose`] follows.
    pub fn close_channel(&mut self, now: Instant, id: ChannelId) -> Result<(), Error> {
        let ch = self.channels.get(&id.0).ok_or(Error::UnknownChannel)?;
        match (ch.stream, self.sctp.as_mut()) {
            (Some(sid), Some(dc)) => dc.close(sid)?,
            _ => {
                self.channels.remove(&id.0);
                self.events.push_back(Event::DataChannelClose(id));
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Closes the connection: SCTP abort, DTLS close_notify, ICE stops.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if let Some(dc) = self.sctp.as_mut() {
            dc.association_mut().abort();
        }
        self.pump(now);
        // The ABORT goes out before close_notify, not when next polled.
        self.seal_sctp_now(now);
        if let Some(d) = self.dtls.as_mut() {
            d.close();
        }
        self.flush_dtls();
        if let Some(ice) = self.ice.as_mut() {
            ice.close();
        }
        self.closed = true;
        self.close_all_channels();
        self.set_dtls_state(DtlsState::Closed);
        self.set_signaling(SignalingState::Closed);
        self.set_state(PeerConnectionState::Closed);
    }

    // ------------------------------------------------------------------
    // JSEP
    // ------------------------------------------------------------------

    /// Creates an offer (RFC 9429 §5.2): one BUNDLE group, `actpass`, every
    /// transceiver plus an `m=application` section once a data channel exists.
    pub fn create_offer(&mut self) -> Result<SessionDescription, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.signaling == SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState("create_offer"));
        }
        self.ensure_ice(IceRole::Controlling);
        if self.signaling == SignalingState::Stable {
            // Mids are handed out here; a rollback returns them.
            self.snapshot = Some(Box::new(self.take_snapshot()));
        }
        if std::mem::take(&mut self.ice_restart) {
            self.restart_ice_agent();
        }
        // New mids never reuse one in use, ours or the peer's (RFC 9429
        // §5.2.1: mids are unique within the session).
        let mut used: Vec<u32> = self
            .transceivers
            .iter()
            .filter_map(|t| t.mid.as_deref()?.parse().ok())
            .chain(self.data_mid.as_deref().and_then(|m| m.parse().ok()))
            .collect();
        if let Some(r) = &self.remote_desc {
            used.extend(
                r.sdp
                    .media()
                    .iter()
                    .filter_map(|m| m.mid()?.parse::<u32>().ok()),
            );
        }
        if let Some(&max) = used.iter().max() {
            self.next_mid = self.next_mid.max(max.saturating_add(1));
        }
        for t in &mut self.transceivers {
            if t.mid.is_none() {
                t.mid = Some(self.next_mid.to_string());
                self.next_mid += 1;
            }
        }
        self.unify_extension_ids();
        if self.want_data && self.data_mid.is_none() {
            self.data_mid = Some(self.next_mid.to_string());
            self.next_mid += 1;
        }
        // Offers always say actpass (RFC 9429 §5.2.2); an existing DTLS
        // association keeps its roles whatever the answer says.
        let setup = Setup::ActPass;
        // Sections in mid order.
        let mut order: Vec<(u32, Option<usize>)> = self
            .transceivers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((t.mid.as_deref()?.parse().ok()?, Some(i))))
            .collect();
        if let Some(m) = self.data_mid.as_deref().and_then(|m| m.parse().ok()) {
            order.push((m, None));
        }
        order.sort_unstable();
        let mut sections = Vec::new();
        for (_, t) in order {
            sections.push(match t {
                Some(i) => self.media_section(i, None, setup)?,
                None => self.data_section(setup, DEFAULT_DATA_PROTO),
            });
        }
        self.build_session(sections, SdpType::Offer)
    }

    /// Creates an answer to the applied remote offer (RFC 9429 §5.3): the same
    /// m-lines in order, `a=setup:active` (we become the DTLS client),
    /// negotiated codecs, directions and extensions, unsupported sections
    /// rejected with port 0.
    pub fn create_answer(&mut self) -> Result<SessionDescription, Error> {
        if self.signaling != SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState("create_answer"));
        }
        let remote = self
            .remote_desc
            .clone()
            .ok_or(Error::InvalidState("create_answer"))?;
        let setup = match self.dtls_role {
            Some(DtlsRole::Server) => Setup::Passive,
            _ => Setup::Active,
        };
        let mut sections = Vec::new();
        for m in remote.sdp.media() {
            let mid = m.mid().unwrap_or_default().to_owned();
            let idx = self
                .transceivers
                .iter()
                .position(|t| t.mid.as_deref() == Some(&mid));
            // One SCTP association: the data section the offer applied
            // (its first); any other is rejected (RFC 8841 §5).
            if m.port() != 0 && m.is_data_channel() && m.mid() == self.data_mid.as_deref() {
                sections.push(self.data_section(setup, m.proto()));
            } else if let (Some(i), true) = (idx, m.port() != 0 && m.is_rtp()) {
                sections.push(self.media_section(i, Some(m), setup)?);
            } else {
                sections.push(Section::rejected(m, mid)?);
            }
        }
        self.build_session(sections, SdpType::Answer)
    }

    /// Applies our own offer or answer (RFC 9429 §5.5).
    pub fn set_local_description(
        &mut self,
        now: Instant,
        desc: SessionDescription,
    ) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        match (desc.kind, self.signaling) {
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveLocalOffer) => {
                if self.signaling == SignalingState::Stable && self.snapshot.is_none() {
                    self.snapshot = Some(Box::new(self.take_snapshot()));
                }
                self.set_signaling(SignalingState::HaveLocalOffer);
            }
            (SdpType::Answer, SignalingState::HaveRemoteOffer) => {
                // Our answer decides the DTLS role (RFC 8842 §5.3).
                let setup = desc.sdp.media().first().and_then(|m| desc.sdp.setup_for(m));
                if self.dtls.is_none() {
                    self.dtls_role = Some(match setup {
                        Some(Setup::Passive) => DtlsRole::Server,
                        _ => DtlsRole::Client,
                    });
                }
                self.apply_negotiated(&desc.sdp);
                self.snapshot = None;
                self.set_signaling(SignalingState::Stable);
            }
            _ => return Err(Error::InvalidState("set_local_description")),
        }
        self.session_version += 1;
        let answered = desc.kind == SdpType::Answer;
        let mut desc = desc;
        desc.sdp.shrink_to_fit();
        self.local_desc = Some(desc);
        self.now = Some(now);
        if answered {
            self.configure_media();
        }
        self.maybe_start_dtls(now);
        self.pump(now);
        Ok(())
    }

    /// Applies the peer's offer or answer (RFC 9429 §5.10): ICE credentials,
    /// candidates (non-trickle), fingerprints, `a=setup`, SCTP port and
    /// max-message-size; creates transceivers for new remote m-lines.
    pub fn set_remote_description(
        &mut self,
        now: Instant,
        desc: SessionDescription,
    ) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let next = match (desc.kind, self.signaling) {
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveRemoteOffer) => {
                SignalingState::HaveRemoteOffer
            }
            (SdpType::Answer, SignalingState::HaveLocalOffer) => SignalingState::Stable,
            _ => return Err(Error::InvalidState("set_remote_description")),
        };
        if self.signaling == SignalingState::Stable && desc.kind == SdpType::Offer {
            self.snapshot = Some(Box::new(self.take_snapshot()));
        }
        let sdp = &desc.sdp;
        // JSEP needs a unique a=mid on every used m-line (RFC 9429 §5.2.1).
        // A mid is an RFC 8866 token (RFC 8843 §16.2); we keep them short.
        let token = |mid: &str| {
            !mid.is_empty()
                && mid.len() <= 64
                && mid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b))
        };
        let mut mids = std::collections::HashSet::new();
        for m in sdp.media() {
            // An answer repeats each m-line's media and proto (RFC 3264 §6).
            let proto_ok = m.proto().split('/').all(token);
            if !token(m.kind()) || !proto_ok {
                return Err(Error::InvalidDescription(
                    "m-line media or proto is not a token",
                ));
            }
            if m.port() != 0 && m.is_rtp() && media::has_duplicate_payload_type(m) {
                return Err(Error::InvalidDescription("duplicate payload type"));
            }
            match m.mid() {
                Some(mid) if token(mid) && mids.insert(mid) => {}
                None if m.port() == 0 => {}
                _ => return Err(Error::InvalidDescription("m-line without a unique a=mid")),
            }
        }
        // max-bundle: the first non-rejected section carries the transport.
        let transport = sdp
            .media()
            .iter()
            .find(|m| m.port() != 0)
            .ok_or(Error::InvalidDescription("no usable m-line"))?;
        let ufrag = sdp
            .ice_ufrag_for(transport)
            .ok_or(Error::InvalidDescription("no ice-ufrag"))?;
        let pwd = sdp
            .ice_pwd_for(transport)
            .ok_or(Error::InvalidDescription("no ice-pwd"))?;
        let fps: Vec<Fingerprint> = sdp
            .fingerprints_for(transport)
            .iter()
            .filter_map(|f| {
                let algorithm = fulmar_dtls::HashAlgorithm::from_sdp_name(f.hash_function)?;
                let digest = f.bytes().collect::<Result<Vec<u8>, _>>().ok()?;
                Fingerprint::new(algorithm, digest).ok()
            })
            .collect();
        if fps.is_empty() {
            return Err(Error::InvalidDescription("no usable a=fingerprint"));
        }
        let remote_setup = sdp.setup_for(transport);
        if self.dtls.is_some() {
            // Roles of a running association never change (RFC 8842 §5.5).
        } else if desc.kind == SdpType::Answer {
            self.dtls_role = Some(match remote_setup {
                Some(Setup::Active) => DtlsRole::Server,
                Some(Setup::Passive) => DtlsRole::Client,
                _ => {
                    return Err(Error::InvalidDescription(
                        "answer a=setup must be active or passive",
                    ))
                }
            });
        } else if remote_setup == Some(Setup::Active) {
            self.dtls_role = Some(DtlsRole::Server);
        } else if remote_setup == Some(Setup::Passive) {
            self.dtls_role = Some(DtlsRole::Client);
        }
        // Data section and transceivers.
        let mut data_seen = false;
        for m in sdp.media() {
            if m.is_data_channel() && m.port() != 0 && !std::mem::replace(&mut data_seen, true) {
                self.remote_sctp_port = Some(m.sctp_port().unwrap_or(5000));
                self.remote_max_message_size = match m.max_message_size() {
                    Some(0) => usize::MAX,
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    None => DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
                };
                if desc.kind == SdpType::Offer {
                    self.data_mid = m.mid().map(str::to_owned);
                }
            } else if let (Some(kind), SdpType::Offer) = (media::rtp_kind(m), desc.kind) {
                let mid = m.mid().map(str::to_owned);
                if !self.transceivers.iter().any(|t| t.mid == mid) && m.port() != 0 {
                    let reuse = self
                        .transceivers
                        .iter()
                        .position(|t| t.mid.is_none() && t.kind == kind && !t.stopped);
                    match reuse {
                        Some(i) => self.transceivers[i].mid = mid,
                        None => {
                            let mut t = Transceiver::new(kind, Direction::RecvOnly);
                            t.mid = mid;
                            self.transceivers.push(t);
                        }
                    }
                }
            }
        }
        self.ensure_ice(IceRole::Controlled);
        let restarted = self
            .remote_ice_creds
            .as_ref()
            .is_some_and(|(u, p)| u != ufrag || p != pwd);
        if restarted && desc.kind == SdpType::Offer {
            // The peer restarted ICE: so do we (RFC 8445 §9).
            self.restart_ice_agent();
        }
        let ice = self
            .ice
            .as_mut()
            .ok_or(Error::InvalidState("set_remote_description"))?;
        ice.set_remote_lite(sdp.ice_lite());
        ice.set_remote_credentials(now, ufrag, pwd)?;
        self.remote_ice_creds = Some((ufrag.to_owned(), pwd.to_owned()));
        let mut end = false;
        let mut seen = std::collections::HashSet::new();
        for m in sdp.media() {
            for c in m.candidates() {
                let line = c.to_string();
                if !seen.insert(line.clone()) {
                    continue;
                }
                match fulmar_ice::Candidate::parse(&line) {
                    Ok(cand) if cand.component == 1 => {
                        // Unusable candidates (e.g. TCP) are ignored, not fatal.
                        let _ = ice.add_remote_candidate(now, cand);
                    }
                    _ => {}
                }
            }
            end |= m.end_of_candidates();
        }
        if end {
            ice.end_of_remote_candidates(now);
        }
        self.remote_fingerprints = fps;
        if desc.kind == SdpType::Answer {
            self.apply_negotiated(sdp);
        }
        let mut desc = desc;
        desc.sdp.shrink_to_fit();
        self.remote_desc = Some(desc);
        if next == SignalingState::Stable {
            self.snapshot = None;
            self.now = Some(now);
            self.configure_media();
        }
        self.set_signaling(next);
        self.maybe_start_dtls(now);
        self.drain_ice(now);
        self.pump(now);
        Ok(())
    }

    /// Rolls back a pending offer, ours or the peer's (RFC 9429 §4.1.8.2,
    /// the polite peer's way out of glare): descriptions, mids and the
    /// transceivers the offer created return to the last stable state.
    /// Remote ICE credentials and candidates already handed to the ICE agent
    /// stay (they only matter once the peer's next description arrives).
    pub fn rollback(&mut self) -> Result<(), Error> {
        if !matches!(
            self.signaling,
            SignalingState::HaveLocalOffer | SignalingState::HaveRemoteOffer
        ) {
            return Err(Error::InvalidState("rollback"));
        }
        let snap = self
            .snapshot
            .take()
            .ok_or(Error::InvalidState("rollback"))?;
        self.local_desc = snap.local_desc;
        self.remote_desc = snap.remote_desc;
        self.data_mid = snap.data_mid;
        self.next_mid = snap.next_mid;
        self.transceivers.truncate(snap.mids.len());
        for (t, mid) in self.transceivers.iter_mut().zip(snap.mids) {
            t.mid = mid;
        }
        if self.dtls.is_none() {
            self.dtls_role = snap.dtls_role;
        }
        self.set_signaling(SignalingState::Stable);
        Ok(())
    }

    /// Asks for an ICE restart (RFC 8445 §9) in the next offer: new
    /// credentials, new checks; the current pair carries data meanwhile.
    pub fn restart_ice(&mut self) {
        self.ice_restart = true;
        self.events.push_back(Event::NegotiationNeeded);
    }

    /// One id per header-extension URI across the BUNDLE group (RFC 8843
    /// §9.1.2.2, RFC 8285 §5): a section added later takes the ids already
    /// negotiated (ours or the peer's) and free ids for new URIs.
    fn unify_extension_ids(&mut self) {
        let mut map: Vec<(String, u16)> = Vec::new();
        if let Some(r) = &self.remote_desc {
            for m in r.sdp.media() {
                for e in m.extmaps() {
                    if !map.iter().any(|(u, _)| u == e.uri) && !map.iter().any(|(_, i)| *i == e.id)
                    {
                        map.push((e.uri.to_owned(), e.id));
                    }
                }
            }
        }
        for t in self
            .transceivers
            .iter()
            .filter(|t| t.current_direction.is_some())
        {
            for (id, uri) in &t.extensions {
                if !map.iter().any(|(u, _)| u == uri) && !map.iter().any(|(_, i)| i == id) {
                    map.push((uri.clone(), *id));
                }
            }
        }
        for t in &mut self.transceivers {
            for (id, uri) in t.extensions.iter_mut() {
                if let Some((_, m)) = map.iter().find(|(u, _)| u == uri) {
                    *id = *m;
                } else if !map.iter().any(|(_, x)| x == id) {
                    // Our own id is free: keep it.
                    map.push((uri.clone(), *id));
                } else if let Some(free) = (1..=14u16).find(|i| !map.iter().any(|(_, x)| x == i)) {
                    map.push((uri.clone(), free));
                    *id = free;
                }
            }
            // An extension that found no id (all 14 taken) is left out.
            t.extensions
                .retain(|(id, uri)| map.iter().any(|(u, i)| u == uri && i == id));
        }
    }

    fn restart_ice_agent(&mut self) {
        if let (Some(ice), Some(now)) = (self.ice.as_mut(), self.now) {
            ice.restart(now);
            if self.local_end_of_candidates {
                ice.end_of_local_candidates(now);
            }
        }
    }

    fn take_snapshot(&self) -> Snapshot {
        Snapshot {
            local_desc: self.local_desc.clone(),
            remote_desc: self.remote_desc.clone(),
            data_mid: self.data_mid.clone(),
            next_mid: self.next_mid,
            mids: self.transceivers.iter().map(|t| t.mid.clone()).collect(),
            dtls_role: self.dtls_role,
        }
    }

    // ------------------------------------------------------------------
    // The sans-IO verbs
    // ------------------------------------------------------------------

    /// Handles a datagram from `source` received on local `destination`,
    /// demultiplexed by its first byte (RFC 7983 §7).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.receive(now, source, destination, Received::Shared(datagram));
    }

    /// Like [`Self::handle_receive`], for a caller that owns the datagram's
    /// buffer and has no further use for its contents: DTLS application
    /// data is decrypted where it lies and handed straight to SCTP, which
    /// saves a copy and a buffer per record. The contents of `datagram`
    /// are unspecified afterwards.
    pub fn handle_receive_in_place(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &mut [u8],
    ) {
        self.receive(now, source, destination, Received::Owned(datagram));
    }

    fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: Received<'_>,
    ) {
        if self.closed {
            return;
        }
        let bytes = datagram.bytes();
        self.last_activity = Some(now);
        self.stats.packets_received += 1;
        self.stats.bytes_received += bytes.len() as u64;
        match classify(bytes) {
            PacketKind::Stun => {
                if let Some(ice) = self.ice.as_mut() {
                    ice.handle_receive(now, source, destination, bytes);
                }
                self.drain_ice(now);
            }
            PacketKind::Dtls => {
                if self.dtls_peer.is_none() || self.selected.is_none() {
                    self.dtls_peer = Some((destination, source));
                }
                self.maybe_start_dtls(now);
                if let Some(d) = self.dtls.as_mut() {
                    match datagram {
                        Received::Shared(bytes) => d.handle_receive(now, bytes),
                        Received::Owned(bytes) => {
                            let sctp = &mut self.sctp;
                            d.handle_receive_in_place(now, bytes, |plaintext| {
                                if let Some(dc) = sctp.as_mut() {
                                    dc.handle_receive_slice(now, plaintext);
                                }
                            });
                        }
                    }
                }
            }
            PacketKind::Rtp => {
                self.stats.rtp_packets_received += 1;
                self.ensure_srtp();
                if let Some((m, mut io)) = self.media_io() {
                    m.handle_receive(&mut io, now, bytes);
                }
                // Media never drives DTLS or SCTP: no pump needed.
                return;
            }
            _ => self.stats.unknown_packets += 1,
        }
        self.pump(now);
    }

    /// Handles the passing of the deadline from [`Self::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let quiet = self
            .last_activity
            .is_none_or(|t| now.saturating_duration_since(t) >= IDLE_RELEASE_AFTER);
        if quiet {
            // Our own queues before the timers refill them (the application
            // drained them since the last call)...
            self.release_idle_buffers();
        }
        if let Some(ice) = self.ice.as_mut() {
            ice.handle_timeout(now);
        }
        self.drain_ice(now);
        if let Some(d) = self.dtls.as_mut() {
            if d.poll_timeout().is_some_and(|t| t <= now) {
                d.handle_timeout(now);
            }
        }
        if let Some(dc) = self.sctp.as_mut() {
            if dc.poll_timeout().is_some_and(|t| t <= now) {
                dc.handle_timeout(now);
            }
        }
        if self.media.as_deref().is_some_and(|m| m.report_due(now)) {
            // Once per report interval: the ICE round-trip time spaces NACK
            // retries until RTCP measures one (a receive-only peer never does).
            if let (Some(rtt), Some(m)) = (self.stats_rtt(), self.media.as_deref_mut()) {
                m.set_rtt(rtt);
            }
        }
        if let Some((m, mut io)) = self.media_io() {
            m.handle_timeout(&mut io, now);
        }
        self.pump(now);
        if quiet {
            // ...and DTLS's and SCTP's once `pump` has drained them.
            self.release_inner_idle_buffers();
        }
    }

    /// Returns the buffers of drained queues to the allocator; run from
    /// timers once the connection has been quiet for [`IDLE_RELEASE_AFTER`],
    /// so an idle connection holds only its state and a busy one reallocates
    /// nothing per packet.
    fn release_idle_buffers(&mut self) {
        if self.transmits.is_empty() {
            self.transmits = VecDeque::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        self.spare_payloads = Vec::new();
        self.release_inner_idle_buffers();
    }

    /// The same for the DTLS connection and the SCTP association.
    fn release_inner_idle_buffers(&mut self) {
        if let Some(d) = self.dtls.as_mut() {
            d.release_idle_buffers();
        }
        if let Some(dc) = self.sctp.as_mut() {
            dc.release_idle_buffers();
        }
        self.sctp_tx = Vec::new();
    }

    /// The next datagram to send, in a new buffer (see
    /// [`Self::poll_transmit_into`] for the form that reuses one).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.transmits.pop_front() {
            self.count_sent(t.payload.len());
            return Some(t);
        }
        if let Some(t) = self.seal_due_sctp() {
            self.count_sent(t.payload.len());
            return Some(t);
        }
        // No association, no data datagram: take no buffer for one.
        self.sctp.as_ref()?;
        let capacity = self.config.sctp.mtu + DATAGRAM_OVERHEAD;
        let mut payload = take_spare(&mut self.spare_payloads, capacity);
        let Some(path) = self.build_data_datagram(&mut payload) else {
            self.keep_spare(payload);
            return None;
        };
        Some(Transmit {
            source: path.source,
            destination: path.destination,
            payload,
        })
    }

    /// Writes the next datagram to send into `buf` (replacing its contents)
    /// and says where it goes. Data-channel packets are built and sealed
    /// straight into `buf` when polled, so a sender that reuses one buffer
    /// allocates nothing per datagram, and each packet is sent while its
    /// bytes are still in cache.
    pub fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        if let Some(t) = self.transmits.pop_front() {
            self.count_sent(t.payload.len());
            buf.clear();
            buf.extend_from_slice(&t.payload);
            self.keep_spare(t.payload);
            return Some(TransmitPath {
                source: t.source,
                destination: t.destination,
            });
        }
        if let Some(path) = self.seal_due_sctp_into(buf) {
            self.count_sent(buf.len());
            return Some(path);
        }
        self.build_data_datagram(buf)
    }

    /// Keeps `buf` for a later datagram while data waits to be sent, if it
    /// is big enough and the pool is not full (an idle connection keeps
    /// none); returns it otherwise.
    fn keep_spare(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        let sending = self
            .sctp
            .as_ref()
            .is_some_and(|dc| dc.association().has_queued_data());
        if sending
            && self.spare_payloads.len() < MAX_SPARE_PAYLOADS
            && buf.capacity() >= self.config.sctp.mtu + DATAGRAM_OVERHEAD
        {
            self.spare_payloads.push(buf);
            None
        } else {
            Some(buf)
        }
    }

    fn count_sent(&mut self, len: usize) {
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += len as u64;
    }

    /// Builds the next SCTP packet the association may send (cwnd and the
    /// peer's window allowing) and seals it as one DTLS record into `buf`.
    fn build_data_datagram(&mut self, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        let now = self.now.filter(|_| !self.closed)?;
        let path = self.seal_next_sctp(now, buf)?;
        self.count_sent(buf.len());
        // Sending can cross a channel's low-water mark.
        self.drain_sctp_events();
        Some(path)
    }

    /// Builds SCTP's next packet into `buf` (replacing its contents) after
    /// room for the record's header, and has DTLS seal it where it lies.
    fn seal_next_sctp(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        let (source, destination) = self.selected.or(self.dtls_peer)?;
        let (dc, d) = (self.sctp.as_mut()?, self.dtls.as_mut()?);
        if !d.is_connected() {
            return None;
        }
        let room = d.record_prefix_len()?;
        buf.clear();
        buf.resize(room, 0);
        if !dc.poll_transmit_append(now, buf) {
            return None;
        }
        d.seal_application_data_in_place(buf).ok()?;
        Some(TransmitPath {
            source,
            destination,
        })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            self.ice.as_ref().and_then(IceAgent::poll_timeout),
            self.dtls
                .as_ref()
                .and_then(fulmar_dtls::Connection::poll_timeout),
            self.sctp.as_ref().and_then(DataChannels::poll_timeout),
            self.srtp
                .as_ref()
                .and(self.media.as_deref())
                .and_then(streams::Media::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn ensure_ice(&mut self, role: IceRole) {
        if self.ice.is_some() {
            return;
        }
        let mut cfg = IceConfig::new(role);
        cfg.stun_servers = self.config.stun_servers.clone();
        let rng = self.sub_rng();
        self.ice = Some(IceAgent::new(cfg, rng));
        if let Some(now) = self.now {
            self.add_pending_hosts(now);
        }
    }

    fn add_pending_hosts(&mut self, now: Instant) {
        if let Some(ice) = self.ice.as_mut() {
            for addr in self.pending_hosts.drain(..) {
                let _ = ice.add_host_candidate(now, 1, addr);
            }
            for (relayed, mapped, server, protocol) in self.pending_relays.drain(..) {
                let _ = ice.add_relayed_candidate_over(now, 1, relayed, mapped, server, protocol);
            }
            if self.local_end_of_candidates {
                ice.end_of_local_candidates(now);
            }
        }
    }

    fn drain_ice(&mut self, now: Instant) {
        if (!self.pending_hosts.is_empty() || !self.pending_relays.is_empty()) && self.ice.is_some()
        {
            self.add_pending_hosts(now);
        }
        let Some(ice) = self.ice.as_mut() else { return };
        let mut events = Vec::new();
        while let Some(e) = ice.poll_event() {
            events.push(e);
        }
        while let Some(t) = ice.poll_transmit() {
            if self.transmits.len() < MAX_TRANSMITS {
                self.transmits.push_back(Transmit {
                    source: t.source,
                    destination: t.destination,
                    payload: t.payload,
                });
            }
        }
        for e in events {
            match e {
                IceEvent::LocalCandidate(c) => {
                    self.events.push_back(Event::LocalCandidate(c.to_string()))
                }
                IceEvent::GatheringComplete => self.events.push_back(Event::GatheringComplete),
                IceEvent::GatheringStateChange(s) => {
                    self.events.push_back(Event::IceGatheringStateChange(s))
                }
                IceEvent::ConnectionStateChange(s) => {
                    self.ice_state = s;
                    self.events.push_back(Event::IceConnectionStateChange(s));
                    self.update_state();
                }
                IceEvent::SelectedPairChange { component: 1, pair } => {
                    self.selected = pair.map(|p| (p.source, p.destination));
                    self.maybe_start_dtls(now);
                }
                _ => {}
            }
        }
    }

    fn maybe_start_dtls(&mut self, now: Instant) {
        if self.dtls.is_some() || self.remote_fingerprints.is_empty() || self.closed {
            return;
        }
        let Some(role) = self.dtls_role else { return };
        let mut cfg =
            fulmar_dtls::Config::new(self.certificate.clone(), self.remote_fingerprints.clone());
        // No HelloVerifyRequest: ICE already proved the peer's address
        // (what browsers do too).
        cfg.hello_verify_cookie = false;
        cfg.srtp_profiles = self
            .config
            .srtp_profiles
            .iter()
            .filter_map(|p| fulmar_dtls::SrtpProfile::from_id(p.id()))
            .collect();
        let rng = self.sub_rng();
        let conn = match role {
            // The client waits for ICE so its ClientHello has a path.
            DtlsRole::Client if self.selected.is_some() => {
                fulmar_dtls::Connection::client(Arc::new(cfg), now, rng)
            }
            DtlsRole::Client => return,
            DtlsRole::Server => fulmar_dtls::Connection::server(Arc::new(cfg), rng),
        };
        self.dtls = Some(conn);
        self.set_dtls_state(DtlsState::Connecting);
    }

    /// Moves DTLS events up (SCTP packets into the association), a due SACK
    /// down, SCTP events up and DTLS records out. Other SCTP packets are
    /// built when polled ([`Self::build_data_datagram`]).
    fn pump(&mut self, now: Instant) {
        self.now = Some(now);
        // One event at a time: handling one may need `self` whole.
        while let Some(e) = self
            .dtls
            .as_mut()
            .and_then(fulmar_dtls::Connection::poll_event)
        {
            match e {
                fulmar_dtls::Event::Connected => self.on_dtls_connected(now),
                fulmar_dtls::Event::ApplicationData(data) => {
                    if let Some(dc) = self.sctp.as_mut() {
                        dc.handle_receive_slice(now, &data);
                    }
                    // SCTP copied what it keeps: the buffer takes the
                    // next record.
                    if let Some(d) = self.dtls.as_mut() {
                        d.recycle(data);
                    }
                }
                fulmar_dtls::Event::Closed => {
                    self.set_dtls_state(DtlsState::Closed);
                    self.close_all_channels();
                    self.set_state(PeerConnectionState::Closed);
                }
                fulmar_dtls::Event::Failed(_) => {
                    self.set_dtls_state(DtlsState::Failed);
                    self.set_state(PeerConnectionState::Failed);
                }
                _ => {}
            }
        }
        // A SACK the peer counts is built now, so that each one reaches
        // it; another waits for the poll, and the last one due stands for
        // them all.
        self.queue_due_sctp(now);
        self.drain_sctp_events();
        self.flush_dtls();
    }

    /// Builds a due SACK the peer counts on into [`Self::due_sctp`], to be
    /// sealed when polled.
    ///
    /// A receiver owes a SACK for every second packet (RFC 9260 §6.2). When
    /// the application hands in a batch of datagrams before polling, all
    /// the SACKs falling due in between leave together at the poll, and the
    /// last one acknowledges everything the others did. Each of the others
    /// costs a record to seal here and one to open at the peer. So an
    /// in-order SACK is built when polled, standing for the whole batch,
    /// unless the peer counts SACKs: while it may be in slow start, which
    /// grows cwnd per SACK, and for SACKs reporting gaps or duplicates,
    /// which count towards fast retransmit (see
    /// `fulmar_sctp::Association::due_sack_cannot_wait`). Those are
    /// built at once, each acknowledging what had arrived by then.
    /// This is acknowledgement compression as TCP receivers do it with
    /// GRO; an application that polls after each datagram still
    /// acknowledges every second one.
    fn queue_due_sctp(&mut self, now: Instant) {
        let Some(dc) = self.sctp.as_mut() else {
            return;
        };
        while dc.association().due_sack_cannot_wait()
            && dc.poll_transmit_into(now, &mut self.sctp_tx)
        {
            self.due_sctp.push(&self.sctp_tx);
        }
    }

    /// Seals the due SCTP packets, then all SCTP has to send, into the
    /// transmit queue now instead of when polled (before close_notify).
    fn seal_sctp_now(&mut self, now: Instant) {
        while let Some(t) = self.seal_due_sctp() {
            if self.transmits.len() < MAX_TRANSMITS {
                self.transmits.push_back(t);
            }
        }
        let capacity = self.config.sctp.mtu + DATAGRAM_OVERHEAD;
        loop {
            let mut payload = take_spare(&mut self.spare_payloads, capacity);
            let Some(path) = self.seal_next_sctp(now, &mut payload) else {
                self.keep_spare(payload);
                return;
            };
            if self.transmits.len() < MAX_TRANSMITS {
                self.transmits.push_back(Transmit {
                    source: path.source,
                    destination: path.destination,
                    payload,
                });
            }
        }
    }

    /// Seals the oldest due SCTP packet into a new datagram.
    fn seal_due_sctp(&mut self) -> Option<Transmit> {
        let mut payload = Vec::new();
        let path = self.seal_due_sctp_into(&mut payload)?;
        Some(Transmit {
            source: path.source,
            destination: path.destination,
            payload,
        })
    }

    /// Seals the oldest due SCTP packet into `buf` (replacing its
    /// contents); a packet DTLS cannot seal any more is dropped.
    fn seal_due_sctp_into(&mut self, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        while let Some(packet) = self.due_sctp.pop() {
            let (Some(d), Some((source, destination))) =
                (self.dtls.as_mut(), self.selected.or(self.dtls_peer))
            else {
                continue;
            };
            buf.clear();
            if d.seal_application_data(packet, buf).is_ok() {
                return Some(TransmitPath {
                    source,
                    destination,
                });
            }
        }
        None
    }

    fn flush_dtls(&mut self) {
        let Some(d) = self.dtls.as_mut() else { return };
        let Some((src, dst)) = self.selected.or(self.dtls_peer) else {
            return;
        };
        while let Some(p) = d.poll_transmit() {
            if self.transmits.len() < MAX_TRANSMITS {
                self.transmits.push_back(Transmit {
                    source: src,
                    destination: dst,
                    payload: p,
                });
            }
        }
    }

    /// A generator for a sub-component, seeded from ours.
    fn sub_rng(&mut self) -> CompactRng {
        CompactRng::seed_from_u64(self.rng.next_u64())
    }

    /// The SRTP contexts, keyed from the DTLS exporter (RFC 5764 §4.2) on
    /// first need; the media engine starts with them.
    fn ensure_srtp(&mut self) -> Option<&mut SrtpContexts> {
        if self.srtp.is_none() {
            let role = self.dtls_role?;
            let d = self.dtls.as_ref().filter(|d| d.is_connected())?;
            let p = d.srtp_profile()?;
            let km = d.srtp_keying_material().ok()?;
            let profile = fulmar_srtp::ProtectionProfile::from_id(p.id()).ok()?;
            let material = fulmar_srtp::KeyingMaterial {
                client_key: &km.client_key,
                server_key: &km.server_key,
                client_salt: &km.client_salt,
                server_salt: &km.server_salt,
            };
            let srole = match role {
                DtlsRole::Client => fulmar_srtp::Role::Client,
                DtlsRole::Server => fulmar_srtp::Role::Server,
            };
            let (local, remote) = material
                .contexts(profile, srole, fulmar_srtp::Config::default())
                .ok()?;
            self.srtp = Some(Box::new(SrtpContexts { local, remote }));
            if let Some(now) = self.now {
                self.media_mut().start(now);
            }
        }
        self.srtp.as_deref_mut()
    }

    fn on_dtls_connected(&mut self, now: Instant) {
        self.set_dtls_state(DtlsState::Connected);
        self.update_state();
        let (Some(role), true) = (self.dtls_role, self.dtls.is_some()) else {
            return;
        };
        // SRTP contexts from the exporter (RFC 5764 §4.2), when there is
        // media to protect (otherwise on first need).
        if !self.transceivers.is_empty() {
            self.ensure_srtp();
        }
        // SCTP over DTLS (RFC 8261) once both sides negotiated m=application.
        let Some(remote_port) = self.remote_sctp_port else {
            return;
        };
        if self.sctp.is_some() {
            return;
        }
        let mut cfg = self.config.sctp.clone();
        cfg.remote_port = remote_port;
        cfg.max_send_message_size = self.remote_max_message_size;
        let assoc = fulmar_sctp::Association::new(cfg, &mut self.rng, now);
        let mut dc = DataChannels::new(assoc, role);
        let _ = dc.connect(now);
        let mut ids: Vec<u32> = self.channels.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(ch) = self.channels.get_mut(&id) {
                if let Ok(sid) = dc.open(now, ch.config.clone()) {
                    ch.stream = Some(sid);
                    self.by_stream.insert(sid, id);
                }
            }
        }
        self.sctp = Some(dc);
    }

    fn drain_sctp_events(&mut self) {
        // One event at a time: handling one may need `self` whole.
        while let Some(e) = self.sctp.as_mut().and_then(DataChannels::poll_event) {
            match e {
                fulmar_datachannel::Event::Connected => {
                    self.sctp_up = true;
                    let mut ids: Vec<u32> = self
                        .channels
                        .iter()
                        .filter(|(_, c)| !c.open && c.stream.is_some())
                        .map(|(i, _)| *i)
                        .collect();
                    ids.sort_unstable();
                    for id in ids {
                        if let Some(c) = self.channels.get_mut(&id) {
                            c.open = true;
                        }
                        self.stats.data_channels_opened += 1;
                        self.events.push_back(Event::DataChannelOpen(ChannelId(id)));
                    }
                }
                fulmar_datachannel::Event::ChannelOpened(sid) => {
                    let Some(info) = self.sctp.as_ref().and_then(|dc| dc.channel(sid)).cloned()
                    else {
                        continue;
                    };
                    let id = self.next_channel;
                    self.next_channel = self.next_channel.wrapping_add(1);
                    let mut cfg = ChannelConfig::new(&info.label);
                    cfg.protocol = info.protocol.clone();
                    cfg.ordered = info.ordered;
                    cfg.reliability = info.reliability;
                    cfg.priority = info.priority;
                    self.channels.insert(
                        id,
                        Channel {
                            stream: Some(sid),
                            config: cfg,
                            open: true,
                        },
                    );
                    self.by_stream.insert(sid, id);
                    self.stats.data_channels_opened += 1;
                    self.events.push_back(Event::DataChannel {
                        id: ChannelId(id),
                        label: info.label,
                    });
                    self.events.push_back(Event::DataChannelOpen(ChannelId(id)));
                }
                fulmar_datachannel::Event::Message {
                    channel,
                    data,
                    kind,
                } => {
                    if let Some(&id) = self.by_stream.get(&channel) {
                        self.stats.messages_received += 1;
                        self.events.push_back(Event::DataChannelMessage {
                            id: ChannelId(id),
                            data,
                            binary: kind == MessageKind::Binary,
                        });
                    }
                }
                fulmar_datachannel::Event::BufferedAmountLow(sid) => {
                    if let Some(&id) = self.by_stream.get(&sid) {
                        self.events
                            .push_back(Event::BufferedAmountLow(ChannelId(id)));
                    }
                }
                fulmar_datachannel::Event::ChannelClosed(sid) => {
                    if let Some(id) = self.by_stream.remove(&sid) {
                        self.channels.remove(&id);
                        self.stats.data_channels_closed += 1;
                        self.events
                            .push_back(Event::DataChannelClose(ChannelId(id)));
                    }
                }
                fulmar_datachannel::Event::Closed(_) => self.close_all_channels(),
                _ => {}
            }
        }
    }

    fn close_all_channels(&mut self) {
        let mut ids: Vec<u32> = self.channels.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.channels.remove(&id);
            self.stats.data_channels_closed += 1;
            self.events
                .push_back(Event::DataChannelClose(ChannelId(id)));
        }
        self.by_stream.clear();
    }

    fn set_signaling(&mut self, s: SignalingState) {
        if self.signaling != s {
            self.signaling = s;
            self.events.push_back(Event::SignalingStateChange(s));
        }
    }

    fn set_dtls_state(&mut self, s: DtlsState) {
        if self.dtls_state != s {
            self.dtls_state = s;
            self.events.push_back(Event::DtlsStateChange(s));
        }
    }

    fn set_state(&mut self, s: PeerConnectionState) {
        if self.state != s && self.state != PeerConnectionState::Closed {
            self.state = s;
            self.events.push_back(Event::ConnectionStateChange(s));
        }
    }

    fn update_state(&mut self) {
        use IceConnectionState as I;
        let s = match (self.ice_state, self.dtls_state) {
            (I::Closed, _) | (_, DtlsState::Closed) => PeerConnectionState::Closed,
            (I::Failed, _) | (_, DtlsState::Failed) => PeerConnectionState::Failed,
            (I::Disconnected, _) => PeerConnectionState::Disconnected,
            (I::Connected | I::Completed, DtlsState::Connected) => PeerConnectionState::Connected,
            (I::New, DtlsState::New) => PeerConnectionState::New,
            _ => PeerConnectionState::Connecting,
        };
        self.set_state(s);
    }

    /// Records negotiated directions, codecs and extensions from the answer.
    fn apply_negotiated(&mut self, answer: &Sdp) {
        let local_is_offerer = self.signaling == SignalingState::HaveLocalOffer;
        for m in answer.media() {
            let Some(mid) = m.mid() else { continue };
            let Some(t) = self
                .transceivers
                .iter_mut()
                .find(|t| t.mid.as_deref() == Some(mid))
            else {
                continue;
            };
            if m.port() == 0 {
                t.stopped = true;
                t.current_direction = None;
                continue;
            }
            let dir = answer.direction_for(m);
            t.current_direction = Some(if local_is_offerer { dir.reverse() } else { dir });
            let codecs = media::remote_codecs(m);
            if !codecs.is_empty() {
                t.codecs = codecs;
            }
            t.extensions = m.extmaps().map(|e| (e.id, e.uri.to_owned())).collect();
        }
    }

    fn media_section(
        &mut self,
        i: usize,
        offered: Option<&fulmar_sdp::MediaDescription>,
        setup: Setup,
    ) -> Result<Section, Error> {
        let Some(t) = self.transceivers.get(i).cloned() else {
            return Err(Error::InvalidState("transceiver"));
        };
        let mid = t.mid.clone().unwrap_or_default();
        // An answer repeats the offer's proto (RFC 3264 §6, RFC 9429 §5.3.1).
        let proto = offered.map_or(DEFAULT_RTP_PROTO, |m| m.proto()).to_owned();
        if t.stopped {
            return Ok(Section::Rejected {
                kind: t.kind.as_str().to_owned(),
                proto,
                mid,
            });
        }
        let mut rids: Vec<String> = Vec::new();
        let (direction, codecs, extensions) = match offered {
            Some(m) => {
                let remote = media::remote_codecs(m);
                let codecs = media::negotiate_codecs(&remote, &t.codecs);
                let ext = media::negotiate_extensions(m, &t.extensions);
                // Simulcast the peer sends (RFC 8853 §5.3): we receive every
                // offered layer, told apart by the rid header extension.
                let rid_ext = ext.iter().any(|(_, u)| u == streams::uri::RID);
                if let (Some(sc), true) = (m.simulcast(), rid_ext) {
                    if let Some(send) = sc.send {
                        for alt in send.streams().take(8) {
                            for r in alt {
                                let ok = m.rids().any(|x| {
                                    x.id == r.id
                                        && x.direction == fulmar_sdp::attributes::RidDirection::Send
                                });
                                if ok && !rids.iter().any(|x| x == r.id) {
                                    rids.push(r.id.to_owned());
                                }
                            }
                        }
                    }
                }
                let dir = answer_direction(
                    self.remote_desc
                        .as_ref()
                        .map_or(Direction::SendRecv, |d| d.sdp.direction_for(m)),
                    t.direction,
                );
                (dir, codecs, ext)
            }
            None => (t.direction, t.codecs.clone(), t.extensions.clone()),
        };
        if codecs.is_empty() {
            return Ok(Section::Rejected {
                kind: t.kind.as_str().to_owned(),
                proto,
                mid,
            });
        }
        Ok(Section::Rtp {
            kind: t.kind,
            proto,
            mid,
            setup,
            direction,
            codecs,
            extensions,
            track: t
                .track
                .clone()
                .filter(|_| matches!(direction, Direction::SendRecv | Direction::SendOnly)),
            rids: rids
                .into_iter()
                .filter(|_| direction_receives(direction))
                .collect(),
        })
    }

    /// The data-channel section over `proto` (an answer repeats the
    /// offer's, RFC 3264 §6).
    fn data_section(&self, setup: Setup, proto: &str) -> Section {
        Section::Data {
            mid: self.data_mid.clone().unwrap_or_default(),
            setup,
            proto: proto.to_owned(),
        }
    }

    fn build_session(
        &mut self,
        sections: Vec<Section>,
        kind: SdpType,
    ) -> Result<SessionDescription, Error> {
        let ice = self.ice.as_ref().ok_or(Error::InvalidState("ICE agent"))?;
        let creds = ice.local_credentials().clone();
        let fp = self.certificate.fingerprint().to_sdp();
        let (hash, digest) = fp
            .split_once(' ')
            .ok_or(Error::InvalidDescription("fingerprint"))?;
        let cname = format!("fulmar{:08x}", self.session_id as u32);
        let ssrc_lines: Vec<(u32, String)> = sections
            .iter()
            .filter_map(|s| match s {
                Section::Rtp { track: Some(t), .. } => {
                    Some((t.ssrc, format!("{} {}", t.stream_id, t.track_id)))
                }
                _ => None,
            })
            .collect();
        // Values copied from a remote offer (codec parameters, extension
        // URIs, mids) that our writer refuses reject their section instead
        // of failing the whole answer.
        let sections: Vec<Section> = sections
            .into_iter()
            .map(|s| match s {
                Section::Rtp {
                    kind,
                    ref proto,
                    ref mid,
                    direction,
                    ref codecs,
                    ref extensions,
                    ..
                } => {
                    let probe = media::with_codecs(
                        MediaBuilder::new(kind.as_str(), proto),
                        codecs,
                        extensions,
                    )
                    .mid(mid)
                    .direction(direction)
                    .build();
                    match probe {
                        Ok(_) => s,
                        Err(_) => Section::Rejected {
                            kind: kind.as_str().to_owned(),
                            proto: proto.clone(),
                            mid: mid.clone(),
                        },
                    }
                }
                s => s,
            })
            .collect();
        let mut built = Vec::new();
        let mut bundle: Vec<String> = Vec::new();
        let mut streams: Vec<String> = Vec::new();
        for s in &sections {
            let m = match s {
                Section::Rejected { kind, proto, mid } => {
                    let mut b = MediaBuilder::new(kind, proto).port(0);
                    if !mid.is_empty() {
                        b = b.mid(mid);
                    }
                    // Any format the proto allows (RFC 3264 §6): a payload
                    // type for RTP, the data-channel name for SCTP, and a
                    // token for a proto we do not know.
                    b = if fulmar_sdp::is_sctp_proto(proto) {
                        b.format("webrtc-datachannel")
                    } else {
                        b.format("0")
                    };
                    b.build()?
                }
                Section::Data { mid, setup, proto } => {
                    bundle.push(mid.clone());
                    MediaBuilder::new("application", proto)
                        .format("webrtc-datachannel")
                        .ice_credentials(&creds.ufrag, &creds.pwd)
                        .ice_option("trickle")
                        .fingerprint(hash, digest)
                        .setup(*setup)
                        .mid(mid)
                        .sctp_port(self.config.sctp.local_port)
                        .max_message_size(self.config.max_message_size)
                        .build()?
                }
                Section::Rtp {
                    kind,
                    proto,
                    mid,
                    setup,
                    direction,
                    codecs,
                    extensions,
                    track,
                    rids,
                } => {
                    bundle.push(mid.clone());
                    let mut b = MediaBuilder::new(kind.as_str(), proto)
                        .ice_credentials(&creds.ufrag, &creds.pwd)
                        .ice_option("trickle")
                        .fingerprint(hash, digest)
                        .setup(*setup)
                        .mid(mid);
                    b = media::with_codecs(b.direction(*direction), codecs, extensions);
                    if let Some(t) = track {
                        if !streams.contains(&t.stream_id) {
                            streams.push(t.stream_id.clone());
                        }
                        b = b.msid(&t.stream_id, Some(&t.track_id));
                    }
                    b = b.rtcp_mux().rtcp_rsize();
                    let simulcast = format!("recv {}", rids.join(";"));
                    if !rids.is_empty() {
                        for r in rids {
                            b = b.rid(r, fulmar_sdp::attributes::RidDirection::Recv, None);
                        }
                        b = b.simulcast(&simulcast);
                    }
                    if let Some(t) = track {
                        let msid = ssrc_lines
                            .iter()
                            .find(|(s, _)| *s == t.ssrc)
                            .map(|(_, v)| v.as_str());
                        // RTX rides on its own SSRC, grouped with the
                        // primary (RFC 4588 §8.3, RFC 5576 §4.2).
                        let rtx = t
                            .rtx_ssrc
                            .filter(|_| codecs.iter().any(CodecParams::is_rtx));
                        if let Some(r) = rtx {
                            b = b.ssrc_group("FID", &[t.ssrc, r]);
                        }
                        for ssrc in std::iter::once(t.ssrc).chain(rtx) {
                            b = b.ssrc(ssrc, "cname", Some(&cname));
                            if let Some(v) = msid {
                                b = b.ssrc(ssrc, "msid", Some(v));
                            }
                        }
                    }
                    b.build()?
                }
            };
            built.push(m);
        }
        let mids: Vec<&str> = bundle.iter().map(String::as_str).collect();
        let stream_refs: Vec<&str> = streams.iter().map(String::as_str).collect();
        let mut sb = SessionBuilder::new(self.session_id, self.session_version)
            .bundle(&mids)
            .extmap_allow_mixed(true)
            .msid_semantic(Some(("WMS", &stream_refs)));
        for m in built {
            sb = sb.media(m);
        }
        let mut sdp = sb.build()?;
        self.add_local_candidates(&mut sdp);
        Ok(SessionDescription { kind, sdp })
    }

    /// Writes the gathered candidates (and end-of-candidates) into every
    /// bundled section, as a non-trickle description carries them.
    fn add_local_candidates(&self, sdp: &mut Sdp) {
        let Some(ice) = self.ice.as_ref() else { return };
        let cands: Vec<fulmar_sdp::Candidate> = ice
            .local_candidates()
            .iter()
            .filter_map(|c| fulmar_sdp::Candidate::parse(&c.to_string()).ok())
            .collect();
        let complete = ice.gathering_state() == IceGatheringState::Complete;
        for m in sdp.media_mut() {
            if m.port() == 0 {
                continue;
            }
            let existing: Vec<String> = m.candidates().map(|c| c.to_string()).collect();
            for c in &cands {
                if !existing.contains(&c.to_string()) {
                    let _ = m.push_candidate(c);
                }
            }
            if complete && !m.end_of_candidates() {
                let _ = m.push_attribute("end-of-candidates", None);
            }
        }
    }
}

/// Media: local tracks that take frames or RTP, remote tracks that yield
/// frames or RTP, keyframe requests (RFC 4585, RFC 5104) and buffer reuse.
impl PeerConnection {
    /// Packetizes an encoded frame with the negotiated send codec of
    /// transceiver `id` and sends it over SRTP. `rtp_timestamp` is in the
    /// codec's clock (90 kHz for video, 48 kHz for Opus, 8 kHz for G.711);
    /// Fulmar adds a random offset (RFC 3550 §5.1). Frames are Annex-B for
    /// H.264 and OBU streams for AV1.
    pub fn write_frame(
        &mut self,
        now: Instant,
        id: TransceiverId,
        rtp_timestamp: u32,
        frame: &[u8],
    ) -> Result<(), Error> {
        self.ensure_srtp();
        let (m, mut io) = self
            .media_io()
            .ok_or(Error::Media("SRTP is not keyed yet"))?;
        m.write_frame(&mut io, now, id.0, rtp_timestamp, frame)
    }

    /// Sends an RTP packet on the negotiated stream of transceiver `id`
    /// (what an echo or SFU forwarder does with [`Event::Rtp`] packets):
    /// Fulmar sets its SSRC, sequence numbers (gaps kept) and header
    /// extensions, keeps the payload type when negotiated on `id` (else the
    /// send codec's) and the marker, timestamp and payload as given.
    pub fn write_rtp(
        &mut self,
        now: Instant,
        id: TransceiverId,
        packet: &[u8],
    ) -> Result<(), Error> {
        self.ensure_srtp();
        let (m, mut io) = self
            .media_io()
            .ok_or(Error::Media("SRTP is not keyed yet"))?;
        m.write_rtp(&mut io, now, id.0, packet)
    }

    /// Asks the remote sender of transceiver `id` for a keyframe: PLI
    /// (RFC 4585 §6.3.1), or FIR (RFC 5104 §4.3.1) when only `ccm fir` was
    /// negotiated. Fails before the first remote packet arrived.
    pub fn request_keyframe(&mut self, now: Instant, id: TransceiverId) -> Result<(), Error> {
        self.now = Some(now);
        self.ensure_srtp();
        let (m, mut io) = self
            .media_io()
            .ok_or(Error::Media("SRTP is not keyed yet"))?;
        m.request_keyframe(&mut io, id.0)
    }

    /// Hands back a buffer from [`Transmit::payload`] or
    /// [`RtpReceived::packet`]; later packets reuse it, so a loop that
    /// recycles allocates nothing per packet.
    pub fn recycle(&mut self, buffer: Vec<u8>) {
        // Data-channel datagrams first; without media nothing would take
        // buffers from its pool.
        if let (Some(buffer), Some(m)) = (self.keep_spare(buffer), self.media.as_deref_mut()) {
            m.recycle(buffer);
        }
    }

    /// Media counters of transceiver `id` (also in [`Stats::media`]).
    pub fn media_stats(&self, id: TransceiverId) -> Option<MediaStats> {
        self.media
            .as_deref()?
            .stats()
            .into_iter()
            .find(|m| m.transceiver == id.0)
    }

    /// Chooses what the remote tracks of transceiver `id` yield.
    pub fn set_receive_mode(&mut self, id: TransceiverId, mode: ReceiveMode) {
        self.media_mut().set_receive_mode(id.0, mode);
    }

    /// The payload type and codec transceiver `id` sends with, once negotiated.
    pub fn send_codec(&self, id: TransceiverId) -> Option<(u8, Option<Codec>)> {
        self.media.as_deref()?.send_codec(id.0)
    }

    /// Sends with another negotiated codec (by payload type) on `id`.
    pub fn set_send_codec(&mut self, id: TransceiverId, payload_type: u8) -> Result<(), Error> {
        self.media_mut().set_send_codec(id.0, payload_type)
    }

    /// Anchors the NTP timestamps of sender reports to wall-clock time
    /// (`since_unix_epoch` at `now`); without it they count from 1970 at
    /// the first report, which is enough for round-trip times.
    pub fn set_wall_clock(&mut self, now: Instant, since_unix_epoch: Duration) {
        self.media_mut().set_wall_clock(now, since_unix_epoch);
    }

    /// The media engine, created on first need.
    fn media_mut(&mut self) -> &mut streams::Media {
        let (seed, session_id) = (self.media_seed, self.session_id);
        let (mode, mtu) = (self.config.receive_mode, self.config.media_mtu);
        self.media.get_or_insert_with(|| {
            let mut media = streams::Media::new(
                CompactRng::from_seed(seed),
                format!("fulmar{:08x}", session_id as u32),
            );
            media.receive_mode = mode;
            media.mtu = mtu.clamp(200, 1400);
            Box::new(media)
        })
    }

    /// The media engine with what it sends through, once SRTP is keyed and
    /// a path exists.
    fn media_io(&mut self) -> Option<(&mut streams::Media, streams::MediaIo<'_>)> {
        let path = self.selected.or(self.dtls_peer)?;
        let srtp = self.srtp.as_deref_mut()?;
        Some((
            self.media.as_deref_mut()?,
            streams::MediaIo {
                srtp,
                transmits: &mut self.transmits,
                events: &mut self.events,
                path,
                max_transmits: MAX_TRANSMITS,
            },
        ))
    }

    /// Hands what the last complete offer/answer decided to the media engine.
    fn configure_media(&mut self) {
        if self.transceivers.is_empty() {
            return;
        }
        self.media_mut();
        let Some(media) = self.media.as_deref_mut() else {
            return;
        };
        let remote = self.remote_desc.as_ref().map(|d| &d.sdp);
        for (i, t) in self.transceivers.iter().enumerate() {
            if t.stopped {
                media.stop(i);
                continue;
            }
            let (Some(mid), Some(dir)) = (t.mid.as_deref(), t.current_direction) else {
                continue;
            };
            let m = remote.and_then(|r| r.media().iter().find(|m| m.mid() == Some(mid)));
            let send = matches!(dir, Direction::SendRecv | Direction::SendOnly);
            let recv = matches!(dir, Direction::SendRecv | Direction::RecvOnly);
            let mut remote_ssrcs: Vec<(u32, Option<u32>)> = Vec::new();
            if let Some(m) = m {
                let fid: Vec<(u32, u32)> = m
                    .ssrc_groups()
                    .filter(|g| g.semantics == "FID")
                    .filter_map(|g| {
                        let mut it = g.ssrc_list.split_ascii_whitespace().map(str::parse::<u32>);
                        Some((it.next()?.ok()?, it.next()?.ok()?))
                    })
                    .collect();
                for s in m.ssrcs() {
                    let is_rtx = fid.iter().any(|(_, r)| *r == s.ssrc);
                    if !is_rtx && !remote_ssrcs.iter().any(|(x, _)| *x == s.ssrc) {
                        let rtx = fid.iter().find(|(p, _)| *p == s.ssrc).map(|(_, r)| *r);
                        remote_ssrcs.push((s.ssrc, rtx));
                    }
                }
            }
            let rsize = m.is_none_or(|m| m.rtcp_rsize());
            media.configure(
                i,
                streams::Negotiated {
                    kind: t.kind,
                    mid: Some(mid.to_owned()),
                    send,
                    recv,
                    codecs: t.codecs.clone(),
                    extensions: t.extensions.clone(),
                    ssrc: t.track.as_ref().map(|k| (k.ssrc, k.rtx_ssrc)),
                    remote_ssrcs,
                },
                rsize,
            );
        }
        if self.srtp.is_some() {
            if let (Some(now), Some(m)) = (self.now, self.media.as_deref_mut()) {
                m.start(now);
            }
        } else {
            // Media negotiated after DTLS connected: key SRTP now (which
            // starts the media engine).
            self.ensure_srtp();
        }
    }
}

/// The stable state an offer can be rolled back to.
struct Snapshot {
    local_desc: Option<SessionDescription>,
    remote_desc: Option<SessionDescription>,
    data_mid: Option<String>,
    next_mid: u32,
    mids: Vec<Option<String>>,
    dtls_role: Option<DtlsRole>,
}

/// The proto of the RTP sections we offer (RFC 8829 §5.1.2).
const DEFAULT_RTP_PROTO: &str = "UDP/TLS/RTP/SAVPF";
/// The proto of the data-channel section we offer (RFC 8841 §4.1).
const DEFAULT_DATA_PROTO: &str = "UDP/DTLS/SCTP";

enum Section {
    Rejected {
        kind: String,
        proto: String,
        mid: String,
    },
    Data {
        mid: String,
        setup: Setup,
        proto: String,
    },
    Rtp {
        kind: MediaKind,
        proto: String,
        mid: String,
        setup: Setup,
        direction: Direction,
        codecs: Vec<CodecParams>,
        extensions: Vec<(u16, String)>,
        track: Option<TrackInfo>,
        /// Simulcast layers we receive (`a=rid:<id> recv`, `a=simulcast:recv`).
        rids: Vec<String>,
    },
}

fn direction_receives(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::RecvOnly)
}

impl Section {
    fn rejected(m: &fulmar_sdp::MediaDescription, mid: String) -> Result<Self, Error> {
        Ok(Section::Rejected {
            kind: m.kind().to_owned(),
            proto: m.proto().to_owned(),
            mid,
        })
    }
}

#[cfg(test)]
mod lazy_state_tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Two peers with an open data channel, wired back to back in memory.
    fn open_pair() -> (PeerConnection, PeerConnection) {
        let now = Instant::now();
        let new = |seed| PeerConnection::new(Config::default(), StdRng::seed_from_u64(seed));
        let (mut a, mut b) = (new(1).unwrap(), new(2).unwrap());
        a.add_host_candidate(now, "127.0.0.1:4000".parse().unwrap())
            .unwrap();
        b.add_host_candidate(now, "127.0.0.1:5000".parse().unwrap())
            .unwrap();
        let ch = a.create_data_channel(ChannelConfig::new("x")).unwrap();
        let offer = a.create_offer().unwrap();
        a.set_local_description(now, offer.clone()).unwrap();
        b.set_remote_description(now, offer).unwrap();
        let answer = b.create_answer().unwrap();
        b.set_local_description(now, answer.clone()).unwrap();
        a.set_remote_description(now, answer).unwrap();
        let (mut t, mut a_open, mut b_open) = (now, false, false);
        for _ in 0..1000 {
            while let Some(x) = a.poll_transmit() {
                b.handle_receive(t, x.source, x.destination, &x.payload);
            }
            while let Some(x) = b.poll_transmit() {
                a.handle_receive(t, x.source, x.destination, &x.payload);
            }
            while let Some(e) = a.poll_event() {
                a_open |= e == Event::DataChannelOpen(ch);
            }
            while let Some(e) = b.poll_event() {
                b_open |= matches!(e, Event::DataChannelOpen(_));
            }
            if a_open && b_open {
                return (a, b);
            }
            if let Some(d) = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
            {
                t = t.max(d);
            }
            a.handle_timeout(t);
            b.handle_timeout(t);
        }
        panic!("channel did not open");
    }

    /// [`open_pair`] with nothing left in flight, its time and its channel.
    fn quiet_pair() -> (PeerConnection, PeerConnection, Instant, ChannelId) {
        let (mut a, mut b) = open_pair();
        while a.poll_transmit().is_some() {}
        while b.poll_transmit().is_some() {}
        let now = a.now.unwrap();
        let ch = a.channels.keys().copied().next().map(ChannelId).unwrap();
        (a, b, now, ch)
    }

    #[test]
    fn quiet_connection_releases_buffers_and_keeps_working() {
        let (mut a, mut b) = open_pair();
        let t = a.now.unwrap() + IDLE_RELEASE_AFTER;
        // Whatever the last timers queued (a consent check) goes out first.
        while let Some(x) = a.poll_transmit() {
            b.handle_receive(t, x.source, x.destination, &x.payload);
        }
        a.release_idle_buffers();
        assert_eq!(a.transmits.capacity(), 0);
        assert_eq!(a.events.capacity(), 0);
        let ch = a.channels.keys().copied().next().map(ChannelId).unwrap();
        a.send_text(t, ch, "after idle").unwrap();
        while let Some(x) = a.poll_transmit() {
            b.handle_receive(t, x.source, x.destination, &x.payload);
        }
        let got = core::iter::from_fn(|| b.poll_event()).any(
            |e| matches!(e, Event::DataChannelMessage { data, .. } if &data[..] == b"after idle"),
        );
        assert!(got);
    }

    /// Hands a datagram `a` built into `buf` to `b`, decrypted in place or
    /// from a shared borrow.
    fn deliver(
        b: &mut PeerConnection,
        now: Instant,
        path: TransmitPath,
        buf: &mut [u8],
        in_place: bool,
    ) {
        if in_place {
            b.handle_receive_in_place(now, path.source, path.destination, buf);
        } else {
            b.handle_receive(now, path.source, path.destination, buf);
        }
    }

    /// Moves `bytes` from `a` to `b`, polling each side after every
    /// datagram, so that `b` acknowledges every second packet; 3 MiB
    /// carry it past the peer's slow start (twice its 1 MiB window).
    fn move_polled_each(
        a: &mut PeerConnection,
        b: &mut PeerConnection,
        now: Instant,
        ch: ChannelId,
        bytes: usize,
    ) {
        let (mut buf, mut back) = (Vec::new(), Vec::new());
        let (mut sent, mut received) = (0, 0);
        for _ in 0..100_000 {
            if received >= bytes {
                return;
            }
            while sent < bytes && a.buffered_amount(ch) < 256 << 10 {
                a.send(now, ch, Bytes::from(vec![1u8; 64 << 10]), true)
                    .unwrap();
                sent += 64 << 10;
            }
            while let Some(path) = a.poll_transmit_into(&mut buf) {
                b.handle_receive_in_place(now, path.source, path.destination, &mut buf);
                while let Some(p) = b.poll_transmit_into(&mut back) {
                    a.handle_receive_in_place(now, p.source, p.destination, &mut back);
                }
            }
            while let Some(e) = b.poll_event() {
                if let Event::DataChannelMessage { data, .. } = e {
                    received += data.len();
                }
            }
            while a.poll_event().is_some() {}
        }
        panic!("moved {received} of {bytes} bytes");
    }

    /// Sends a 60 kB message as a batch of datagrams `b` reads before it
    /// is polled, and checks the SACKs and the message: one SACK per two
    /// packets while `a` may be in slow start, one for the whole batch
    /// once past it.
    fn batch_then_deliver(in_place: bool, past_slow_start: bool) {
        let (mut a, mut b, now, ch) = quiet_pair();
        if past_slow_start {
            move_polled_each(&mut a, &mut b, now, ch, 3 << 20);
        }
        let msg: Bytes = (0..60_000u32).map(|i| (i % 251) as u8).collect();
        a.send(now, ch, msg.clone(), true).unwrap();
        assert!(a.transmits.is_empty(), "nothing is sealed before a poll");
        // Everything the window allows, into one reused buffer, handed to b
        // without polling b in between (as a driver reading a batch does).
        let mut buf = Vec::new();
        let mut data_packets = 0;
        while let Some(path) = a.poll_transmit_into(&mut buf) {
            deliver(&mut b, now, path, &mut buf, in_place);
            data_packets += 1;
        }
        assert!(data_packets >= 2, "{data_packets}");
        // During slow start each SACK was built when due (RFC 9260 §6.2),
        // each acknowledging what had arrived by then, and waits to be
        // sealed; past it, one SACK built when b is polled stands for all.
        let due = if past_slow_start { 0 } else { data_packets / 2 };
        assert_eq!(b.due_sctp.len(), due);
        assert!(b.transmits.is_empty());
        let mut sacks = 0;
        while let Some(path) = b.poll_transmit_into(&mut buf) {
            deliver(&mut a, now, path, &mut buf, in_place);
            sacks += 1;
        }
        assert_eq!(sacks, due.max(1), "SACKs for {data_packets} packets");
        let mut got = None;
        for _ in 0..200 {
            while let Some(path) = b.poll_transmit_into(&mut buf) {
                deliver(&mut a, now, path, &mut buf, in_place);
            }
            while let Some(path) = a.poll_transmit_into(&mut buf) {
                deliver(&mut b, now, path, &mut buf, in_place);
            }
            while let Some(e) = b.poll_event() {
                if let Event::DataChannelMessage { data, .. } = e {
                    got = Some(data);
                }
            }
            if got.is_some() {
                break;
            }
        }
        assert_eq!(got, Some(msg));
    }

    #[test]
    fn a_batch_past_slow_start_is_acknowledged_by_one_sack() {
        batch_then_deliver(false, true);
        batch_then_deliver(true, true);
    }

    #[test]
    fn data_packets_are_built_when_polled_and_sacks_leave_at_once() {
        batch_then_deliver(false, false);
    }

    #[test]
    fn datagrams_opened_in_place_carry_data_and_sacks_alike() {
        batch_then_deliver(true, false);
    }

    /// Hands `b` the datagrams `a` has to send but the `lost`-th, without
    /// polling `b`; returns how many reached it.
    fn batch_with_one_lost(
        a: &mut PeerConnection,
        b: &mut PeerConnection,
        now: Instant,
        lost: usize,
    ) -> usize {
        let mut buf = Vec::new();
        let mut delivered = 0;
        let mut n = 0;
        while let Some(path) = a.poll_transmit_into(&mut buf) {
            if n != lost {
                b.handle_receive_in_place(now, path.source, path.destination, &mut buf);
                delivered += 1;
            }
            n += 1;
        }
        delivered
    }

    #[test]
    fn sacks_reporting_a_gap_are_each_kept_for_the_sender_to_count() {
        let (mut a, mut b, now, ch) = quiet_pair();
        move_polled_each(&mut a, &mut b, now, ch, 3 << 20);
        let msg: Bytes = (0..30_000u32).map(|i| (i % 251) as u8).collect();
        a.send(now, ch, msg.clone(), true).unwrap();
        // Past slow start, but the second packet is lost: every packet
        // after it reports the gap (RFC 9260 §6.7), and each of those
        // SACKs is built at once.
        let delivered = batch_with_one_lost(&mut a, &mut b, now, 1);
        assert!(delivered >= 3, "{delivered}");
        assert_eq!(b.due_sctp.len(), delivered - 1);
        let sacks = core::iter::from_fn(|| b.poll_transmit()).count();
        assert_eq!(sacks, delivered - 1);
    }

    #[test]
    fn recycled_datagrams_carry_the_next_packets() {
        let (mut a, mut b, now, ch) = quiet_pair();
        a.send(now, ch, Bytes::from(vec![5u8; 3000]), true).unwrap();
        let first = a.poll_transmit().unwrap();
        let ptr = first.payload.as_ptr();
        b.handle_receive(now, first.source, first.destination, &first.payload);
        a.recycle(first.payload);
        // The next data packet is sealed into the buffer handed back.
        let second = a.poll_transmit().unwrap();
        assert_eq!(second.payload.as_ptr(), ptr);
        b.handle_receive(now, second.source, second.destination, &second.payload);
    }

    #[test]
    fn close_sends_the_sctp_abort_before_close_notify() {
        let (mut a, _b, now, _) = quiet_pair();
        a.close(now);
        // First byte of a DTLS record: 23 application data, 21 alert.
        let kinds: Vec<u8> = core::iter::from_fn(|| a.poll_transmit())
            .filter_map(|t| t.payload.first().copied())
            .collect();
        assert_eq!(kinds, [23, 21], "ABORT in a record, then close_notify");
    }

    #[test]
    fn close_seals_the_sacks_still_due_before_close_notify() {
        let (mut a, mut b, now, ch) = quiet_pair();
        a.send(now, ch, Bytes::from(vec![9u8; 20_000]), true)
            .unwrap();
        // A lost packet makes the SACKs after it due at once.
        batch_with_one_lost(&mut a, &mut b, now, 0);
        let due = b.due_sctp.len();
        assert!(due >= 2, "{due}");
        b.close(now);
        // First byte of a DTLS record: 23 application data, 21 alert.
        let kinds: Vec<u8> = core::iter::from_fn(|| b.poll_transmit())
            .filter_map(|t| t.payload.first().copied())
            .collect();
        let mut want = vec![23; due + 1];
        want.push(21);
        assert_eq!(kinds, want, "the due SACKs, the ABORT, then close_notify");
    }

    #[test]
    fn data_only_session_keys_srtp_only_on_demand() {
        let (mut a, mut b) = open_pair();
        assert!(a.srtp.is_none() && b.srtp.is_none(), "no media, no SRTP");
        assert!(a.snapshot.is_none() && b.snapshot.is_none());
        assert!(a.media.is_none() && b.media.is_none(), "no media engine");
        // The exporter still keys them when asked (RFC 5764 §4.2).
        let rtp = [
            0x80u8, 0x60, 0, 1, 0, 0, 0, 10, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3,
        ];
        let mut packet = rtp.to_vec();
        a.srtp_contexts()
            .unwrap()
            .local
            .protect_rtp(&mut packet)
            .unwrap();
        b.srtp_contexts()
            .unwrap()
            .remote
            .unprotect_rtp(&mut packet)
            .unwrap();
        assert_eq!(packet, rtp);
    }
}
