//! Trickle ICE (RFC 8838) between two Fulmar peers: the descriptions carry
//! no candidates, only the trickled ones connect them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fulmar::{Config, Message, PeerConnection, SessionDescription};

/// The SDP without its candidate lines.
fn strip_candidates(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .collect()
}

/// Forwards `from`'s trickled candidates to `to`, then end-of-candidates;
/// returns how many there were.
async fn trickle(from: &PeerConnection, to: &PeerConnection) -> usize {
    let mut n = 0;
    while let Some(c) = from.next_local_candidate().await {
        assert!(c.starts_with("candidate:"), "{c}");
        to.add_ice_candidate(&c).await.unwrap();
        n += 1;
    }
    to.add_ice_candidate("").await.unwrap();
    n
}

#[tokio::test]
async fn peers_connect_on_trickled_candidates_only() {
    let run = async {
        let a = PeerConnection::new(Config::default()).await.unwrap();
        let b = PeerConnection::new(Config::default()).await.unwrap();
        let chat = a.create_data_channel("t").await.unwrap();
        let offer = a.create_offer().await.unwrap().sdp.to_string();
        // The trickled candidates are the ones the description carries.
        let offered: Vec<String> = offer
            .lines()
            .filter_map(|l| l.strip_prefix("a=").filter(|c| c.starts_with("candidate:")))
            .map(str::to_owned)
            .collect();
        b.set_remote_description(SessionDescription::offer(&strip_candidates(&offer)).unwrap())
            .await
            .unwrap();
        let answer = b.create_answer().await.unwrap().sdp.to_string();
        a.set_remote_description(SessionDescription::answer(&strip_candidates(&answer)).unwrap())
            .await
            .unwrap();
        let mut first = None;
        while let Some(c) = a.next_local_candidate().await {
            first.get_or_insert(c.clone());
            b.add_ice_candidate(&c).await.unwrap();
        }
        b.add_ice_candidate("").await.unwrap();
        assert_eq!(first.as_deref(), offered.first().map(String::as_str));
        assert!(trickle(&b, &a).await >= 1);
        // Once gathering completed the stream stays ended.
        assert_eq!(a.next_local_candidate().await, None);
        let remote = b.accept_data_channel().await.unwrap();
        chat.send_text("trickled").await.unwrap();
        assert_eq!(remote.recv().await, Some(Message::Text("trickled".into())));
        let (local, _) = a.stats().selected_pair.unwrap();
        assert_eq!(local, a.local_addrs()[0]);
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}
