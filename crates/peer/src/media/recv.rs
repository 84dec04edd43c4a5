//! Receiving: SRTCP unprotected in place, SRTP into a pooled buffer that
//! becomes the packet handed up; routed to its transceiver (RFC 8843 §9.2),
//! RTX unwrapped, and handed up as RTP or frames.

use super::*;

impl Media {
    /// Handles an SRTP or SRTCP datagram (RFC 5761 §4: payload types
    /// 192..=223 in the second byte are RTCP).
    pub(crate) fn handle_receive(
        &mut self,
        io: &mut MediaIo<'_>,
        now: Instant,
        datagram: &mut [u8],
    ) {
        let is_rtcp = datagram.get(1).is_some_and(|b| (192..=223).contains(b));
        if is_rtcp {
            match io.srtp.remote.unprotect_rtcp_in_place(datagram) {
                Ok(n) => self.handle_rtcp(io, now, datagram.get(..n).unwrap_or(&[])),
                Err(_) => self.dropped += 1,
            }
        } else {
            // Unprotected in a pooled buffer that becomes the packet of
            // [`Event::Rtp`]: one copy of the datagram, not two.
            let mut buf = self.take_buf();
            buf.extend_from_slice(datagram);
            match io.srtp.remote.unprotect_rtp_in_place(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    self.handle_rtp(io, now, buf);
                }
                Err(_) => {
                    self.dropped += 1;
                    self.recycle(buf);
                }
            }
        }
    }

    /// Finds (or creates) the remote stream `ssrc` belongs to.
    fn route(&mut self, p: &RtpPacket<&[u8]>) -> Option<(usize, bool)> {
        let ssrc = p.ssrc();
        if let Some(&r) = self.by_ssrc.get(&ssrc) {
            return Some(r);
        }
        // RFC 8843 §9.2: the mid extension, else a unique payload type.
        let by_mid = self.ext.mid.and_then(|id| p.extension(id)).and_then(|m| {
            self.tracks
                .iter()
                .position(|t| t.recv && t.mid.as_deref().map(str::as_bytes) == Some(m))
        });
        let pt = p.payload_type();
        let t = by_mid.or_else(|| {
            let mut it = self
                .tracks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.recv && t.codec_for(pt).is_some());
            let first = it.next().map(|(i, _)| i);
            it.next().is_none().then_some(first).flatten()
        })?;
        let tr = self.tracks.get_mut(t)?;
        if !tr.recv || tr.layers.len() >= MAX_LAYERS {
            return None;
        }
        let rtx = tr.codec_for(pt)?.is_rtx();
        let ext = tr.ext;
        let rid = |id: Option<u8>| {
            id.and_then(|id| p.extension(id))
                .and_then(|r| std::str::from_utf8(r).ok())
                .filter(|r| !r.is_empty() && r.len() <= 32)
        };
        if rtx {
            // Pair the RTX stream with its primary by repaired-rid, else the
            // only primary without an RTX stream.
            let rrid = rid(ext.repaired_rid);
            let l = tr.layers.iter_mut().find(|l| {
                l.rtx_ssrc.is_none()
                    && match (rrid, &l.rid) {
                        (Some(a), Some(b)) => a == &**b,
                        (None, _) => true,
                        _ => false,
                    }
            })?;
            l.rtx_ssrc = Some(ssrc);
        }
        if self.by_ssrc.len() >= MAX_LAYERS * self.tracks.len().max(1) * 2 {
            return None;
        }
        self.by_ssrc.insert(ssrc, (t, rtx));
        let _ = rid(ext.rid);
        Some((t, rtx))
    }

    /// Routes the RTP packet in `buf` (a pooled buffer, handed on or recycled).
    fn handle_rtp(&mut self, io: &mut MediaIo<'_>, now: Instant, buf: Vec<u8>) {
        let Ok(p) = RtpPacket::new_checked(buf.as_slice()) else {
            self.dropped += 1;
            self.recycle(buf);
            return;
        };
        let Some((t, is_rtx)) = self.route(&p) else {
            self.dropped += 1;
            self.recycle(buf);
            return;
        };
        if !is_rtx {
            self.handle_primary(io, now, t, buf);
            return;
        }
        // RFC 4588 §4: restore the original packet.
        let Some(tr) = self.tracks.get(t) else {
            self.recycle(buf);
            return;
        };
        let Some(apt) = tr.codec_for(p.payload_type()).and_then(CodecParams::apt) else {
            self.dropped += 1;
            self.recycle(buf);
            return;
        };
        let Some(primary) = tr
            .layers
            .iter()
            .find(|l| l.rtx_ssrc == Some(p.ssrc()))
            .map(|l| l.ssrc)
            .or_else(|| self.rtx_primary.get(&p.ssrc()).copied())
        else {
            self.dropped += 1;
            self.recycle(buf);
            return;
        };
        if p.payload().len() < 2 {
            // Padding-only RTX probes carry nothing to restore.
            self.recycle(buf);
            return;
        }
        let mut out = self.take_buf();
        out.resize(buf.len(), 0);
        let unwrapped = fulmar_rtp::rtx::rtx_unwrap(&p, apt, primary, &mut out);
        self.recycle(buf);
        match unwrapped {
            Ok(n) => {
                out.truncate(n);
                self.handle_primary(io, now, t, out);
            }
            Err(_) => self.recycle(out),
        }
    }

    fn handle_primary(&mut self, io: &mut MediaIo<'_>, now: Instant, t: usize, buf: Vec<u8>) {
        let Ok(p) = RtpPacket::new_checked(buf.as_slice()) else {
            self.recycle(buf);
            return;
        };
        let default_mode = self.receive_mode;
        // Transport-wide CC arrival (counts every packet with the extension).
        if let Some(id) = self.ext.transport_cc {
            if let Some(Ok(TransportSequenceNumber(s))) =
                p.extension(id).map(TransportSequenceNumber::parse)
            {
                if self.twcc_recv && self.twcc_arrivals.len() < 4 * TWCC_MAX {
                    let ext = self.twcc_unwrapper.unwrap(s);
                    self.twcc_arrivals.push((ext, now));
                    self.twcc_media_ssrc = p.ssrc();
                    self.twcc_epoch.get_or_insert(now);
                    if self.twcc_next.is_none() {
                        self.twcc_next = Some(now + TWCC_INTERVAL);
                    }
                }
            }
        }
        let sender = self.sender_ssrc();
        let rtt = self.rtt;
        let Some(tr) = self.tracks.get_mut(t) else {
            self.recycle(buf);
            return;
        };
        let ssrc = p.ssrc();
        let pt = p.payload_type();
        let idx = match tr.layers.iter().position(|l| l.ssrc == ssrc) {
            Some(i) => i,
            None => {
                if tr.layers.len() >= MAX_LAYERS {
                    self.recycle(buf);
                    return;
                }
                let rid = tr
                    .ext
                    .rid
                    .and_then(|id| p.extension(id))
                    .and_then(|r| std::str::from_utf8(r).ok())
                    .filter(|r| !r.is_empty() && r.len() <= 32)
                    .map(Arc::from);
                let rate = tr.codec_for(pt).map_or(90_000, |c| c.clock_rate);
                let nack = tr.fb(Some(pt), "nack");
                let mut nack =
                    nack.then(|| NackGenerator::new(NackConfig::default(), sender, ssrc));
                if let (Some(n), Some(r)) = (nack.as_mut(), rtt) {
                    n.set_rtt(r);
                }
                tr.layers.push(RecvLayer {
                    ssrc,
                    rtx_ssrc: None,
                    rid,
                    payload_type: None,
                    codec: None,
                    assembler: None,
                    nack,
                    stats: ReceiverStats::new(ssrc, rate),
                    announced: false,
                    fir_seq: 0,
                    frames_dropped: 0,
                    last_pli: None,
                });
                tr.layers.len() - 1
            }
        };
        let mode = tr.mode.unwrap_or(default_mode);
        // Only a new stream or payload type looks the codec up (no per-packet clone).
        let fresh = tr
            .layers
            .get(idx)
            .is_some_and(|l| l.payload_type != Some(pt) || !l.announced);
        let codec_params = if fresh {
            tr.codec_for(pt).cloned()
        } else {
            None
        };
        let Some(l) = tr.layers.get_mut(idx) else {
            self.recycle(buf);
            return;
        };
        if l.payload_type != Some(pt) {
            l.payload_type = Some(pt);
            l.codec = codec_params
                .as_ref()
                .and_then(|c| Codec::from_name(&c.name));
            // How long a gap is waited for: with NACK, long enough for
            // retransmissions; without, only reordering (audio: a lost packet
            // is one lost frame, never a stall).
            let reorder = if l.nack.is_some() {
                128
            } else if l.codec.is_some_and(Codec::is_audio) {
                2
            } else {
                16
            };
            l.assembler = l.codec.map(|c| {
                let mut a = FrameAssembler::new(c.depacketizer(), ASSEMBLER_SLOTS);
                a.set_max_reorder(reorder);
                a
            });
        }
        if !l.announced {
            l.announced = true;
            io.events.push_back(Event::Track {
                transceiver: TransceiverId(t),
                kind: tr.kind.unwrap_or(MediaKind::Video),
                mid: tr.mid.as_deref().map(str::to_owned),
                rid: l.rid.as_deref().map(str::to_owned),
                ssrc,
                codec: codec_params,
            });
        }
        // A retransmission that crossed a repeated NACK arrives twice: the
        // copy is dropped (not counted, not forwarded).
        let mut new_gap = false;
        if let Some(n) = l.nack.as_mut() {
            let before = n.missing_count();
            if !n.handle_packet(now, p.sequence_number()) {
                self.recycle(buf);
                return;
            }
            new_gap = n.missing_count() > before;
        }
        l.stats
            .handle_packet(now, p.sequence_number(), p.timestamp());
        tr.stats.packets_received += 1;
        tr.stats.bytes_received += p.payload().len() as u64;
        let rid = l.rid.clone();
        // The packet's own buffer becomes the event's when nothing else
        // reads it (raw RTP only); with frames too it is copied first.
        let rtp_event =
            matches!(mode, ReceiveMode::Rtp | ReceiveMode::Both) && io.events.len() < 4096;
        if rtp_event && mode == ReceiveMode::Both {
            let mut copy = take_from(&mut self.pool);
            copy.extend_from_slice(p.as_bytes());
            io.events.push_back(Event::Rtp(RtpReceived {
                transceiver: TransceiverId(t),
                rid: rid.clone(),
                packet: copy,
            }));
        }
        if matches!(mode, ReceiveMode::Frames | ReceiveMode::Both) {
            if let (Some(a), Some(codec)) = (l.assembler.as_mut(), l.codec) {
                a.push_packet(&p);
                while let Some(f) = a.poll_frame() {
                    tr.stats.frames_received += 1;
                    tr.stats.keyframes_received += u64::from(f.keyframe);
                    if io.events.len() < 4096 {
                        io.events.push_back(Event::MediaFrame(MediaFrame {
                            transceiver: TransceiverId(t),
                            rid: rid.clone(),
                            ssrc,
                            payload_type: pt,
                            codec,
                            rtp_timestamp: f.timestamp,
                            keyframe: f.keyframe,
                            data: f.data,
                        }));
                    }
                }
            }
        }
        // A frame given up means the decoder needs a refresh: ask for a
        // keyframe (RFC 4585 §6.3.1), at most every 300 ms.
        let dropped = l.assembler.as_ref().map_or(0, |a| a.stats().frames_dropped);
        let ask = dropped > l.frames_dropped
            && l.codec.is_some_and(|c| !c.is_audio())
            && l.last_pli
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_millis(300));
        l.frames_dropped = dropped;
        if ask && tr.fb(None, "nack pli") {
            if let Some(l) = tr.layers.get_mut(idx) {
                l.last_pli = Some(now);
            }
            tr.stats.pli_sent += 1;
            let pli = RtcpRepr::Pli(PliRepr {
                sender_ssrc: sender,
                media_ssrc: ssrc,
            });
            self.send_feedback(&[pli]);
        }
        // New gaps are NACKed at once (older ones wait for their timer).
        if new_gap {
            self.poll_nacks(now);
        }
        if rtp_event && mode == ReceiveMode::Rtp {
            io.events.push_back(Event::Rtp(RtpReceived {
                transceiver: TransceiverId(t),
                rid,
                packet: buf,
            }));
        } else {
            self.recycle(buf);
        }
    }
}
