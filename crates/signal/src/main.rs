//! `fulmar-signal`: the signaling server binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fulmar_signal::config::{AuthMode, Config};
use fulmar_signal::Signal;

/// A WebRTC signaling server (WebSocket JSON and Socket.IO).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to listen (overrides the file).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Let anyone join any room without a token (development only).
    #[arg(long)]
    open: bool,
    /// A shared HS256 secret for tokens (overrides the file).
    #[arg(long)]
    hs256_secret: Option<String>,
    /// Share rooms with the other nodes on this Redis
    /// (`redis://host:port`; overrides the file's `[redis] url`).
    #[arg(long)]
    redis: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = match &args.config {
        Some(path) => Config::parse(&std::fs::read_to_string(path)?)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if args.open {
        config.auth.mode = AuthMode::Open;
    }
    if let Some(secret) = args.hs256_secret {
        config.auth.hs256_secret = Some(secret);
    }
    if let Some(url) = args.redis {
        config.redis.get_or_insert_with(Default::default).url = url;
    }
    let auth = config.auth.load()?;
    if auth.is_open() {
        tracing::warn!("auth mode is OPEN: anyone may join any room; use JWT in production");
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        "fulmar-signal on {}: WebSocket at /ws, Socket.IO at /socket.io/, metrics at /metrics",
        listener.local_addr()?
    );
    let signal = match config.redis {
        None => Signal::new(config.limits, auth),
        Some(redis) => Signal::with_redis(config.limits, auth, redis).await?,
    };
    signal.serve(listener).await?;
    Ok(())
}
