//! Moving media: per-transceiver RTP send and receive streams over SRTP,
//! and the RTCP duties that go with them (RFC 3550 §6, RFC 4585, RFC 5104,
//! RFC 4588, transport-wide CC).
//!
//! Sending: [`Media::write_frame`] packetizes with the negotiated codec,
//! [`Media::write_rtp`] forwards an RTP packet on the negotiated stream
//! (SSRC, payload type, sequence numbers and header extensions are ours).
//! Both keep a send history that answers NACKs, with RTX when negotiated.
//!
//! Receiving: SRTCP is unprotected in place, SRTP into a pooled buffer; the
//! packet is routed to its transceiver (RFC 8843 §9.2: SSRC table, then the
//! `mid` header extension, then the payload type), RTX is unwrapped,
//! statistics, NACK and transport-wide CC bookkeeping run, and the
//! application gets raw RTP or assembled frames.
//!
//! Buffers: each RTP packet sent is written once, into its slot of the
//! send history, and only which packet is queued; RTCP waits as plaintext
//! in one buffer. [`Media::poll_transmit`] copies the next one into the
//! caller's buffer and protects it there, so nothing is allocated per
//! packet. [`RtpReceived`] packets come from a pool that
//! [`crate::PeerConnection::recycle`] refills, so a forwarder that hands
//! them back allocates nothing per packet either.

mod header;
mod recv;
mod rtcp;
mod send;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rng::CompactRng;
use fulmar_rtp::extension::{uri, AbsSendTime, ExtensionValue, TransportSequenceNumber};
use fulmar_rtp::rtcp::{
    CompoundIter, FirEntry, FirRepr, PliRepr, ReceiverReportRepr, ReportBlock, RtcpPacket,
    RtcpRepr, SdesChunkRepr, SdesRepr, TransportCcRepr,
};
use fulmar_rtp::stats::rtt_from_report;
use fulmar_rtp::{
    Codec, FrameAssembler, NackConfig, NackGenerator, NtpClock, Packetizer, ReceiverStats,
    RtpPacket, SendHistory, SenderStats, SequenceUnwrapper,
};
use rand::{Rng, RngCore};

use crate::negotiation::{CodecParams, MediaKind, TransceiverId};

use crate::{Error, Event, SrtpContexts};
use fulmar_srtp::SsrcMap;
use header::HeaderTemplate;
use send::packetizer;
pub use stats::MediaStats;

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
/// Packets kept of a stream without NACK: its packets wait in the send
/// history until polled, so this many may be written ahead of a poll.
const SEND_AHEAD: usize = 64;
/// Bound of packets queued for [`Media::poll_transmit`] (beyond it, what
/// an application writes without polling is lost, as on a full socket).
const MAX_OUTGOING: usize = 4096;
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

/// What received packets are unprotected with, and where their events go.
pub(crate) struct MediaIo<'a> {
    pub srtp: &'a mut SrtpContexts,
    pub events: &'a mut VecDeque<Event>,
}

/// A packet to send, built and protected when polled
/// ([`Media::poll_transmit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// The RTP packet `seq` of `track`'s send stream, from its history (a
    /// first transmission, or a plain retransmission).
    Rtp { track: usize, seq: u16 },
    /// Its retransmission on the RTX stream (RFC 4588 §4).
    Rtx { track: usize, seq: u16 },
    /// A compound RTCP packet, `len` bytes at `start` of the RTCP buffer.
    Rtcp { start: usize, len: usize },
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
    /// Packets to send, in order, built when polled.
    outgoing: VecDeque<Outgoing>,
    /// The plaintext of the queued RTCP packets, end to end.
    rtcp_out: Vec<u8>,
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
            outgoing: VecDeque::new(),
            rtcp_out: Vec::new(),
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

    /// Returns the memory of an empty send queue (on a quiet connection).
    pub(crate) fn release_idle_buffers(&mut self) {
        if self.outgoing.is_empty() {
            self.outgoing = VecDeque::new();
            self.rtcp_out = Vec::new();
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
                        history: SendHistory::new(if nack { HISTORY } else { SEND_AHEAD }),
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

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.next_report.is_some_and(|t| t <= now) {
            if self.tracks.iter().any(|t| t.active) {
                self.send_reports(now);
            }
            let i = self.report_interval();
            self.next_report = Some(now + self.jitter_interval(i));
        }
        self.poll_nacks(now);
        if self.twcc_next.is_some_and(|t| t <= now) {
            self.send_twcc();
            self.twcc_next = None;
        }
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
