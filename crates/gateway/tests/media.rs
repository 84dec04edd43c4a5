//! Media through the gateway with real Fulmar peers on 127.0.0.1: WHEP
//! plays the sample clips, WHIP records what a client publishes, `/offer`
//! echoes tracks back. Real time (the clips are paced), about a second each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar::{Config, MediaKind, PeerConnection, SessionDescription};
use fulmar_gateway::clip::{run_player, Clip, Player};
use fulmar_gateway::GatewayConfig;
use reqwest::{Client, StatusCode};

/// POSTs the offer of `pc` to `url`, applies the answer; returns the Location.
async fn negotiate(pc: &PeerConnection, url: &str) -> Option<String> {
    let offer = pc.create_offer().await.unwrap().sdp.to_string();
    let res = Client::new()
        .post(url)
        .header("Content-Type", "application/sdp")
        .body(offer)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let answer = res.text().await.unwrap();
    pc.set_remote_description(SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), pc.connected())
        .await
        .unwrap()
        .unwrap();
    location
}

fn sample() -> GatewayConfig {
    GatewayConfig::default().with_sample_media().unwrap()
}

/// Plays `clip` on `track` in the background.
fn play(track: fulmar::LocalTrack, clip: Arc<Clip>) {
    let track = Arc::new(track);
    tokio::spawn(run_player(Player::new(clip, Instant::now(), 0), move |f| {
        let track = track.clone();
        async move { track.write_frame(f.rtp_timestamp, &f.data).await }
    }));
}

#[tokio::test]
async fn whep_plays_vp8_and_opus_in_real_time() {
    let (base, _gateway) = start(sample()).await;
    let pc = PeerConnection::new(Config::default()).await.unwrap();
    pc.add_transceiver(MediaKind::Video, fulmar::Direction::RecvOnly)
        .await;
    pc.add_transceiver(MediaKind::Audio, fulmar::Direction::RecvOnly)
        .await;
    negotiate(&pc, &format!("{base}/whep")).await.unwrap();
    let mut tracks = Vec::new();
    for _ in 0..2 {
        let track = tokio::time::timeout(Duration::from_secs(3), pc.accept_track())
            .await
            .expect("a track within 3 s")
            .unwrap();
        tracks.push(track);
    }
    // The first video frame is a keyframe (the clip starts with one).
    let video_track = tracks
        .iter()
        .find(|t| t.kind() == MediaKind::Video)
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(2), video_track.recv_frame())
        .await
        .unwrap()
        .unwrap();
    assert!(first.keyframe);
    assert_eq!(first.codec, fulmar::Codec::Vp8);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let count = |kind| {
        let t = tracks.iter().find(|t| t.kind() == kind).unwrap();
        t.stats().unwrap().packets_received
    };
    let (video, audio) = (
        video_track.stats().unwrap().frames_received,
        count(MediaKind::Audio),
    );
    // 30 fps video and 50 packets/s audio, paced: about a second of each.
    assert!(video >= 25, "video frames {video}");
    assert!(audio >= 40, "audio packets {audio}");
}

#[tokio::test]
async fn whip_records_published_vp8_and_opus() {
    let dir = std::env::temp_dir().join(format!("fulmar-gw-test-{}", rand::random::<u32>()));
    let config = sample().with_record_dir(&dir).unwrap();
    let (video, audio) = (config.video.clone().unwrap(), config.audio.clone().unwrap());
    let (base, gateway) = start(config).await;
    let pc = PeerConnection::new(Config::default()).await.unwrap();
    let v = pc.add_track(MediaKind::Video, "s", "v").await;
    let a = pc.add_track(MediaKind::Audio, "s", "a").await;
    let location = negotiate(&pc, &format!("{base}/whip")).await.unwrap();
    play(v, video);
    play(a, audio);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = Client::new()
        .delete(format!("{base}{location}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(gateway.session_count(), 0);
    // The recorders finish when their tracks end.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let ivf = files
        .iter()
        .find(|p| p.extension().unwrap() == "ivf")
        .expect("an IVF file");
    let ogg = files
        .iter()
        .find(|p| p.extension().unwrap() == "ogg")
        .expect("an Ogg file");
    let clip = Clip::from_ivf(&std::fs::read(ivf).unwrap()).unwrap();
    assert!(
        clip.frames().len() >= 30,
        "{} video frames",
        clip.frames().len()
    );
    assert!(clip.frames()[0].keyframe);
    assert_eq!(clip.dimensions(), (320, 240));
    let sound = Clip::from_ogg_opus(&std::fs::read(ogg).unwrap()).unwrap();
    assert!(
        sound.frames().len() >= 50,
        "{} audio packets",
        sound.frames().len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn offer_echoes_video_back() {
    let config = sample();
    let video = config.video.clone().unwrap();
    let (base, _gateway) = start(config).await;
    let pc = PeerConnection::new(Config::default()).await.unwrap();
    let v = pc.add_track(MediaKind::Video, "s", "v").await;
    negotiate(&pc, &format!("{base}/offer")).await.unwrap();
    play(v, video);
    let track = tokio::time::timeout(Duration::from_secs(3), pc.accept_track())
        .await
        .unwrap()
        .unwrap();
    let mut frames = 0;
    let _ = tokio::time::timeout(Duration::from_millis(1200), async {
        while let Some(f) = track.recv_frame().await {
            if frames == 0 {
                assert!(f.keyframe, "first echoed frame is a keyframe");
            }
            frames += 1;
        }
    })
    .await;
    assert!(frames >= 25, "{frames} echoed frames");
}

#[tokio::test]
async fn fulmar_adds_a_track_by_its_own_offer() {
    let (base, _gateway) = start(sample()).await;
    let client = Client::new();
    let pc = PeerConnection::new(Config::default()).await.unwrap();
    let _dc = pc.create_data_channel("chat").await.unwrap();
    let location = negotiate(&pc, &format!("{base}/offer")).await.unwrap();
    // Unknown sessions are 404 for both steps.
    for path in ["/offer/00/track", "/offer/00/answer"] {
        let r = client.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = client
        .post(format!("{base}{location}/track"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let offer = r.text().await.unwrap();
    assert!(offer.contains("m=video"), "{offer}");
    pc.set_remote_description(SessionDescription::offer(&offer).unwrap())
        .await
        .unwrap();
    let answer = pc.create_answer().await.unwrap().sdp.to_string();
    let r = client
        .post(format!("{base}{location}/answer"))
        .body(answer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let track = tokio::time::timeout(Duration::from_secs(3), pc.accept_track())
        .await
        .expect("Fulmar's track arrives")
        .unwrap();
    assert_eq!(track.kind(), MediaKind::Video);
    let first = tokio::time::timeout(Duration::from_secs(2), track.recv_frame())
        .await
        .unwrap()
        .unwrap();
    assert!(first.keyframe);
}
