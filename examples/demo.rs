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
//! Media of every session goes through one UDP socket, bound to the HTTP
//! address's IP (or `--media-ip`) and an OS-chosen port (or `--media-port`);
//! every flag of `fulmar-gateway` is accepted after the address.
//!
//! ```sh
//! cargo run --release --example demo          # then open http://127.0.0.1:8080
//! cargo run --release --example demo 0.0.0.0:8080 --media-port 40000   # from the LAN
//! ```

use std::sync::Arc;

use fulmar_gateway::settings::Settings;
use fulmar_gateway::Gateway;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let listen = match args.first() {
        Some(a) if !a.starts_with("--") => Some(args.remove(0)),
        _ => None,
    };
    let mut settings = Settings::from_args(args)?;
    if let Some(listen) = listen {
        settings.listen = listen.parse()?;
    }
    let record = match &settings.record {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join("fulmar-demo-recordings"),
    };
    settings.record = Some(record.clone());
    settings.learn_public_ip().await?;
    let gateway = Arc::new(Gateway::new(settings.load_media()?));
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("Fulmar demo: open {base}/ (echo + chat + stats)");
    println!(
        "  WHIP publisher: {base}/whip.html (recordings in {})",
        record.display()
    );
    println!("  WHEP player:    {base}/whep.html");
    println!("  sessions:       {base}/sessions");
    println!(
        "  media:          udp {} (one port for every session)",
        gateway.media_addr().await?
    );
    fulmar_gateway::serve(listener, gateway).await?;
    Ok(())
}
