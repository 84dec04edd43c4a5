//! Helpers shared by the driver's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use fulmar::{DataChannel, Message, PeerConnection, SessionDescription};

/// Non-trickle negotiation: `a` offers with a channel `label`, `b` answers;
/// returns both ends of the channel after one message went through.
pub async fn connect(
    a: &PeerConnection,
    b: &PeerConnection,
    label: &str,
) -> (DataChannel, DataChannel) {
    let chat = a.create_data_channel(label).await.unwrap();
    let offer = a.create_offer().await.unwrap();
    let answer = b.answer_offer(&offer.sdp.to_string()).await.unwrap();
    a.set_remote_description(SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    let remote = b.accept_data_channel().await.unwrap();
    assert_eq!(remote.label(), label);
    chat.send_text("hello").await.unwrap();
    assert_eq!(remote.recv().await, Some(Message::Text("hello".into())));
    (chat, remote)
}

/// Open file descriptors of this process (sockets included).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
