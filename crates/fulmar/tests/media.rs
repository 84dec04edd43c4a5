//! Media through the driver between two Fulmar peers on loopback: frames
//! out, RTP echoed back, keyframe requests. NACK/RTX under 5 % loss each way
//! (issue #8) is fulmar-peer's `echo_recovers_from_random_loss_on_both_legs`
//! in simulated time, and interop/chromium-media's lossy relay on real
//! sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fulmar::{
    Config, KeyframeKind, LocalTrack, MediaKind, PeerConnection, ReceiveMode, RemoteTrack,
    SessionDescription,
};

/// A VP8 frame of `len` bytes (RFC 6386 §9.1: bit 0 of the first byte is 0
/// for keyframes).
fn vp8_frame(i: usize, key: bool, len: usize) -> Vec<u8> {
    let mut f = vec![if key { 0x10 } else { 0x11 }];
    f.extend((0..len).map(|j| (i * 7 + j) as u8));
    f
}

/// `a` offers a video track; `b` answers with a video track of its own on
/// the same transceiver (the echo pattern). Returns both local tracks once
/// connected.
async fn video_pair(a: &PeerConnection, b: &PeerConnection) -> (LocalTrack, LocalTrack) {
    let a_video = a.add_track(MediaKind::Video, "a", "va").await;
    let offer = a.create_offer().await.unwrap();
    b.set_remote_description(offer).await.unwrap();
    assert_eq!(b.transceivers().len(), 1);
    let b_video = b.add_track(MediaKind::Video, "b", "vb").await;
    let answer = b.create_answer().await.unwrap();
    a.set_remote_description(SessionDescription::answer(&answer.sdp.to_string()).unwrap())
        .await
        .unwrap();
    a.connected().await.unwrap();
    b.connected().await.unwrap();
    (a_video, b_video)
}

/// Echoes every RTP packet of `remote` on `local` until the connection ends.
fn echo(remote: RemoteTrack, local: LocalTrack) {
    tokio::spawn(async move {
        while let Some(p) = remote.recv_rtp().await {
            let _ = local.write_rtp(p.as_bytes()).await;
        }
    });
}

/// Sends `n` frames (a keyframe every 30) of ~3 packets each, 5 ms apart.
async fn send_frames(track: &LocalTrack, n: usize) {
    for i in 0..n {
        track
            .write_frame((i * 3000) as u32, &vp8_frame(i, i % 30 == 0, 3000))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_echoed_back_and_keyframe_requests() {
    let run = async {
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default().with_receive_mode(ReceiveMode::Rtp))
            .await
            .unwrap();
        let (a_video, b_video) = video_pair(&a, &b).await;
        let sender = tokio::spawn(async move {
            send_frames(&a_video, 60).await;
            a_video
        });
        let at_b = b.accept_track().await.unwrap();
        assert_eq!(at_b.kind(), MediaKind::Video);
        assert_eq!(at_b.codec().unwrap().name, "VP8");
        echo(at_b, b_video);
        let back = a.accept_track().await.unwrap();
        let first = back.recv_frame().await.unwrap();
        assert!(first.keyframe, "the first echoed frame is a keyframe");
        assert_eq!(first.data, vp8_frame(0, true, 3000));
        let mut got = 1;
        while got < 60 {
            let f = back.recv_frame().await.unwrap();
            got += 1;
            if got == 60 {
                assert_eq!(f.data, vp8_frame(59, false, 3000));
            }
        }
        let a_video = sender.await.unwrap();
        // a asks the echo's sender (b) for a keyframe: a PLI goes out.
        back.request_keyframe().await.unwrap();
        let s = back.stats().unwrap();
        assert!(s.frames_received >= 60 && s.pli_sent >= 1, "{s:?}");
        assert!(a_video.stats().unwrap().frames_sent >= 60);
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_request_reaches_the_local_track() {
    let run = async {
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default()).await.unwrap();
        let (a_video, _b_video) = video_pair(&a, &b).await;
        a_video
            .write_frame(0, &vp8_frame(0, true, 500))
            .await
            .unwrap();
        let at_b = b.accept_track().await.unwrap();
        at_b.recv_frame().await.unwrap();
        at_b.request_keyframe().await.unwrap();
        assert!(matches!(
            a_video.keyframe_request().await,
            Some(KeyframeKind::Pli | KeyframeKind::Fir)
        ));
        a.close().await;
        assert_eq!(at_b.recv_frame().await, None, "ends with the connection");
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}
