//! fulmar-turnd: a STUN/TURN server (RFC 8489, RFC 8656).
//!
//! A thin tokio shell around [`fulmar_turn::Server`] (see `shell.rs`): the
//! core sits behind a short-held lock that the listener, connection and
//! relay-socket tasks take per packet, on every core, with no allocation on
//! the relay path. UDP, TCP and TLS listeners,
//! a TOML configuration file, Prometheus-style metrics over HTTP, tracing
//! logs and graceful shutdown on Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run --release -p fulmar-turnd -- --config crates/turnd/turnd.toml
//! ```

use fulmar_turnd::{config, metrics, shell};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use fulmar_turn::Server;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "fulmar-turnd",
    version,
    about = "STUN/TURN server (RFC 8489, RFC 8656)"
)]
struct Cli {
    /// Path of the TOML configuration file.
    #[arg(long, short, default_value = "turnd.toml")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "fulmar-turnd failed");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let text = std::fs::read_to_string(&cli.config)
        .map_err(|e| format!("reading {}: {e}", cli.config.display()))?;
    let file = config::FileConfig::from_toml_str(&text)
        .map_err(|e| format!("parsing {}: {e}", cli.config.display()))?;
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let server_config = file.server_config(unix_now)?;
    let tls = if file.listen_tls.is_empty() {
        None
    } else {
        Some(config::tls_acceptor(&file)?)
    };
    if cli.check {
        info!(config = %cli.config.display(), "configuration is valid");
        return Ok(());
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let buffers = file.buffers();

    // One SO_REUSEPORT socket per core on each UDP address: the kernel
    // spreads clients over them and each has its own receiving task.
    let per_address = file
        .udp_sockets_per_address
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut udp: HashMap<SocketAddr, Vec<Arc<UdpSocket>>> = HashMap::new();
    for addr in &file.listen_udp {
        let mut local = *addr;
        for _ in 0..per_address.clamp(1, 64) {
            let sock = shell::reuseport_udp(local, buffers.listener)
                .map_err(|e| format!("binding UDP {local}: {e}"))?;
            // With port 0 the first bind picks the port the others share.
            local = sock.local_addr().map_err(|e| e.to_string())?;
            udp.entry(local).or_default().push(Arc::new(sock));
        }
        info!(%local, sockets = per_address, "listening on UDP");
    }
    let metrics_text = Arc::new(Mutex::new(String::new()));
    let bound = Arc::new(Mutex::new(HashMap::new()));
    let allocator = shell::SocketAllocator {
        ipv4: Some(server_config.relay_ip).filter(IpAddr::is_ipv4),
        ipv6: server_config
            .relay_ip_v6
            .or(Some(server_config.relay_ip))
            .filter(IpAddr::is_ipv6),
        buffer: buffers.relay,
        bound: bound.clone(),
    };
    let server = Server::with_allocator(
        server_config,
        std::time::Instant::now(),
        StdRng::from_entropy(),
        Box::new(allocator),
    );
    let shared = shell::Shared::new(server, bound, udp.clone(), metrics_text.clone());

    for (local, socks) in &udp {
        for sock in socks {
            tasks.push(tokio::spawn(shell::udp_listener(
                shared.clone(),
                sock.clone(),
                *local,
            )));
        }
    }
    for addr in &file.listen_tcp {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding TCP {addr}: {e}"))?;
        info!(local = %addr, "listening on TCP");
        tasks.push(tokio::spawn(shell::tcp_listener(shared.clone(), l, None)));
    }
    if let Some(acceptor) = tls {
        for addr in &file.listen_tls {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("binding TLS {addr}: {e}"))?;
            info!(local = %addr, "listening on TLS");
            tasks.push(tokio::spawn(shell::tcp_listener(
                shared.clone(),
                l,
                Some(acceptor.clone()),
            )));
        }
    }
    if let Some(addr) = file.metrics {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding metrics {addr}: {e}"))?;
        info!(local = %addr, "metrics at http://{addr}/metrics");
        tasks.push(tokio::spawn(metrics::serve(l, metrics_text)));
    }
    let timers = tokio::spawn(shell::timers(shared, shutdown_rx));

    shutdown_signal().await;
    info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), timers).await;
    for t in tasks {
        t.abort();
    }
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
