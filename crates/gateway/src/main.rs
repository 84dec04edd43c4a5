//! `fulmar-gateway`: serves the demo page, `POST /offer`, WHIP and WHEP.
//!
//! ```sh
//! fulmar-gateway [--config FILE.toml] [--listen ADDR:PORT] [--media-ip IP] [--media-port PORT]
//!                [--public-ip IP]... [--public-ip-from-stun URL] [--max-sessions N] [--max-pending-per-client N] [--connect-timeout SECS]
//!                [--record DIR] [--video FILE.ivf] [--audio FILE.ogg]
//! ```
//! Every session's media goes through one UDP socket, bound to `--media-ip`
//! (default: the `--listen` IP) and `--media-port` (default: chosen by the
//! OS, printed at start); `--public-ip` is the address a 1:1 NAT maps to
//! this host, advertised in place of its own (or learnt at start from the
//! STUN server of `--public-ip-from-stun`). Without `--video`/`--audio`, WHEP plays the sample
//! clips checked in under `crates/gateway/media/`; without `--record`, WHIP
//! media is not saved. `gateway.toml` beside this crate is a commented sample
//! configuration.

use std::sync::Arc;

use fulmar_gateway::settings::Settings;
use fulmar_gateway::Gateway;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = match Settings::from_args(std::env::args().skip(1)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fulmar-gateway: {e}");
            std::process::exit(2);
        }
    };
    settings.learn_public_ip().await?;
    let gateway = Arc::new(Gateway::new(settings.load_media()?));
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let media = gateway.media_addr().await?;
    println!("fulmar-gateway: open http://{}", listener.local_addr()?);
    println!(
        "fulmar-gateway: media on udp {media} (one port for every session; up to {} sessions)",
        gateway.config().max_sessions
    );
    fulmar_gateway::serve(listener, gateway).await?;
    Ok(())
}
