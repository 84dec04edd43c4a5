//! stun-probe: STUN Binding (and optionally TURN Allocate) round trips on
//! loopback, built from fulmar-stun.
//!
//! ```text
//! cargo run --example stun-probe                       # self-test, see below
//! cargo run --example stun-probe -- --serve 127.0.0.1:3479
//! cargo run --example stun-probe -- --query 127.0.0.1:3478 [--turn USER:PASS]
//! ```
//!
//! Without arguments it starts the sans-IO `BindingResponder` behind a tokio
//! UDP socket on 127.0.0.1, sends it a Binding request built with
//! `MessageBuilder` (SOFTWARE + FINGERPRINT), retransmits on the RFC 8489
//! §6.2.1 schedule given by `ClientTransaction`, checks the response
//! (transaction ID, class, FINGERPRINT) and prints the XOR-MAPPED-ADDRESS and
//! the round-trip time. `--serve` runs only the responder; `--query` only the
//! client, against any STUN server on loopback (e.g. coturn), and with
//! `--turn` it also allocates a relay with long-term credentials (RFC 8656
//! §7: 401 challenge, then MESSAGE-INTEGRITY with the MD5 key) and releases it.
//! This demo talks to loopback addresses only.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fulmar_stun::attributes::{
    ErrorCode, Lifetime, Nonce, PasswordAlgorithmId, Realm, RequestedTransport, Software, Username,
    XorMappedAddress, XorRelayedAddress,
};
use fulmar_stun::server::BindingResponder;
use fulmar_stun::transaction::{ClientTransaction, TransactionConfig};
use fulmar_stun::{Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};
use tokio::net::UdpSocket;

/// A transaction ID from the standard library's randomly keyed hasher; a
/// real client should use `TransactionId::random` with a CSPRNG.
fn fresh_transaction_id() -> TransactionId {
    let mut id = [0u8; 12];
    let a = RandomState::new().build_hasher().finish().to_be_bytes();
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let b = h.finish().to_be_bytes();
    id[..8].copy_from_slice(&a);
    id[8..].copy_from_slice(&b[..4]);
    TransactionId::new(id)
}

/// The server: a tokio socket around the sans-IO Binding responder.
async fn serve(socket: UdpSocket) -> std::io::Result<()> {
    let mut responder = BindingResponder::new().with_software("fulmar-stun responder");
    let mut rx = [0u8; 1500];
    let mut tx = Vec::new();
    let local = socket.local_addr()?;
    loop {
        let (n, from) = socket.recv_from(&mut rx).await?;
        let now = Instant::now();
        responder.handle_receive(now, from, local, &rx[..n]);
        while let Some(t) = responder.poll_transmit(now, &mut tx) {
            socket.send_to(&tx, t.destination).await?;
        }
    }
}

/// Send `request` to `server` with RFC 8489 retransmissions until the
/// response to `tid` arrives; returns it and the round-trip time measured
/// from the last transmission.
async fn transact(
    socket: &UdpSocket,
    server: SocketAddr,
    request: &[u8],
    tid: TransactionId,
) -> Result<(Vec<u8>, Duration), String> {
    let mut transaction = ClientTransaction::new(Instant::now(), TransactionConfig::default());
    let mut sent_at = Instant::now();
    let mut rx = [0u8; 1500];
    loop {
        if transaction.poll_transmit() {
            sent_at = Instant::now();
            socket
                .send_to(request, server)
                .await
                .map_err(|e| format!("send: {e}"))?;
            if transaction.transmissions() > 1 {
                println!("  retransmission #{}", transaction.transmissions() - 1);
            }
        }
        let Some(deadline) = transaction.poll_timeout() else {
            return Err("transaction ended without a response".into());
        };
        tokio::select! {
            r = socket.recv_from(&mut rx) => {
                let (n, from) = r.map_err(|e| format!("recv: {e}"))?;
                let ours = from == server
                    && Message::parse(&rx[..n])
                        .is_ok_and(|m| m.transaction_id() == tid && m.class().is_response());
                if ours {
                    transaction.handle_response();
                    return Ok((rx[..n].to_vec(), sent_at.elapsed()));
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                transaction.handle_timeout(Instant::now());
                if transaction.is_timed_out() {
                    return Err(format!("no response after {} transmissions", transaction.transmissions()));
                }
            }
        }
    }
}

/// One Binding request to `server`; returns the mapped address.
async fn binding(socket: &UdpSocket, server: SocketAddr) -> Result<SocketAddr, String> {
    let tid = fresh_transaction_id();
    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, tid);
    b.add(&Software("fulmar stun-probe")).add_fingerprint();
    let request = b.finish().map_err(|e| format!("build request: {e}"))?;

    let (bytes, rtt) = transact(socket, server, request, tid).await?;
    let msg = Message::parse(&bytes).map_err(|e| e.to_string())?;
    if msg.has_fingerprint() {
        msg.verify_fingerprint()
            .map_err(|e| format!("bad FINGERPRINT: {e}"))?;
    }
    if msg.class() != Class::SuccessResponse {
        return Err(format!("error response: {:?}", msg.get::<ErrorCode>()));
    }
    let mapped = msg
        .get::<XorMappedAddress>()
        .map_err(|e| format!("no usable XOR-MAPPED-ADDRESS: {e}"))?
        .0;
    println!("Binding success response from {server}");
    if let Ok(s) = msg.get::<Software>() {
        println!("  server software: {}", s.0);
    }
    println!("  mapped address (XOR-MAPPED-ADDRESS): {mapped}");
    println!("  round-trip time: {:.1} us", rtt.as_secs_f64() * 1e6);
    Ok(mapped)
}

/// TURN Allocate with long-term credentials (RFC 8656 §7.2, RFC 8489 §9.2),
/// then Refresh with LIFETIME 0 to release the allocation.
async fn allocate(
    socket: &UdpSocket,
    server: SocketAddr,
    username: &str,
    password: &str,
) -> Result<(), String> {
    // 1. Unauthenticated Allocate: expect 401 with REALM and NONCE.
    let tid = fresh_transaction_id();
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::ALLOCATE, tid);
    b.add(&RequestedTransport::UDP).add_fingerprint();
    let req = b.finish().map_err(|e| e.to_string())?;
    let (bytes, _) = transact(socket, server, req, tid).await?;
    let challenge = Message::parse(&bytes).map_err(|e| e.to_string())?;
    let code = challenge.get::<ErrorCode>().map_err(|e| e.to_string())?;
    if code.code != ErrorCode::UNAUTHENTICATED {
        return Err(format!("expected 401, got {} {}", code.code, code.reason));
    }
    let realm = challenge
        .get::<Realm>()
        .map_err(|e| e.to_string())?
        .0
        .to_owned();
    let nonce = challenge
        .get::<Nonce>()
        .map_err(|e| e.to_string())?
        .0
        .to_owned();
    println!("TURN 401 challenge: realm {realm:?}, nonce {nonce:?}");

    // 2. Allocate again with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.
    let key = IntegrityKey::long_term(username, &realm, password, PasswordAlgorithmId::MD5);
    let tid = fresh_transaction_id();
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::ALLOCATE, tid);
    b.add(&RequestedTransport::UDP)
        .add(&Username(username))
        .add(&Realm(&realm))
        .add(&Nonce(&nonce))
        .add_message_integrity(&key)
        .add_fingerprint();
    let req = b.finish().map_err(|e| e.to_string())?;
    let (bytes, rtt) = transact(socket, server, req, tid).await?;
    let resp = Message::parse(&bytes).map_err(|e| e.to_string())?;
    if resp.class() != Class::SuccessResponse {
        return Err(format!("Allocate failed: {:?}", resp.get::<ErrorCode>()));
    }
    resp.verify_integrity(&key)
        .map_err(|e| format!("response MESSAGE-INTEGRITY: {e}"))?;
    let relayed = resp
        .get::<XorRelayedAddress>()
        .map_err(|e| e.to_string())?
        .0;
    let lifetime = resp.get::<Lifetime>().map_err(|e| e.to_string())?.0;
    println!("TURN Allocate success (integrity verified): relayed address {relayed}, lifetime {lifetime} s, RTT {:.1} us", rtt.as_secs_f64() * 1e6);

    // 3. Release it: Refresh with LIFETIME 0.
    let tid = fresh_transaction_id();
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::REFRESH, tid);
    b.add(&Lifetime(0))
        .add(&Username(username))
        .add(&Realm(&realm))
        .add(&Nonce(&nonce))
        .add_message_integrity(&key)
        .add_fingerprint();
    let req = b.finish().map_err(|e| e.to_string())?;
    let (bytes, _) = transact(socket, server, req, tid).await?;
    let resp = Message::parse(&bytes).map_err(|e| e.to_string())?;
    if resp.class() != Class::SuccessResponse {
        return Err(format!("Refresh failed: {:?}", resp.get::<ErrorCode>()));
    }
    resp.verify_integrity(&key)
        .map_err(|e| format!("Refresh response MESSAGE-INTEGRITY: {e}"))?;
    println!("TURN allocation released");
    Ok(())
}

fn loopback(addr: &str) -> Result<SocketAddr, String> {
    let a: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    if !a.ip().is_loopback() {
        return Err(format!("{a}: this demo only talks to loopback addresses"));
    }
    Ok(a)
}

async fn self_test() -> Result<(), String> {
    let server = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind server: {e}"))?;
    let server_addr = server.local_addr().map_err(|e| e.to_string())?;
    let server_task = tokio::spawn(serve(server));
    let client = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind client: {e}"))?;
    let client_addr = client.local_addr().map_err(|e| e.to_string())?;
    println!("STUN responder on {server_addr}, client on {client_addr}");
    let mapped = binding(&client, server_addr).await?;
    server_task.abort();
    if mapped != client_addr {
        return Err(format!(
            "mapped address {mapped} is not our address {client_addr}"
        ));
    }
    Ok(())
}

async fn run(args: &[String]) -> Result<(), String> {
    match args {
        [] => self_test().await,
        [flag, addr] if flag == "--serve" => {
            let socket = UdpSocket::bind(loopback(addr)?)
                .await
                .map_err(|e| format!("bind {addr}: {e}"))?;
            println!("STUN responder on {addr}");
            serve(socket).await.map_err(|e| e.to_string())
        }
        [flag, addr, rest @ ..] if flag == "--query" => {
            let server = loopback(addr)?;
            let client = UdpSocket::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("bind client: {e}"))?;
            binding(&client, server).await?;
            match rest {
                [] => Ok(()),
                [t, cred] if t == "--turn" => {
                    let (user, pass) = cred.split_once(':').ok_or("--turn USER:PASS")?;
                    allocate(&client, server, user, pass).await
                }
                _ => Err("usage: --query ADDR [--turn USER:PASS]".into()),
            }
        }
        _ => Err("usage: stun-probe [--serve ADDR | --query ADDR [--turn USER:PASS]]".into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stun-probe failed: {e}");
            ExitCode::FAILURE
        }
    }
}
