//! The main demo: one command serves everything on 127.0.0.1 (default port
//! 8080, or the first argument as `ADDR:PORT`):
//!
//! - `/`: a page that sends your camera and microphone to a Fulmar peer,
//!   which echoes them back, with a chat Fulmar answers over a data channel
//!   and live stats (RTT, bitrate, loss, frames) from `getStats()`;
//! - `/whip.html` and `POST /whip`: publish to Fulmar (RFC 9725), recorded
//!   to IVF / Annex-B / Ogg files in a temporary folder;
//! - `/whep.html` and `POST /whep`: watch the sample VP8 and Opus clips;
//! - `POST /offer`: answer any SDP offer (for scripts and other tools).
//!
//! ```sh
//! cargo run --release --example demo          # then open http://127.0.0.1:8080
//! ```

use std::sync::Arc;

use fulmar_gateway::{Gateway, GatewayConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let record = std::env::temp_dir().join("fulmar-demo-recordings");
    let config = GatewayConfig::default()
        .with_sample_media()?
        .with_record_dir(&record)?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("Fulmar demo: open {base}/ (echo + chat + stats)");
    println!(
        "  WHIP publisher: {base}/whip.html (recordings in {})",
        record.display()
    );
    println!("  WHEP player:    {base}/whep.html");
    println!("  sessions:       {base}/sessions");
    fulmar_gateway::serve(listener, Arc::new(Gateway::new(config))).await?;
    Ok(())
}
