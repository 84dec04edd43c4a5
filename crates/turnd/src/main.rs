//! fulmar-turnd: a STUN/TURN server (RFC 8489, RFC 8656).
//!
//! A thin tokio shell around [`fulmar_turn::Server`]: one task owns the
//! sans-IO core; listener, connection and relay-socket tasks feed it through
//! a channel and it answers through the sockets. UDP, TCP and TLS listeners,
//! a TOML configuration file, Prometheus-style metrics over HTTP, tracing
//! logs and graceful shutdown on Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run --release -p fulmar-turnd -- --config crates/turnd/turnd.toml
//! ```

mod config;
mod metrics;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use fulmar_turn::{
    FiveTuple, RelayAllocator, Server, ServerEvent, StreamFramer, TransportProtocol,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

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

/// What the tasks hand the core.
enum Input {
    /// A datagram or stream frame from a client.
    Client { ft: FiveTuple, data: Vec<u8> },
    /// A datagram from a peer on a relayed address.
    Peer {
        relayed: SocketAddr,
        peer: SocketAddr,
        data: Vec<u8>,
    },
    /// A TCP or TLS connection opened; frames for it go to `tx`.
    StreamOpen {
        ft: FiveTuple,
        tx: mpsc::Sender<Vec<u8>>,
    },
    /// A TCP or TLS connection closed.
    StreamClosed { ft: FiveTuple },
}

/// Binds one OS-chosen UDP port per allocation on the relay IP; the core
/// picks the socket up when the allocation is created.
struct SocketAllocator {
    ip: IpAddr,
    bound: Arc<Mutex<HashMap<SocketAddr, std::net::UdpSocket>>>,
}

impl RelayAllocator for SocketAllocator {
    fn allocate(&mut self, ipv6: bool, even_port: bool) -> Option<SocketAddr> {
        if ipv6 != self.ip.is_ipv6() {
            return None;
        }
        for _ in 0..16 {
            let s = std::net::UdpSocket::bind(SocketAddr::new(self.ip, 0)).ok()?;
            let addr = s.local_addr().ok()?;
            if even_port && addr.port() % 2 == 1 {
                continue;
            }
            s.set_nonblocking(true).ok()?;
            lock(&self.bound).insert(addr, s);
            return Some(addr);
        }
        None
    }

    fn release(&mut self, relayed: SocketAddr) {
        lock(&self.bound).remove(&relayed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    let file: config::FileConfig =
        toml::from_str(&text).map_err(|e| format!("parsing {}: {e}", cli.config.display()))?;
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

    let (in_tx, in_rx) = mpsc::channel::<Input>(8192);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();

    let mut udp_sockets = HashMap::new();
    for addr in &file.listen_udp {
        let sock = Arc::new(
            UdpSocket::bind(addr)
                .await
                .map_err(|e| format!("binding UDP {addr}: {e}"))?,
        );
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        info!(%local, "listening on UDP");
        udp_sockets.insert(local, sock.clone());
        tasks.push(tokio::spawn(udp_listener(sock, local, in_tx.clone())));
    }
    for addr in &file.listen_tcp {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding TCP {addr}: {e}"))?;
        info!(local = %addr, "listening on TCP");
        tasks.push(tokio::spawn(tcp_listener(l, None, in_tx.clone())));
    }
    if let Some(acceptor) = tls {
        for addr in &file.listen_tls {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("binding TLS {addr}: {e}"))?;
            info!(local = %addr, "listening on TLS");
            tasks.push(tokio::spawn(tcp_listener(
                l,
                Some(acceptor.clone()),
                in_tx.clone(),
            )));
        }
    }
    let metrics_text = Arc::new(Mutex::new(String::new()));
    if let Some(addr) = file.metrics {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding metrics {addr}: {e}"))?;
        info!(local = %addr, "metrics at http://{addr}/metrics");
        tasks.push(tokio::spawn(metrics::serve(l, metrics_text.clone())));
    }

    let bound = Arc::new(Mutex::new(HashMap::new()));
    let allocator = SocketAllocator {
        ip: server_config.relay_ip,
        bound: bound.clone(),
    };
    let server = Server::with_allocator(
        server_config,
        std::time::Instant::now(),
        StdRng::from_entropy(),
        Box::new(allocator),
    );
    let core = Core {
        server,
        udp_sockets,
        streams: HashMap::new(),
        relays: HashMap::new(),
        bound,
        in_tx: in_tx.clone(),
        metrics_text,
    };
    drop(in_tx);
    let core_task = tokio::spawn(core.run(in_rx, shutdown_rx));

    shutdown_signal().await;
    info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), core_task).await;
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

async fn udp_listener(sock: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let ft = FiveTuple {
                    client: from,
                    server: local,
                    protocol: TransportProtocol::Udp,
                };
                let data = buf[..n].to_vec();
                if tx.send(Input::Client { ft, data }).await.is_err() {
                    return;
                }
            }
            Err(e) => debug!(error = %e, "UDP receive error"),
        }
    }
}

async fn tcp_listener(
    l: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<Input>,
) {
    let protocol = if tls.is_some() {
        TransportProtocol::Tls
    } else {
        TransportProtocol::Tcp
    };
    loop {
        let Ok((stream, from)) = l.accept().await else {
            continue;
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ft = FiveTuple {
            client: from,
            server: local,
            protocol,
        };
        let tx = tx.clone();
        match tls.clone() {
            None => {
                tokio::spawn(connection(stream, ft, tx));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => connection(s, ft, tx).await,
                        _ => debug!(client = %from, "TLS handshake failed"),
                    }
                });
            }
        }
    }
}

/// One TCP or TLS connection: frames in (RFC 8656 §12.5), frames out.
async fn connection<S>(stream: S, ft: FiveTuple, tx: mpsc::Sender<Input>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(1024);
    if tx.send(Input::StreamOpen { ft, tx: out_tx }).await.is_err() {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16384];
    'read: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(Some(frame)) => {
                    let data = frame.to_vec();
                    if tx.send(Input::Client { ft, data }).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    debug!(client = %ft.client, error = %e, "closing stream");
                    break 'read;
                }
            }
        }
    }
    let _ = tx.send(Input::StreamClosed { ft }).await;
    writer.abort();
}

async fn relay_reader(sock: Arc<UdpSocket>, relayed: SocketAddr, tx: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let data = buf[..n].to_vec();
                if tx
                    .send(Input::Peer {
                        relayed,
                        peer,
                        data,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => debug!(%relayed, error = %e, "relay receive error"),
        }
    }
}

/// The task that owns the sans-IO server.
struct Core {
    server: Server,
    udp_sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    streams: HashMap<FiveTuple, mpsc::Sender<Vec<u8>>>,
    relays: HashMap<SocketAddr, (Arc<UdpSocket>, JoinHandle<()>)>,
    bound: Arc<Mutex<HashMap<SocketAddr, std::net::UdpSocket>>>,
    in_tx: mpsc::Sender<Input>,
    metrics_text: Arc<Mutex<String>>,
}

impl Core {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut out = vec![0u8; 65536 + 64];
        self.publish_metrics();
        loop {
            let deadline = self
                .server
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                input = rx.recv() => {
                    let Some(input) = input else { break };
                    self.handle(input, &mut out);
                    // Take whatever else is queued before polling again.
                    while let Ok(input) = rx.try_recv() {
                        self.handle(input, &mut out);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.server.handle_timeout(std::time::Instant::now());
                }
                _ = tick.tick() => self.publish_metrics(),
                _ = shutdown.changed() => break,
            }
            self.flush();
        }
        self.publish_metrics();
        let s = self.server.stats();
        info!(
            allocations = self.server.allocation_count(),
            created = s.allocations_created,
            packets_to_peer = s.packets_to_peer,
            packets_to_client = s.packets_to_client,
            "core stopped"
        );
    }

    fn handle(&mut self, input: Input, out: &mut [u8]) {
        let now = std::time::Instant::now();
        match input {
            Input::Client { ft, data } => {
                if let Some(r) = self.server.handle_client(now, ft, &data) {
                    if let Some((sock, _)) = self.relays.get(&r.relayed) {
                        let _ = sock.try_send_to(r.data, r.peer);
                    }
                }
            }
            Input::Peer {
                relayed,
                peer,
                data,
            } => {
                if let Some((ft, n)) = self.server.handle_peer(now, relayed, peer, &data, out) {
                    if let Some(b) = out.get(..n) {
                        self.send_to_client(ft, b);
                    }
                }
            }
            Input::StreamOpen { ft, tx } => {
                self.streams.insert(ft, tx);
            }
            Input::StreamClosed { ft } => {
                self.streams.remove(&ft);
                // RFC 8656 §3.1: the allocation lives as long as its TCP/TLS connection.
                self.server.delete_allocation(&ft);
            }
        }
    }

    fn send_to_client(&mut self, ft: FiveTuple, bytes: &[u8]) {
        match ft.protocol {
            TransportProtocol::Udp => {
                if let Some(sock) = self.udp_sockets.get(&ft.server) {
                    let _ = sock.try_send_to(bytes, ft.client);
                }
            }
            TransportProtocol::Tcp | TransportProtocol::Tls => {
                if let Some(tx) = self.streams.get(&ft) {
                    let _ = tx.try_send(bytes.to_vec());
                }
            }
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.server.poll_transmit() {
            self.send_to_client(t.five_tuple, &t.payload);
        }
        while let Some(e) = self.server.poll_event() {
            match e {
                ServerEvent::AllocationCreated {
                    five_tuple,
                    relayed,
                    username,
                } => {
                    let std_sock = lock(&self.bound).remove(&relayed);
                    match std_sock.map(UdpSocket::from_std) {
                        Some(Ok(sock)) => {
                            let sock = Arc::new(sock);
                            let h = tokio::spawn(relay_reader(
                                sock.clone(),
                                relayed,
                                self.in_tx.clone(),
                            ));
                            self.relays.insert(relayed, (sock, h));
                            info!(client = %five_tuple.client, protocol = ?five_tuple.protocol, %relayed, user = %username, "allocation created");
                        }
                        _ => {
                            warn!(%relayed, "relay socket unavailable; deleting allocation");
                            self.server.delete_allocation(&five_tuple);
                        }
                    }
                }
                ServerEvent::AllocationDeleted {
                    five_tuple,
                    relayed,
                    expired,
                } => {
                    if let Some((_, h)) = self.relays.remove(&relayed) {
                        h.abort();
                    }
                    info!(client = %five_tuple.client, %relayed, expired, "allocation deleted");
                }
                _ => {}
            }
        }
    }

    fn publish_metrics(&self) {
        let text = metrics::render(
            &self.server.stats(),
            &self.server.gauges(std::time::Instant::now()),
        );
        *lock(&self.metrics_text) = text;
    }
}
