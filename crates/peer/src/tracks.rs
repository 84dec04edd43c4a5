//! Transceivers and tracks: the media API of a peer connection.

use std::time::{Duration, Instant};

use fulmar_sdp::Direction;
use rand::RngCore;

use crate::rng::CompactRng;
use crate::{
    media, negotiation, Codec, CodecParams, Error, Event, MediaKind, MediaStats, PeerConnection,
    ReceiveMode, TrackInfo, Transceiver, TransceiverId,
};

/// The transceivers and the media engine that moves their RTP.
pub(crate) struct MediaState {
    pub(crate) transceivers: Vec<Transceiver>,
    /// The media engine, created with the first transceiver or media call
    /// (a data-only session holds none).
    pub(crate) engine: Option<Box<media::Media>>,
    /// Its randomness: an own stream of our seed.
    pub(crate) seed: [u8; 32],
}

impl MediaState {
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        MediaState {
            transceivers: Vec::new(),
            engine: None,
            seed,
        }
    }
}

impl PeerConnection {
    /// The transceivers, in m-line order of creation.
    pub fn transceivers(&self) -> &[Transceiver] {
        &self.media.transceivers
    }

    /// The transceiver of an m-section, by its mid.
    pub fn transceiver_by_mid(&self, mid: &str) -> Option<TransceiverId> {
        self.media
            .transceivers
            .iter()
            .position(|t| t.mid.as_deref() == Some(mid))
            .map(TransceiverId)
    }

    /// Adds a transceiver of `kind` with `direction` (`addTransceiver`).
    pub fn add_transceiver(&mut self, kind: MediaKind, direction: Direction) -> TransceiverId {
        self.media
            .transceivers
            .push(Transceiver::new(kind, direction));
        self.events.push_back(Event::NegotiationNeeded);
        TransceiverId(self.media.transceivers.len() - 1)
    }

    /// Adds a local track (`addTrack`): reuses a free transceiver of the kind
    /// or adds a sendrecv one, and gives it `a=msid:<stream> <track>`.
    pub fn add_track(&mut self, kind: MediaKind, stream_id: &str, track_id: &str) -> TransceiverId {
        let ssrc = self.rng.next_u32();
        let rtx_ssrc = (kind == MediaKind::Video).then(|| self.rng.next_u32());
        let track = TrackInfo {
            stream_id: stream_id.to_owned(),
            track_id: track_id.to_owned(),
            ssrc,
            rtx_ssrc,
        };
        if let Some(i) = self
            .media
            .transceivers
            .iter()
            .position(|t| t.kind == kind && t.track.is_none() && !t.stopped)
        {
            let t = &mut self.media.transceivers[i];
            t.track = Some(track);
            t.direction = match t.direction {
                Direction::RecvOnly | Direction::SendRecv => Direction::SendRecv,
                _ => Direction::SendOnly,
            };
            self.events.push_back(Event::NegotiationNeeded);
            return TransceiverId(i);
        }
        let id = self.add_transceiver(kind, Direction::SendRecv);
        self.media.transceivers[id.0].track = Some(track);
        id
    }

    /// Sets the codecs a transceiver offers and accepts, in preference
    /// order (`setCodecPreferences`, RFC 9429 §4.2.6); takes effect at the
    /// next negotiation. Each must be one of [`default_codecs`](crate::default_codecs) (by name,
    /// clock rate and format parameters); RTX entries follow their `apt`.
    pub fn set_codec_preferences(
        &mut self,
        id: TransceiverId,
        codecs: Vec<CodecParams>,
    ) -> Result<(), Error> {
        let t = self
            .media
            .transceivers
            .get_mut(id.0)
            .ok_or(Error::Media("unknown transceiver"))?;
        let supported = negotiation::default_codecs(t.kind);
        let kept = negotiation::negotiate_codecs(&codecs, &supported);
        if kept.iter().all(CodecParams::is_rtx) {
            return Err(Error::Media("no supported codec in the preferences"));
        }
        t.codecs = kept;
        self.events.push_back(Event::NegotiationNeeded);
        Ok(())
    }

    /// Stops a transceiver: its m-section is rejected in the next negotiation.
    pub fn stop_transceiver(&mut self, id: TransceiverId) {
        if let Some(t) = self.media.transceivers.get_mut(id.0) {
            t.stopped = true;
            if let Some(m) = self.media.engine.as_deref_mut() {
                m.stop(id.0);
            }
            self.events.push_back(Event::NegotiationNeeded);
        }
    }
}

impl PeerConnection {
    /// Packetizes an encoded frame with the negotiated send codec of
    /// transceiver `id` and sends it over SRTP. `rtp_timestamp` is in the
    /// codec's clock (90 kHz for video, 48 kHz for Opus, 8 kHz for G.711);
    /// Fulmar adds a random offset (RFC 3550 §5.1). Frames are Annex-B for
    /// H.264 and OBU streams for AV1.
    pub fn write_frame(
        &mut self,
        now: Instant,
        id: TransceiverId,
        rtp_timestamp: u32,
        frame: &[u8],
    ) -> Result<(), Error> {
        self.sending_media()?
            .write_frame(now, id.0, rtp_timestamp, frame)
    }

    /// Sends an RTP packet on the negotiated stream of transceiver `id`
    /// (what an echo or SFU forwarder does with [`Event::Rtp`] packets):
    /// Fulmar sets its SSRC, sequence numbers (gaps kept) and header
    /// extensions, keeps the payload type when negotiated on `id` (else the
    /// send codec's) and the marker, timestamp and payload as given.
    pub fn write_rtp(
        &mut self,
        now: Instant,
        id: TransceiverId,
        packet: &[u8],
    ) -> Result<(), Error> {
        self.sending_media()?.write_rtp(now, id.0, packet)
    }

    /// Asks the remote sender of transceiver `id` for a keyframe: PLI
    /// (RFC 4585 §6.3.1), or FIR (RFC 5104 §4.3.1) when only `ccm fir` was
    /// negotiated. Fails before the first remote packet arrived.
    pub fn request_keyframe(&mut self, now: Instant, id: TransceiverId) -> Result<(), Error> {
        self.now = Some(now);
        self.sending_media()?.request_keyframe(id.0)
    }

    /// Hands back the buffer of a received [`crate::RtpReceived::packet`]; the
    /// next packets received are unprotected into it, so a forwarder that
    /// hands them back allocates nothing per packet.
    pub fn recycle(&mut self, packet: Vec<u8>) {
        if let Some(m) = self.media.engine.as_deref_mut() {
            m.recycle(packet);
        }
    }

    /// Media counters of transceiver `id` (also in [`Stats::media`](crate::Stats::media)).
    pub fn media_stats(&self, id: TransceiverId) -> Option<MediaStats> {
        self.media
            .engine
            .as_deref()?
            .stats()
            .into_iter()
            .find(|m| m.transceiver == id.0)
    }

    /// Chooses what the remote tracks of transceiver `id` yield.
    pub fn set_receive_mode(&mut self, id: TransceiverId, mode: ReceiveMode) {
        self.media_mut().set_receive_mode(id.0, mode);
    }

    /// The payload type and codec transceiver `id` sends with, once negotiated.
    pub fn send_codec(&self, id: TransceiverId) -> Option<(u8, Option<Codec>)> {
        self.media.engine.as_deref()?.send_codec(id.0)
    }

    /// Sends with another negotiated codec (by payload type) on `id`.
    pub fn set_send_codec(&mut self, id: TransceiverId, payload_type: u8) -> Result<(), Error> {
        self.media_mut().set_send_codec(id.0, payload_type)
    }

    /// Anchors the NTP timestamps of sender reports to wall-clock time
    /// (`since_unix_epoch` at `now`); without it they count from 1970 at
    /// the first report, which is enough for round-trip times.
    pub fn set_wall_clock(&mut self, now: Instant, since_unix_epoch: Duration) {
        self.media_mut().set_wall_clock(now, since_unix_epoch);
    }

    /// The media engine, created on first need.
    pub(crate) fn media_mut(&mut self) -> &mut media::Media {
        let (seed, session_id) = (self.media.seed, self.jsep.session_id);
        let (mode, mtu) = (self.config.receive_mode, self.config.media_mtu);
        self.media.engine.get_or_insert_with(|| {
            let mut media = media::Media::new(
                CompactRng::from_seed(seed),
                format!("fulmar{:08x}", session_id as u32),
            );
            media.receive_mode = mode;
            media.mtu = mtu.clamp(200, 1400);
            Box::new(media)
        })
    }

    /// The media engine with what received packets are unprotected with,
    /// once SRTP is keyed and a path exists.
    pub(crate) fn media_io(&mut self) -> Option<(&mut media::Media, media::MediaIo<'_>)> {
        self.transport.selected.or(self.transport.dtls_peer)?;
        let srtp = self.transport.srtp.as_deref_mut()?;
        Some((
            self.media.engine.as_deref_mut()?,
            media::MediaIo {
                srtp,
                events: &mut self.events,
            },
        ))
    }

    /// The media engine, once it may send: SRTP keyed (on first need) and
    /// a path to send on. What it queues is built when polled.
    fn sending_media(&mut self) -> Result<&mut media::Media, Error> {
        self.ensure_srtp();
        self.media_io()
            .map(|(m, _)| m)
            .ok_or(Error::Media("SRTP is not keyed yet"))
    }

    /// Hands what the last complete offer/answer decided to the media engine.
    pub(crate) fn configure_media(&mut self) {
        if self.media.transceivers.is_empty() {
            return;
        }
        self.media_mut();
        let Some(media) = self.media.engine.as_deref_mut() else {
            return;
        };
        let remote = self.jsep.remote_desc.as_ref().map(|d| &d.sdp);
        for (i, t) in self.media.transceivers.iter().enumerate() {
            if t.stopped {
                media.stop(i);
                continue;
            }
            let (Some(mid), Some(dir)) = (t.mid.as_deref(), t.current_direction) else {
                continue;
            };
            let m = remote.and_then(|r| r.media().iter().find(|m| m.mid() == Some(mid)));
            let send = matches!(dir, Direction::SendRecv | Direction::SendOnly);
            let recv = matches!(dir, Direction::SendRecv | Direction::RecvOnly);
            let mut remote_ssrcs: Vec<(u32, Option<u32>)> = Vec::new();
            if let Some(m) = m {
                let fid: Vec<(u32, u32)> = m
                    .ssrc_groups()
                    .filter(|g| g.semantics == "FID")
                    .filter_map(|g| {
                        let mut it = g.ssrc_list.split_ascii_whitespace().map(str::parse::<u32>);
                        Some((it.next()?.ok()?, it.next()?.ok()?))
                    })
                    .collect();
                for s in m.ssrcs() {
                    let is_rtx = fid.iter().any(|(_, r)| *r == s.ssrc);
                    if !is_rtx && !remote_ssrcs.iter().any(|(x, _)| *x == s.ssrc) {
                        let rtx = fid.iter().find(|(p, _)| *p == s.ssrc).map(|(_, r)| *r);
                        remote_ssrcs.push((s.ssrc, rtx));
                    }
                }
            }
            let rsize = m.is_none_or(|m| m.rtcp_rsize());
            media.configure(
                i,
                media::Negotiated {
                    kind: t.kind,
                    mid: Some(mid.to_owned()),
                    send,
                    recv,
                    codecs: t.codecs.clone(),
                    extensions: t.extensions.clone(),
                    ssrc: t.track.as_ref().map(|k| (k.ssrc, k.rtx_ssrc)),
                    remote_ssrcs,
                },
                rsize,
            );
        }
        if self.transport.srtp.is_some() {
            if let (Some(now), Some(m)) = (self.now, self.media.engine.as_deref_mut()) {
                m.start(now);
            }
        } else {
            // Media negotiated after DTLS connected: key SRTP now (which
            // starts the media engine).
            self.ensure_srtp();
        }
    }
}
