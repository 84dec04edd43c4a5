//! Media tracks over the driver: [`LocalTrack`] takes encoded frames or RTP,
//! [`RemoteTrack`] yields assembled frames or RTP, keyframe requests travel
//! both ways. Packetization, SRTP, NACK/RTX, RTCP reports and stats are the
//! sans-IO core's (fulmar-peer); this module only queues and wakes.

use std::sync::Arc;
use std::time::Instant;

use fulmar_peer::{Event, KeyframeKind, MediaFrame, MediaKind, MediaStats, TransceiverId};
use fulmar_rtp::RtpPacket;
use tokio::sync::mpsc;

use crate::{after_io, Error, Inner, PeerConnection, Shared};

/// Frames or packets a remote track queues before the oldest are dropped
/// (an application that does not read must not grow memory).
const REMOTE_QUEUE: usize = 512;
/// Keyframe requests queued per local track.
const KEYFRAME_QUEUE: usize = 16;

/// What a remote track yields.
#[derive(Debug)]
pub(crate) enum RemoteMedia {
    Frame(MediaFrame),
    Rtp(Vec<u8>),
}

/// Where the core's media events go.
#[derive(Default)]
pub(crate) struct MediaSlots {
    /// Remote tracks by transceiver index and rid.
    remote: Vec<(usize, Option<String>, mpsc::Sender<RemoteMedia>)>,
    /// Keyframe-request queues of local tracks by transceiver index.
    local: Vec<(usize, mpsc::Sender<KeyframeKind>)>,
    /// The accept queue of new remote tracks.
    incoming: Option<crate::queue::Sender<RemoteTrack>>,
}

impl MediaSlots {
    /// Slots whose new remote tracks go to `incoming`.
    pub(crate) fn new(incoming: crate::queue::Sender<RemoteTrack>) -> Self {
        MediaSlots {
            incoming: Some(incoming),
            ..Default::default()
        }
    }

    fn remote(&self, transceiver: usize, rid: Option<&str>) -> Option<&mpsc::Sender<RemoteMedia>> {
        self.remote
            .iter()
            .find(|(t, r, _)| *t == transceiver && r.as_deref() == rid)
            .map(|(_, _, tx)| tx)
    }

    /// Forgets everything (the connection ended): readers see the end.
    pub(crate) fn clear(&mut self) {
        self.remote.clear();
        self.local.clear();
        self.incoming = None;
    }
}

/// Routes one media event; gives back any other event.
pub(crate) fn dispatch_media(shared: &Arc<Shared>, g: &mut Inner, e: Event) -> Option<Event> {
    match e {
        Event::Track {
            transceiver,
            kind,
            mid,
            rid,
            ssrc,
            codec,
        } => {
            let guard = g.guard.upgrade()?;
            let (tx, rx) = mpsc::channel(REMOTE_QUEUE);
            let i = transceiver.index();
            g.media.remote.retain(|(t, r, _)| !(*t == i && *r == rid));
            g.media.remote.push((i, rid.clone(), tx));
            let track = RemoteTrack {
                pc: PeerConnection {
                    shared: shared.clone(),
                    _guard: guard,
                },
                transceiver,
                kind,
                mid,
                rid,
                ssrc,
                codec,
                rx: tokio::sync::Mutex::new(rx),
            };
            if let Some(tx) = &g.media.incoming {
                let _ = tx.send(track);
            }
            None
        }
        Event::MediaFrame(f) => {
            if let Some(tx) = g.media.remote(f.transceiver.index(), f.rid.as_deref()) {
                // A full queue drops the frame (media is loss tolerant).
                let _ = tx.try_send(RemoteMedia::Frame(f));
            }
            None
        }
        Event::Rtp(r) => {
            if let Some(tx) = g.media.remote(r.transceiver.index(), r.rid.as_deref()) {
                let _ = tx.try_send(RemoteMedia::Rtp(r.packet));
            }
            None
        }
        Event::KeyframeRequest { transceiver, kind } => {
            let i = transceiver.index();
            if let Some((_, tx)) = g.media.local.iter().find(|(t, _)| *t == i) {
                let _ = tx.try_send(kind);
            }
            None
        }
        other => Some(other),
    }
}

impl PeerConnection {
    /// Adds a local track (`addTrack`): reuses a free transceiver of `kind`
    /// (one the remote offered, which is how an answerer echoes) or adds a
    /// sendrecv one; renegotiate (or answer) to start sending.
    pub async fn add_track(&self, kind: MediaKind, stream_id: &str, track_id: &str) -> LocalTrack {
        let mut g = self.shared.lock();
        let id = g.pc.add_track(kind, stream_id, track_id);
        let (tx, rx) = mpsc::channel(KEYFRAME_QUEUE);
        let i = id.index();
        g.media.local.retain(|(t, _)| *t != i);
        g.media.local.push((i, tx));
        after_io(&self.shared, &mut g);
        LocalTrack {
            pc: self.clone(),
            id,
            kind,
            keyframes: tokio::sync::Mutex::new(rx),
        }
    }

    /// Adds a transceiver (`addTransceiver`), e.g. receive-only.
    pub async fn add_transceiver(
        &self,
        kind: MediaKind,
        direction: fulmar_sdp::Direction,
    ) -> TransceiverId {
        self.with(|pc| pc.add_transceiver(kind, direction))
    }

    /// The transceivers (one per m-section) with their negotiated codecs.
    pub fn transceivers(&self) -> Vec<fulmar_peer::Transceiver> {
        self.shared.lock().pc.transceivers().to_vec()
    }

    /// Chooses what the remote tracks of transceiver `id` yield: assembled
    /// frames (the default), RTP packets, or both.
    pub fn set_receive_mode(&self, id: TransceiverId, mode: fulmar_peer::ReceiveMode) {
        self.shared.lock().pc.set_receive_mode(id, mode);
    }

    /// Stops a transceiver; renegotiate to tell the peer.
    pub async fn stop_transceiver(&self, id: TransceiverId) {
        self.with(|pc| pc.stop_transceiver(id));
    }

    /// Waits for the next remote track (its first packet arrived); `None`
    /// once the connection ended.
    pub async fn accept_track(&self) -> Option<RemoteTrack> {
        self.shared.tracks_rx.recv().await
    }
}

/// A track we send: encoded frames (Fulmar packetizes) or whole RTP packets.
pub struct LocalTrack {
    pc: PeerConnection,
    id: TransceiverId,
    kind: MediaKind,
    keyframes: tokio::sync::Mutex<mpsc::Receiver<KeyframeKind>>,
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("transceiver", &self.id)
            .field("kind", &self.kind)
            .finish()
    }
}

impl LocalTrack {
    /// Its transceiver.
    pub fn transceiver(&self) -> TransceiverId {
        self.id
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Sends an encoded frame: `rtp_timestamp` in the codec's clock (90 kHz
    /// video, 48 kHz Opus, 8 kHz G.711); H.264 as Annex-B, AV1 as OBUs.
    /// Fails until the track is negotiated and DTLS has keyed SRTP.
    pub async fn write_frame(&self, rtp_timestamp: u32, frame: &[u8]) -> Result<(), Error> {
        let id = self.id;
        self.pc
            .with(|pc| pc.write_frame(Instant::now(), id, rtp_timestamp, frame))?;
        Ok(())
    }

    /// Sends a whole RTP packet (e.g. one from [`RemoteTrack::recv_rtp`]):
    /// Fulmar sets SSRC, sequence numbers and header extensions.
    pub async fn write_rtp(&self, packet: &[u8]) -> Result<(), Error> {
        let id = self.id;
        self.pc
            .with(|pc| pc.write_rtp(Instant::now(), id, packet))?;
        Ok(())
    }

    /// Waits for the remote's next keyframe request (PLI or FIR) for this
    /// track; `None` once the connection ended.
    pub async fn keyframe_request(&self) -> Option<KeyframeKind> {
        self.keyframes.lock().await.recv().await
    }

    /// Counters of this track's transceiver (packets, bytes, NACK, PLI, RTT...).
    pub fn stats(&self) -> Option<MediaStats> {
        self.pc.shared.lock().pc.media_stats(self.id)
    }
}

/// A track the peer sends us: yields assembled frames or RTP packets.
pub struct RemoteTrack {
    pc: PeerConnection,
    transceiver: TransceiverId,
    kind: MediaKind,
    mid: Option<String>,
    rid: Option<String>,
    ssrc: u32,
    codec: Option<fulmar_peer::CodecParams>,
    rx: tokio::sync::Mutex<mpsc::Receiver<RemoteMedia>>,
}

impl std::fmt::Debug for RemoteTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTrack")
            .field("transceiver", &self.transceiver)
            .field("kind", &self.kind)
            .field("mid", &self.mid)
            .field("rid", &self.rid)
            .field("ssrc", &self.ssrc)
            .finish()
    }
}

impl RemoteTrack {
    /// Its transceiver (pass it to [`PeerConnection::set_receive_mode`]).
    pub fn transceiver(&self) -> TransceiverId {
        self.transceiver
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// The mid of its m-section.
    pub fn mid(&self) -> Option<&str> {
        self.mid.as_deref()
    }

    /// The simulcast layer (`rid`), if any.
    pub fn rid(&self) -> Option<&str> {
        self.rid.as_deref()
    }

    /// The SSRC of its first packet.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The codec of its first packet (name `VP8`, `opus`, ..., clock rate,
    /// fmtp).
    pub fn codec(&self) -> Option<&fulmar_peer::CodecParams> {
        self.codec.as_ref()
    }

    /// The next assembled frame (receive mode frames, the default); `None`
    /// once the connection ended. Packets queued meanwhile are skipped.
    pub async fn recv_frame(&self) -> Option<MediaFrame> {
        let mut rx = self.rx.lock().await;
        loop {
            if let RemoteMedia::Frame(f) = rx.recv().await? {
                return Some(f);
            }
        }
    }

    /// The next RTP packet, decrypted, RTX unwrapped (receive mode RTP or
    /// both), as a validated view (`as_bytes` for the whole packet,
    /// `into_inner` for its buffer); `None` once the connection ended.
    /// Frames queued meanwhile are skipped.
    pub async fn recv_rtp(&self) -> Option<RtpPacket<Vec<u8>>> {
        let mut rx = self.rx.lock().await;
        loop {
            if let RemoteMedia::Rtp(p) = rx.recv().await? {
                // The core parsed it already; this cannot fail.
                if let Ok(packet) = RtpPacket::new_checked(p) {
                    return Some(packet);
                }
            }
        }
    }

    /// Forwards this track to `local` packet by packet (take it in RTP
    /// receive mode) until the connection ends, and passes `local`'s
    /// keyframe requests back to this track's sender: an echo, or one leg
    /// of a forwarding server. Spawns two tasks on the current runtime.
    pub fn forward_to(self, local: Arc<LocalTrack>) {
        let remote = Arc::new(self);
        let (r, l) = (remote.clone(), local.clone());
        tokio::spawn(async move {
            while l.keyframe_request().await.is_some() {
                let _ = r.request_keyframe().await;
            }
        });
        tokio::spawn(async move {
            while let Some(packet) = remote.recv_rtp().await {
                // A stopped or not yet negotiated track refuses: skip.
                let _ = local.write_rtp(packet.as_bytes()).await;
            }
        });
    }

    /// Asks the sender for a keyframe (PLI, or FIR when only that was
    /// negotiated).
    pub async fn request_keyframe(&self) -> Result<(), Error> {
        let id = self.transceiver;
        self.pc.with(|pc| pc.request_keyframe(Instant::now(), id))?;
        Ok(())
    }

    /// Counters of this track's transceiver (packets, loss, jitter, frames...).
    pub fn stats(&self) -> Option<MediaStats> {
        self.pc.shared.lock().pc.media_stats(self.transceiver)
    }
}
