//! Data channels (RFC 8831, RFC 8832) on the SCTP association.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use fulmar_datachannel::{ChannelConfig, DataChannels, MessageKind, StreamParity};

use crate::{Error, Event, PeerConnection};

/// Identifies a data channel of a [`PeerConnection`] (stable before and
/// after its SCTP stream id is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// A data channel: its stream once SCTP assigned one, and whether the
/// application was told it is open.
pub(crate) struct Channel {
    pub(crate) stream: Option<u16>,
    pub(crate) config: ChannelConfig,
    pub(crate) open: bool,
}

/// The data-channel m-section (`m=application`) of the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum DataSection {
    /// No channel asked for one and the peer offered none.
    #[default]
    Unwanted,
    /// A channel was created: the next offer adds the section.
    Wanted,
    /// Offered or negotiated, with its mid.
    Mid(String),
}

impl DataSection {
    /// The mid of the section, once it has one.
    pub(crate) fn mid(&self) -> Option<&str> {
        match self {
            DataSection::Mid(mid) => Some(mid),
            _ => None,
        }
    }
}

/// The SCTP association (RFC 8261), once DTLS connected with a negotiated
/// data section.
#[derive(Default)]
pub(crate) enum Sctp {
    /// No association (yet).
    #[default]
    Idle,
    /// The association's handshake is under way.
    Connecting(DataChannels),
    /// The association is up: channels open as they are created.
    Established(DataChannels),
}

impl Sctp {
    /// The association, in either state.
    pub(crate) fn get(&self) -> Option<&DataChannels> {
        match self {
            Sctp::Idle => None,
            Sctp::Connecting(dc) | Sctp::Established(dc) => Some(dc),
        }
    }

    /// The association, in either state.
    pub(crate) fn get_mut(&mut self) -> Option<&mut DataChannels> {
        match self {
            Sctp::Idle => None,
            Sctp::Connecting(dc) | Sctp::Established(dc) => Some(dc),
        }
    }

    /// Whether the association is up.
    fn is_established(&self) -> bool {
        matches!(self, Sctp::Established(_))
    }

    /// Marks a connecting association as up.
    fn establish(&mut self) {
        if let Sctp::Connecting(dc) = std::mem::take(self) {
            *self = Sctp::Established(dc);
        }
    }
}

/// The data-channel state: the association, the channels and the section
/// that negotiates them.
#[derive(Default)]
pub(crate) struct DataState {
    pub(crate) sctp: Sctp,
    pub(crate) channels: HashMap<u32, Channel>,
    pub(crate) by_stream: HashMap<u16, u32>,
    pub(crate) next_channel: u32,
    pub(crate) section: DataSection,
    /// Bytes of received messages waiting in the event queue: SCTP let go
    /// of them when they were drained, so they count against the receive
    /// window here until the application polls them.
    pub(crate) undelivered: usize,
    /// What the application last reported unread ([`PeerConnection::set_unread_bytes`]).
    pub(crate) app_unread: usize,
}

impl DataState {
    /// Tells the association what is held above it: messages in the event
    /// queue plus what the application reported unread (RFC 9260 §6.2: a
    /// window that counts only SCTP's own buffers would reopen as soon as
    /// messages are drained into the queue, before anyone read them).
    pub(crate) fn report_held(&mut self) {
        let held = self.undelivered.saturating_add(self.app_unread);
        if let Some(dc) = self.sctp.get_mut() {
            dc.association_mut().set_unread_bytes(held);
        }
    }
}

impl PeerConnection {
    /// The label, ordering and reliability a channel was created with.
    pub fn channel_config(&self, id: ChannelId) -> Option<&ChannelConfig> {
        self.data.channels.get(&id.0).map(|c| &c.config)
    }

    /// The SCTP stream id of a channel, once known.
    pub fn channel_stream_id(&self, id: ChannelId) -> Option<u16> {
        self.data.channels.get(&id.0).and_then(|c| c.stream)
    }

    /// Bytes queued on a channel and not yet acknowledged.
    pub fn buffered_amount(&self, id: ChannelId) -> usize {
        match (self.channel_stream_id(id), self.data.sctp.get()) {
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
        self.data.app_unread = bytes;
        self.data.report_held();
    }

    /// Sets the threshold under which [`Event::BufferedAmountLow`] fires.
    pub fn set_buffered_amount_low_threshold(&mut self, id: ChannelId, threshold: usize) {
        if let (Some(s), Some(dc)) = (self.channel_stream_id(id), self.data.sctp.get_mut()) {
            dc.set_buffered_amount_low_threshold(s, threshold);
        }
    }

    /// Creates a data channel (`createDataChannel`); it opens once SCTP is up
    /// ([`Event::DataChannelOpen`]). The first one needs a negotiation.
    pub fn create_data_channel(&mut self, config: ChannelConfig) -> Result<ChannelId, Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let id = self.data.next_channel;
        self.data.next_channel = self.data.next_channel.wrapping_add(1);
        let mut ch = Channel {
            stream: None,
            config,
            open: false,
        };
        let now = self.now;
        if let (Some(dc), Some(now)) = (self.data.sctp.get_mut(), now) {
            let sid = dc.open(now, ch.config.clone())?;
            ch.stream = Some(sid);
            self.data.by_stream.insert(sid, id);
            if self.data.sctp.is_established() {
                ch.open = true;
                self.stats.data_channels_opened += 1;
                self.events.push_back(Event::DataChannelOpen(ChannelId(id)));
            }
        }
        self.data.channels.insert(id, ch);
        if self.data.section == DataSection::Unwanted {
            self.data.section = DataSection::Wanted;
            // The application's request outlives a rollback of the offer
            // in progress.
            if let Some(snap) = self.jsep.snapshot.as_deref_mut() {
                if snap.data_section == DataSection::Unwanted {
                    snap.data_section = DataSection::Wanted;
                }
            }
            self.events.push_back(Event::NegotiationNeeded);
        }
        Ok(ChannelId(id))
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
        let dc = self.data.sctp.get_mut().ok_or(Error::UnknownChannel)?;
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
        let ch = self.data.channels.get(&id.0).ok_or(Error::UnknownChannel)?;
        match (ch.stream, self.data.sctp.get_mut()) {
            (Some(sid), Some(dc)) => dc.close(sid)?,
            _ => {
                self.data.channels.remove(&id.0);
                self.events.push_back(Event::DataChannelClose(id));
            }
        }
        self.pump(now);
        Ok(())
    }

    pub(crate) fn on_dtls_connected(&mut self, now: Instant) {
        self.set_dtls_state(crate::DtlsState::Connected);
        self.update_state();
        let (Some(role), true) = (self.transport.dtls_role, self.transport.dtls.is_some()) else {
            return;
        };
        // SRTP contexts from the exporter (RFC 5764 §4.2), when there is
        // media to protect (otherwise on first need).
        if !self.media.transceivers.is_empty() {
            self.ensure_srtp();
        }
        // SCTP over DTLS (RFC 8261) once both sides negotiated m=application.
        let Some(remote_port) = self.jsep.remote.sctp_port else {
            return;
        };
        if self.data.sctp.get().is_some() {
            return;
        }
        let mut cfg = self.config.sctp.clone();
        cfg.remote_port = remote_port;
        cfg.max_send_message_size = self.jsep.remote.max_message_size;
        let assoc = fulmar_sctp::Association::new(cfg, &mut self.rng, now);
        // RFC 8832 §6: the DTLS client opens even stream ids, the server odd.
        let parity = match role {
            fulmar_dtls::Role::Client => StreamParity::Even,
            fulmar_dtls::Role::Server => StreamParity::Odd,
        };
        let mut dc = DataChannels::new(assoc, parity);
        let _ = dc.connect(now);
        let mut ids: Vec<u32> = self.data.channels.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(ch) = self.data.channels.get_mut(&id) {
                if let Ok(sid) = dc.open(now, ch.config.clone()) {
                    ch.stream = Some(sid);
                    self.data.by_stream.insert(sid, id);
                }
            }
        }
        self.data.sctp = Sctp::Connecting(dc);
    }

    pub(crate) fn drain_sctp_events(&mut self) {
        let mut held_changed = false;
        // One event at a time: handling one may need `self` whole.
        while let Some(e) = self.data.sctp.get_mut().and_then(DataChannels::poll_event) {
            match e {
                fulmar_datachannel::Event::Connected => {
                    self.data.sctp.establish();
                    let mut ids: Vec<u32> = self
                        .data
                        .channels
                        .iter()
                        .filter(|(_, c)| !c.open && c.stream.is_some())
                        .map(|(i, _)| *i)
                        .collect();
                    ids.sort_unstable();
                    for id in ids {
                        if let Some(c) = self.data.channels.get_mut(&id) {
                            c.open = true;
                        }
                        self.stats.data_channels_opened += 1;
                        self.events.push_back(Event::DataChannelOpen(ChannelId(id)));
                    }
                }
                fulmar_datachannel::Event::ChannelOpened(sid) => {
                    let Some(info) = self.data.sctp.get().and_then(|dc| dc.channel(sid)).cloned()
                    else {
                        continue;
                    };
                    let id = self.data.next_channel;
                    self.data.next_channel = self.data.next_channel.wrapping_add(1);
                    let mut cfg = ChannelConfig::new(&info.label);
                    cfg.protocol = info.protocol.clone();
                    cfg.ordered = info.ordered;
                    cfg.reliability = info.reliability;
                    cfg.priority = info.priority;
                    self.data.channels.insert(
                        id,
                        Channel {
                            stream: Some(sid),
                            config: cfg,
                            open: true,
                        },
                    );
                    self.data.by_stream.insert(sid, id);
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
                    if let Some(&id) = self.data.by_stream.get(&channel) {
                        self.stats.messages_received += 1;
                        self.data.undelivered += data.len();
                        held_changed = true;
                        self.events.push_back(Event::DataChannelMessage {
                            id: ChannelId(id),
                            data,
                            binary: kind == MessageKind::Binary,
                        });
                    }
                }
                fulmar_datachannel::Event::BufferedAmountLow(sid) => {
                    if let Some(&id) = self.data.by_stream.get(&sid) {
                        self.events
                            .push_back(Event::BufferedAmountLow(ChannelId(id)));
                    }
                }
                fulmar_datachannel::Event::ChannelClosed(sid) => {
                    if let Some(id) = self.data.by_stream.remove(&sid) {
                        self.data.channels.remove(&id);
                        self.stats.data_channels_closed += 1;
                        self.events
                            .push_back(Event::DataChannelClose(ChannelId(id)));
                    }
                }
                fulmar_datachannel::Event::Closed(reason) => {
                    self.close_all_channels();
                    if sctp_failure(&reason) {
                        self.fail(crate::Failure::Sctp(reason));
                    }
                }
                _ => {}
            }
        }
        if held_changed {
            self.data.report_held();
        }
    }

    pub(crate) fn close_all_channels(&mut self) {
        let mut ids: Vec<u32> = self.data.channels.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.data.channels.remove(&id);
            self.stats.data_channels_closed += 1;
            self.events
                .push_back(Event::DataChannelClose(ChannelId(id)));
        }
        self.data.by_stream.clear();
    }
}

/// Whether the association's end fails the connection: the peer aborted,
/// broke the protocol or stopped answering. A User-Initiated Abort (RFC
/// 9260 §3.3.10.12) is the peer's application closing, as a peer
/// connection's close does before its close_notify; it closes the
/// channels but fails nothing.
fn sctp_failure(reason: &fulmar_sctp::CloseReason) -> bool {
    use fulmar_sctp::param::cause_code::USER_INITIATED_ABORT;
    match reason {
        fulmar_sctp::CloseReason::PeerAbort(Some(cause)) => cause.code != USER_INITIATED_ABORT,
        reason => reason.is_peer_failure(),
    }
}
