//! WebRTC data channels, sans-IO: the Data Channel Establishment Protocol
//! (RFC 8832) and data-channel semantics (RFC 8831) on a
//! [`fulmar_sctp::Association`].
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use fulmar_datachannel::{ChannelConfig, DataChannels, Event, MessageKind, StreamParity};
//! use fulmar_sctp::{Association, Config};
//! use rand::SeedableRng;
//!
//! let now = Instant::now();
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let mut a = DataChannels::new(Association::new(Config::default(), &mut rng, now), StreamParity::Even);
//! let mut b = DataChannels::new(Association::new(Config::default(), &mut rng, now), StreamParity::Odd);
//! a.connect(now)?;
//! b.connect(now)?;
//! let id = a.open(now, ChannelConfig::new("chat"))?;
//! a.send(now, id, Bytes::from_static(b"hello"), MessageKind::Text)?;
//! // Move packets until idle (a real driver also honours poll_timeout),
//! // each written into a buffer of its own (`poll_transmit` appends).
//! let mut got = None;
//! for _ in 0..20 {
//!     let mut p = Vec::new();
//!     while a.poll_transmit(now, &mut p).is_some() { b.handle_receive(now, &p); p.clear(); }
//!     while b.poll_transmit(now, &mut p).is_some() { a.handle_receive(now, &p); p.clear(); }
//!     while let Some(e) = b.poll_event() {
//!         if let Event::Message { data, kind, .. } = e { got = Some((data, kind)); }
//!     }
//!     while a.poll_event().is_some() {}
//! }
//! assert_eq!(got, Some((Bytes::from_static(b"hello"), MessageKind::Text)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod dcep;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_sctp::{Association, SendOptions};

pub use dcep::{DcepMessage, Open, Reliability};

/// Payload Protocol Identifiers (RFC 8831 §8, RFC 8832 §8.1).
pub mod ppid {
    /// WebRTC DCEP.
    pub const DCEP: u32 = 50;
    /// WebRTC String.
    pub const STRING: u32 = 51;
    /// WebRTC Binary Partial (deprecated).
    pub const BINARY_PARTIAL: u32 = 52;
    /// WebRTC Binary.
    pub const BINARY: u32 = 53;
    /// WebRTC String Partial (deprecated).
    pub const STRING_PARTIAL: u32 = 54;
    /// WebRTC String Empty.
    pub const STRING_EMPTY: u32 = 56;
    /// WebRTC Binary Empty.
    pub const BINARY_EMPTY: u32 = 57;
}

/// Errors of fulmar-datachannel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A DCEP message does not parse.
    #[error("malformed DCEP message: {0}")]
    Malformed(&'static str),
    /// A label or protocol is longer than 65535 bytes.
    #[error("label or protocol longer than 65535 bytes")]
    LabelTooLong,
    /// No channel with this id.
    #[error("no data channel with id {0}")]
    UnknownChannel(u16),
    /// The channel is closing or closed.
    #[error("data channel {0} is closing or closed")]
    ChannelClosed(u16),
    /// The requested stream id is taken.
    #[error("stream id {0} is already in use")]
    StreamInUse(u16),
    /// No free stream id of our parity is left.
    #[error("no stream id available")]
    NoStreamAvailable,
    /// The SCTP layer refused (message too large, wrong state, ...).
    #[error(transparent)]
    Sctp(#[from] fulmar_sctp::Error),
}

/// The stream ids this end picks for the channels it opens (RFC 8832 §6):
/// the DTLS client takes even ids and the DTLS server odd ones, so the two
/// ends never pick the same id. The owner of the DTLS connection maps its
/// role to this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamParity {
    /// Even stream ids (the DTLS client).
    Even,
    /// Odd stream ids (the DTLS server).
    Odd,
}

impl StreamParity {
    /// The parity of `id`.
    pub fn of(id: u16) -> Self {
        if id % 2 == 0 {
            StreamParity::Even
        } else {
            StreamParity::Odd
        }
    }

    /// The lowest stream id of this parity.
    fn first(self) -> u16 {
        match self {
            StreamParity::Even => 0,
            StreamParity::Odd => 1,
        }
    }
}

/// How to open a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// Ordered delivery.
    pub ordered: bool,
    /// Reliability.
    pub reliability: Reliability,
    /// Priority.
    pub priority: u16,
    /// Negotiated out of band with this stream id: no DCEP is sent.
    pub negotiated: Option<u16>,
}

impl ChannelConfig {
    /// A reliable, ordered channel with this label.
    pub fn new(label: &str) -> Self {
        ChannelConfig {
            label: label.to_owned(),
            protocol: String::new(),
            ordered: true,
            reliability: Reliability::Reliable,
            priority: 256,
            negotiated: None,
        }
    }
}

/// Lifecycle of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// OPEN sent, ACK not yet received (sending is allowed, ordered).
    Connecting,
    /// Open.
    Open,
    /// Stream reset in progress.
    Closing,
}

/// What the application knows about a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Stream id.
    pub id: u16,
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// Ordered delivery.
    pub ordered: bool,
    /// Reliability.
    pub reliability: Reliability,
    /// Priority.
    pub priority: u16,
    /// Negotiated out of band.
    pub negotiated: bool,
    /// State.
    pub state: ChannelState,
}

/// Text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A string (PPID 51 or 56).
    Text,
    /// Binary (PPID 53 or 57).
    Binary,
}

/// What the application learns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The SCTP association is up.
    Connected,
    /// The peer opened a channel (DATA_CHANNEL_OPEN received and acknowledged).
    ChannelOpened(u16),
    /// Our channel was acknowledged by the peer (DATA_CHANNEL_ACK).
    ChannelAcked(u16),
    /// A message on a channel.
    Message {
        /// Channel id.
        channel: u16,
        /// Payload (empty for PPIDs 56/57).
        data: Bytes,
        /// Text or binary.
        kind: MessageKind,
    },
    /// The channel's buffered amount fell to its low threshold.
    BufferedAmountLow(u16),
    /// The channel is closed in both directions; its id may be reused.
    ChannelClosed(u16),
    /// The association ended.
    Closed(fulmar_sctp::CloseReason),
}

#[derive(Debug)]
struct Channel {
    info: ChannelInfo,
    outgoing_reset: bool,
    incoming_reset: bool,
}

impl Channel {
    fn send_options(&self) -> SendOptions {
        let (max_retransmits, lifetime) = match self.info.reliability {
            Reliability::Reliable => (None, None),
            Reliability::MaxRetransmits(n) => (Some(u16::try_from(n).unwrap_or(u16::MAX)), None),
            Reliability::MaxLifetimeMs(ms) => (None, Some(Duration::from_millis(u64::from(ms)))),
        };
        SendOptions {
            // RFC 8832 §6: until the ACK arrives, messages go ordered.
            unordered: !self.info.ordered && self.info.state != ChannelState::Connecting,
            max_retransmits,
            lifetime,
        }
    }
}

/// Data channels over one SCTP association, sans-IO.
#[derive(Debug)]
pub struct DataChannels {
    assoc: Association,
    parity: StreamParity,
    channels: HashMap<u16, Channel>,
    events: VecDeque<Event>,
    last_now: Option<Instant>,
}

impl DataChannels {
    /// Wraps an association (not yet connected); the channels we open take
    /// stream ids of `parity`.
    pub fn new(assoc: Association, parity: StreamParity) -> Self {
        DataChannels {
            assoc,
            parity,
            channels: HashMap::new(),
            events: VecDeque::new(),
            last_now: None,
        }
    }

    /// The association underneath.
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// The association underneath, mutably (for shutdown, stats, ...).
    pub fn association_mut(&mut self) -> &mut Association {
        &mut self.assoc
    }

    /// Sends INIT; WebRTC endpoints both do this once DTLS is up.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.last_now = Some(now);
        Ok(self.assoc.connect(now)?)
    }

    /// A channel's description.
    pub fn channel(&self, id: u16) -> Option<&ChannelInfo> {
        self.channels.get(&id).map(|c| &c.info)
    }

    /// Ids of the channels that exist.
    pub fn channel_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.channels.keys().copied()
    }

    fn is_ours(&self, id: u16) -> bool {
        StreamParity::of(id) == self.parity
    }

    fn free_id(&self) -> Option<u16> {
        let max = match self.assoc.outbound_streams() {
            0 => 65535,
            n => n,
        };
        (self.parity.first()..max)
            .step_by(2)
            .find(|id| !self.channels.contains_key(id))
    }

    /// Opens a channel: picks a stream id of our parity (or uses the
    /// negotiated one) and sends DATA_CHANNEL_OPEN unless negotiated.
    pub fn open(&mut self, now: Instant, config: ChannelConfig) -> Result<u16, Error> {
        self.last_now = Some(now);
        let id = match config.negotiated {
            Some(id) => {
                if self.channels.contains_key(&id) {
                    return Err(Error::StreamInUse(id));
                }
                id
            }
            None => self.free_id().ok_or(Error::NoStreamAvailable)?,
        };
        if config.negotiated.is_none() {
            let open = DcepMessage::Open(Open {
                ordered: config.ordered,
                reliability: config.reliability,
                priority: config.priority,
                label: config.label.as_bytes(),
                protocol: config.protocol.as_bytes(),
            });
            let mut msg = Vec::new();
            open.emit(&mut msg)?;
            let msg = Bytes::from(msg);
            self.assoc
                .send(now, id, ppid::DCEP, msg, SendOptions::default())?;
        }
        self.channels.insert(
            id,
            Channel {
                info: ChannelInfo {
                    id,
                    label: config.label,
                    protocol: config.protocol,
                    ordered: config.ordered,
                    reliability: config.reliability,
                    priority: config.priority,
                    negotiated: config.negotiated.is_some(),
                    state: if config.negotiated.is_some() {
                        ChannelState::Open
                    } else {
                        ChannelState::Connecting
                    },
                },
                outgoing_reset: false,
                incoming_reset: false,
            },
        );
        Ok(id)
    }

    /// Sends a message; an empty one goes as PPID 56/57 with one byte
    /// (RFC 8831 §6.6).
    pub fn send(
        &mut self,
        now: Instant,
        id: u16,
        data: Bytes,
        kind: MessageKind,
    ) -> Result<(), Error> {
        let ch = self.channels.get(&id).ok_or(Error::UnknownChannel(id))?;
        if ch.info.state == ChannelState::Closing {
            return Err(Error::ChannelClosed(id));
        }
        let opts = ch.send_options();
        let (ppid, data) = match (kind, data.is_empty()) {
            (MessageKind::Text, false) => (ppid::STRING, data),
            (MessageKind::Binary, false) => (ppid::BINARY, data),
            (MessageKind::Text, true) => (ppid::STRING_EMPTY, Bytes::from_static(&[0])),
            (MessageKind::Binary, true) => (ppid::BINARY_EMPTY, Bytes::from_static(&[0])),
        };
        Ok(self.assoc.send(now, id, ppid, data, opts)?)
    }

    /// Closes a channel by resetting its outgoing stream (RFC 8831 §6.7);
    /// [`Event::ChannelClosed`] follows once both directions are reset.
    pub fn close(&mut self, id: u16) -> Result<(), Error> {
        let ch = self
            .channels
            .get_mut(&id)
            .ok_or(Error::UnknownChannel(id))?;
        if ch.info.state == ChannelState::Closing {
            return Ok(());
        }
        ch.info.state = ChannelState::Closing;
        self.assoc.reset_streams(&[id])?;
        Ok(())
    }

    /// Bytes queued on a channel and not yet sent.
    pub fn buffered_amount(&self, id: u16) -> usize {
        self.assoc.buffered_amount(id)
    }

    /// Sets the threshold for [`Event::BufferedAmountLow`].
    pub fn set_buffered_amount_low_threshold(&mut self, id: u16, threshold: usize) {
        self.assoc.set_buffered_amount_low_threshold(id, threshold);
    }

    /// Feeds one SCTP packet, parsed where it lies; what is kept is copied
    /// out, so the caller may reuse the buffer at once (see
    /// [`fulmar_sctp::Association::handle_receive`]).
    pub fn handle_receive(&mut self, now: Instant, packet: &[u8]) {
        self.assoc.handle_receive(now, packet);
        self.pump(now);
    }

    /// Runs due timers. An emptied event queue returns its buffer here, as
    /// the association's queues do from its housekeeping timer, so an idle
    /// connection holds none (timers are far apart: a busy one does not
    /// reallocate per message).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.assoc.handle_timeout(now);
        self.pump(now);
        if self.events.is_empty() && self.events.capacity() != 0 {
            self.events = VecDeque::new();
        }
    }

    /// Writes the next SCTP packet at the end of `buf` and returns its
    /// length (see [`fulmar_sctp::Association::poll_transmit`]).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.assoc.poll_transmit(now, buf)
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            // Events can also arise without input (e.g. after poll_transmit).
            if let Some(now) = self.last_now {
                self.pump_events(now);
            }
        }
        self.events.pop_front()
    }

    fn pump(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.pump_events(now);
    }

    fn pump_events(&mut self, now: Instant) {
        while let Some(ev) = self.assoc.poll_event() {
            match ev {
                fulmar_sctp::Event::Connected => self.events.push_back(Event::Connected),
                fulmar_sctp::Event::Message(m) => self.on_message(now, m),
                fulmar_sctp::Event::BufferedAmountLow(id) if self.channels.contains_key(&id) => {
                    self.events.push_back(Event::BufferedAmountLow(id));
                }
                fulmar_sctp::Event::IncomingStreamsReset(streams) => {
                    for id in streams {
                        let Some(ch) = self.channels.get_mut(&id) else {
                            continue;
                        };
                        ch.incoming_reset = true;
                        if ch.info.state != ChannelState::Closing {
                            // The peer closed: reset our side too.
                            ch.info.state = ChannelState::Closing;
                            let _ = self.assoc.reset_streams(&[id]);
                        }
                        self.maybe_closed(id);
                    }
                }
                fulmar_sctp::Event::OutgoingStreamsReset(streams) => {
                    for id in streams {
                        if let Some(ch) = self.channels.get_mut(&id) {
                            ch.outgoing_reset = true;
                        }
                        self.maybe_closed(id);
                    }
                }
                fulmar_sctp::Event::Closed(r) => {
                    for id in self.channels.keys().copied().collect::<Vec<_>>() {
                        self.events.push_back(Event::ChannelClosed(id));
                    }
                    self.channels.clear();
                    self.events.push_back(Event::Closed(r));
                }
                _ => {}
            }
        }
    }

    fn maybe_closed(&mut self, id: u16) {
        if self
            .channels
            .get(&id)
            .is_some_and(|c| c.incoming_reset && c.outgoing_reset)
        {
            self.channels.remove(&id);
            self.events.push_back(Event::ChannelClosed(id));
        }
    }

    fn on_message(&mut self, now: Instant, m: fulmar_sctp::Message) {
        let id = m.stream;
        match m.ppid {
            ppid::DCEP => self.on_dcep(now, id, &m.data),
            ppid::STRING | ppid::BINARY | ppid::STRING_EMPTY | ppid::BINARY_EMPTY => {
                if self.channels.get(&id).is_none_or(|c| c.incoming_reset) {
                    return;
                }
                let (data, kind) = match m.ppid {
                    ppid::STRING => (m.data, MessageKind::Text),
                    ppid::BINARY => (m.data, MessageKind::Binary),
                    ppid::STRING_EMPTY => (Bytes::new(), MessageKind::Text),
                    _ => (Bytes::new(), MessageKind::Binary),
                };
                // A message on a channel waiting for ACK implies the ACK
                // (RFC 8832 §6).
                if let Some(ch) = self.channels.get_mut(&id) {
                    if ch.info.state == ChannelState::Connecting {
                        ch.info.state = ChannelState::Open;
                    }
                }
                self.events.push_back(Event::Message {
                    channel: id,
                    data,
                    kind,
                });
            }
            _ => {}
        }
    }

    fn on_dcep(&mut self, now: Instant, id: u16, data: &[u8]) {
        let Ok(msg) = DcepMessage::parse(data) else {
            return;
        };
        match msg {
            DcepMessage::Open(o) => {
                if self.is_ours(id) || self.channels.contains_key(&id) {
                    // Wrong parity or taken: RFC 8832 §6 says this must not
                    // happen; refuse by not acknowledging.
                    return;
                }
                self.channels.insert(
                    id,
                    Channel {
                        info: ChannelInfo {
                            id,
                            label: String::from_utf8_lossy(o.label).into_owned(),
                            protocol: String::from_utf8_lossy(o.protocol).into_owned(),
                            ordered: o.ordered,
                            reliability: o.reliability,
                            priority: o.priority,
                            negotiated: false,
                            state: ChannelState::Open,
                        },
                        outgoing_reset: false,
                        incoming_reset: false,
                    },
                );
                let ack = Bytes::from_static(&[dcep::MESSAGE_TYPE_ACK]);
                if self
                    .assoc
                    .send(now, id, ppid::DCEP, ack, SendOptions::default())
                    .is_ok()
                {
                    self.events.push_back(Event::ChannelOpened(id));
                }
            }
            DcepMessage::Ack => {
                if let Some(ch) = self.channels.get_mut(&id) {
                    if ch.info.state == ChannelState::Connecting {
                        ch.info.state = ChannelState::Open;
                        self.events.push_back(Event::ChannelAcked(id));
                    }
                }
            }
        }
    }
}
