//! Sending: frames packetized with the negotiated codec, forwarded RTP
//! rewritten onto our stream, and retransmissions (RFC 4588).

use super::*;

impl Media {
    /// The payload type and codec we send with on `t`.
    pub(crate) fn send_codec(&self, t: usize) -> Option<(u8, Option<Codec>)> {
        let s = self.tracks.get(t)?.send.as_ref()?;
        Some((s.payload_type, s.codec))
    }

    /// Chooses the send codec of `t` among the negotiated ones.
    pub(crate) fn set_send_codec(&mut self, t: usize, payload_type: u8) -> Result<(), Error> {
        let tr = track_mut(&mut self.tracks, t)?;
        let c = tr
            .codec_for(payload_type)
            .filter(|c| !c.is_rtx())
            .cloned()
            .ok_or(Error::Media("payload type not negotiated"))?;
        let rtx_pt = tr
            .codecs
            .iter()
            .find(|x| x.is_rtx() && x.apt() == Some(payload_type))
            .map(|x| x.payload_type);
        let nack = tr.fb(Some(payload_type), "nack");
        let s = tr
            .send
            .as_mut()
            .ok_or(Error::Media("transceiver does not send"))?;
        let codec = Codec::from_name(&c.name);
        s.payload_type = payload_type;
        s.rtx_payload_type = rtx_pt;
        s.codec = codec;
        s.packetizer = codec.map(|k| packetizer(k, &c));
        s.stats = SenderStats::new(s.ssrc, c.clock_rate);
        s.nack = nack;
        if nack {
            s.history = SendHistory::new(HISTORY);
        }
        Ok(())
    }

    /// Packetizes `frame` with the send codec of `t` and sends it.
    pub(crate) fn write_frame(
        &mut self,
        now: Instant,
        t: usize,
        rtp_timestamp: u32,
        frame: &[u8],
    ) -> Result<(), Error> {
        let ext_len = self.ext_len(t);
        let mtu = self.mtu;
        let tr = track_mut(&mut self.tracks, t)?;
        let s = tr
            .send
            .as_mut()
            .ok_or(Error::Media("transceiver does not send"))?;
        let p = s
            .packetizer
            .as_mut()
            .ok_or(Error::Media("no packetizer for the negotiated codec"))?;
        let max_payload = mtu.saturating_sub(12 + ext_len + SRTP_OVERHEAD).max(64);
        let mut packets = std::mem::take(&mut self.packets);
        let mut payloads = std::mem::take(&mut self.payloads);
        packets.clear();
        payloads.clear();
        let r = p.packetize(frame, max_payload, &mut |payload, last| {
            let start = payloads.len();
            payloads.extend_from_slice(payload);
            packets.push((start, payloads.len(), last));
        });
        let ts = s.ts_offset.wrapping_add(rtp_timestamp);
        let pt = s.payload_type;
        let audio = s.codec.is_some_and(Codec::is_audio);
        s.forward = None;
        tr.stats.frames_sent += 1;
        let mut out = r.map_err(Error::Rtp);
        if out.is_ok() {
            for &(a, b, last) in &packets {
                let payload = payloads.get(a..b).unwrap_or(&[]);
                // Audio: the marker bit flags a talkspurt start (RFC 3551 §4.1); we
                // leave it clear. Video: it ends a frame (RFC 7741 §4.1).
                let marker = last && !audio;
                let seq = self.next_seq(t);
                if let Err(e) = self.send_rtp(now, t, marker, pt, seq, ts, payload) {
                    out = Err(e);
                    break;
                }
            }
        }
        self.packets = packets;
        self.payloads = payloads;
        out
    }

    fn next_seq(&mut self, t: usize) -> u16 {
        match self.tracks.get_mut(t).and_then(|tr| tr.send.as_mut()) {
            Some(s) => {
                let q = s.seq;
                s.seq = s.seq.wrapping_add(1);
                q
            }
            None => 0,
        }
    }

    /// Forwards an RTP packet on the send stream of `t`: SSRC, payload type
    /// (kept if negotiated, else the send codec's), sequence numbers (gaps
    /// kept, continuous across source changes) and header extensions are ours.
    pub(crate) fn write_rtp(&mut self, now: Instant, t: usize, packet: &[u8]) -> Result<(), Error> {
        let p = RtpPacket::new_checked(packet)?;
        let tr = track_mut(&mut self.tracks, t)?;
        let negotiated = tr.codec_for(p.payload_type()).is_some_and(|c| !c.is_rtx());
        let s = tr
            .send
            .as_mut()
            .ok_or(Error::Media("transceiver does not send"))?;
        let pt = if negotiated {
            p.payload_type()
        } else {
            s.payload_type
        };
        let (src, seq_off, ts_off) = match s.forward {
            Some(f) if f.0 == p.ssrc() => f,
            _ => {
                // A new source: continue our sequence and timeline.
                let seq_off = s.seq.wrapping_sub(p.sequence_number());
                let step = if s.codec.is_some_and(Codec::is_audio) {
                    960
                } else {
                    3000
                };
                let ts_off = s.last_ts.wrapping_add(step).wrapping_sub(p.timestamp());
                let f = (p.ssrc(), seq_off, ts_off);
                s.forward = Some(f);
                f
            }
        };
        let _ = src;
        let seq = p.sequence_number().wrapping_add(seq_off);
        if fulmar_rtp::seq::seq_newer(seq, s.last_seq) || seq == s.seq {
            s.seq = seq.wrapping_add(1);
        }
        let ts = p.timestamp().wrapping_add(ts_off);
        self.send_rtp(now, t, p.marker(), pt, seq, ts, p.payload())
    }

    fn ext_len(&self, t: usize) -> usize {
        let Some(tr) = self.tracks.get(t) else {
            return 0;
        };
        let mut n = 0;
        if tr.ext.mid.is_some() {
            n += 1 + tr.mid.as_ref().map_or(0, |m| m.len().min(16));
        }
        if tr.ext.abs_send_time.is_some() {
            n += 4;
        }
        if tr.ext.transport_cc.is_some() {
            n += 3;
        }
        if n > 0 {
            4 + n.div_ceil(4) * 4
        } else {
            0
        }
    }

    /// Builds one RTP packet into its slot of the send history and queues
    /// it: it is protected into the caller's buffer when polled
    /// ([`Media::poll_transmit`]).
    #[allow(clippy::too_many_arguments)]
    fn send_rtp(
        &mut self,
        now: Instant,
        t: usize,
        marker: bool,
        payload_type: u8,
        seq: u16,
        ts: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        // The NTP clock is anchored at the first packet sent (sender
        // reports count from there); abs-send-time reads it when negotiated.
        let clock = self.ntp(now);
        let twcc = self.twcc_seq;
        let tr = track_mut(&mut self.tracks, t)?;
        let s = tr
            .send
            .as_mut()
            .ok_or(Error::Media("transceiver does not send"))?;
        if payload_type > 127 {
            return Err(fulmar_rtp::Error::InvalidInput("payload type above 127").into());
        }
        if tr.header.is_none() {
            let mid = tr
                .ext
                .mid
                .zip(tr.mid.as_deref())
                .filter(|(_, m)| !m.is_empty() && m.len() <= 16)
                .map(|(id, m)| (id, m.as_bytes()));
            tr.header = HeaderTemplate::new(mid, tr.ext.abs_send_time, tr.ext.transport_cc);
        }
        let header = tr
            .header
            .as_ref()
            .ok_or(Error::Media("RTP header does not fit"))?;
        let mut abs = [0u8; 3];
        if header.has_abs_send_time() {
            let _ = AbsSendTime::from_ntp(clock.ntp_at(now)).write(&mut abs);
        }
        let used_twcc = header.has_transport_cc();
        // Written once, where the history keeps it for NACKs.
        let slot = s.history.record(seq);
        header.write(slot, marker, payload_type, seq, ts, s.ssrc, abs, twcc);
        slot.extend_from_slice(payload);
        s.stats.handle_sent(now, ts, payload.len());
        s.last_seq = seq;
        s.last_ts = ts;
        tr.stats.packets_sent += 1;
        tr.stats.bytes_sent += payload.len() as u64;
        if used_twcc {
            self.twcc_seq = self.twcc_seq.wrapping_add(1);
        }
        // Beyond the bound (an application that does not poll), the packet
        // is lost as a full socket would lose it; a NACK may still recover it.
        if self.outgoing.len() < MAX_OUTGOING {
            self.outgoing.push_back(Outgoing::Rtp { track: t, seq });
        } else {
            self.dropped += 1;
        }
        Ok(())
    }

    /// Queues the retransmission of the packets a NACK reports lost (RFC
    /// 4585 §6.2.1), as RTX (RFC 4588 §4) when negotiated; each is built
    /// from the send history when polled.
    pub(super) fn retransmit(&mut self, t: usize, lost: impl Iterator<Item = u16>) {
        for seq in lost.take(256) {
            if self.outgoing.len() >= MAX_OUTGOING {
                self.dropped += 1;
                return;
            }
            let Some(tr) = self.tracks.get_mut(t) else {
                return;
            };
            let Some(s) = tr.send.as_ref() else {
                return;
            };
            if s.history.get(seq).is_none() {
                continue;
            }
            let rtx = s.rtx_payload_type.is_some() && s.rtx_ssrc.is_some();
            tr.stats.retransmitted_packets_sent += 1;
            self.outgoing.push_back(if rtx {
                Outgoing::Rtx { track: t, seq }
            } else {
                Outgoing::Rtp { track: t, seq }
            });
        }
    }

    /// Writes the next queued RTP, RTX or RTCP packet into `buf` (replacing
    /// its contents), protected with `srtp`; `false` when none is left.
    /// Packets whose history slot a later one took are skipped (counted in
    /// `dropped`).
    pub(crate) fn poll_transmit(&mut self, srtp: &mut SrtpContexts, buf: &mut Vec<u8>) -> bool {
        while let Some(o) = self.outgoing.pop_front() {
            let sent = self.build(o, srtp, buf);
            if self.outgoing.is_empty() {
                self.rtcp_out.clear();
            }
            if sent.is_some() {
                return true;
            }
            self.dropped += 1;
        }
        false
    }

    /// Builds and protects one queued packet into `buf`.
    fn build(&mut self, o: Outgoing, srtp: &mut SrtpContexts, buf: &mut Vec<u8>) -> Option<()> {
        buf.clear();
        let len = match o {
            Outgoing::Rtp { track, seq } => {
                let s = self.tracks.get(track)?.send.as_ref()?;
                buf.extend_from_slice(s.history.get(seq)?);
                buf.len()
            }
            Outgoing::Rtx { track, seq } => {
                let s = self.tracks.get_mut(track)?.send.as_mut()?;
                let (pt, ssrc) = (s.rtx_payload_type?, s.rtx_ssrc?);
                let orig = RtpPacket::new_checked(s.history.get(seq)?).ok()?;
                buf.resize(orig.as_bytes().len() + 2, 0);
                let n = fulmar_rtp::rtx::rtx_wrap(&orig, pt, ssrc, s.rtx_seq, buf).ok()?;
                s.rtx_seq = s.rtx_seq.wrapping_add(1);
                n
            }
            Outgoing::Rtcp { start, len } => {
                buf.extend_from_slice(self.rtcp_out.get(start..start + len)?);
                buf.resize(len + SRTP_OVERHEAD, 0);
                let n = srtp.local.protect_rtcp_in_place(buf, len).ok()?;
                buf.truncate(n);
                return Some(());
            }
        };
        buf.resize(len + SRTP_OVERHEAD, 0);
        let n = srtp.local.protect_rtp_in_place(buf, len).ok()?;
        buf.truncate(n);
        Some(())
    }
}

/// Transceiver `t`'s track.
fn track_mut(tracks: &mut [Track], t: usize) -> Result<&mut Track, Error> {
    tracks.get_mut(t).ok_or(Error::Media("unknown transceiver"))
}

/// A packetizer for `codec` honouring the negotiated fmtp (H.264
/// packetization-mode, RFC 6184 §8.1).
pub(super) fn packetizer(codec: Codec, params: &CodecParams) -> Box<dyn Packetizer + Send> {
    if codec == Codec::H264 {
        use fulmar_rtp::codec::h264::{H264Packetizer, PacketizationMode};
        let mode = match params.fmtp_param("packetization-mode") {
            Some("1") => PacketizationMode::NonInterleaved,
            _ => PacketizationMode::SingleNal,
        };
        return Box::new(H264Packetizer::new(mode));
    }
    codec.packetizer()
}
