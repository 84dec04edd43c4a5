//! turn-probe: drives fulmar-turn's sans-IO client over a real UDP socket or
//! TCP connection against any TURN server (coturn, fulmar-turnd): allocate,
//! relay messages to a local echo peer through Send indications and then a
//! channel, and deallocate. Exits non-zero unless every message came back.
//!
//! ```text
//! turn-probe --server 127.0.0.1:3478 --user alice --password secret [--tcp | --tls] [--count 50]
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::Arc;

use clap::Parser;
use fulmar_turn::{Client, ClientConfig, ClientEvent, ClientTransport, Received, StreamFramer};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "turn-probe",
    about = "Allocate and relay through a TURN server"
)]
struct Cli {
    /// The TURN server.
    #[arg(long)]
    server: SocketAddr,
    /// Long-term credential user name.
    #[arg(long, default_value = "alice")]
    user: String,
    /// Long-term credential password.
    #[arg(long, default_value = "secret")]
    password: String,
    /// Use TCP instead of UDP.
    #[arg(long)]
    tcp: bool,
    /// Use TLS over TCP (the server certificate is not verified: a test tool).
    #[arg(long)]
    tls: bool,
    /// Messages through the channel (as many again through Send indications).
    #[arg(long, default_value_t = 50)]
    count: usize,
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream, StreamFramer),
    Tls(Box<TlsStream>, StreamFramer),
}

/// Accepts any server certificate: turn-probe only tests TURN over TLS on loopback.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connect(tcp: TcpStream) -> Result<TlsStream, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

struct Probe {
    client: Client,
    conn: Conn,
    server: SocketAddr,
    events: Vec<ClientEvent>,
    received: Vec<Vec<u8>>,
}

impl Probe {
    fn flush(&mut self) -> Result<(), String> {
        let mut buf = Vec::new();
        while self
            .client
            .poll_transmit(Instant::now(), &mut buf)
            .is_some()
        {
            self.write(&buf)?;
        }
        while let Some(e) = self.client.poll_event() {
            println!("event: {e:?}");
            self.events.push(e);
        }
        Ok(())
    }

    /// Sends bytes to the server over the probe's connection.
    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        match &mut self.conn {
            Conn::Udp(s) => {
                s.send_to(bytes, self.server).map_err(|e| e.to_string())?;
            }
            Conn::Tcp(s, _) => s.write_all(bytes).map_err(|e| e.to_string())?,
            Conn::Tls(s, _) => {
                s.write_all(bytes).map_err(|e| e.to_string())?;
                s.flush().map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Sends `data` to `peer` through the allocation.
    fn send_to_peer(&mut self, peer: SocketAddr, data: &[u8]) -> Result<(), String> {
        let mut out = Vec::new();
        self.client
            .send_to(Instant::now(), peer, data, &mut out)
            .map_err(|e| e.to_string())?;
        self.write(&out)
    }

    /// Receive for up to `wait`, feeding the client.
    fn step(&mut self, wait: Duration) -> Result<(), String> {
        let mut buf = [0u8; 65536];
        let now = Instant::now();
        let mut frames: Vec<Vec<u8>> = Vec::new();
        match &mut self.conn {
            Conn::Udp(s) => {
                s.set_read_timeout(Some(wait)).map_err(|e| e.to_string())?;
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    if from == self.server {
                        frames.push(buf[..n].to_vec());
                    }
                }
            }
            Conn::Tls(s, framer) => {
                s.sock
                    .set_read_timeout(Some(wait))
                    .map_err(|e| e.to_string())?;
                match s.read(&mut buf) {
                    Ok(0) => return Err("server closed the connection".into()),
                    Ok(n) => {
                        framer.push(&buf[..n]);
                        while let Some(f) = framer.next_frame().map_err(|e| e.to_string())? {
                            frames.push(f.to_vec());
                        }
                    }
                    Err(_) => {}
                }
            }
            Conn::Tcp(s, framer) => {
                s.set_read_timeout(Some(wait)).map_err(|e| e.to_string())?;
                match s.read(&mut buf) {
                    Ok(0) => return Err("server closed the connection".into()),
                    Ok(n) => {
                        framer.push(&buf[..n]);
                        while let Some(f) = framer.next_frame().map_err(|e| e.to_string())? {
                            frames.push(f.to_vec());
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        for f in frames {
            if let Received::PeerData { data, .. } =
                self.client.handle_receive(now, self.server, &f)
            {
                self.received.push(data.to_vec());
            }
        }
        self.client.handle_timeout(Instant::now());
        self.flush()
    }

    fn wait_for(&mut self, what: &str, f: impl Fn(&ClientEvent) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.events.iter().any(&f) {
                return Ok(());
            }
            self.step(Duration::from_millis(20))?;
        }
        Err(format!(
            "timed out waiting for {what}; events: {:?}",
            self.events
        ))
    }
}

fn echo(peer: &UdpSocket) -> usize {
    let mut buf = [0u8; 2048];
    let mut n_echoed = 0;
    while let Ok((n, from)) = peer.recv_from(&mut buf) {
        let _ = peer.send_to(&buf[..n], from);
        n_echoed += 1;
    }
    n_echoed
}

fn run(cli: Cli) -> Result<(), String> {
    let peer = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    peer.set_nonblocking(true).map_err(|e| e.to_string())?;
    let peer_addr = peer.local_addr().map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(cli.server, &cli.user, &cli.password);
    config.software = Some("fulmar turn-probe".into());
    let conn = if cli.tls {
        config.transport = ClientTransport::Stream;
        let s = TcpStream::connect_timeout(&cli.server, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        Conn::Tls(Box::new(tls_connect(s)?), StreamFramer::new())
    } else if cli.tcp {
        config.transport = ClientTransport::Stream;
        let s = TcpStream::connect_timeout(&cli.server, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        Conn::Tcp(s, StreamFramer::new())
    } else {
        let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        Conn::Udp(s)
    };
    let mut p = Probe {
        client: Client::new(config, StdRng::from_entropy()),
        conn,
        server: cli.server,
        events: Vec::new(),
        received: Vec::new(),
    };
    p.client
        .allocate(Instant::now())
        .map_err(|e| e.to_string())?;
    p.flush()?;
    p.wait_for("allocation", |e| matches!(e, ClientEvent::Allocated { .. }))?;
    println!(
        "allocated: relayed {:?}, mapped {:?}",
        p.client.relayed_address(),
        p.client.mapped_address()
    );

    // Send indications first.
    p.client
        .create_permission(Instant::now(), peer_addr.ip())
        .map_err(|e| e.to_string())?;
    p.flush()?;
    p.wait_for("permission", |e| {
        matches!(e, ClientEvent::PermissionCreated { .. })
    })?;
    // Every message sent, to compare with what the peer echoed back.
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for i in 0..cli.count {
        let msg = format!("indication {i}").into_bytes();
        p.send_to_peer(peer_addr, &msg)?;
        p.flush()?;
        sent.push(msg);
        std::thread::sleep(Duration::from_millis(2));
        echo(&peer);
        p.step(Duration::from_millis(2))?;
    }
    // Then the channel.
    p.client
        .bind_channel(Instant::now(), peer_addr)
        .map_err(|e| e.to_string())?;
    p.flush()?;
    p.wait_for("channel", |e| matches!(e, ClientEvent::ChannelBound { .. }))?;
    for i in 0..cli.count {
        let msg = vec![i as u8; 1200];
        p.send_to_peer(peer_addr, &msg)?;
        p.flush()?;
        sent.push(msg);
        std::thread::sleep(Duration::from_millis(2));
        echo(&peer);
        p.step(Duration::from_millis(2))?;
    }
    let expected = sent.len();
    let deadline = Instant::now() + Duration::from_secs(3);
    while p.received.len() < expected && Instant::now() < deadline {
        echo(&peer);
        p.step(Duration::from_millis(10))?;
    }
    println!("relayed and echoed: {}/{expected}", p.received.len());
    p.client.close(Instant::now());
    p.flush()?;
    p.wait_for("deallocation", |e| matches!(e, ClientEvent::Closed { .. }))?;
    if p.received.len() != expected {
        return Err(format!("lost {} messages", expected - p.received.len()));
    }
    // Loopback keeps order: each echo must be the message sent at its place.
    if let Some(i) = (0..expected).find(|&i| p.received[i] != sent[i]) {
        return Err(format!("echo {i} differs from the message sent"));
    }
    println!("turn-probe: OK");
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turn-probe: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
