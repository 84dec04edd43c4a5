//! `fulmar-gateway`: serves the demo page, `POST /offer`, WHIP and WHEP.
//!
//! ```sh
//! fulmar-gateway [--listen 127.0.0.1:8080] [--record DIR] [--video FILE.ivf] [--audio FILE.ogg]
//! ```
//! Without `--video`/`--audio`, WHEP plays the sample clips checked in
//! under `crates/gateway/media/`; without `--record`, WHIP media is not saved.

use std::sync::Arc;

use fulmar_gateway::clip::Clip;
use fulmar_gateway::{Gateway, GatewayConfig};

const USAGE: &str =
    "usage: fulmar-gateway [--listen ADDR:PORT] [--record DIR] [--video FILE.ivf] [--audio FILE.ogg]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = String::from("127.0.0.1:8080");
    let mut config = GatewayConfig::default().with_sample_media()?;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(USAGE);
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--record" => config = config.with_record_dir(value()?)?,
            "--video" => config.video = Some(Arc::new(Clip::from_ivf(&std::fs::read(value()?)?)?)),
            "--audio" => {
                config.audio = Some(Arc::new(Clip::from_ogg_opus(&std::fs::read(value()?)?)?))
            }
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("fulmar-gateway: open http://{}", listener.local_addr()?);
    fulmar_gateway::serve(listener, Arc::new(Gateway::new(config))).await?;
    Ok(())
}
