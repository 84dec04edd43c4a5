//! Fulmar as the offerer: `GET /offer` returns Fulmar's offer (all candidates)
//! with a channel "fulmar" and a negotiated channel (id 42, "neg");
//! `POST /answer` applies the browser's answer and `POST /candidate` its
//! trickled candidates (an empty body is end-of-candidates). Fulmar greets on
//! "fulmar" with a string and a 256 KiB binary message, then echoes every
//! message on every channel, including ones the browser opens; the text
//! `close channel` closes that channel and `close connection` the connection.
//!
//! ```sh
//! cargo run --example datachannel-offer -- 127.0.0.1:8081
//! ```

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use fulmar::{ChannelConfig, Config, DataChannel, Message, PeerConnection, SessionDescription};
use fulmar_examples::http;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

type Session = Arc<Mutex<Option<PeerConnection>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("GET http://{}/offer", listener.local_addr()?);
    let app = Router::new()
        .route("/offer", get(new_offer))
        .route("/answer", post(apply_answer))
        .route("/candidate", post(add_candidate))
        .with_state(Session::default());
    http::serve(listener, app).await?;
    Ok(())
}

/// `GET /offer`: a new connection (replacing the last one) and its offer.
async fn new_offer(State(session): State<Session>) -> Response {
    let mut s = session.lock().await;
    reply(offer().await.map(|(pc, sdp)| {
        *s = Some(pc);
        sdp
    }))
}

/// `POST /answer`: the browser's answer to the last offer.
async fn apply_answer(State(session): State<Session>, body: String) -> Response {
    let s = session.lock().await;
    let Some(pc) = s.as_ref() else {
        return reply(Err(fulmar::Error::Closed));
    };
    reply(match SessionDescription::answer(&body) {
        Ok(a) => pc.set_remote_description(a).await.map(|()| String::new()),
        Err(e) => Err(e.into()),
    })
}

/// `POST /candidate`: one trickled candidate; an empty body is
/// end-of-candidates.
async fn add_candidate(State(session): State<Session>, body: String) -> Response {
    let s = session.lock().await;
    let Some(pc) = s.as_ref() else {
        return reply(Err(fulmar::Error::Closed));
    };
    reply(
        pc.add_ice_candidate(body.trim())
            .await
            .map(|()| String::new()),
    )
}

fn reply(result: Result<String, fulmar::Error>) -> Response {
    match result {
        Ok(sdp) => http::sdp(sdp),
        Err(e) => http::bad_request(e),
    }
}

async fn offer() -> Result<(PeerConnection, String), fulmar::Error> {
    let pc = PeerConnection::new(Config::default()).await?;
    let greeter = pc.create_data_channel("fulmar").await?;
    let mut neg = ChannelConfig::new("neg");
    neg.negotiated = Some(42);
    let negotiated = pc.create_data_channel_with(neg).await?;
    let sdp = pc.create_offer().await?.sdp.to_string();
    let pc2 = pc.clone();
    tokio::spawn(async move {
        if greeter.send_text("hello from fulmar").await.is_ok() {
            let big: Vec<u8> = (0..262_144u32).map(|i| (i % 251) as u8).collect();
            let _ = greeter.send(big).await;
        }
        echo(greeter, pc2).await;
    });
    tokio::spawn(echo(negotiated, pc.clone()));
    let acceptor = pc.clone();
    tokio::spawn(async move {
        while let Some(dc) = acceptor.accept_data_channel().await {
            tokio::spawn(echo(dc, acceptor.clone()));
        }
    });
    Ok((pc, sdp))
}

async fn echo(dc: DataChannel, pc: PeerConnection) {
    while let Some(msg) = dc.recv().await {
        match msg {
            Message::Text(t) if t == "close channel" => {
                let _ = dc.close().await;
            }
            Message::Text(t) if t == "close connection" => pc.close().await,
            msg => {
                if dc.send_msg(msg).await.is_err() {
                    break;
                }
            }
        }
    }
}
