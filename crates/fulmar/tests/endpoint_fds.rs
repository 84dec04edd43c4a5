//! The shared endpoint's socket is released: a descriptor count, so it runs
//! alone in its own test binary (tests in one binary run side by side, and
//! their sockets would come and go under the count).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fulmar::{Config, Endpoint, Message, PeerConnection};

mod common;
use common::connect;

/// The shared socket stays open while a connection uses it, and closes once
/// the endpoint handle and every connection on it are gone.
#[tokio::test]
async fn endpoint_socket_is_released() {
    let run = async {
        let fds0 = common::open_fds();
        let endpoint = Endpoint::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let server = PeerConnection::new_on(&endpoint, Config::default())
            .await
            .unwrap();
        drop(endpoint);
        let client = PeerConnection::new(Config::default()).await.unwrap();
        let (chat, remote) = connect(&client, &server, "c").await;
        chat.send_text("alive").await.unwrap();
        assert_eq!(remote.recv().await, Some(Message::Text("alive".into())));
        server.close().await;
        server.closed().await;
        client.closed().await;
        drop((server, client, chat, remote));
        while common::open_fds() > fds0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("finished in time");
}
