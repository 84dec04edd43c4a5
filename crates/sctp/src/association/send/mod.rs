//! The sending half: message queue and fragmentation (RFC 9260 §6.9),
//! retransmission and RTO (§6.3), SACK processing with fast retransmit
//! (§7.2.4), congestion control (§7.2), the peer's window (§6.1) and PR-SCTP
//! abandonment with FORWARD-TSN (RFC 3758 §3.5). What acknowledgements
//! and timeouts do to the sent chunks is in `ack`.

mod ack;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::chunk::{emit_data, Chunk, ForwardTsn, DATA_FLAG_B, DATA_FLAG_E, DATA_FLAG_U};
use crate::error::Error;
use crate::list::{pad4, List};
use crate::packet::PacketWriter;
use crate::param::StreamSsn;

use super::streammap::StreamMap;
use super::{Config, Event, SendOptions, Stats};

#[derive(Debug)]
struct OutMsg {
    id: u64,
    stream: u16,
    ppid: u32,
    unordered: bool,
    data: Bytes,
    offset: usize,
    ssn: u16,
    max_rtx: Option<u16>,
    expires: Option<Instant>,
}

#[derive(Debug)]
struct Sent {
    msg_id: u64,
    stream: u16,
    ssn: u16,
    ppid: u32,
    flags: u8,
    data: Bytes,
    sent_at: Instant,
    tx_count: u16,
    gap_acked: bool,
    abandoned: bool,
    in_flight: bool,
    rtx: bool,
    fast_rtx_done: bool,
    missing: u8,
    max_rtx: Option<u16>,
    expires: Option<Instant>,
}

impl Sent {
    fn should_abandon(&self, now: Instant) -> bool {
        self.max_rtx.is_some_and(|m| self.tx_count > m) || self.expires.is_some_and(|e| e <= now)
    }
}

#[derive(Debug, Default)]
struct OutStream {
    /// Messages not yet (fully) handed to the wire, in order.
    queue: VecDeque<OutMsg>,
    /// In the round-robin ring, or the stream being fragmented now.
    scheduled: bool,
    next_ssn: u16,
    queued: usize,
    low_threshold: Option<usize>,
    resetting: bool,
}

impl OutStream {
    /// `n` queued bytes of stream `id` left the queue (sent or abandoned):
    /// the buffered amount falls, and crossing the low threshold is
    /// reported.
    fn note_sent(&mut self, id: u16, n: usize, events: &mut VecDeque<Event>) {
        let before = self.queued;
        self.queued = before.saturating_sub(n);
        if let Some(th) = self.low_threshold {
            if before > th && self.queued <= th {
                events.push_back(Event::BufferedAmountLow(id));
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Sender {
    pub outbound_streams: u16,
    pub rto: Duration,
    pub t3: Option<Instant>,
    rto_min: Duration,
    rto_max: Duration,
    srtt: Option<Duration>,
    rttvar: Duration,
    mtu: usize,
    next_tsn: u64,
    cum_acked: u64,
    adv_peer_ack: u64,
    /// Streams with queued messages, served round robin at message
    /// boundaries (fragments of one message keep consecutive TSNs).
    ring: VecDeque<u16>,
    /// The stream whose message is being fragmented.
    current: Option<u16>,
    queued_msgs: usize,
    inflight: VecDeque<Sent>,
    streams: StreamMap<OutStream>,
    cwnd: usize,
    ssthresh: usize,
    pba: usize,
    flight_size: usize,
    peer_a_rwnd: usize,
    peer_rwnd: usize,
    fast_recovery_exit: Option<u64>,
    rtx_marked: usize,
    fast_rtx_pending: bool,
    /// Whether the last chance to send found data held back by cwnd (and
    /// not by the peer's window or a lack of data): cwnd was fully used
    /// then, for every SACK handled before the next chance (§7.2.1).
    cwnd_limited: bool,
    rtt_probe: Option<(u64, Instant)>,
    next_msg_id: u64,
    fwd_tsn_pending: bool,
    /// Ordered messages abandoned after some fragments were sent and acked:
    /// their SSN must still be skipped at the receiver (sent a few times).
    fwd_extra: Vec<(StreamSsn, u8)>,
    /// The TSN of the chunk last sent into a window the peer had closed (a
    /// zero-window probe, RFC 9260 §6.1 rule A), while it is unacked.
    window_probe: Option<u64>,
}

impl Sender {
    pub(crate) fn new(config: &Config, initial_tsn: u32) -> Self {
        let next_tsn = (1u64 << 32) + u64::from(initial_tsn);
        let mtu = config.mtu.max(super::MIN_PACKET);
        Sender {
            outbound_streams: 0,
            rto: config.rto_initial,
            t3: None,
            rto_min: config.rto_min,
            rto_max: config.rto_max,
            srtt: None,
            rttvar: Duration::ZERO,
            mtu,
            next_tsn,
            cum_acked: next_tsn - 1,
            adv_peer_ack: next_tsn - 1,
            ring: VecDeque::new(),
            current: None,
            queued_msgs: 0,
            inflight: VecDeque::new(),
            streams: StreamMap::default(),
            // RFC 9260 §7.2.1.
            cwnd: (4 * mtu).min((2 * mtu).max(4380)),
            ssthresh: usize::MAX,
            pba: 0,
            flight_size: 0,
            peer_a_rwnd: 0,
            peer_rwnd: 0,
            fast_recovery_exit: None,
            rtx_marked: 0,
            fast_rtx_pending: false,
            cwnd_limited: false,
            rtt_probe: None,
            next_msg_id: 0,
            fwd_tsn_pending: false,
            fwd_extra: Vec::new(),
            window_probe: None,
        }
    }

    pub(crate) fn set_peer_rwnd(&mut self, a_rwnd: u32) {
        self.peer_a_rwnd = a_rwnd as usize;
        self.peer_rwnd = a_rwnd as usize;
        self.ssthresh = a_rwnd as usize;
    }

    pub(crate) fn fill_stats(&self, s: &mut Stats) {
        s.srtt = self.srtt;
        s.rto = self.rto;
        s.cwnd = self.cwnd;
        s.ssthresh = self.ssthresh;
        s.peer_rwnd = self.peer_rwnd;
    }

    pub(crate) fn enqueue(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        o: SendOptions,
    ) -> Result<(), Error> {
        let s = self.streams.entry(stream).or_default();
        if s.resetting {
            return Err(Error::StreamResetting(stream));
        }
        s.queued += data.len();
        if !s.scheduled {
            s.scheduled = true;
            self.ring.push_back(stream);
        }
        self.queued_msgs += 1;
        s.queue.push_back(OutMsg {
            id: self.next_msg_id,
            stream,
            ppid,
            unordered: o.unordered,
            data,
            offset: 0,
            ssn: 0,
            max_rtx: o.max_retransmits,
            expires: o.lifetime.map(|l| now + l),
        });
        self.next_msg_id += 1;
        Ok(())
    }

    pub(crate) fn buffered_amount(&self, stream: u16) -> usize {
        self.streams.get(&stream).map_or(0, |s| s.queued)
    }

    pub(crate) fn set_low_threshold(&mut self, stream: u16, t: usize) {
        self.streams.entry(stream).or_default().low_threshold = Some(t);
    }

    pub(crate) fn mark_resetting(&mut self, stream: u16) -> bool {
        let s = self.streams.entry(stream).or_default();
        !std::mem::replace(&mut s.resetting, true)
    }

    pub(crate) fn reset_done(&mut self, streams: &[u16]) {
        for id in streams {
            if let Some(s) = self.streams.get_mut(id) {
                s.next_ssn = 0;
                s.resetting = false;
            }
        }
    }

    pub(crate) fn reset_failed(&mut self, streams: &[u16]) {
        for id in streams {
            if let Some(s) = self.streams.get_mut(id) {
                s.resetting = false;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        for s in self.streams.values_mut() {
            s.queue.clear();
            s.scheduled = false;
            s.queued = 0;
        }
        self.ring.clear();
        self.current = None;
        self.queued_msgs = 0;
        self.inflight.clear();
        self.flight_size = 0;
        self.rtx_marked = 0;
        self.t3 = None;
    }

    /// Returns emptied queues to the allocator (call when [`Self::all_done`]).
    pub(crate) fn release_idle_buffers(&mut self) {
        self.inflight = VecDeque::new();
        if self.ring.is_empty() {
            self.ring = VecDeque::new();
        }
        if self.fwd_extra.is_empty() {
            self.fwd_extra = Vec::new();
        }
        for s in self.streams.values_mut() {
            if s.queue.is_empty() {
                s.queue = VecDeque::new();
            }
        }
    }

    /// Whether emptied queues still hold memory.
    pub(crate) fn holds_buffers(&self) -> bool {
        self.inflight.capacity() != 0 || self.ring.capacity() != 0
    }

    pub(crate) fn all_done(&self) -> bool {
        self.queued_msgs == 0 && self.inflight.is_empty()
    }

    pub(crate) fn has_queued_data(&self) -> bool {
        self.rtx_marked > 0 || self.queued_msgs > 0
    }

    pub(crate) fn has_data_to_send(&self) -> bool {
        self.rtx_marked > 0
            || (self.queued_msgs > 0 && (self.flight_size == 0 || self.flight_size < self.cwnd))
    }

    /// The stream to take the next fragment from.
    fn next_stream(&mut self) -> Option<u16> {
        if self.current.is_some() {
            return self.current;
        }
        while let Some(id) = self.ring.pop_front() {
            match self.streams.get_mut(&id) {
                Some(st) if !st.queue.is_empty() => {
                    self.current = Some(id);
                    return Some(id);
                }
                Some(st) => st.scheduled = false,
                None => {}
            }
        }
        None
    }

    /// Removes the front message of `id` (sent, expired or abandoned) and
    /// puts the stream back in the ring if it has more.
    fn pop_front_message(&mut self, id: u16) -> Option<OutMsg> {
        let st = self.streams.get_mut(&id)?;
        let m = st.queue.pop_front();
        if m.is_some() {
            self.queued_msgs -= 1;
        }
        if self.current == Some(id) {
            self.current = None;
            if st.queue.is_empty() {
                st.scheduled = false;
            } else {
                self.ring.push_back(id);
            }
        }
        m
    }

    pub(crate) fn last_assigned_tsn(&self) -> u32 {
        (self.next_tsn - 1) as u32
    }

    fn abandon_msg(&mut self, msg_id: u64, stats: &mut Stats) {
        let mut any = false;
        for s in self
            .inflight
            .iter_mut()
            .filter(|s| s.msg_id == msg_id && !s.abandoned)
        {
            any = true;
            s.abandoned = true;
            if s.in_flight {
                s.in_flight = false;
                self.flight_size -= s.data.len();
            }
            if s.rtx {
                s.rtx = false;
                self.rtx_marked -= 1;
            }
        }
        let cur = self.current.filter(|c| {
            self.streams
                .get(c)
                .and_then(|st| st.queue.front())
                .is_some_and(|m| m.id == msg_id)
        });
        if let Some(c) = cur {
            if let Some(m) = self.pop_front_message(c) {
                if let Some(st) = self.streams.get_mut(&m.stream) {
                    st.queued = st.queued.saturating_sub(m.data.len() - m.offset);
                }
                if m.offset > 0 && !m.unordered && self.fwd_extra.len() < 64 {
                    self.fwd_extra.push((
                        StreamSsn {
                            stream: m.stream,
                            ssn: m.ssn,
                        },
                        3,
                    ));
                    self.fwd_tsn_pending = true;
                }
            }
            any = true;
        }
        if any {
            stats.abandoned_messages += 1;
        }
    }

    /// RFC 3758 §3.5 C1-C2: move the Advanced.Peer.Ack.Point over abandoned
    /// chunks at the front.
    fn update_adv_point(&mut self) {
        if self.adv_peer_ack < self.cum_acked {
            self.adv_peer_ack = self.cum_acked;
        }
        while let Some(s) = self
            .inflight
            .get((self.adv_peer_ack - self.cum_acked) as usize)
        {
            if !s.abandoned {
                break;
            }
            self.adv_peer_ack += 1;
        }
        if self.adv_peer_ack > self.cum_acked || !self.fwd_extra.is_empty() {
            self.fwd_tsn_pending = true;
        }
    }

    /// Whether a FORWARD-TSN may be due (checked before the call on every packet).
    #[inline]
    pub(crate) fn forward_tsn_pending(&self) -> bool {
        self.fwd_tsn_pending
    }

    pub(crate) fn write_forward_tsn(&mut self, w: &mut PacketWriter<'_>, mtu: usize) {
        if !self.fwd_tsn_pending
            || (self.adv_peer_ack <= self.cum_acked && self.fwd_extra.is_empty())
        {
            self.fwd_tsn_pending = false;
            return;
        }
        let n = self.adv_peer_ack.saturating_sub(self.cum_acked) as usize;
        let mut entries: Vec<StreamSsn> = Vec::new();
        for (e, left) in self.fwd_extra.iter_mut() {
            *left -= 1;
            entries.push(*e);
        }
        self.fwd_extra.retain(|(_, left)| *left > 0);
        for s in self.inflight.iter().take(n) {
            if s.flags & DATA_FLAG_U != 0 {
                continue;
            }
            match entries.iter_mut().find(|e| e.stream == s.stream) {
                Some(e) => {
                    if (s.ssn.wrapping_sub(e.ssn) as i16) > 0 {
                        e.ssn = s.ssn;
                    }
                }
                None => entries.push(StreamSsn {
                    stream: s.stream,
                    ssn: s.ssn,
                }),
            }
        }
        let max_entries = (mtu.saturating_sub(w.len() + 8)) / 4;
        entries.truncate(max_entries);
        Chunk::ForwardTsn(ForwardTsn {
            new_cumulative_tsn: self.adv_peer_ack.max(self.cum_acked) as u32,
            streams: List::Items(&entries),
        })
        .emit(w.buffer());
        self.fwd_tsn_pending = false;
    }

    /// Appends retransmissions, then new DATA, as cwnd and rwnd allow.
    pub(crate) fn write_data(
        &mut self,
        now: Instant,
        w: &mut PacketWriter<'_>,
        mtu: usize,
        events: &mut VecDeque<Event>,
        stats: &mut Stats,
    ) {
        if self.rtx_marked > 0 {
            let bypass = std::mem::take(&mut self.fast_rtx_pending);
            let mut i = 0;
            while i < self.inflight.len() && self.rtx_marked > 0 {
                let Some(s) = self.inflight.get(i) else { break };
                if !s.rtx {
                    i += 1;
                    continue;
                }
                if s.should_abandon(now) {
                    let id = s.msg_id;
                    self.abandon_msg(id, stats);
                    self.update_adv_point();
                    i += 1;
                    continue;
                }
                let len = s.data.len();
                if w.len() + 16 + pad4(len) > mtu {
                    break;
                }
                if !bypass && self.flight_size > 0 && self.flight_size >= self.cwnd {
                    self.cwnd_limited = true;
                    break;
                }
                let tsn = self.cum_acked + 1 + i as u64;
                if len > self.peer_rwnd {
                    self.window_probe = Some(tsn);
                }
                emit_data(
                    w.buffer(),
                    s.flags,
                    tsn as u32,
                    s.stream,
                    s.ssn,
                    s.ppid,
                    &s.data,
                );
                if let Some(s) = self.inflight.get_mut(i) {
                    s.rtx = false;
                    s.in_flight = true;
                    s.tx_count = s.tx_count.saturating_add(1);
                    s.sent_at = now;
                    s.missing = 0;
                }
                self.rtx_marked -= 1;
                self.flight_size += len;
                self.peer_rwnd = self.peer_rwnd.saturating_sub(len);
                stats.retransmissions += 1;
                i += 1;
            }
            if self.t3.is_none() {
                self.t3 = Some(now + self.rto);
            }
            if self.rtx_marked > 0 {
                return;
            }
        }
        let mut sent_any = false;
        while let Some(sid) = self.next_stream() {
            let space = mtu.saturating_sub(w.len());
            if space < 20 {
                break;
            }
            // One lookup per chunk: the stream and its front message are
            // borrowed together while the chunk is written.
            let Some(st) = self.streams.get_mut(&sid) else {
                self.current = None;
                continue;
            };
            let Some(msg) = st.queue.front_mut() else {
                self.current = None;
                continue;
            };
            if msg.offset == 0 && msg.expires.is_some_and(|e| e <= now) {
                if let Some(m) = self.pop_front_message(sid) {
                    if let Some(st) = self.streams.get_mut(&sid) {
                        st.note_sent(sid, m.data.len(), events);
                    }
                    stats.abandoned_messages += 1;
                }
                continue;
            }
            let max_payload = (space - 16) & !3;
            let remaining = msg.data.len() - msg.offset;
            let n = if remaining <= max_payload {
                remaining
            } else if remaining > mtu - 28 || max_payload >= 512 {
                max_payload
            } else {
                break;
            };
            if n == 0 {
                break;
            }
            if self.flight_size > 0 && (self.flight_size >= self.cwnd || n > self.peer_rwnd) {
                self.cwnd_limited = self.flight_size >= self.cwnd;
                break;
            }
            if msg.offset == 0 && !msg.unordered {
                msg.ssn = st.next_ssn;
                st.next_ssn = st.next_ssn.wrapping_add(1);
            }
            let mut flags = if msg.unordered { DATA_FLAG_U } else { 0 };
            if msg.offset == 0 {
                flags |= DATA_FLAG_B;
            }
            let end = msg.offset + n;
            let last = end == msg.data.len();
            if last {
                flags |= DATA_FLAG_E;
            }
            let payload = msg.data.slice(msg.offset..end);
            let tsn = self.next_tsn;
            self.next_tsn += 1;
            if n > self.peer_rwnd {
                self.window_probe = Some(tsn);
            }
            emit_data(
                w.buffer(),
                flags,
                tsn as u32,
                sid,
                msg.ssn,
                msg.ppid,
                &payload,
            );
            self.inflight.push_back(Sent {
                msg_id: msg.id,
                stream: sid,
                ssn: msg.ssn,
                ppid: msg.ppid,
                flags,
                data: payload,
                sent_at: now,
                tx_count: 1,
                gap_acked: false,
                abandoned: false,
                in_flight: true,
                rtx: false,
                fast_rtx_done: false,
                missing: 0,
                max_rtx: msg.max_rtx,
                expires: msg.expires,
            });
            msg.offset = end;
            st.note_sent(sid, n, events);
            if last {
                self.pop_front_message(sid);
                stats.messages_sent += 1;
            }
            self.flight_size += n;
            self.peer_rwnd = self.peer_rwnd.saturating_sub(n);
            if self.rtt_probe.is_none() {
                self.rtt_probe = Some((tsn, now));
            }
            sent_any = true;
        }
        if self.queued_msgs == 0 {
            // Everything is sent: what limits us now is the application.
            self.cwnd_limited = false;
        }
        if sent_any && self.t3.is_none() {
            self.t3 = Some(now + self.rto);
        }
    }
}
