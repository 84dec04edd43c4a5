//! stun-probe: a STUN Binding round trip on 127.0.0.1, both ends built from
//! fulmar-stun.
//!
//! It starts the sans-IO `BindingResponder` behind a tokio UDP socket, sends
//! it a Binding request built with `MessageBuilder` (SOFTWARE + FINGERPRINT),
//! retransmits on the RFC 8489 §6.2.1 schedule given by `ClientTransaction`,
//! checks the response (transaction ID, class, FINGERPRINT) and prints the
//! XOR-MAPPED-ADDRESS and the round-trip time.
//!
//! Run: `cargo run --example stun-probe`

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use fulmar_stun::attributes::{Software, XorMappedAddress};
use fulmar_stun::server::{BindingResponder, MAX_REPLY_LEN};
use fulmar_stun::transaction::{ClientTransaction, TransactionConfig};
use fulmar_stun::{Class, Message, MessageBuilder, Method, TransactionId};
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
    let mut tx = [0u8; MAX_REPLY_LEN];
    loop {
        let (n, from) = socket.recv_from(&mut rx).await?;
        responder.handle_receive(Instant::now(), from, &rx[..n]);
        while let Some(t) = responder.poll_transmit(&mut tx) {
            socket.send_to(&tx[..t.len], t.destination).await?;
        }
    }
}

/// What a valid answer to our request told us.
struct Answer {
    mapped: SocketAddr,
    software: Option<String>,
}

/// Check that `datagram` is the success response to `tid` and read it.
fn check_response(datagram: &[u8], tid: TransactionId) -> Result<Option<Answer>, String> {
    let Ok(msg) = Message::parse(datagram) else {
        return Ok(None); // not STUN: ignore
    };
    if msg.transaction_id() != tid || !msg.class().is_response() {
        return Ok(None); // not ours
    }
    msg.verify_fingerprint()
        .map_err(|e| format!("bad FINGERPRINT: {e}"))?;
    if msg.class() == Class::ErrorResponse {
        return Err(format!(
            "error response: {:?}",
            msg.get::<fulmar_stun::attributes::ErrorCode>()
        ));
    }
    let mapped = msg
        .get::<XorMappedAddress>()
        .map_err(|e| format!("no usable XOR-MAPPED-ADDRESS: {e}"))?
        .0;
    let software = msg.get::<Software>().ok().map(|s| s.0.to_owned());
    Ok(Some(Answer { mapped, software }))
}

async fn probe() -> Result<(), String> {
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

    let tid = fresh_transaction_id();
    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, tid);
    b.add(&Software("fulmar stun-probe")).add_fingerprint();
    let request = b.finish().map_err(|e| format!("build request: {e}"))?;

    let mut transaction = ClientTransaction::new(Instant::now(), TransactionConfig::default());
    let mut sent_at = Instant::now();
    let mut rx = [0u8; 1500];
    loop {
        if transaction.poll_transmit() {
            sent_at = Instant::now();
            client
                .send_to(request, server_addr)
                .await
                .map_err(|e| format!("send: {e}"))?;
            if transaction.transmissions() > 1 {
                println!("retransmission #{}", transaction.transmissions() - 1);
            }
        }
        let Some(deadline) = transaction.poll_timeout() else {
            return Err("transaction ended without a response".into());
        };
        tokio::select! {
            r = client.recv_from(&mut rx) => {
                let (n, from) = r.map_err(|e| format!("recv: {e}"))?;
                if from != server_addr {
                    continue;
                }
                if let Some(answer) = check_response(&rx[..n], tid)? {
                    let rtt = sent_at.elapsed();
                    transaction.handle_response();
                    println!("Binding success response from {from}");
                    if let Some(s) = answer.software {
                        println!("  server software: {s}");
                    }
                    println!("  mapped address (XOR-MAPPED-ADDRESS): {}", answer.mapped);
                    println!("  round-trip time: {:.1} us", rtt.as_secs_f64() * 1e6);
                    if answer.mapped != client_addr {
                        return Err(format!("mapped address {} is not our address {client_addr}", answer.mapped));
                    }
                    server_task.abort();
                    return Ok(());
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match probe().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stun-probe failed: {e}");
            ExitCode::FAILURE
        }
    }
}
