//! Moving media: per-transceiver RTP send and receive streams over SRTP,
//! and the RTCP duties that go with them (RFC 3550 §6, RFC 4585, RFC 5104,
//! RFC 4588, transport-wide CC).
//!
//! Sending: [`Media::write_frame`] packetizes with the negotiated codec,
//! [`Media::write_rtp`] forwards an RTP packet on the negotiated stream
//! (SSRC, payload type, sequence numbers and header extensions are ours).
//! Both keep a send history that answers NACKs, with RTX when negotiated.
//!
//! Receiving: SRTP is unprotected into a scratch buffer, the packet is routed
//! to its transceiver (RFC 8843 §9.2: SSRC table, then the `mid` header
//! extension, then the payload type), RTX is unwrapped, statistics, NACK and
//! transport-wide CC bookkeeping run, and the application gets raw RTP or
//! assembled frames.
//!
//! Buffers: outgoing datagrams and [`RtpReceived`] packets come from a pool
//! that [`crate::PeerConnection::recycle`] refills, so a forwarding loop that
//! hands buffers back allocates nothing per packet.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rng::CompactRng;
use fulmar_rtp::extension::{AbsSendTime, ExtensionValue, TransportSequenceNumber};
use fulmar_rtp::rtcp::{
    self, CompoundIter, FirEntry, FirRepr, PliRepr, ReceiverReportRepr, ReportBlock, RtcpPacket,
    RtcpRepr, SdesChunkRepr, SdesRepr, TransportCcRepr,
};
use fulmar_rtp::stats::rtt_from_report;
use fulmar_rtp::{
    Codec, FrameAssembler, NackConfig, NackGenerator, NtpClock, Packetizer, ReceiverStats,
    RtpPacket, SendHistory, SenderStats, SequenceUnwrapper,
};
use rand::{Rng, RngCore};

use crate::media::{CodecParams, MediaKind, TransceiverId};

mod header;
use crate::{Error, Event, SrtpContexts, Transmit};
use fulmar_srtp::SsrcMap;
use header::HeaderTemplate;

/// URIs of the RTP header extensions Fulmar reads or writes (RFC 8285).
pub mod uri {
    /// `mid` (RFC 9143 §15.2).
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// `rid` (RFC 8852 §3.1).
    pub const RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
    /// `repaired-rid` (RFC 8852 §3.2).
    pub const REPAIRED_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
    /// abs-send-time (webrtc.org).
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    pub const TRANSPORT_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// Client-to-mixer audio level (RFC 6464).
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
}

/// What the application receives for a remote track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiveMode {
    /// Assembled frames ([`Event::MediaFrame`]), the default.
    #[default]
    Frames,
    /// Raw RTP after SRTP unprotect ([`Event::Rtp`]), for forwarders.
    Rtp,
    /// Both.
    Both,
}

/// How a keyframe was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeKind {
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli,
    /// Full intra request (RFC 5104 §4.3.1).
    Fir,
}

/// A frame assembled from a remote stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFrame {
    /// The transceiver it arrived on.
    pub transceiver: TransceiverId,
    /// The simulcast layer (`rid`), if the stream has one.
    pub rid: Option<Arc<str>>,
    /// The SSRC of the stream.
    pub ssrc: u32,
    /// The payload type it was sent with.
    pub payload_type: u8,
    /// The codec.
    pub codec: Codec,
    /// RTP timestamp of the frame.
    pub rtp_timestamp: u32,
    /// True for a keyframe (decoder refresh point).
    pub keyframe: bool,
    /// The codec bitstream (Annex-B for H.264, OBUs for AV1).
    pub data: Vec<u8>,
}

/// An RTP packet from a remote stream, after SRTP unprotect (and RTX unwrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpReceived {
    /// The transceiver it arrived on.
    pub transceiver: TransceiverId,
    /// The simulcast layer (`rid`), if the stream has one.
    pub rid: Option<Arc<str>>,
    /// The whole RTP packet (header and payload); hand it back with
    /// [`crate::PeerConnection::recycle`] to reuse its buffer.
    pub packet: Vec<u8>,
}

/// Media counters of one transceiver, comparable to `getStats()`'s
/// `outbound-rtp`, `inbound-rtp` and `remote-inbound-rtp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaStats {
    /// The transceiver.
    pub transceiver: usize,
    /// Its mid.
    pub mid: Option<String>,
    /// RTP packets sent (retransmissions excluded).
    pub packets_sent: u64,
    /// Payload bytes sent (retransmissions excluded).
    pub bytes_sent: u64,
    /// Frames given to [`crate::PeerConnection::write_frame`].
    pub frames_sent: u64,
    /// Packets retransmitted in answer to NACKs.
    pub retransmitted_packets_sent: u64,
    /// RTP packets received (all layers, retransmissions included once).
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Packets lost (expected minus received, RFC 3550 A.3).
    pub packets_lost: i64,
    /// Interarrival jitter (RFC 3550 A.8) of the first layer.
    pub jitter: Duration,
    /// Frames assembled.
    pub frames_received: u64,
    /// Keyframes assembled.
    pub keyframes_received: u64,
    /// NACK packets sent / received.
    pub nack_sent: u64,
    /// NACK packets received.
    pub nack_received: u64,
    /// PLIs sent.
    pub pli_sent: u64,
    /// PLIs received.
    pub pli_received: u64,
    /// FIRs sent.
    pub fir_sent: u64,
    /// FIRs received.
    pub fir_received: u64,
    /// Round-trip time from the last report block about our stream (RFC 3550 §6.4.1).
    pub round_trip_time: Option<Duration>,
    /// Fraction lost the remote reported about our stream, in 1/256.
    pub remote_fraction_lost: u8,
    /// The last REMB bitrate the remote announced for our stream, bit/s.
    pub remb_bitrate: Option<u64>,
    /// Transport-wide CC feedback packets received.
    pub twcc_feedback_received: u64,
    /// Sender reports received.
    pub sr_received: u64,
}

/// Largest RTP or RTCP datagram we build (fits a 1500-byte Ethernet MTU).
const BUF_CAPACITY: usize = 1500;
/// Most pooled buffers kept.
const MAX_POOL: usize = 512;
/// Most remote streams per transceiver (simulcast layers and RTX).
const MAX_LAYERS: usize = 8;
/// Packets kept to answer NACKs, per sending stream (about 2.5 s of a
/// 2 Mbit/s video stream; slot buffers grow only as packets are sent).
const HISTORY: usize = 512;
/// Packets the frame assembler holds.
const ASSEMBLER_SLOTS: usize = 512;
/// Transport-wide CC feedback interval.
const TWCC_INTERVAL: Duration = Duration::from_millis(100);
/// Most arrivals one TWCC feedback describes.
const TWCC_MAX: usize = 500;
/// Largest SRTP overhead (HMAC-SHA1-80 tag, or AEAD tag; plus the SRTCP index).
const SRTP_OVERHEAD: usize = 4 + 16;

/// Negotiated RTP header extension ids of the bundle (RFC 8843 §9.1.2:
/// one id per URI across the bundle).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExtIds {
    mid: Option<u8>,
    rid: Option<u8>,
    repaired_rid: Option<u8>,
    abs_send_time: Option<u8>,
    transport_cc: Option<u8>,
}

impl ExtIds {
    fn from(extensions: &[(u16, String)]) -> Self {
        let find = |u: &str| {
            extensions
                .iter()
                .find(|(_, x)| x == u)
                .and_then(|(id, _)| u8::try_from(*id).ok())
                .filter(|id| (1..=14).contains(id))
        };
        ExtIds {
            mid: find(uri::MID),
            rid: find(uri::RID),
            repaired_rid: find(uri::REPAIRED_RID),
            abs_send_time: find(uri::ABS_SEND_TIME),
            transport_cc: find(uri::TRANSPORT_CC),
        }
    }

    fn merge(&mut self, o: ExtIds) {
        self.mid = self.mid.or(o.mid);
        self.rid = self.rid.or(o.rid);
        self.repaired_rid = self.repaired_rid.or(o.repaired_rid);
        self.abs_send_time = self.abs_send_time.or(o.abs_send_time);
        self.transport_cc = self.transport_cc.or(o.transport_cc);
    }
}

/// What a negotiation decided for one transceiver (input of [`Media::configure`]).
#[derive(Debug, Clone)]
pub(crate) struct Negotiated {
    pub kind: MediaKind,
    pub mid: Option<String>,
    pub send: bool,
    pub recv: bool,
    pub codecs: Vec<CodecParams>,
    pub extensions: Vec<(u16, String)>,
    /// Our SSRC and RTX SSRC when we send.
    pub ssrc: Option<(u32, Option<u32>)>,
    /// Remote SSRCs from `a=ssrc` (primary, RTX if grouped with FID).
    pub remote_ssrcs: Vec<(u32, Option<u32>)>,
}

struct SendState {
    ssrc: u32,
    rtx_ssrc: Option<u32>,
    seq: u16,
    rtx_seq: u16,
    ts_offset: u32,
    payload_type: u8,
    rtx_payload_type: Option<u8>,
    codec: Option<Codec>,
    packetizer: Option<Box<dyn Packetizer + Send>>,
    history: SendHistory,
    stats: SenderStats,
    nack: bool,
    /// Forwarding: (source SSRC, sequence offset, timestamp offset).
    forward: Option<(u32, u16, u32)>,
    last_seq: u16,
    last_ts: u32,
    last_fir_seq: Option<u8>,
}

struct RecvLayer {
    ssrc: u32,
    rtx_ssrc: Option<u32>,
    rid: Option<Arc<str>>,
    payload_type: Option<u8>,
    codec: Option<Codec>,
    assembler: Option<FrameAssembler>,
    nack: Option<NackGenerator>,
    stats: ReceiverStats,
    announced: bool,
    fir_seq: u8,
    /// Frames the assembler abandoned, as last seen (a rise asks for a keyframe).
    frames_dropped: u64,
    last_pli: Option<Instant>,
}

#[derive(Default)]
struct Track {
    kind: Option<MediaKind>,
    mid: Option<Arc<str>>,
    active: bool,
    recv: bool,
    codecs: Vec<CodecParams>,
    ext: ExtIds,
    send: Option<SendState>,
    layers: Vec<RecvLayer>,
    mode: Option<ReceiveMode>,
    stats: MediaStats,
    /// The RTP header we send with, laid out on first use after each negotiation.
    header: Option<HeaderTemplate>,
}

impl Track {
    fn codec_for(&self, pt: u8) -> Option<&CodecParams> {
        self.codecs.iter().find(|c| c.payload_type == pt)
    }

    fn fb(&self, pt: Option<u8>, what: &str) -> bool {
        let mut cs = self
            .codecs
            .iter()
            .filter(|c| !c.is_rtx() && pt.is_none_or(|p| p == c.payload_type));
        cs.any(|c| c.rtcp_fb.iter().any(|f| f == what))
    }
}

/// Where datagrams go, and what they are protected with.
pub(crate) struct MediaIo<'a> {
    pub srtp: &'a mut SrtpContexts,
    pub transmits: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<Event>,
    pub path: (SocketAddr, SocketAddr),
    pub max_transmits: usize,
}

/// The media engine of a peer connection.
pub(crate) struct Media {
    tracks: Vec<Track>,
    /// Remote SSRC → (transceiver, is RTX).
    by_ssrc: SsrcMap<(usize, bool)>,
    /// Remote RTX SSRC → its primary SSRC (`a=ssrc-group:FID`).
    rtx_primary: HashMap<u32, u32>,
    ext: ExtIds,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    packets: Vec<(usize, usize, bool)>,
    payloads: Vec<u8>,
    rtcp_ssrc: u32,
    cname: String,
    ntp: Option<NtpClock>,
    next_report: Option<Instant>,
    rng: CompactRng,
    pub receive_mode: ReceiveMode,
    pub mtu: usize,
    rsize: bool,
    twcc_seq: u16,
    twcc_unwrapper: SequenceUnwrapper,
    twcc_arrivals: Vec<(u64, Instant)>,
    twcc_epoch: Option<Instant>,
    twcc_next: Option<Instant>,
    twcc_count: u8,
    twcc_media_ssrc: u32,
    twcc_recv: bool,
    /// The latest round-trip time (RTCP reports or ICE), spacing NACK retries.
    rtt: Option<Duration>,
    /// RTP/RTCP datagrams dropped (SRTP failure, unroutable, malformed).
    pub dropped: u64,
}

impl Media {
    pub(crate) fn new(mut rng: CompactRng, cname: String) -> Self {
        Media {
            tracks: Vec::new(),
            by_ssrc: SsrcMap::default(),
            rtx_primary: HashMap::new(),
            ext: ExtIds::default(),
            pool: Vec::new(),
            scratch: Vec::new(),
            packets: Vec::new(),
            payloads: Vec::new(),
            rtcp_ssrc: rng.next_u32(),
            cname,
            ntp: None,
            next_report: None,
            twcc_seq: rng.gen(),
            rng,
            receive_mode: ReceiveMode::Frames,
            mtu: 1200,
            rsize: true,
            twcc_unwrapper: SequenceUnwrapper::new(),
            twcc_arrivals: Vec::new(),
            twcc_epoch: None,
            twcc_next: None,
            twcc_count: 0,
            twcc_media_ssrc: 0,
            twcc_recv: false,
            rtt: None,
            dropped: 0,
        }
    }

    /// Anchors the NTP clock of sender reports to wall-clock time.
    pub(crate) fn set_wall_clock(&mut self, now: Instant, since_unix_epoch: Duration) {
        self.ntp = Some(NtpClock::from_unix(now, since_unix_epoch));
    }

    fn ntp(&mut self, now: Instant) -> NtpClock {
        *self
            .ntp
            .get_or_insert_with(|| NtpClock::from_unix(now, Duration::ZERO))
    }

    /// Takes a buffer from the pool.
    fn take_buf(&mut self) -> Vec<u8> {
        take_from(&mut self.pool)
    }

    /// Returns a buffer to the pool.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < MAX_POOL && buf.capacity() >= BUF_CAPACITY {
            self.pool.push(buf);
        }
    }

    pub(crate) fn set_receive_mode(&mut self, t: usize, mode: ReceiveMode) {
        self.ensure(t);
        if let Some(tr) = self.tracks.get_mut(t) {
            tr.mode = Some(mode);
        }
    }

    fn ensure(&mut self, t: usize) {
        while self.tracks.len() <= t {
            self.tracks.push(Track::default());
        }
    }

    /// Applies a completed negotiation to transceiver `t`.
    pub(crate) fn configure(&mut self, t: usize, n: Negotiated, remote_rsize: bool) {
        self.ensure(t);
        self.rsize = remote_rsize;
        let ext = ExtIds::from(&n.extensions);
        self.ext.merge(ext);
        let ts_seed = self.rng.next_u32();
        let seq_seed: u16 = self.rng.gen();
        let Some(tr) = self.tracks.get_mut(t) else {
            return;
        };
        tr.kind = Some(n.kind);
        tr.mid = n.mid.as_deref().map(Arc::from);
        tr.active = n.send || n.recv;
        tr.recv = n.recv;
        tr.codecs = n.codecs;
        tr.ext = ext;
        tr.header = None;
        tr.stats.transceiver = t;
        tr.stats.mid = n.mid.clone();
        // The send stream: the first negotiated codec (RFC 9429 §5.3.1:
        // the answer lists codecs in preference order).
        let primary = tr.codecs.iter().find(|c| !c.is_rtx()).cloned();
        match (n.send, n.ssrc, primary) {
            (true, Some((ssrc, rtx_ssrc)), Some(p)) => {
                let rtx_pt = tr
                    .codecs
                    .iter()
                    .find(|c| c.is_rtx() && c.apt() == Some(p.payload_type))
                    .map(|c| c.payload_type);
                let codec = Codec::from_name(&p.name);
                let nack = tr.fb(Some(p.payload_type), "nack");
                let same = tr
                    .send
                    .as_ref()
                    .is_some_and(|s| s.ssrc == ssrc && s.payload_type == p.payload_type);
                if !same {
                    tr.send = Some(SendState {
                        ssrc,
                        rtx_ssrc,
                        seq: seq_seed,
                        rtx_seq: seq_seed ^ 0x5a5a,
                        ts_offset: ts_seed,
                        payload_type: p.payload_type,
                        rtx_payload_type: rtx_pt,
                        codec,
                        packetizer: codec.map(|c| packetizer(c, &p)),
                        history: SendHistory::new(if nack { HISTORY } else { 1 }),
                        stats: SenderStats::new(ssrc, p.clock_rate),
                        nack,
                        forward: None,
                        last_seq: seq_seed.wrapping_sub(1),
                        last_ts: ts_seed,
                        last_fir_seq: None,
                    });
                } else if let Some(s) = tr.send.as_mut() {
                    s.rtx_payload_type = rtx_pt;
                    s.rtx_ssrc = rtx_ssrc;
                }
            }
            _ => tr.send = None,
        }
        // Receive routes: SSRCs the remote signalled.
        self.by_ssrc.retain(|_, (i, _)| *i != t);
        let Some(tr) = self.tracks.get_mut(t) else {
            return;
        };
        if !n.recv {
            tr.layers.clear();
            return;
        }
        tr.layers.retain(|l| {
            n.remote_ssrcs.is_empty() || n.remote_ssrcs.iter().any(|(s, _)| *s == l.ssrc)
        });
        for l in &tr.layers {
            self.by_ssrc.insert(l.ssrc, (t, false));
            if let Some(r) = l.rtx_ssrc {
                self.by_ssrc.insert(r, (t, true));
            }
        }
        for (ssrc, rtx) in n.remote_ssrcs.iter().take(MAX_LAYERS) {
            self.by_ssrc.insert(*ssrc, (t, false));
            if let Some(r) = rtx {
                self.by_ssrc.insert(*r, (t, true));
                self.rtx_primary.insert(*r, *ssrc);
            }
        }
        let by_ssrc = &self.by_ssrc;
        self.rtx_primary.retain(|r, _| by_ssrc.contains_key(r));
    }

    /// Stops transceiver `t`: nothing is sent or received on it any more.
    pub(crate) fn stop(&mut self, t: usize) {
        if let Some(tr) = self.tracks.get_mut(t) {
            tr.active = false;
            tr.recv = false;
            tr.send = None;
            tr.layers.clear();
        }
        self.by_ssrc.retain(|_, (i, _)| *i != t);
        let by_ssrc = &self.by_ssrc;
        self.rtx_primary.retain(|r, _| by_ssrc.contains_key(r));
    }

    /// The payload type and codec we send with on `t`.
    pub(crate) fn send_codec(&self, t: usize) -> Option<(u8, Option<Codec>)> {
        let s = self.tracks.get(t)?.send.as_ref()?;
        Some((s.payload_type, s.codec))
    }

    /// Chooses the send codec of `t` among the negotiated ones.
    pub(crate) fn set_send_codec(&mut self, t: usize, payload_type: u8) -> Result<(), Error> {
        let tr = self
            .tracks
            .get_mut(t)
            .ok_or(Error::Media("unknown transceiver"))?;
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

    // --------------------------------------------------------------
    // Sending
    // --------------------------------------------------------------

    /// Packetizes `frame` with the send codec of `t` and sends it.
    pub(crate) fn write_frame(
        &mut self,
        io: &mut MediaIo<'_>,
        now: Instant,
        t: usize,
        rtp_timestamp: u32,
        frame: &[u8],
    ) -> Result<(), Error> {
        let ext_len = self.ext_len(t);
        let mtu = self.mtu;
        let tr = self
            .tracks
            .get_mut(t)
            .ok_or(Error::Media("unknown transceiver"))?;
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
                if let Err(e) = self.send_rtp(io, now, t, marker, pt, seq, ts, payload) {
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
    pub(crate) fn write_rtp(
        &mut self,
        io: &mut MediaIo<'_>,
        now: Instant,
        t: usize,
        packet: &[u8],
    ) -> Result<(), Error> {
        let p = RtpPacket::new_checked(packet)?;
        let tr = self
            .tracks
            .get_mut(t)
            .ok_or(Error::Media("unknown transceiver"))?;
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
        self.send_rtp(io, now, t, p.marker(), pt, seq, ts, p.payload())
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

    /// Builds, records, protects and queues one RTP packet.
    #[allow(clippy::too_many_arguments)]
    fn send_rtp(
        &mut self,
        io: &mut MediaIo<'_>,
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
        let mut buf = self.take_buf();
        let Some(tr) = self.tracks.get_mut(t) else {
            self.recycle(buf);
            return Err(Error::Media("unknown transceiver"));
        };
        let Some(s) = tr.send.as_mut() else {
            self.recycle(buf);
            return Err(Error::Media("transceiver does not send"));
        };
        if payload_type > 127 {
            self.recycle(buf);
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
        let Some(header) = tr.header.as_ref() else {
            self.recycle(buf);
            return Err(Error::Media("RTP header does not fit"));
        };
        let mut abs = [0u8; 3];
        if header.has_abs_send_time() {
            let _ = AbsSendTime::from_ntp(clock.ntp_at(now)).write(&mut abs);
        }
        let used_twcc = header.has_transport_cc();
        header.write(&mut buf, marker, payload_type, seq, ts, s.ssrc, abs, twcc);
        buf.extend_from_slice(payload);
        let len = buf.len();
        buf.resize(len + SRTP_OVERHEAD, 0);
        if s.nack {
            s.history.handle_sent(seq, &buf[..len]);
        }
        s.stats.handle_sent(now, ts, payload.len());
        s.last_seq = seq;
        s.last_ts = ts;
        tr.stats.packets_sent += 1;
        tr.stats.bytes_sent += payload.len() as u64;
        if used_twcc {
            self.twcc_seq = self.twcc_seq.wrapping_add(1);
        }
        match io.srtp.local.protect_rtp_in_place(&mut buf, len) {
            Ok(m) => {
                buf.truncate(m);
                self.queue(io, buf);
                Ok(())
            }
            Err(e) => {
                self.recycle(buf);
                Err(e.into())
            }
        }
    }

    fn queue(&mut self, io: &mut MediaIo<'_>, buf: Vec<u8>) {
        if io.transmits.len() < io.max_transmits {
            io.transmits.push_back(Transmit {
                source: io.path.0,
                destination: io.path.1,
                payload: buf,
            });
        } else {
            self.recycle(buf);
        }
    }

    /// Retransmits the packets a NACK reports lost (RFC 4585 §6.2.1), as RTX
    /// (RFC 4588 §4) when negotiated.
    fn retransmit(&mut self, io: &mut MediaIo<'_>, t: usize, lost: impl Iterator<Item = u16>) {
        for seq in lost.take(256) {
            let mut buf = self.take_buf();
            let Some(s) = self.tracks.get_mut(t).and_then(|tr| tr.send.as_mut()) else {
                self.recycle(buf);
                return;
            };
            let Some(orig) = s.history.get(seq) else {
                self.recycle(buf);
                continue;
            };
            buf.resize(orig.len() + 2 + SRTP_OVERHEAD, 0);
            let len = match (s.rtx_payload_type, s.rtx_ssrc) {
                (Some(pt), Some(ssrc)) => {
                    let r = RtpPacket::new_checked(orig)
                        .and_then(|p| fulmar_rtp::rtx::rtx_wrap(&p, pt, ssrc, s.rtx_seq, &mut buf));
                    s.rtx_seq = s.rtx_seq.wrapping_add(1);
                    r.ok()
                }
                _ => {
                    buf[..orig.len()].copy_from_slice(orig);
                    Some(orig.len())
                }
            };
            let Some(len) = len else {
                self.recycle(buf);
                continue;
            };
            if let Some(tr) = self.tracks.get_mut(t) {
                tr.stats.retransmitted_packets_sent += 1;
            }
            match io.srtp.local.protect_rtp_in_place(&mut buf, len) {
                Ok(m) => {
                    buf.truncate(m);
                    self.queue(io, buf);
                }
                Err(_) => self.recycle(buf),
            }
        }
    }

    /// Asks the remote sender of `t` for a keyframe: PLI, or FIR when only
    /// `ccm fir` was negotiated (RFC 5104 §4.3.1).
    pub(crate) fn request_keyframe(&mut self, io: &mut MediaIo<'_>, t: usize) -> Result<(), Error> {
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
        self.send_feedback(io, &packets);
        Ok(())
    }

    /// The SSRC our RTCP is sent from: the first sending stream, else ours.
    fn sender_ssrc(&self) -> u32 {
        self.tracks
            .iter()
            .find_map(|t| t.send.as_ref().map(|s| s.ssrc))
            .unwrap_or(self.rtcp_ssrc)
    }

    /// Sends feedback: alone when reduced-size RTCP is allowed (RFC 5506),
    /// else after an RR and SDES as a compound packet (RFC 3550 §6.1).
    fn send_feedback(&mut self, io: &mut MediaIo<'_>, packets: &[RtcpRepr]) {
        if self.rsize {
            self.send_rtcp(io, packets);
        } else {
            let mut all = vec![
                RtcpRepr::ReceiverReport(ReceiverReportRepr {
                    ssrc: self.sender_ssrc(),
                    reports: Vec::new(),
                }),
                self.sdes(),
            ];
            all.extend_from_slice(packets);
            self.send_rtcp(io, &all);
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

    fn send_rtcp(&mut self, io: &mut MediaIo<'_>, packets: &[RtcpRepr]) {
        // Split into datagrams that fit the MTU.
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
            let mut buf = self.take_buf();
            buf.resize(size + SRTP_OVERHEAD, 0);
            let ok = rtcp::write_compound(&packets[start..end], &mut buf)
                .ok()
                .and_then(|n| io.srtp.local.protect_rtcp_in_place(&mut buf, n).ok());
            match ok {
                Some(n) => {
                    buf.truncate(n);
                    self.queue(io, buf);
                }
                None => self.recycle(buf),
            }
            start = end;
        }
    }

    // --------------------------------------------------------------
    // Receiving
    // --------------------------------------------------------------

    /// Handles an SRTP or SRTCP datagram (RFC 5761 §4: payload types
    /// 192..=223 in the second byte are RTCP).
    pub(crate) fn handle_receive(&mut self, io: &mut MediaIo<'_>, now: Instant, datagram: &[u8]) {
        let is_rtcp = datagram.get(1).is_some_and(|b| (192..=223).contains(b));
        if is_rtcp {
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            buf.extend_from_slice(datagram);
            match io.srtp.remote.unprotect_rtcp_in_place(&mut buf) {
                Ok(n) => self.handle_rtcp(io, now, buf.get(..n).unwrap_or(&[])),
                Err(_) => self.dropped += 1,
            }
            self.scratch = buf;
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
            self.send_feedback(io, &[pli]);
        }
        // New gaps are NACKed at once (older ones wait for their timer).
        if new_gap {
            self.poll_nacks(io, now);
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

    fn handle_rtcp(&mut self, io: &mut MediaIo<'_>, now: Instant, packet: &[u8]) {
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
                        self.retransmit(io, t, n.lost());
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

    // --------------------------------------------------------------
    // Timers
    // --------------------------------------------------------------

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
    fn report_interval(&self) -> Duration {
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
    fn jitter_interval(&mut self, i: Duration) -> Duration {
        let f: f64 = self.rng.gen_range(0.5..1.5);
        i.mul_f64(f)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let nack = self
            .tracks
            .iter()
            .flat_map(|t| t.layers.iter())
            .filter_map(|l| l.nack.as_ref().and_then(NackGenerator::poll_timeout))
            .min();
        let any = self.tracks.iter().any(|t| t.active);
        [self.next_report.filter(|_| any), nack, self.twcc_next]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn handle_timeout(&mut self, io: &mut MediaIo<'_>, now: Instant) {
        if self.next_report.is_some_and(|t| t <= now) {
            if self.tracks.iter().any(|t| t.active) {
                self.send_reports(io, now);
            }
            let i = self.report_interval();
            self.next_report = Some(now + self.jitter_interval(i));
        }
        self.poll_nacks(io, now);
        if self.twcc_next.is_some_and(|t| t <= now) {
            self.send_twcc(io);
            self.twcc_next = None;
        }
    }

    fn poll_nacks(&mut self, io: &mut MediaIo<'_>, now: Instant) {
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
            self.send_feedback(io, &nacks);
        }
    }

    /// Sender reports for each sending stream (the first carries the
    /// reception report blocks) or one receiver report, then SDES CNAME
    /// (RFC 3550 §6.1, §6.4).
    fn send_reports(&mut self, io: &mut MediaIo<'_>, now: Instant) {
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
        self.send_rtcp(io, &packets);
    }

    fn send_twcc(&mut self, io: &mut MediaIo<'_>) {
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
            self.send_feedback(io, &[RtcpRepr::TransportCc(fb)]);
        }
    }

    /// Media counters of every transceiver that has media state.
    pub(crate) fn stats(&self) -> Vec<MediaStats> {
        self.tracks
            .iter()
            .filter(|t| t.kind.is_some())
            .map(|t| {
                let mut s = t.stats.clone();
                s.packets_lost = t.layers.iter().map(|l| l.stats.cumulative_lost()).sum();
                if let (Some(l), Some(c)) = (t.layers.first(), t.codecs.first()) {
                    s.jitter = Duration::from_nanos(
                        u64::from(l.stats.jitter()) * 1_000_000_000
                            / u64::from(c.clock_rate.max(1)),
                    );
                }
                s
            })
            .collect()
    }
}

/// An empty buffer from `pool`, or a new one.
fn take_from(pool: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let mut b = pool
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(BUF_CAPACITY));
    b.clear();
    b
}

/// A packetizer for `codec` honouring the negotiated fmtp (H.264
/// packetization-mode, RFC 6184 §8.1).
fn packetizer(codec: Codec, params: &CodecParams) -> Box<dyn Packetizer + Send> {
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
