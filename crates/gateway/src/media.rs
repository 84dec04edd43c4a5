//! Media glue between sessions and the driver's tracks: echo (every remote
//! RTP packet back on the same transceiver, keyframe requests passed back
//! to the sender), WHEP playback of the clips, WHIP recording to files.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fulmar::{LocalTrack, MediaKind, PeerConnection, ReceiveMode, RemoteTrack};

use crate::clip::{run_player, Clip, Player};
use crate::recorder::Recorder;

/// The local tracks of a session by transceiver index (the echo target of
/// the remote track on the same transceiver).
pub(crate) type TrackTable = Arc<Mutex<HashMap<usize, Arc<LocalTrack>>>>;

/// Local tracks waiting for an answer before they play their clip.
pub(crate) type Pending = Arc<Mutex<Vec<(Arc<LocalTrack>, Arc<Clip>)>>>;

/// A video recording asks for a keyframe this often until it has one.
const KEYFRAME_RETRY: Duration = Duration::from_millis(500);

fn lock(t: &TrackTable) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<LocalTrack>>> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// Echo, before answering an offer (first or renegotiated): a local track
/// on every offered audio/video transceiver that has none yet, receiving
/// RTP so that packets go back unchanged (no depacketization).
pub(crate) async fn prepare_echo(pc: &PeerConnection, table: &TrackTable) {
    let free: Vec<MediaKind> = pc
        .transceivers()
        .iter()
        .filter(|t| t.track.is_none() && !t.stopped && t.mid.is_some())
        .map(|t| t.kind)
        .collect();
    for kind in free {
        let n = lock(table).len();
        let track = pc.add_track(kind, "fulmar-echo", &format!("echo{n}")).await;
        pc.set_receive_mode(track.transceiver(), ReceiveMode::Rtp);
        lock(table).insert(track.transceiver().index(), Arc::new(track));
    }
}

/// Echo: every remote track is sent back on its transceiver's local track.
pub(crate) fn spawn_echo(pc: PeerConnection, table: TrackTable) {
    tokio::spawn(async move {
        while let Some(remote) = pc.accept_track().await {
            let Some(local) = lock(&table).get(&remote.transceiver().index()).cloned() else {
                continue;
            };
            remote.forward_to(local);
        }
    });
}

/// True when the transceiver negotiated `name` (e.g. `VP8`).
fn negotiated(pc: &PeerConnection, track: &LocalTrack, name: &str) -> bool {
    pc.transceivers()
        .get(track.transceiver().index())
        .is_some_and(|t| t.codecs.iter().any(|c| c.name.eq_ignore_ascii_case(name)))
}

/// WHEP, before answering: local tracks for the clips the client can receive.
pub(crate) async fn prepare_whep(
    pc: &PeerConnection,
    video: Option<&Arc<Clip>>,
    audio: Option<&Arc<Clip>>,
) -> Vec<(Arc<LocalTrack>, Arc<Clip>)> {
    let mut out = Vec::new();
    for (kind, clip) in [(MediaKind::Video, video), (MediaKind::Audio, audio)] {
        let Some(clip) = clip else { continue };
        let offered = pc
            .transceivers()
            .iter()
            .any(|t| t.kind == kind && t.track.is_none() && !t.stopped && t.mid.is_some());
        if offered {
            let track = pc.add_track(kind, "fulmar-whep", kind.as_str()).await;
            out.push((Arc::new(track), clip.clone()));
        }
    }
    out
}

/// WHEP, after answering: once connected, plays each clip on its track in
/// real time, looping, until the session ends.
pub(crate) fn spawn_whep(pc: PeerConnection, tracks: Vec<(Arc<LocalTrack>, Arc<Clip>)>) {
    tokio::spawn(async move {
        if pc.connected().await.is_err() {
            return;
        }
        for (track, clip) in tracks {
            let name = match clip.codec() {
                fulmar_rtp::Codec::Vp8 => "VP8",
                fulmar_rtp::Codec::Vp9 => "VP9",
                fulmar_rtp::Codec::Av1 => "AV1",
                fulmar_rtp::Codec::H264 => "H264",
                _ => "opus",
            };
            if !negotiated(&pc, &track, name) {
                continue;
            }
            let player = Player::new(clip, Instant::now(), rand::random());
            tokio::spawn(async move {
                run_player(player, |frame| {
                    let track = track.clone();
                    async move { track.write_frame(frame.rtp_timestamp, &frame.data).await }
                })
                .await
            });
        }
    });
}

/// WHIP: records every remote track to `dir/<session>-<mid>.<ext>`.
pub(crate) fn spawn_whip(pc: PeerConnection, dir: Option<PathBuf>, session: String) {
    tokio::spawn(async move {
        while let Some(remote) = pc.accept_track().await {
            let Some(dir) = dir.clone() else { continue };
            let name = format!(
                "{session}-{}",
                remote
                    .mid()
                    .unwrap_or("x")
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            );
            tokio::spawn(record(remote, dir, name));
        }
    });
}

/// Writes one remote track's frames until the connection ends.
async fn record(remote: RemoteTrack, dir: PathBuf, name: String) {
    let video = remote.kind() == MediaKind::Video;
    let mut recorder: Option<Recorder> = None;
    let mut asked = None::<Instant>;
    while let Some(frame) = remote.recv_frame().await {
        if recorder.is_none() {
            match Recorder::create(&dir, &name, frame.codec) {
                Ok((r, _)) => recorder = Some(r),
                Err(_) => return,
            }
        }
        let Some(r) = recorder.as_mut() else { return };
        if r.write_frame(frame.rtp_timestamp, frame.keyframe, &frame.data)
            .is_err()
        {
            // A malformed frame (e.g. an Opus packet with a bad TOC) is dropped.
            continue;
        }
        if video && r.frames() == 0 && asked.is_none_or(|t| t.elapsed() > KEYFRAME_RETRY) {
            asked = Some(Instant::now());
            let _ = remote.request_keyframe().await;
        }
    }
    if let Some(r) = recorder {
        let _ = r.finish();
    }
}
