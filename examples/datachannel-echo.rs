//! Data-channel echo: serves a chat page and `POST /offer` on 127.0.0.1
//! (default port 8080, or the first argument as `ADDR:PORT`). The offer's
//! answer carries all candidates (non-trickle); every message on every
//! channel is echoed back on the channel it came from. Every peer shares
//! one UDP socket (a [`fulmar::Endpoint`]) on the HTTP address's IP, with
//! the port of the optional second argument (default: chosen by the OS).
//!
//! ```sh
//! cargo run --example datachannel-echo            # then open http://127.0.0.1:8080
//! cargo run --example datachannel-echo 0.0.0.0:8080 40000   # media on UDP 40000
//! curl -s -X POST -H 'Content-Type: application/sdp' --data-binary @offer.sdp http://127.0.0.1:8080/offer
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::post;
use axum::Router;
use fulmar::{Config, Endpoint, PeerConnection};
use fulmar_examples::http;
use tokio::net::TcpListener;

const PAGE: &str = r#"<!doctype html><title>Fulmar echo</title>
<input id=m value="hello"><button onclick="dc.send(m.value)">send</button><pre id=log></pre>
<script>
const pc = new RTCPeerConnection(), dc = pc.createDataChannel("chat");
dc.onmessage = e => log.textContent += "echo: " + e.data + "\n";
dc.onopen = () => log.textContent += "open\n";
(async () => {
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => pc.onicegatheringstatechange = () => pc.iceGatheringState == "complete" && r());
  const res = await fetch("/offer", {method: "POST", headers: {"Content-Type": "application/sdp"}, body: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: "answer", sdp: await res.text()});
})();
</script>"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let media_port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let endpoint = Endpoint::bind(SocketAddr::new(local.ip(), media_port)).await?;
    println!(
        "open http://{local} (media on udp {})",
        endpoint.local_addr()
    );
    let app = Router::new()
        .route("/offer", post(offer))
        .fallback(|| async { Html(PAGE) })
        .with_state(endpoint);
    http::serve(listener, app).await?;
    Ok(())
}

/// `POST /offer`: the answer, or why there is none.
async fn offer(State(endpoint): State<Endpoint>, body: String) -> Response {
    match answer(&endpoint, &body).await {
        Ok(sdp) => http::sdp(sdp),
        Err(e) => http::bad_request(e),
    }
}

/// Answers an offer with a new peer on the shared socket that echoes on
/// every channel.
async fn answer(endpoint: &Endpoint, offer: &str) -> Result<String, fulmar::Error> {
    let pc = PeerConnection::new_on(endpoint, Config::default()).await?;
    let sdp = pc.answer_offer(offer).await?;
    report_zero_checksum(pc.clone());
    fulmar_gateway::echo_data_channels(pc);
    Ok(sdp)
}

/// Says on stderr, once the first channel is open, whether the peer
/// negotiated SCTP's zero checksum (RFC 9653), so SCTP packets go without
/// CRC32c.
fn report_zero_checksum(pc: PeerConnection) {
    tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stats = pc.stats();
            if stats.data_channels_opened > 0 {
                let state = match stats.sctp_zero_checksum {
                    true => "in use",
                    false => "not negotiated",
                };
                eprintln!("sctp: zero checksum (RFC 9653) {state}");
                return;
            }
        }
    });
}
