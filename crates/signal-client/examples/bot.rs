//! A bot that joins a fulmar-signal room and echoes, to every peer that
//! calls it, each data-channel message and each audio/video track.
//!
//! ```sh
//! cargo run -p fulmar-signal -- --open &
//! cargo run -p fulmar-signal-client --example bot -- ws://127.0.0.1:8443/ws lobby [token]
//! ```

use std::sync::Arc;

use fulmar::{ChannelConfig, DataChannel, LocalTrack, PeerConnection, ReceiveMode};
use fulmar_signal_client::{run_mesh, Client, JoinOptions, MeshHandler};
use tokio::sync::Mutex;

/// Echoes channels as they open and tracks as they arrive.
struct EchoBot;

impl MeshHandler for EchoBot {
    async fn peer_added(&self, peer: &str, pc: &PeerConnection) {
        println!("peer {peer} joined the call");
        // fulmar-signal's demo page opens "chat" as a negotiated channel
        // (id 0) on both sides; other channels arrive by DCEP.
        let chat = ChannelConfig {
            negotiated: Some(0),
            ..ChannelConfig::new("chat")
        };
        if let Ok(dc) = pc.create_data_channel_with(chat).await {
            tokio::spawn(echo(dc));
        }
        let pc = pc.clone();
        tokio::spawn(async move {
            while let Some(dc) = pc.accept_data_channel().await {
                tokio::spawn(echo(dc));
            }
        });
    }

    async fn offer_applied(&self, _peer: &str, pc: &PeerConnection) {
        // One echo track per transceiver the offer created, sent back on it.
        let mut tracks = Vec::new();
        for (i, t) in pc.transceivers().into_iter().enumerate() {
            tracks.push(Some(
                pc.add_track(t.kind, "echo", &format!("echo{i}")).await,
            ));
        }
        let tracks = Arc::new(Mutex::new(tracks));
        let pc = pc.clone();
        tokio::spawn(async move {
            while let Some(remote) = pc.accept_track().await {
                let local: Option<LocalTrack> = tracks
                    .lock()
                    .await
                    .iter_mut()
                    .find(|t| {
                        t.as_ref()
                            .is_some_and(|t| t.transceiver() == remote.transceiver())
                    })
                    .and_then(Option::take);
                let Some(local) = local else { continue };
                remote.forward_to(Arc::new(local));
            }
        });
    }

    async fn peer_removed(&self, peer: &str) {
        println!("peer {peer} left");
    }
}

/// Sends every message back on its channel.
async fn echo(dc: DataChannel) {
    while let Some(msg) = dc.recv().await {
        if dc.send_msg(msg).await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:8443/ws".into());
    let room = args.next().unwrap_or_else(|| "lobby".into());
    let options = JoinOptions {
        room,
        name: "echo-bot".into(),
        meta: serde_json::json!({"bot": true}),
        token: args.next(),
    };
    let client = Arc::new(Client::join(&url, options).await?);
    println!(
        "joined as {} ({} peers present)",
        client.id(),
        client.initial_peers().len()
    );
    // Tracks are echoed packet by packet: take them as RTP, not frames.
    let config = fulmar::Config::default().with_receive_mode(ReceiveMode::Rtp);
    run_mesh(client, config, Arc::new(EchoBot)).await?;
    Ok(())
}
