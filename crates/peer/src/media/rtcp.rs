//! RTCP duties: reports (RFC 3550 §6), NACK, PLI/FIR (RFC 4585, RFC 5104),
//! transport-wide CC feedback and the report timers.

use super::*;

impl Media {
    /// Asks the remote sender of `t` for a keyframe: PLI, or FIR when only
    /// `ccm fir` was negotiated (RFC 5104 §4.3.1).
    pub(crate) fn request_keyframe(&mut self, t: usize) -> Result<(), Error> {
        let sender = self.sender_ssrc();
        let tr = self
            .tracks
            .get_mut(t)
            .ok_or(Error::Media("unknown transceiver"))?;
        if !tr.recv {
            return Err(Error::Media("transceiver does not receive"));
        }
        let pli = tr.fb(None, "nack pli");
        let fir = tr.fb(None, "ccm fir");
        let mut packets = Vec::new();
        for l in &mut tr.layers {
            if pli || !fir {
                packets.push(RtcpRepr::Pli(PliRepr {
                    sender_ssrc: sender,
                    media_ssrc: l.ssrc,
                }));
            } else {
                l.fir_seq = l.fir_seq.wrapping_add(1);
                packets.push(RtcpRepr::Fir(FirRepr {
                    sender_ssrc: sender,
                    entries: vec![FirEntry {
                        ssrc: l.ssrc,
                        sequence_number: l.fir_seq,
                    }],
                }));
            }
        }
        if packets.is_empty() {
            return Err(Error::Media("no remote stream yet"));
        }
        if pli || !fir {
            tr.stats.pli_sent += packets.len() as u64;
        } else {
            tr.stats.fir_sent += packets.len() as u64;
        }
        self.send_feedback(&packets);
        Ok(())
    }

    /// The SSRC our RTCP is sent from: the first sending stream, else ours.
    pub(super) fn sender_ssrc(&self) -> u32 {
        self.tracks
            .iter()
            .find_map(|t| t.send.as_ref().map(|s| s.ssrc))
            .unwrap_or(self.rtcp_ssrc)
    }

    /// Sends feedback: alone when reduced-size RTCP is allowed (RFC 5506),
    /// else after an RR and SDES as a compound packet (RFC 3550 §6.1).
    pub(super) fn send_feedback(&mut self, packets: &[RtcpRepr]) {
        if self.rsize {
            self.send_rtcp(packets);
        } else {
            let mut all = vec![
                RtcpRepr::ReceiverReport(ReceiverReportRepr {
                    ssrc: self.sender_ssrc(),
                    reports: Vec::new(),
                }),
                self.sdes(),
            ];
            all.extend_from_slice(packets);
            self.send_rtcp(&all);
        }
    }

    fn sdes(&self) -> RtcpRepr {
        RtcpRepr::Sdes(SdesRepr {
            chunks: vec![SdesChunkRepr {
                ssrc: self.sender_ssrc(),
                items: vec![(1, self.cname.as_bytes().to_vec())],
            }],
        })
    }

    /// Queues `packets` as compound RTCP datagrams that fit the MTU, in
    /// plaintext; each is protected when polled.
    fn send_rtcp(&mut self, packets: &[RtcpRepr]) {
        let mut start = 0;
        while start < packets.len() {
            let mut end = start;
            let mut size = 0;
            while end < packets.len() {
                let l = packets[end].buffer_len();
                if end > start && size + l + SRTP_OVERHEAD > self.mtu {
                    break;
                }
                size += l;
                end += 1;
            }
            if self.outgoing.len() >= MAX_OUTGOING {
                self.dropped += 1;
                return;
            }
            let at = self.rtcp_out.len();
            self.rtcp_out.resize(at + size, 0);
            let written = self
                .rtcp_out
                .get_mut(at..)
                .and_then(|b| fulmar_rtp::rtcp::write_compound(&packets[start..end], b).ok());
            match written {
                Some(len) => {
                    self.rtcp_out.truncate(at + len);
                    self.outgoing.push_back(Outgoing::Rtcp { start: at, len });
                }
                None => self.rtcp_out.truncate(at),
            }
            start = end;
        }
    }

    pub(super) fn handle_rtcp(&mut self, io: &mut MediaIo<'_>, now: Instant, packet: &[u8]) {
        let now_ntp = self.ntp(now).ntp_at(now);
        for p in CompoundIter::new(packet).take(64) {
            let Ok(p) = p else {
                self.dropped += 1;
                break;
            };
            match p {
                RtcpPacket::SenderReport(sr) => {
                    for tr in &mut self.tracks {
                        if let Some(l) = tr.layers.iter_mut().find(|l| l.ssrc == sr.ssrc()) {
                            l.stats.handle_sender_report(now, sr.ntp_time());
                            tr.stats.sr_received += 1;
                        }
                    }
                    for b in sr.reports() {
                        self.handle_report_block(now_ntp, &b);
                    }
                }
                RtcpPacket::ReceiverReport(rr) => {
                    for b in rr.reports() {
                        self.handle_report_block(now_ntp, &b);
                    }
                }
                RtcpPacket::Nack(n) => {
                    if let Some(t) = self.sending_track(n.media_ssrc()) {
                        if let Some(tr) = self.tracks.get_mut(t) {
                            tr.stats.nack_received += 1;
                        }
                        self.retransmit(t, n.lost());
                    }
                }
                RtcpPacket::Pli(pli) => {
                    if let Some(t) = self.sending_track(pli.media_ssrc) {
                        if let Some(tr) = self.tracks.get_mut(t) {
                            tr.stats.pli_received += 1;
                        }
                        io.events.push_back(Event::KeyframeRequest {
                            transceiver: TransceiverId(t),
                            kind: KeyframeKind::Pli,
                        });
                    }
                }
                RtcpPacket::Fir(fir) => {
                    for e in fir.entries().take(32) {
                        let Some(t) = self.sending_track(e.ssrc) else {
                            continue;
                        };
                        let Some(tr) = self.tracks.get_mut(t) else {
                            continue;
                        };
                        let Some(s) = tr.send.as_mut() else { continue };
                        // RFC 5104 §4.3.1.2: a repeated sequence number is a retransmission.
                        if s.last_fir_seq == Some(e.sequence_number) {
                            continue;
                        }
                        s.last_fir_seq = Some(e.sequence_number);
                        tr.stats.fir_received += 1;
                        io.events.push_back(Event::KeyframeRequest {
                            transceiver: TransceiverId(t),
                            kind: KeyframeKind::Fir,
                        });
                    }
                }
                RtcpPacket::Remb(r) => {
                    let bitrate = r.bitrate();
                    let ssrcs: Vec<u32> = r.ssrcs().take(32).collect();
                    for tr in &mut self.tracks {
                        if tr
                            .send
                            .as_ref()
                            .is_some_and(|s| ssrcs.is_empty() || ssrcs.contains(&s.ssrc))
                        {
                            tr.stats.remb_bitrate = Some(bitrate);
                        }
                    }
                }
                RtcpPacket::TransportCc(fb) => {
                    if let Some(tr) = self.tracks.iter_mut().find(|t| t.send.is_some()) {
                        tr.stats.twcc_feedback_received += 1;
                    }
                    let _ = fb;
                }
                _ => {}
            }
        }
    }

    fn sending_track(&self, ssrc: u32) -> Option<usize> {
        self.tracks
            .iter()
            .position(|t| t.send.as_ref().is_some_and(|s| s.ssrc == ssrc))
    }

    fn handle_report_block(&mut self, now_ntp: u64, b: &ReportBlock) {
        let Some(t) = self.sending_track(b.ssrc) else {
            return;
        };
        let rtt = rtt_from_report(now_ntp, b);
        if let Some(tr) = self.tracks.get_mut(t) {
            tr.stats.remote_fraction_lost = b.fraction_lost;
            if rtt.is_some() {
                tr.stats.round_trip_time = rtt;
            }
        }
        if let Some(rtt) = rtt {
            self.set_rtt(rtt);
        }
    }

    /// A round-trip time measurement (RTCP reports, or ICE checks when we
    /// only receive): it spaces NACK retries (RFC 4585 §3.2).
    pub(crate) fn set_rtt(&mut self, rtt: Duration) {
        // Retry after the RTT plus a margin for jitter and the sender's
        // turnaround, so a retransmission on its way is not asked again.
        let rtt = rtt + rtt / 2 + Duration::from_millis(5);
        self.rtt = Some(rtt);
        for tr in &mut self.tracks {
            for l in &mut tr.layers {
                if let Some(n) = l.nack.as_mut() {
                    n.set_rtt(rtt);
                }
            }
        }
    }

    /// True when the next RTCP report is due (the caller refreshes the RTT then).
    pub(crate) fn report_due(&self, now: Instant) -> bool {
        self.next_report.is_some_and(|t| t <= now)
    }

    /// Starts RTCP once SRTP is keyed.
    pub(crate) fn start(&mut self, now: Instant) {
        if self.next_report.is_none() {
            // RFC 3550 §6.3.2: the first report after half an interval.
            let i = self.report_interval() / 2;
            self.next_report = Some(now + self.jitter_interval(i));
        }
        self.twcc_recv = self
            .tracks
            .iter()
            .any(|t| t.recv && t.ext.transport_cc.is_some() && t.fb(None, "transport-cc"));
    }

    /// The deterministic RTCP interval: 1 s with video, 5 s for audio only
    /// (what browsers use; RFC 3550 §6.2 allows a fixed minimum).
    pub(super) fn report_interval(&self) -> Duration {
        if self
            .tracks
            .iter()
            .any(|t| t.active && t.kind == Some(MediaKind::Video))
        {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(5)
        }
    }

    /// RFC 3550 §6.3.1: the interval times a random factor in [0.5, 1.5].
    pub(super) fn jitter_interval(&mut self, i: Duration) -> Duration {
        let f: f64 = self.rng.gen_range(0.5..1.5);
        i.mul_f64(f)
    }

    pub(super) fn poll_nacks(&mut self, now: Instant) {
        let mut nacks = Vec::new();
        for tr in &mut self.tracks {
            for l in &mut tr.layers {
                if let Some(n) = l.nack.as_mut() {
                    if n.poll_timeout().is_some_and(|t| t <= now) {
                        if let Some(r) = n.poll_nack(now) {
                            tr.stats.nack_sent += 1;
                            nacks.push(RtcpRepr::Nack(r));
                        }
                    }
                }
            }
        }
        if !nacks.is_empty() {
            self.send_feedback(&nacks);
        }
    }

    /// Sender reports for each sending stream (the first carries the
    /// reception report blocks) or one receiver report, then SDES CNAME
    /// (RFC 3550 §6.1, §6.4).
    pub(super) fn send_reports(&mut self, now: Instant) {
        let clock = self.ntp(now);
        let mut blocks: Vec<ReportBlock> = Vec::new();
        for tr in &mut self.tracks {
            for l in &mut tr.layers {
                if blocks.len() < 31 {
                    blocks.push(l.stats.report_block(now));
                }
            }
        }
        let mut packets = Vec::new();
        for tr in &self.tracks {
            if let Some(s) = &tr.send {
                let reports = std::mem::take(&mut blocks);
                packets.push(RtcpRepr::SenderReport(
                    s.stats.sender_report(now, &clock, reports),
                ));
            }
        }
        if packets.is_empty() {
            packets.push(RtcpRepr::ReceiverReport(ReceiverReportRepr {
                ssrc: self.rtcp_ssrc,
                reports: blocks,
            }));
        }
        // SDES right after the report(s), in the same compound packet.
        let sdes = self.sdes();
        if packets.len() > 1 {
            packets.insert(1, sdes);
        } else {
            packets.push(sdes);
        }
        self.send_rtcp(&packets);
    }

    pub(super) fn send_twcc(&mut self) {
        let mut arrivals = std::mem::take(&mut self.twcc_arrivals);
        arrivals.sort_unstable_by_key(|a| a.0);
        arrivals.dedup_by_key(|a| a.0);
        let (Some(first), Some(epoch)) = (arrivals.first().map(|a| a.0), self.twcc_epoch) else {
            self.twcc_arrivals = arrivals;
            return;
        };
        let last = arrivals.last().map_or(first, |a| a.0);
        let span = (last - first + 1).min(TWCC_MAX as u64) as usize;
        let mut times: Vec<Option<i64>> = vec![None; span];
        for (s, at) in &arrivals {
            let i = (s - first) as usize;
            if let Some(slot) = times.get_mut(i) {
                *slot = Some(at.saturating_duration_since(epoch).as_micros() as i64);
            }
        }
        arrivals.clear();
        self.twcc_arrivals = arrivals;
        let sender = self.sender_ssrc();
        if let Ok(fb) = TransportCcRepr::from_arrivals(
            sender,
            self.twcc_media_ssrc,
            first as u16,
            self.twcc_count,
            &times,
        ) {
            self.twcc_count = self.twcc_count.wrapping_add(1);
            self.send_feedback(&[RtcpRepr::TransportCc(fb)]);
        }
    }
}
