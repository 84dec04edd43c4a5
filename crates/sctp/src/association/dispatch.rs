//! An incoming packet (RFC 9260 §8.5 verification tags), dispatched chunk
//! by chunk to the handlers, and the SACK schedule it leaves (§6.2).

use std::time::Instant;

use crate::chunk::{chunk_type, Chunk, Sack, UnknownChunkAction};
use crate::error::Error;
use crate::list::{pad4, TlvList};
use crate::packet::Packet;
use crate::param::{cause_code, ErrorCause};

use super::event::MAX_ABORT_INFO;
use super::recv::DataOutcome;
use super::{ramp_packets, AbortCause, Association, CloseReason, ProtocolViolation, State};

impl Association {
    /// Feeds one SCTP packet (the payload of one DTLS record).
    ///
    /// The packet is parsed where it lies and never modified, so a shared
    /// borrow is enough: a caller holding `&mut [u8]` (a record DTLS just
    /// decrypted in place) passes it as is. What is kept (message payloads,
    /// which outlive the caller's buffer) is copied out once, fragments
    /// straight into the message they belong to; the caller may reuse the
    /// buffer at once. Malformed packets are dropped and counted in
    /// [`Stats::packets_dropped`](super::Stats::packets_dropped).
    ///
    /// A due SACK the peer counts on (while it may be in slow start, or one
    /// reporting gaps or duplicates) is built now, acknowledging what has
    /// arrived so far, and waits for [`Self::poll_transmit`]; any other due
    /// SACK is built when polled, so a batch of packets received before a
    /// poll is acknowledged by one SACK (see RFC 9260 §6.2 and
    /// [`Self::poll_transmit`]).
    pub fn handle_receive(&mut self, now: Instant, packet: &[u8]) {
        if self.process_packet(now, packet).is_err() {
            self.stats.packets_dropped += 1;
        } else {
            self.stats.packets_received += 1;
        }
        if self.due_sack_cannot_wait() {
            let mut due = core::mem::take(&mut self.due);
            while self.due_sack_cannot_wait() && due.push_with(|b| self.write_packet(now, b)) {}
            self.due = due;
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

    fn process_packet(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        let pkt = Packet::parse(packet)?;
        if pkt.destination_port() != self.config.local_port
            || pkt.source_port() != self.config.remote_port
        {
            return Err(Error::InvalidField("ports"));
        }
        let accept_zero = self.config.zero_checksum && self.state != State::Closed;
        pkt.verify_checksum(accept_zero)?;
        match self.dispatch_chunks(now, &pkt) {
            // RFC 9260 §6.2: DATA without user data ends the association.
            Err(Error::EmptyData) if self.is_established() => {
                let tsn = empty_data_tsn(pkt.chunk_bytes());
                let info = tsn.to_be_bytes();
                self.abort_for(
                    ProtocolViolation::NoUserData,
                    ErrorCause {
                        code: cause_code::NO_USER_DATA,
                        info: &info,
                    },
                );
                Err(Error::EmptyData)
            }
            r => r,
        }
    }

    /// The chunks of a packet whose header checked out, in order.
    fn dispatch_chunks(&mut self, now: Instant, pkt: &Packet<'_>) -> Result<(), Error> {
        let vtag = pkt.verification_tag();
        let mut chunks = pkt.chunks();
        let mut had_data = false;
        let mut immediate = false;
        let mut first = None;
        if let Some(&(chunk_type::DATA | chunk_type::SACK)) = chunks.remaining().first() {
            // The data path: leading DATA and SACK chunks decoded where they
            // are used (a SACK acknowledging what was never sent closes the
            // association, which ends the loop).
            if vtag != self.my_vtag {
                return Err(Error::InvalidField("verification tag"));
            }
            loop {
                if let Some(d) = chunks.next_data() {
                    had_data = true;
                    immediate |= d.immediate();
                    self.on_data(&d);
                } else if let Some(s) = chunks.next_sack() {
                    self.on_sack(now, &s);
                    if self.state == State::Closed {
                        return Ok(());
                    }
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
                    self.on_data(&d);
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
                        let cause = causes.iter().next().and_then(Result::ok).map(|c| {
                            let info = c.info.get(..MAX_ABORT_INFO).unwrap_or(c.info);
                            AbortCause {
                                code: c.code,
                                info: info.to_vec(),
                            }
                        });
                        self.close(CloseReason::PeerAbort(cause));
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

    pub(super) fn on_sack(&mut self, now: Instant, s: &Sack<'_>) {
        if self.is_established() || self.state == State::ShutdownAckSent {
            if self.sender.acks_unsent(s.cumulative_tsn_ack) {
                self.abort_for_unsent_ack();
                return;
            }
            let advanced = self.sender.on_sack(now, s, &mut self.stats);
            if advanced {
                self.error_count = 0;
            }
            self.maybe_progress_shutdown(now);
        }
    }

    pub(super) fn on_data(&mut self, d: &crate::chunk::Data<'_>) {
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
        if r.on_data(d, &mut self.events) == DataOutcome::Duplicate {
            self.stats.duplicate_tsns += 1;
        }
    }
}

/// The TSN of the first DATA chunk without user data among `chunks` (0 if
/// there is none), for the No User Data cause (RFC 9260 §3.3.10.9).
fn empty_data_tsn(mut chunks: &[u8]) -> u32 {
    while let [ty, _, l0, l1, ref rest @ ..] = *chunks {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if let (chunk_type::DATA, 16, [t0, t1, t2, t3, ..]) = (ty, len, rest) {
            return u32::from_be_bytes([*t0, *t1, *t2, *t3]);
        }
        match chunks.get(pad4(len.max(4))..) {
            Some(next) => chunks = next,
            None => break,
        }
    }
    0
}
