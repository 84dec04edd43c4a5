//! Data-channel echo: serves a chat page and `POST /offer` on 127.0.0.1
//! (default port 8080, or the first argument as `ADDR:PORT`). The offer's
//! answer carries all candidates (non-trickle); every message on every
//! channel is echoed back on the channel it came from.
//!
//! ```sh
//! cargo run --example datachannel-echo            # then open http://127.0.0.1:8080
//! curl -s -X POST -H 'Content-Type: application/sdp' --data-binary @offer.sdp http://127.0.0.1:8080/offer
//! ```

use fulmar::{Config, PeerConnection};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

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
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("open http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("request failed: {e}");
            }
        });
    }
}

/// One HTTP/1.1 request: `GET /` or `POST /offer`.
async fn serve(stream: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut reader = BufReader::new(stream);
    let (mut request, mut line, mut length) = (String::new(), String::new(), 0usize);
    reader.read_line(&mut request).await?;
    while reader.read_line(&mut line).await? > 2 {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>()?.min(1 << 20);
            }
        }
        line.clear();
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let (status, kind, reply) = if request.starts_with("POST /offer ") {
        match answer(std::str::from_utf8(&body)?).await {
            Ok(sdp) => ("200 OK", "application/sdp", sdp),
            Err(e) => ("400 Bad Request", "text/plain", e.to_string()),
        }
    } else {
        ("200 OK", "text/html", PAGE.to_owned())
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n", reply.len());
    let stream = reader.get_mut();
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(reply.as_bytes()).await?;
    Ok(())
}

/// Answers an offer with a new peer that echoes on every channel.
async fn answer(offer: &str) -> Result<String, fulmar::Error> {
    let pc = PeerConnection::new(Config::default()).await?;
    let sdp = pc.answer_offer(offer).await?;
    fulmar_gateway::echo_data_channels(pc);
    Ok(sdp)
}
