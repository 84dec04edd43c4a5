//! The sans-IO SCTP association (RFC 9260) as WebRTC runs it over DTLS
//! (RFC 8261): the caller feeds whole SCTP packets and time, and drains
//! packets, events and deadlines.
//!
//! This module holds the association's state and its public API; each
//! concern has a file: `handshake` (INIT to COOKIE-ACK), `dispatch` (an
//! incoming packet, chunk by chunk), `transmit` (bundling the next
//! packet), `send` and `recv` (the two halves of the data path),
//! `reconfig` (stream reset), `shutdown` (SHUTDOWN and ABORT) and `timers`.

mod config;
mod cookie;
mod dispatch;
mod due;
mod event;
mod handshake;
mod pool;
mod reconfig;
mod recv;
mod send;
mod shutdown;
mod streammap;
mod timers;
mod transmit;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::error::Error;
use crate::packet::COMMON_HEADER_LEN;
use crate::param::reconfig_result;

pub use config::{Config, SendOptions};
pub use event::{
    AbortCause, CloseReason, Event, Message, ProtocolViolation, RetransmissionLimit, MAX_ABORT_INFO,
};
use reconfig::ReconfigRequest;
use recv::Receiver;
use send::Sender;
use transmit::ControlChunk;

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
    /// Packets built when a SACK the peer counts on fell due, waiting for
    /// [`Association::poll_transmit`].
    due: due::DuePackets,
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
    /// Why the association last closed.
    close_reason: Option<CloseReason>,
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
            due: due::DuePackets::default(),
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
            close_reason: None,
            reconfig_outstanding: None,
            reconfig_timer: None,
            stats: Stats {
                rto,
                ..Stats::default()
            },
            config,
        }
    }

    /// Why the association closed, once it has (also carried by
    /// [`Event::Closed`]): who ended it and how.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
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

    /// Whether the due SACK is one the peer counts on, so that it is built
    /// as soon as it falls due rather than let a later SACK stand for it
    /// (see [`due`]):
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
    fn due_sack_cannot_wait(&self) -> bool {
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
}

/// Smallest packet that can carry one byte of user data.
pub const MIN_PACKET: usize = COMMON_HEADER_LEN + 16 + 4;
