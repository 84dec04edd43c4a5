//! The sans-IO SCTP association (RFC 9260) as WebRTC runs it over DTLS
//! (RFC 8261): the caller feeds whole SCTP packets and time, and drains
//! packets, events and deadlines.

mod cookie;
mod pool;
mod recv;
mod send;
mod streammap;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::chunk::{chunk_type, Chunk, Init, Sack, UnknownChunkAction};
use crate::error::Error;
use crate::list::{List, TlvList};
use crate::packet::{Packet, PacketWriter, COMMON_HEADER_LEN};
use crate::param::{
    cause_code, reconfig_result, ErrorCause, Param, ReconfigParam, UnknownParamAction,
};

use cookie::{CookieFields, COOKIE_LEN};
use recv::{unwrap_near, DataOutcome, Receiver};
use send::Sender;

/// Control chunks held before the caller drains them.
const MAX_CONTROL_QUEUE: usize = 256;
/// How long after activity the buffers of an idle association are returned.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Error Detection Method Identifier for DTLS (RFC 9653 §7).
const EDMID_DTLS: u32 = 1;

/// Settings of an association.
#[derive(Debug, Clone)]
pub struct Config {
    /// Local SCTP port (`a=sctp-port`, 5000 by default).
    pub local_port: u16,
    /// Remote SCTP port.
    pub remote_port: u16,
    /// Largest SCTP packet to send. libwebrtc uses 1191: the IPv6 minimum
    /// MTU (1280) less IPv6 (40), UDP (8), a DTLS record with AES-GCM (37)
    /// and a TURN ChannelData header (4), so a packet crosses any path
    /// unfragmented, relayed or not. The default, 1184, is that bound
    /// rounded down to whole 16-byte blocks, so AES-GCM seals a full packet
    /// without a partial last block.
    pub mtu: usize,
    /// Largest message the peer accepts (its `a=max-message-size`).
    pub max_send_message_size: usize,
    /// Receive buffer, advertised as a_rwnd.
    pub receive_window: usize,
    /// Outbound and inbound streams to offer.
    pub num_streams: u16,
    /// RTO.Initial (RFC 9260 §16).
    pub rto_initial: Duration,
    /// RTO.Min; 200 ms by default (RFC 9260 §16 suggests 1 s, which is
    /// slow for interactive data channels; browsers use lower values too).
    pub rto_min: Duration,
    /// RTO.Max.
    pub rto_max: Duration,
    /// Max.Init.Retransmits.
    pub max_init_retransmits: u32,
    /// Association.Max.Retrans.
    pub max_association_retransmits: u32,
    /// Delay before a SACK for a single packet (RFC 9260 §6.2, at most 500 ms).
    pub delayed_ack: Duration,
    /// HB.interval; `None` disables heartbeats.
    pub heartbeat_interval: Option<Duration>,
    /// Offer Zero Checksum Acceptable (RFC 9653) with the DTLS method.
    pub zero_checksum: bool,
    /// Valid.Cookie.Life.
    pub cookie_lifetime: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_port: 5000,
            remote_port: 5000,
            mtu: 1184,
            max_send_message_size: 256 * 1024,
            receive_window: 1024 * 1024,
            num_streams: 65535,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            max_init_retransmits: 8,
            max_association_retransmits: 10,
            delayed_ack: Duration::from_millis(200),
            heartbeat_interval: Some(Duration::from_secs(30)),
            zero_checksum: true,
            cookie_lifetime: Duration::from_secs(60),
        }
    }
}

/// A user message as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stream identifier.
    pub stream: u16,
    /// Payload Protocol Identifier.
    pub ppid: u32,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// The message.
    pub data: Bytes,
}

/// Why an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The SHUTDOWN sequence completed.
    Shutdown,
    /// The peer sent ABORT, with its first error cause code if any.
    PeerAbort(Option<u16>),
    /// We aborted (see [`Association::abort`]).
    LocalAbort,
    /// Too many retransmissions of INIT, COOKIE-ECHO, DATA, HEARTBEAT or SHUTDOWN.
    Timeout,
}

/// What the application learns from the association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The association is established.
    Connected,
    /// A complete user message.
    Message(Message),
    /// The peer reset these outgoing streams of its own (RFC 6525); their
    /// incoming SSNs start again at zero. Empty means all.
    IncomingStreamsReset(Vec<u16>),
    /// Our outgoing reset request for these streams was performed.
    OutgoingStreamsReset(Vec<u16>),
    /// A stream's buffered amount fell to its low threshold.
    BufferedAmountLow(u16),
    /// The association is closed.
    Closed(CloseReason),
}

/// Per-message sending options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Deliver without ordering (U bit).
    pub unordered: bool,
    /// PR-SCTP: abandon after this many retransmissions (RFC 3758 §3.1).
    pub max_retransmits: Option<u16>,
    /// PR-SCTP: abandon after this lifetime.
    pub lifetime: Option<Duration>,
}

/// Association state (RFC 9260 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// No association yet (a passive side answers INITs statelessly here).
    Closed,
    /// INIT sent.
    CookieWait,
    /// COOKIE-ECHO sent.
    CookieEchoed,
    /// Established.
    Established,
    /// The user asked for shutdown; outstanding data still draining.
    ShutdownPending,
    /// SHUTDOWN sent.
    ShutdownSent,
    /// SHUTDOWN received; draining our outstanding data.
    ShutdownReceived,
    /// SHUTDOWN-ACK sent.
    ShutdownAckSent,
}

/// Counters and gauges of one association.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// User payload bytes accepted by `send`.
    pub bytes_sent: u64,
    /// User payload bytes delivered.
    pub bytes_received: u64,
    /// Messages fully handed to the wire.
    pub messages_sent: u64,
    /// Messages delivered.
    pub messages_received: u64,
    /// Packets produced.
    pub packets_sent: u64,
    /// Packets accepted.
    pub packets_received: u64,
    /// Packets dropped (checksum, tag, malformed).
    pub packets_dropped: u64,
    /// DATA chunks retransmitted.
    pub retransmissions: u64,
    /// Fast retransmit events.
    pub fast_retransmits: u64,
    /// T3-rtx expirations.
    pub t3_expirations: u64,
    /// Messages abandoned by PR-SCTP.
    pub abandoned_messages: u64,
    /// Duplicate DATA chunks received.
    pub duplicate_tsns: u64,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// Current RTO.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Slow-start threshold in bytes.
    pub ssthresh: usize,
    /// Peer's receive window as last known.
    pub peer_rwnd: usize,
    /// Bytes held in our receive buffer (reassembly and undelivered).
    pub receive_buffered: usize,
}

/// State cookie, feature bits and unrecognized parameters to report.
type ScannedParams<'a> = (Option<&'a [u8]>, u8, Vec<u8>);

#[derive(Debug)]
struct ControlChunk {
    bytes: Vec<u8>,
    /// Packet verification tag when it is not the peer's tag (INIT: 0,
    /// INIT-ACK: the INIT's Initiate Tag).
    vtag: Option<u32>,
}

#[derive(Debug)]
struct ReconfigRequest {
    seq: u32,
    streams: Vec<u16>,
    last_tsn: u32,
}

/// An SCTP association, sans-IO.
#[derive(Debug)]
pub struct Association {
    config: Config,
    state: State,
    epoch: Instant,
    /// Key of the heartbeat nonces (a ChaCha key replaced at every draw;
    /// 32 bytes instead of a 320-byte generator).
    nonce_key: [u8; 32],
    cookie_key: [u8; 32],
    my_vtag: u32,
    peer_vtag: u32,
    my_initial_tsn: u32,
    /// Peer features.
    peer_forward_tsn: bool,
    peer_reconfig: bool,
    peer_zero_checksum: bool,
    inbound_streams: u16,
    control: VecDeque<ControlChunk>,
    events: VecDeque<Event>,
    sender: Sender,
    receiver: Option<Receiver>,
    // SACK scheduling.
    sack_now: bool,
    last_a_rwnd_sent: u32,
    sack_at: Option<Instant>,
    data_packets_unacked: u32,
    /// In-order DATA packets still to acknowledge every second one before
    /// a due SACK may wait to be superseded (see
    /// [`Association::due_sack_cannot_wait`]).
    ramp_packets_left: usize,
    /// When the last DATA packet arrived.
    last_data_at: Option<Instant>,
    gap_scratch: Vec<crate::param::GapAckBlock>,
    dup_scratch: Vec<u32>,
    /// Buffer for the next [`Association::poll_transmit`] packet, kept when
    /// there was nothing to send so that an empty poll allocates nothing.
    tx_spare: Vec<u8>,
    // T1-init / T1-cookie.
    t1: Option<Instant>,
    t1_count: u32,
    cookie_echo: Option<Vec<u8>>,
    // T2-shutdown.
    t2: Option<Instant>,
    t2_count: u32,
    // Heartbeat.
    hb_next: Option<Instant>,
    hb_outstanding: Option<(u64, Instant)>,
    error_count: u32,
    // Stream reset (RFC 6525).
    my_next_req_seq: u32,
    peer_next_req_seq: u32,
    peer_last_result: u32,
    reset_queue: Vec<u16>,
    reconfig_outstanding: Option<ReconfigRequest>,
    reconfig_timer: Option<Instant>,
    /// When buffers kept for reuse are handed back if the association is
    /// idle by then (see [`Association::release_idle_buffers`]).
    housekeeping_at: Option<Instant>,
    stats: Stats,
}

/// In-order DATA packets over which a peer in slow start, growing cwnd by
/// one MTU per SACK for every second packet, reaches our receive window:
/// twice the window, in packets of our MTU.
fn ramp_packets(config: &Config) -> usize {
    2 * config.receive_window / config.mtu.max(1)
}

impl Association {
    /// Creates an association in the Closed state. Tags, initial TSN and the
    /// cookie key are drawn from `rng`.
    pub fn new(mut config: Config, rng: &mut dyn RngCore, now: Instant) -> Self {
        // Keep local settings in a range the arithmetic below relies on.
        config.mtu = config.mtu.clamp(MIN_PACKET, 65_535);
        config.num_streams = config.num_streams.max(1);
        config.receive_window = config.receive_window.clamp(1500, u32::MAX as usize);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut rng = StdRng::from_seed(seed);
        let mut cookie_key = [0u8; 32];
        rng.fill_bytes(&mut cookie_key);
        let my_vtag = loop {
            let t = rng.next_u32();
            if t != 0 {
                break t;
            }
        };
        let my_initial_tsn = rng.next_u32();
        let mut nonce_key = [0u8; 32];
        rng.fill_bytes(&mut nonce_key);
        let sender = Sender::new(&config, my_initial_tsn);
        let rto = config.rto_initial;
        Association {
            state: State::Closed,
            epoch: now,
            nonce_key,
            cookie_key,
            my_vtag,
            peer_vtag: 0,
            my_initial_tsn,
            peer_forward_tsn: false,
            peer_reconfig: false,
            peer_zero_checksum: false,
            inbound_streams: 0,
            control: VecDeque::new(),
            events: VecDeque::new(),
            sender,
            receiver: None,
            sack_now: false,
            last_a_rwnd_sent: u32::MAX,
            sack_at: None,
            data_packets_unacked: 0,
            ramp_packets_left: ramp_packets(&config),
            last_data_at: None,
            gap_scratch: Vec::new(),
            dup_scratch: Vec::new(),
            tx_spare: Vec::new(),
            t1: None,
            t1_count: 0,
            cookie_echo: None,
            t2: None,
            t2_count: 0,
            hb_next: None,
            hb_outstanding: None,
            error_count: 0,
            my_next_req_seq: my_initial_tsn,
            peer_next_req_seq: 0,
            peer_last_result: reconfig_result::SUCCESS_NOTHING_TO_DO,
            reset_queue: Vec::new(),
            housekeeping_at: None,
            reconfig_outstanding: None,
            reconfig_timer: None,
            stats: Stats {
                rto,
                ..Stats::default()
            },
            config,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether DATA can flow (Established or draining for shutdown).
    pub fn is_established(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::ShutdownPending
                | State::ShutdownSent
                | State::ShutdownReceived
        )
    }

    /// Whether a SACK is due now (RFC 9260 §6.2: for at least every second
    /// DATA packet, at once on gaps or duplicates). It goes out with the
    /// next [`Association::poll_transmit`].
    pub fn sack_due(&self) -> bool {
        self.sack_now
    }

    /// Whether the due SACK is one the peer counts on, so that an owner
    /// reading several datagrams before polling should build it at once
    /// rather than let a later SACK stand for it:
    /// - it reports gaps or duplicate TSNs, which the peer counts towards
    ///   fast retransmit (RFC 9260 §7.2.4); or
    /// - the peer may still be in slow start, where it grows cwnd by at
    ///   most one MTU per SACK (§7.2.1). That is assumed until twice the
    ///   receive window has arrived in order, a SACK every second packet,
    ///   since the association began, since the last gap or duplicate, or
    ///   since data last paused for RTO.Min (after which the peer may
    ///   have shrunk cwnd). By then the peer's cwnd has reached our window,
    ///   which bounds what it may send.
    ///
    /// Any other due SACK can wait for the poll: the last one due by then
    /// acknowledges everything the others would have, and all of them
    /// would have left together.
    pub fn due_sack_cannot_wait(&self) -> bool {
        self.sack_now
            && (self.ramp_packets_left > 0
                || self
                    .receiver
                    .as_ref()
                    .is_some_and(|r| r.has_gaps() || r.has_dups()))
    }

    /// Whether messages are queued that are not all sent yet, or chunks
    /// wait for retransmission (whatever the congestion window allows now).
    pub fn has_queued_data(&self) -> bool {
        self.sender.has_queued_data()
    }

    /// Statistics.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        self.sender.fill_stats(&mut s);
        s.receive_buffered = self.receiver.as_ref().map_or(0, |r| r.buffered);
        s
    }

    /// Negotiated outbound streams (0 before establishment).
    pub fn outbound_streams(&self) -> u16 {
        self.sender.outbound_streams
    }

    /// Negotiated inbound streams (0 before establishment).
    pub fn inbound_streams(&self) -> u16 {
        self.inbound_streams
    }

    /// Starts the association actively by sending INIT (RFC 9260 §5.1). In
    /// WebRTC both ends do this; the INIT collision is resolved by §5.2.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != State::Closed {
            return Err(Error::InvalidState);
        }
        self.queue_init();
        self.state = State::CookieWait;
        self.t1 = Some(now + self.config.rto_initial);
        self.t1_count = 0;
        Ok(())
    }

    fn queue_init(&mut self) {
        let exts = [chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG];
        let mut params = vec![
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&exts),
        ];
        if self.config.zero_checksum {
            params.push(Param::ZeroChecksumAcceptable(EDMID_DTLS));
        }
        let mut bytes = Vec::with_capacity(64);
        Chunk::Init(Init {
            initiate_tag: self.my_vtag,
            a_rwnd: self.config.receive_window as u32,
            num_outbound_streams: self.config.num_streams,
            num_inbound_streams: self.config.num_streams,
            initial_tsn: self.my_initial_tsn,
            params: TlvList::Items(&params),
        })
        .emit(&mut bytes);
        self.control.push_back(ControlChunk {
            bytes,
            vtag: Some(0),
        });
    }

    /// Queues a message on a stream. Empty messages are not representable in
    /// SCTP (RFC 9260 §3.3.1); data channels send a one-byte placeholder.
    pub fn send(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        options: SendOptions,
    ) -> Result<(), Error> {
        if !matches!(
            self.state,
            State::Closed | State::CookieWait | State::CookieEchoed | State::Established
        ) {
            return Err(Error::InvalidState);
        }
        if data.is_empty() {
            return Err(Error::EmptyMessage);
        }
        if data.len() > self.config.max_send_message_size {
            return Err(Error::MessageTooLarge {
                size: data.len(),
                max: self.config.max_send_message_size,
            });
        }
        if self.is_established() && stream >= self.sender.outbound_streams {
            return Err(Error::InvalidStream(stream));
        }
        self.stats.bytes_sent += data.len() as u64;
        self.sender.enqueue(now, stream, ppid, data, options)
    }

    /// Bytes queued on a stream and not yet sent.
    pub fn buffered_amount(&self, stream: u16) -> usize {
        self.sender.buffered_amount(stream)
    }

    /// Sets the threshold under which [`Event::BufferedAmountLow`] fires.
    pub fn set_buffered_amount_low_threshold(&mut self, stream: u16, threshold: usize) {
        self.sender.set_low_threshold(stream, threshold);
    }

    /// Requests a reset of our outgoing streams (RFC 6525 §5.1.2), sent once
    /// the data queued on them is out. [`Event::OutgoingStreamsReset`] follows.
    pub fn reset_streams(&mut self, streams: &[u16]) -> Result<(), Error> {
        if !self.is_established() {
            return Err(Error::InvalidState);
        }
        if !self.peer_reconfig {
            return Err(Error::ProtocolViolation("peer does not support RE-CONFIG"));
        }
        for &s in streams {
            if self.sender.mark_resetting(s) {
                self.reset_queue.push(s);
            }
        }
        Ok(())
    }

    /// Starts a graceful SHUTDOWN (RFC 9260 §9.2) after outstanding data.
    pub fn shutdown(&mut self, now: Instant) -> Result<(), Error> {
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.maybe_progress_shutdown(now);
                Ok(())
            }
            State::Closed | State::CookieWait | State::CookieEchoed => {
                self.close(CloseReason::LocalAbort);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Sends ABORT with a User-Initiated Abort cause and closes at once.
    pub fn abort(&mut self) {
        if self.state == State::Closed && self.peer_vtag == 0 {
            return;
        }
        let causes = [ErrorCause {
            code: cause_code::USER_INITIATED_ABORT,
            info: &[],
        }];
        self.queue_chunk(&Chunk::Abort {
            t: false,
            causes: TlvList::Items(&causes),
        });
        self.close(CloseReason::LocalAbort);
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.t1 = None;
        self.t2 = None;
        self.hb_next = None;
        self.hb_outstanding = None;
        self.sack_at = None;
        self.sack_now = false;
        self.reconfig_timer = None;
        self.sender.clear();
        self.events.push_back(Event::Closed(reason));
    }

    fn queue_chunk(&mut self, chunk: &Chunk<'_>) {
        // Bound what a flood of requests (HEARTBEAT, bad streams, ...) can
        // queue before the caller drains poll_transmit.
        if self.control.len() >= MAX_CONTROL_QUEUE {
            return;
        }
        let mut bytes = Vec::with_capacity(chunk.encoded_len());
        chunk.emit(&mut bytes);
        self.control.push_back(ControlChunk { bytes, vtag: None });
    }

    /// Tells the association how many bytes of delivered messages the
    /// application has not consumed yet. They count against the advertised
    /// receive window, as buffer space the data still occupies (RFC 9260
    /// §6.2), so a peer whose messages go unread is flow-controlled: its
    /// DATA beyond the window is dropped and retransmitted later, while its
    /// SACKs and other control chunks keep being processed. When reading
    /// reopens a nearly closed window, a SACK announces it.
    pub fn set_unread_bytes(&mut self, bytes: usize) {
        if let Some(r) = self.receiver.as_mut() {
            r.unread = bytes;
        }
        self.announce_reopened_window();
    }

    /// RFC 9260 §6.2: tell the peer when a nearly closed window has opened
    /// again, rather than leaving it to probe.
    fn announce_reopened_window(&mut self) {
        let Some(r) = self.receiver.as_ref() else {
            return;
        };
        let window = self.config.receive_window as u32;
        if self.last_a_rwnd_sent < window / 4 && r.a_rwnd() >= window / 2 {
            self.sack_now = true;
            self.last_a_rwnd_sent = r.a_rwnd();
        }
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front()?;
        if let Event::Message(m) = &ev {
            if let Some(r) = self.receiver.as_mut() {
                r.released(m.data.len());
            }
            self.announce_reopened_window();
            self.stats.bytes_received += m.data.len() as u64;
            self.stats.messages_received += 1;
        }
        Some(ev)
    }

    /// The earliest deadline at which [`Association::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.t1,
            self.t2,
            self.sack_at,
            self.hb_next,
            self.hb_outstanding.map(|(_, at)| at),
            self.reconfig_timer,
            self.sender.t3,
            self.housekeeping_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.t1.is_some_and(|t| t <= now) {
            self.t1_count += 1;
            if self.t1_count > self.config.max_init_retransmits {
                self.close(CloseReason::Timeout);
                return;
            }
            let backoff = self
                .config
                .rto_initial
                .saturating_mul(1 << self.t1_count.min(16));
            self.t1 = Some(now + backoff.min(self.config.rto_max));
            match self.state {
                State::CookieWait => self.queue_init(),
                State::CookieEchoed => {
                    if let Some(c) = self.cookie_echo.clone() {
                        self.queue_chunk(&Chunk::CookieEcho { cookie: &c });
                    }
                }
                _ => self.t1 = None,
            }
        }
        if self.t2.is_some_and(|t| t <= now) {
            self.t2_count += 1;
            if self.t2_count > self.config.max_association_retransmits {
                self.close(CloseReason::Timeout);
                return;
            }
            self.t2 = Some(now + self.sender.rto);
            self.sender.backoff_rto();
            match self.state {
                State::ShutdownSent => self.queue_shutdown(),
                State::ShutdownAckSent => self.queue_chunk(&Chunk::ShutdownAck),
                _ => self.t2 = None,
            }
        }
        if self.sack_at.is_some_and(|t| t <= now) {
            self.sack_at = None;
            self.sack_now = true;
        }
        if self.hb_outstanding.is_some_and(|(_, at)| at <= now) {
            self.hb_outstanding = None;
            self.error_count += 1;
            self.sender.backoff_rto();
            if self.error_count > self.config.max_association_retransmits {
                self.close(CloseReason::Timeout);
                return;
            }
        }
        if self.hb_next.is_some_and(|t| t <= now) && self.is_established() {
            self.send_heartbeat(now);
        }
        if self.reconfig_timer.is_some_and(|t| t <= now) {
            self.reconfig_timer = None;
            if let Some(req) = &self.reconfig_outstanding {
                let (seq, last_tsn, streams) = (req.seq, req.last_tsn, req.streams.clone());
                self.queue_reconfig_request(seq, last_tsn, &streams);
                self.reconfig_timer = Some(now + self.sender.rto);
            }
        }
        if self.sender.t3.is_some_and(|t| t <= now) {
            self.stats.t3_expirations += 1;
            self.error_count += 1;
            if self.error_count > self.config.max_association_retransmits {
                self.close(CloseReason::Timeout);
                return;
            }
            self.sender.on_t3_expired(now, &mut self.stats);
        }
        if self.housekeeping_at.is_some_and(|t| t <= now) {
            // Not while data still arrives: the buffers of its messages
            // would only be allocated again.
            let receiving = self
                .last_data_at
                .is_some_and(|t| now.saturating_duration_since(t) < HOUSEKEEPING_INTERVAL);
            self.housekeeping_at = if receiving {
                Some(now + HOUSEKEEPING_INTERVAL)
            } else {
                self.release_idle_buffers();
                None
            };
        }
    }

    /// Arms the housekeeping timer when the association just went idle
    /// (nothing queued or in flight): a second later, if still idle, it
    /// returns the buffers it kept for reuse. An idle connection keeps no
    /// packet buffers; a busy one reallocates nothing per packet.
    fn schedule_housekeeping(&mut self, now: Instant) {
        if self.housekeeping_at.is_none()
            && self.is_established()
            && self.sender.all_done()
            && self.control.is_empty()
            && (self.tx_spare.capacity() != 0
                || self.sender.holds_buffers()
                || self.receiver.as_ref().is_some_and(Receiver::holds_buffers))
        {
            self.housekeeping_at = Some(now + HOUSEKEEPING_INTERVAL);
        }
    }

    /// Returns buffers kept for reuse (the spare packet buffer, emptied
    /// queues, scratch lists) to the allocator if no data is queued or in
    /// flight; true if the association was idle. Runs by itself about a
    /// second after activity.
    pub fn release_idle_buffers(&mut self) -> bool {
        if !self.sender.all_done() {
            return false;
        }
        self.sender.release_idle_buffers();
        if self.control.is_empty() {
            self.control = VecDeque::new();
            self.tx_spare = Vec::new();
        }
        self.gap_scratch = Vec::new();
        self.dup_scratch = Vec::new();
        if let Some(r) = self.receiver.as_mut() {
            r.release_idle_buffers();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        if self.reset_queue.is_empty() {
            self.reset_queue = Vec::new();
        }
        true
    }

    /// A random heartbeat nonce (RFC 9260 §8.3); the key moves on with
    /// every draw.
    fn next_nonce(&mut self) -> u64 {
        let mut stream = StdRng::from_seed(self.nonce_key);
        let nonce = stream.next_u64();
        stream.fill_bytes(&mut self.nonce_key);
        nonce
    }

    fn send_heartbeat(&mut self, now: Instant) {
        let nonce = self.next_nonce();
        let mut info = [0u8; 16];
        info[..8].copy_from_slice(&nonce.to_be_bytes());
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        info[8..].copy_from_slice(&ms.to_be_bytes());
        self.queue_chunk(&Chunk::Heartbeat { info: &info });
        self.hb_outstanding = Some((nonce, now + self.sender.rto));
        self.hb_next = self
            .config
            .heartbeat_interval
            .map(|i| now + i + self.sender.rto);
    }

    fn queue_shutdown(&mut self) {
        let cum = self
            .receiver
            .as_ref()
            .map(Receiver::cum_tsn)
            .unwrap_or_default();
        self.queue_chunk(&Chunk::Shutdown {
            cumulative_tsn_ack: cum,
        });
    }

    fn maybe_progress_shutdown(&mut self, now: Instant) {
        if !self.sender.all_done() {
            return;
        }
        match self.state {
            State::ShutdownPending => {
                self.queue_shutdown();
                self.state = State::ShutdownSent;
                self.t2 = Some(now + self.sender.rto);
                self.t2_count = 0;
            }
            State::ShutdownReceived => {
                self.queue_chunk(&Chunk::ShutdownAck);
                self.state = State::ShutdownAckSent;
                self.t2 = Some(now + self.sender.rto);
                self.t2_count = 0;
            }
            _ => {}
        }
    }

    fn use_zero_checksum(&self) -> bool {
        self.peer_zero_checksum && self.is_established()
    }

    /// True while packets are sent without CRC32c (RFC 9653): both sides
    /// offered the zero checksum with DTLS as the alternate error detection
    /// method, and the association is established.
    pub fn zero_checksum_in_use(&self) -> bool {
        self.use_zero_checksum()
    }

    /// Writes the next packet to send into `out` (cleared first); returns
    /// false when there is nothing to send.
    pub fn poll_transmit_into(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        out.clear();
        self.poll_transmit_append(now, out)
    }

    /// Like [`Self::poll_transmit_into`], appending the packet after what
    /// `out` holds (room for a lower layer's header).
    pub fn poll_transmit_append(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        // Chunks with their own verification tag go alone (INIT, INIT-ACK).
        if let Some(ControlChunk {
            vtag: Some(tag), ..
        }) = self.control.front()
        {
            let tag = *tag;
            let Some(c) = self.control.pop_front() else {
                return false;
            };
            let mut w =
                PacketWriter::new(out, self.config.local_port, self.config.remote_port, tag);
            w.buffer().extend_from_slice(&c.bytes);
            w.finish(false);
            self.stats.packets_sent += 1;
            return true;
        }
        let zero = self.use_zero_checksum();
        let mtu = self.config.mtu;
        let mut w = PacketWriter::new(
            out,
            self.config.local_port,
            self.config.remote_port,
            self.peer_vtag,
        );
        while let Some(c) = self.control.front() {
            if c.vtag.is_some() || (!w.is_empty() && w.len() + c.bytes.len() > mtu) {
                break;
            }
            if let Some(c) = self.control.pop_front() {
                w.buffer().extend_from_slice(&c.bytes);
            }
        }
        if self.is_established() || self.state == State::ShutdownAckSent {
            // Piggyback a pending delayed SACK on outgoing data.
            if self.sack_at.is_some() && self.sender.has_data_to_send() {
                self.sack_now = true;
            }
            if self.sack_now && w.len() + 16 + 4 * recv::MAX_GAP_BLOCKS + 64 <= mtu.max(400) {
                self.write_sack(&mut w);
            }
            if self.peer_forward_tsn && self.sender.forward_tsn_pending() {
                self.sender.write_forward_tsn(&mut w, mtu);
            }
            self.maybe_send_reconfig(now);
            while let Some(c) = self.control.front() {
                if c.vtag.is_some() || w.len() + c.bytes.len() > mtu {
                    break;
                }
                if let Some(c) = self.control.pop_front() {
                    w.buffer().extend_from_slice(&c.bytes);
                }
            }
            if matches!(
                self.state,
                State::Established | State::ShutdownPending | State::ShutdownReceived
            ) {
                self.sender
                    .write_data(now, &mut w, mtu, &mut self.events, &mut self.stats);
            }
        }
        if w.is_empty() {
            out.truncate(start);
            return false;
        }
        w.finish(zero);
        self.stats.packets_sent += 1;
        true
    }

    /// The next packet to send, if any (allocates; see
    /// [`Association::poll_transmit_into`] for the buffer-reusing form).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = core::mem::take(&mut self.tx_spare);
        out.reserve(self.config.mtu);
        if self.poll_transmit_into(now, &mut out) {
            Some(out)
        } else {
            self.tx_spare = out;
            None
        }
    }

    fn write_sack(&mut self, w: &mut PacketWriter<'_>) {
        let Some(r) = self.receiver.as_mut() else {
            return;
        };
        r.gap_blocks(&mut self.gap_scratch);
        r.take_dups(&mut self.dup_scratch);
        Chunk::Sack(crate::chunk::Sack {
            cumulative_tsn_ack: r.cum_tsn(),
            a_rwnd: {
                self.last_a_rwnd_sent = r.a_rwnd();
                self.last_a_rwnd_sent
            },
            gap_blocks: List::Items(&self.gap_scratch),
            duplicate_tsns: List::Items(&self.dup_scratch),
        })
        .emit(w.buffer());
        self.sack_now = false;
        self.sack_at = None;
        self.data_packets_unacked = 0;
    }

    fn maybe_send_reconfig(&mut self, now: Instant) {
        if self.reconfig_outstanding.is_some() || self.reset_queue.is_empty() {
            return;
        }
        // RFC 6525 §5.1.2: wait until data queued on the streams has been sent.
        if self
            .reset_queue
            .iter()
            .any(|&s| self.sender.buffered_amount(s) > 0)
        {
            return;
        }
        let streams = std::mem::take(&mut self.reset_queue);
        let seq = self.my_next_req_seq;
        self.my_next_req_seq = self.my_next_req_seq.wrapping_add(1);
        let last_tsn = self.sender.last_assigned_tsn();
        self.queue_reconfig_request(seq, last_tsn, &streams);
        self.reconfig_outstanding = Some(ReconfigRequest {
            seq,
            streams,
            last_tsn,
        });
        self.reconfig_timer = Some(now + self.sender.rto);
    }

    fn queue_reconfig_request(&mut self, seq: u32, last_tsn: u32, streams: &[u16]) {
        let params = [ReconfigParam::OutgoingSsnResetRequest {
            request_seq: seq,
            response_seq: self.peer_next_req_seq.wrapping_sub(1),
            last_tsn,
            streams: List::Items(streams),
        }];
        self.queue_chunk(&Chunk::ReConfig {
            params: TlvList::Items(&params),
        });
    }

    /// Feeds one SCTP packet (the payload of one DTLS record). Messages that
    /// arrive whole share its buffer; fragments are copied together.
    pub fn handle_receive(&mut self, now: Instant, packet: Bytes) {
        self.receive(now, &packet, Some(&packet));
    }

    /// Feeds one SCTP packet from a borrowed buffer, which the caller may
    /// reuse at once: what is kept is copied out of it.
    pub fn handle_receive_slice(&mut self, now: Instant, packet: &[u8]) {
        self.receive(now, packet, None);
    }

    fn receive(&mut self, now: Instant, packet: &[u8], shared: Option<&Bytes>) {
        if self.process_packet(now, packet, shared).is_err() {
            self.stats.packets_dropped += 1;
        } else {
            self.stats.packets_received += 1;
        }
        self.schedule_housekeeping(now);
    }

    /// The verification tag rules for a packet whose first chunk is
    /// `first` (RFC 9260 §8.5, §8.5.1); `chunk_bytes` is the length of all
    /// its chunks.
    fn check_first_chunk(
        &self,
        vtag: u32,
        first: &Chunk<'_>,
        chunk_bytes: usize,
    ) -> Result<(), Error> {
        match first {
            Chunk::Init(_) => {
                if vtag != 0 || chunk_bytes > first.encoded_len() {
                    return Err(Error::InvalidField("INIT with tag or bundled"));
                }
            }
            Chunk::Abort { t: true, .. } | Chunk::ShutdownComplete { t: true } => {
                if vtag != self.peer_vtag || self.peer_vtag == 0 {
                    return Err(Error::InvalidField("verification tag"));
                }
            }
            Chunk::ShutdownAck
                if self.state == State::CookieWait || self.state == State::CookieEchoed =>
            {
                // §8.4 (5): answer as out of the blue.
                return Err(Error::InvalidField("SHUTDOWN-ACK out of the blue"));
            }
            _ => {
                if vtag != self.my_vtag {
                    return Err(Error::InvalidField("verification tag"));
                }
            }
        }
        Ok(())
    }

    fn process_packet(
        &mut self,
        now: Instant,
        packet: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<(), Error> {
        let pkt = Packet::parse(packet)?;
        if pkt.destination_port() != self.config.local_port
            || pkt.source_port() != self.config.remote_port
        {
            return Err(Error::InvalidField("ports"));
        }
        let accept_zero = self.config.zero_checksum && self.state != State::Closed;
        pkt.verify_checksum(accept_zero)?;
        let vtag = pkt.verification_tag();
        let mut chunks = pkt.chunks();
        let mut had_data = false;
        let mut immediate = false;
        let mut first = None;
        if let Some(&(chunk_type::DATA | chunk_type::SACK)) = chunks.remaining().first() {
            // The data path: leading DATA and SACK chunks decoded where they
            // are used (neither can close the association, which ends the
            // loop below).
            if vtag != self.my_vtag {
                return Err(Error::InvalidField("verification tag"));
            }
            loop {
                if let Some(d) = chunks.next_data() {
                    had_data = true;
                    immediate |= d.immediate();
                    self.on_data(&d, shared);
                } else if let Some(s) = chunks.next_sack() {
                    self.on_sack(now, &s);
                } else {
                    break;
                }
            }
        } else {
            let chunk = chunks.next().ok_or(Error::InvalidField("no chunks"))??;
            self.check_first_chunk(vtag, &chunk, pkt.chunk_bytes().len())?;
            first = Some(chunk);
        }
        // The first chunk, parsed once for the checks above, then the rest.
        loop {
            let chunk = match first.take() {
                Some(c) => c,
                None => match chunks.next() {
                    Some(c) => c?,
                    None => break,
                },
            };
            match chunk {
                Chunk::Data(d) => {
                    had_data = true;
                    immediate |= d.immediate();
                    self.on_data(&d, shared);
                }
                Chunk::Init(init) => self.on_init(now, &init),
                Chunk::InitAck(init) => self.on_init_ack(now, &init),
                Chunk::CookieEcho { cookie } => self.on_cookie_echo(now, cookie),
                Chunk::CookieAck => {
                    if self.state == State::CookieEchoed {
                        self.establish_done(now);
                    }
                }
                Chunk::Sack(s) => self.on_sack(now, &s),
                Chunk::Heartbeat { info } => {
                    if self.state != State::Closed {
                        self.queue_chunk(&Chunk::HeartbeatAck { info });
                    }
                }
                Chunk::HeartbeatAck { info } => self.on_heartbeat_ack(now, info),
                Chunk::Abort { causes, .. } => {
                    if self.state != State::Closed {
                        let code = causes.iter().next().and_then(Result::ok).map(|c| c.code);
                        self.close(CloseReason::PeerAbort(code));
                        self.control.clear();
                    }
                    return Ok(());
                }
                Chunk::Shutdown { cumulative_tsn_ack } => self.on_shutdown(now, cumulative_tsn_ack),
                Chunk::ShutdownAck => {
                    if matches!(self.state, State::ShutdownSent | State::ShutdownAckSent) {
                        self.queue_chunk(&Chunk::ShutdownComplete { t: false });
                        self.close(CloseReason::Shutdown);
                    }
                }
                Chunk::ShutdownComplete { .. } => {
                    if self.state == State::ShutdownAckSent {
                        self.close(CloseReason::Shutdown);
                    }
                }
                Chunk::Error { .. } => {}
                Chunk::ForwardTsn(f) => {
                    if self.is_established() {
                        if let Some(r) = self.receiver.as_mut() {
                            r.on_forward_tsn(
                                f.new_cumulative_tsn,
                                f.streams.iter(),
                                &mut self.events,
                            );
                        }
                        self.sack_now = true;
                    }
                }
                Chunk::ReConfig { params } => self.on_reconfig(now, &params)?,
                Chunk::Unknown(u) => {
                    let action = u.action();
                    if matches!(
                        action,
                        UnknownChunkAction::StopAndReport | UnknownChunkAction::SkipAndReport
                    ) && self.is_established()
                    {
                        let causes = [ErrorCause {
                            code: cause_code::UNRECOGNIZED_CHUNK_TYPE,
                            info: &u.raw[..u.raw.len().min(256)],
                        }];
                        self.queue_chunk(&Chunk::Error {
                            causes: TlvList::Items(&causes),
                        });
                    }
                    if matches!(
                        action,
                        UnknownChunkAction::Stop | UnknownChunkAction::StopAndReport
                    ) {
                        break;
                    }
                }
            }
            if self.state == State::Closed && self.receiver.is_some() {
                break;
            }
        }
        if had_data {
            self.data_packets_unacked += 1;
            let r = self.receiver.as_ref();
            let out_of_order = r.is_some_and(|r| r.has_gaps() || r.has_dups());
            let paused = self
                .last_data_at
                .is_some_and(|t| now.saturating_duration_since(t) >= self.config.rto_min);
            self.last_data_at = Some(now);
            self.ramp_packets_left = if out_of_order || paused {
                ramp_packets(&self.config)
            } else {
                self.ramp_packets_left.saturating_sub(1)
            };
            if immediate
                || out_of_order
                || self.data_packets_unacked >= 2
                || !matches!(self.state, State::Established | State::ShutdownPending)
            {
                self.sack_now = true;
            } else if self.sack_at.is_none() {
                self.sack_at = Some(now + self.config.delayed_ack);
            }
        }
        Ok(())
    }

    fn on_sack(&mut self, now: Instant, s: &Sack<'_>) {
        if self.is_established() || self.state == State::ShutdownAckSent {
            let advanced = self.sender.on_sack(now, s, &mut self.stats);
            if advanced {
                self.error_count = 0;
            }
            self.maybe_progress_shutdown(now);
        }
    }

    fn on_data(&mut self, d: &crate::chunk::Data<'_>, packet: Option<&Bytes>) {
        if !self.is_established() {
            return;
        }
        if d.stream >= self.inbound_streams {
            // RFC 9260 §6.5: acknowledge the TSN, drop the data, and report
            // an Invalid Stream Identifier (only for in-window TSNs).
            if self
                .receiver
                .as_mut()
                .is_some_and(|r| r.mark_received(d.tsn))
            {
                let mut info = [0u8; 4];
                info[..2].copy_from_slice(&d.stream.to_be_bytes());
                let causes = [ErrorCause {
                    code: cause_code::INVALID_STREAM_IDENTIFIER,
                    info: &info,
                }];
                self.queue_chunk(&Chunk::Error {
                    causes: TlvList::Items(&causes),
                });
            }
            return;
        }
        let Some(r) = self.receiver.as_mut() else {
            return;
        };
        if r.on_data(d, packet, &mut self.events) == DataOutcome::Duplicate {
            self.stats.duplicate_tsns += 1;
        }
    }

    /// Scans INIT/INIT-ACK parameters; returns (state cookie, features,
    /// unrecognized parameters to report) or None when malformed.
    fn scan_params<'a>(params: &TlvList<'a, Param<'a>>) -> Option<ScannedParams<'a>> {
        let mut cookie = None;
        let mut features = 0u8;
        let mut report = Vec::new();
        for p in params.iter() {
            match p.ok()? {
                Param::StateCookie(c) => cookie = Some(c),
                Param::ForwardTsnSupported => features |= 1,
                Param::SupportedExtensions(exts) => {
                    if exts.contains(&chunk_type::FORWARD_TSN) {
                        features |= 1;
                    }
                    if exts.contains(&chunk_type::RE_CONFIG) {
                        features |= 2;
                    }
                }
                Param::ZeroChecksumAcceptable(EDMID_DTLS) => features |= 4,
                Param::Unknown { kind, value } => {
                    let action = UnknownParamAction::of(kind);
                    if matches!(
                        action,
                        UnknownParamAction::StopAndReport | UnknownParamAction::SkipAndReport
                    ) && report.len() < 512
                    {
                        let inner = Param::Unknown {
                            kind,
                            value: &value[..value.len().min(128)],
                        };
                        let mut tlv = Vec::new();
                        crate::list::write_tlv(&inner, &mut tlv);
                        report.extend_from_slice(&tlv);
                    }
                    if matches!(
                        action,
                        UnknownParamAction::Stop | UnknownParamAction::StopAndReport
                    ) {
                        break;
                    }
                }
                _ => {}
            }
        }
        Some((cookie, features, report))
    }

    fn on_init(&mut self, now: Instant, init: &Init<'_>) {
        if init.initiate_tag == 0 || init.num_outbound_streams == 0 || init.num_inbound_streams == 0
        {
            return;
        }
        let Some((_, features, report)) = Self::scan_params(&init.params) else {
            return;
        };
        if matches!(self.state, State::ShutdownAckSent) {
            return;
        }
        let ms = self.ms_since_epoch(now);
        let cookie = CookieFields {
            my_vtag: self.my_vtag,
            peer_vtag: init.initiate_tag,
            my_initial_tsn: self.my_initial_tsn,
            peer_initial_tsn: init.initial_tsn,
            peer_a_rwnd: init.a_rwnd,
            peer_outbound_streams: init.num_outbound_streams,
            peer_inbound_streams: init.num_inbound_streams,
            peer_features: features,
            created_ms: ms,
        }
        .sign(&self.cookie_key);
        let exts = [chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG];
        let mut params = vec![
            Param::StateCookie(&cookie),
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&exts),
        ];
        if self.config.zero_checksum {
            params.push(Param::ZeroChecksumAcceptable(EDMID_DTLS));
        }
        // Unrecognized parameters are reported inside one Unrecognized
        // Parameter each (RFC 9260 §3.3.3).
        let mut rest = &report[..];
        while let Ok((_, _, used)) = crate::list::parse_tlv(rest) {
            params.push(Param::UnrecognizedParameter(&rest[..used]));
            rest = &rest[used..];
        }
        let mut bytes = Vec::with_capacity(128);
        Chunk::InitAck(Init {
            initiate_tag: self.my_vtag,
            a_rwnd: self.config.receive_window as u32,
            num_outbound_streams: self.config.num_streams,
            num_inbound_streams: self.config.num_streams,
            initial_tsn: self.my_initial_tsn,
            params: TlvList::Items(&params),
        })
        .emit(&mut bytes);
        self.control.push_back(ControlChunk {
            bytes,
            vtag: Some(init.initiate_tag),
        });
    }

    fn on_init_ack(&mut self, now: Instant, init: &Init<'_>) {
        if self.state != State::CookieWait || init.initiate_tag == 0 {
            return;
        }
        let Some((Some(cookie), features, report)) = Self::scan_params(&init.params) else {
            return;
        };
        if cookie.len() > 4096 {
            return;
        }
        self.set_peer(
            init.initiate_tag,
            init.initial_tsn,
            init.a_rwnd,
            init.num_outbound_streams,
            init.num_inbound_streams,
            features,
        );
        self.cookie_echo = Some(cookie.to_vec());
        self.queue_chunk(&Chunk::CookieEcho { cookie });
        if !report.is_empty() {
            // RFC 9260 §5.1: unrecognized INIT-ACK parameters go in an ERROR
            // bundled with the COOKIE-ECHO.
            let mut causes = Vec::new();
            let mut rest = &report[..];
            while let Ok((_, _, used)) = crate::list::parse_tlv(rest) {
                causes.push(ErrorCause {
                    code: cause_code::UNRECOGNIZED_PARAMETERS,
                    info: &rest[..used],
                });
                rest = &rest[used..];
            }
            self.queue_chunk(&Chunk::Error {
                causes: TlvList::Items(&causes),
            });
        }
        self.state = State::CookieEchoed;
        self.t1 = Some(now + self.config.rto_initial);
        self.t1_count = 0;
    }

    fn set_peer(
        &mut self,
        vtag: u32,
        initial_tsn: u32,
        a_rwnd: u32,
        os: u16,
        mis: u16,
        features: u8,
    ) {
        self.peer_vtag = vtag;
        self.peer_forward_tsn = features & 1 != 0;
        self.peer_reconfig = features & 2 != 0;
        self.peer_zero_checksum = features & 4 != 0 && self.config.zero_checksum;
        self.inbound_streams = os.min(self.config.num_streams);
        self.sender.outbound_streams = mis.min(self.config.num_streams);
        self.sender.set_peer_rwnd(a_rwnd);
        self.receiver = Some(Receiver::new(initial_tsn, self.config.receive_window));
        self.peer_next_req_seq = initial_tsn;
    }

    fn on_cookie_echo(&mut self, now: Instant, cookie: &[u8]) {
        let Some(f) = CookieFields::verify(&self.cookie_key, cookie) else {
            return;
        };
        if f.my_vtag != self.my_vtag {
            return;
        }
        let now_ms = self.ms_since_epoch(now);
        if now_ms.saturating_sub(f.created_ms) > self.config.cookie_lifetime.as_millis() as u64 {
            // RFC 9260 §5.2.6: report a Stale Cookie Error with the staleness
            // in microseconds, tagged for the sender of the cookie.
            if !self.is_established() {
                let stale_us = now_ms.saturating_sub(f.created_ms).saturating_mul(1000);
                let info = u32::try_from(stale_us).unwrap_or(u32::MAX).to_be_bytes();
                let causes = [ErrorCause {
                    code: cause_code::STALE_COOKIE,
                    info: &info,
                }];
                let mut bytes = Vec::new();
                Chunk::Error {
                    causes: TlvList::Items(&causes),
                }
                .emit(&mut bytes);
                self.control.push_back(ControlChunk {
                    bytes,
                    vtag: Some(f.peer_vtag),
                });
            }
            return;
        }
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed => {
                // RFC 9260 §5.2.4 case B (collision) or a fresh association.
                if self.state != State::CookieEchoed
                    || self.peer_vtag != f.peer_vtag
                    || self.receiver.is_none()
                {
                    self.set_peer(
                        f.peer_vtag,
                        f.peer_initial_tsn,
                        f.peer_a_rwnd,
                        f.peer_outbound_streams,
                        f.peer_inbound_streams,
                        f.peer_features,
                    );
                }
                self.queue_chunk(&Chunk::CookieAck);
                self.establish_done(now);
            }
            _ => {
                // Case D: a duplicate COOKIE-ECHO; acknowledge it again.
                if f.peer_vtag == self.peer_vtag {
                    self.queue_chunk(&Chunk::CookieAck);
                }
            }
        }
    }

    fn ms_since_epoch(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn establish_done(&mut self, now: Instant) {
        self.state = State::Established;
        self.t1 = None;
        self.cookie_echo = None;
        self.control.retain(|c| c.vtag != Some(0));
        self.hb_next = self.config.heartbeat_interval.map(|i| now + i);
        self.events.push_back(Event::Connected);
    }

    fn on_heartbeat_ack(&mut self, now: Instant, info: &[u8]) {
        let Some((nonce, _)) = self.hb_outstanding else {
            return;
        };
        let Some(got) = info.get(..8) else { return };
        if got != nonce.to_be_bytes() {
            return;
        }
        let mut ms = [0u8; 8];
        if let Some(b) = info.get(8..16) {
            ms.copy_from_slice(b);
        }
        let sent = self.epoch + Duration::from_millis(u64::from_be_bytes(ms));
        self.hb_outstanding = None;
        self.error_count = 0;
        self.sender.rtt_sample(now.saturating_duration_since(sent));
    }

    fn on_shutdown(&mut self, now: Instant, cum: u32) {
        if !self.is_established() {
            return;
        }
        self.sender.on_cum_ack(now, cum, &mut self.stats);
        match self.state {
            State::Established | State::ShutdownPending => {
                self.state = State::ShutdownReceived;
                self.maybe_progress_shutdown(now);
            }
            State::ShutdownSent => {
                // RFC 9260 §9.2: both sides shut down at once.
                self.queue_chunk(&Chunk::ShutdownAck);
                self.state = State::ShutdownAckSent;
                self.t2 = Some(now + self.sender.rto);
            }
            _ => {}
        }
    }

    fn on_reconfig(
        &mut self,
        now: Instant,
        params: &TlvList<'_, ReconfigParam<'_>>,
    ) -> Result<(), Error> {
        if !self.is_established() {
            return Ok(());
        }
        for p in params.iter().take(2) {
            match p? {
                ReconfigParam::OutgoingSsnResetRequest {
                    request_seq,
                    last_tsn,
                    streams,
                    ..
                } => {
                    let result = if request_seq == self.peer_next_req_seq {
                        let cum = self.receiver.as_ref().map(|r| r.cum).unwrap_or_default();
                        if unwrap_near(cum, last_tsn) <= cum {
                            let list: Vec<u16> = streams.iter().take(65536).collect();
                            if let Some(r) = self.receiver.as_mut() {
                                r.reset_streams(&list);
                            }
                            self.events.push_back(Event::IncomingStreamsReset(list));
                            self.peer_next_req_seq = request_seq.wrapping_add(1);
                            self.peer_last_result = reconfig_result::SUCCESS_PERFORMED;
                            reconfig_result::SUCCESS_PERFORMED
                        } else {
                            // RFC 6525 §5.2.2: wait for the TSNs before it; the
                            // peer retransmits the request.
                            reconfig_result::IN_PROGRESS
                        }
                    } else if request_seq == self.peer_next_req_seq.wrapping_sub(1) {
                        self.peer_last_result
                    } else {
                        reconfig_result::ERROR_BAD_SEQUENCE_NUMBER
                    };
                    let resp = [ReconfigParam::Response {
                        response_seq: request_seq,
                        result,
                        next_tsns: None,
                    }];
                    self.queue_chunk(&Chunk::ReConfig {
                        params: TlvList::Items(&resp),
                    });
                }
                ReconfigParam::Response {
                    response_seq,
                    result,
                    ..
                } => {
                    let Some(req) = &self.reconfig_outstanding else {
                        continue;
                    };
                    if req.seq != response_seq {
                        continue;
                    }
                    match result {
                        reconfig_result::SUCCESS_PERFORMED
                        | reconfig_result::SUCCESS_NOTHING_TO_DO => {
                            let streams = self
                                .reconfig_outstanding
                                .take()
                                .map(|r| r.streams)
                                .unwrap_or_default();
                            self.reconfig_timer = None;
                            self.sender.reset_done(&streams);
                            self.events.push_back(Event::OutgoingStreamsReset(streams));
                        }
                        reconfig_result::IN_PROGRESS => {
                            self.reconfig_timer = Some(now + self.sender.rto);
                        }
                        _ => {
                            let streams = self
                                .reconfig_outstanding
                                .take()
                                .map(|r| r.streams)
                                .unwrap_or_default();
                            self.reconfig_timer = None;
                            self.sender.reset_failed(&streams);
                        }
                    }
                }
                ReconfigParam::IncomingSsnResetRequest {
                    request_seq,
                    streams,
                } if !streams.is_empty() && request_seq == self.peer_next_req_seq => {
                    // RFC 6525 §5.2.3: answer with our own Outgoing SSN Reset
                    // Request for those streams, whose Response Sequence
                    // Number names this request (see queue_reconfig_request).
                    self.peer_next_req_seq = request_seq.wrapping_add(1);
                    self.peer_last_result = reconfig_result::SUCCESS_PERFORMED;
                    for s in streams.iter() {
                        if self.sender.mark_resetting(s) {
                            self.reset_queue.push(s);
                        }
                    }
                }
                ReconfigParam::IncomingSsnResetRequest { request_seq, .. }
                    if request_seq == self.peer_next_req_seq.wrapping_sub(1) =>
                {
                    // A retransmission: our Outgoing request is on its way.
                }
                ReconfigParam::IncomingSsnResetRequest { request_seq, .. }
                | ReconfigParam::SsnTsnResetRequest { request_seq }
                | ReconfigParam::AddOutgoingStreams { request_seq, .. }
                | ReconfigParam::AddIncomingStreams { request_seq, .. } => {
                    let resp = [ReconfigParam::Response {
                        response_seq: request_seq,
                        result: reconfig_result::DENIED,
                        next_tsns: None,
                    }];
                    self.queue_chunk(&Chunk::ReConfig {
                        params: TlvList::Items(&resp),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Smallest packet that can carry one byte of user data.
pub const MIN_PACKET: usize = COMMON_HEADER_LEN + 16 + 4;

#[allow(dead_code)]
const _: () = assert!(COOKIE_LEN < 128);
