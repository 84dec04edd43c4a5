//! A small DTLS 1.2 peer over std UDP sockets, for interop tests with openssl.
//!
//! ```text
//! dtls-peer client 127.0.0.1:4444 [--expect "sha-256 AB:.."] [--accept-any] [--send TEXT] [--export-len N] [--secs S]
//! dtls-peer server 127.0.0.1:4444 [--expect ..] [--accept-any] [--echo] [--no-cookie] [--export-len N] [--secs S]
//! ```
//! Prints `fingerprint: ..`, `connected: ..`, `Keying material: HEX` (as
//! openssl's `-keymatexport` does), and `received: TEXT` for each message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_dtls::{Certificate, Config, Connection, Event, Fingerprint};
use fulmar_srtp::{ProtectionProfile, DTLS_SRTP_EXPORTER_LABEL};

fn main() {
    if let Err(e) = run() {
        eprintln!("dtls-peer: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args
        .first()
        .ok_or("usage: dtls-peer client|server ADDR [options]")?
        .clone();
    let addr: SocketAddr = args
        .get(1)
        .ok_or("missing address")?
        .parse()
        .map_err(|e| format!("address: {e}"))?;
    let mut expected = Vec::new();
    let (mut accept_any, mut echo, mut cookie) = (false, false, true);
    let mut send: Option<String> = None;
    let mut export_len = 60usize;
    let mut secs = 10u64;
    let mut i = 2;
    while i < args.len() {
        let next = |i: usize| {
            args.get(i + 1)
                .cloned()
                .ok_or(format!("{} needs a value", args[i]))
        };
        match args[i].as_str() {
            "--expect" => {
                expected.push(Fingerprint::parse_sdp(&next(i)?).map_err(|e| e.to_string())?);
                i += 1;
            }
            "--accept-any" => accept_any = true,
            "--echo" => echo = true,
            "--no-cookie" => cookie = false,
            "--send" => {
                send = Some(next(i)?);
                i += 1;
            }
            "--export-len" => {
                export_len = next(i)?.parse().map_err(|_| "bad --export-len")?;
                i += 1;
            }
            "--secs" => {
                secs = next(i)?.parse().map_err(|_| "bad --secs")?;
                i += 1;
            }
            other => return Err(format!("unknown option {other}")),
        }
        i += 1;
    }
    let cert = Arc::new(Certificate::generate().map_err(|e| e.to_string())?);
    println!("fingerprint: {}", cert.fingerprint().to_sdp());
    let mut cfg = Config::new(cert, expected);
    cfg.insecure_accept_any_peer_certificate = accept_any;
    cfg.hello_verify_cookie = cookie;
    // use_srtp offers fulmar-srtp's profiles, by IANA id, in WebRTC's order.
    cfg.srtp_profiles = ProtectionProfile::PREFERRED
        .map(ProtectionProfile::id)
        .to_vec();
    let cfg = Arc::new(cfg);

    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let (sock, mut conn, mut peer) = if role == "client" {
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        (
            sock,
            Connection::client(cfg, start, rand::rngs::OsRng),
            Some(addr),
        )
    } else if role == "server" {
        let sock = UdpSocket::bind(addr).map_err(|e| e.to_string())?;
        (sock, Connection::server(cfg, rand::rngs::OsRng), None)
    } else {
        return Err(format!("unknown role {role}"));
    };
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::with_capacity(2048);
    let mut sent_greeting = false;
    let mut closed = false;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if let Some(p) = peer {
            while conn.poll_transmit(now, &mut out).is_some() {
                sock.send_to(&out, p).map_err(|e| e.to_string())?;
            }
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::PeerCertificateVerified(f) => println!("peer fingerprint: {}", f.to_sdp()),
                Event::Connected => {
                    println!(
                        "connected: suite={:?} srtp={:?} ems={}",
                        conn.cipher_suite(),
                        conn.srtp_profile()
                            .and_then(|id| ProtectionProfile::from_id(id).ok()),
                        conn.extended_master_secret()
                    );
                    let mut km = vec![0u8; export_len];
                    conn.export_keying_material(DTLS_SRTP_EXPORTER_LABEL, None, &mut km)
                        .map_err(|e| e.to_string())?;
                    let hex: String = km.iter().map(|b| format!("{b:02X}")).collect();
                    println!("Keying material: {hex}");
                }
                Event::Closed => {
                    println!("closed by peer");
                    closed = true;
                }
                Event::Failed(e) => return Err(format!("failed: {e}")),
                _ => {}
            }
        }
        if closed {
            break;
        }
        if conn.is_connected() && !sent_greeting {
            sent_greeting = true;
            if let (Some(s), Some(p)) = (&send, peer) {
                out.clear();
                conn.seal_application_data(format!("{s}\n").as_bytes(), &mut out)
                    .map_err(|e| e.to_string())?;
                sock.send_to(&out, p).map_err(|e| e.to_string())?;
                continue;
            }
        }
        let wait = conn
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        sock.set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if peer.is_none() {
                    peer = Some(from);
                }
                if Some(from) == peer {
                    let datagram = &mut buf[..n];
                    conn.handle_receive(Instant::now(), datagram);
                    while let Some(r) = conn.poll_application_data() {
                        let text = String::from_utf8_lossy(&datagram[r]).trim_end().to_string();
                        println!("received: {text}");
                        if echo {
                            out.clear();
                            conn.seal_application_data(
                                format!("echo: {text}\n").as_bytes(),
                                &mut out,
                            )
                            .map_err(|e| e.to_string())?;
                            sock.send_to(&out, from).map_err(|e| e.to_string())?;
                        }
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
        conn.handle_timeout(Instant::now());
    }
    if !conn.is_connected() && !closed {
        return Err("handshake did not complete".into());
    }
    conn.close();
    if let Some(p) = peer {
        while conn.poll_transmit(Instant::now(), &mut out).is_some() {
            let _ = sock.send_to(&out, p);
        }
    }
    Ok(())
}
