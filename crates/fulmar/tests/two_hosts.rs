//! A Fulmar client and a Fulmar server on two hosts, run by
//! interop/networks/run.sh: host A (198.18.0.1) runs fulmar-turnd's STUN
//! and [`server`]; host B (198.19.0.2) sits behind a NAT namespace
//! (nftables masquerade to 198.18.0.2) and runs [`client`], which learns
//! its server-reflexive address from the STUN server, offers it, and sends
//! a message that the server echoes over a data channel. Signaling is one
//! TCP connection (offer, then answer, then the server's selected pair, a
//! line each). The script also puts a server behind a static 1:1 NAT
//! (198.19.1.2 seen as 198.18.0.3) that advertises its public address
//! (`FULMAR_PUBLIC`), reached by [`client_of_public_server`] on host A.
//! Ignored by a plain `cargo test`: each side needs its host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use fulmar::{Config, IceServer, Message, PeerConnection, SessionDescription};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("run by interop/networks/run.sh, which sets {name}"))
}

/// One line of the signaling connection, SDP with its CRLFs as `|`.
async fn send_line(w: &mut (impl AsyncWriteExt + Unpin), text: &str) {
    let line = format!("{}\n", text.replace("\r\n", "|").replace('\n', "|"));
    w.write_all(line.as_bytes()).await.unwrap();
}

async fn read_line(r: &mut (impl AsyncBufReadExt + Unpin)) -> String {
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    line.trim_end().replace('|', "\r\n")
}

/// Host A (or the "VM"): answers one offer on `FULMAR_SIGNAL` (TCP),
/// advertising `FULMAR_PUBLIC` if set (an address, or a `stun:` URL to
/// learn it from), echoes the data channel's messages,
/// and reports its selected pair.
#[tokio::test]
#[ignore = "host A of interop/networks/run.sh"]
async fn server() {
    let run = async {
        let listener = TcpListener::bind(env("FULMAR_SIGNAL")).await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let (r, mut w) = tcp.into_split();
        let mut r = BufReader::new(r);
        let offer = read_line(&mut r).await;
        let mut config = Config::default().with_bind(vec!["0.0.0.0:0".parse().unwrap()]);
        // An address, or a stun: URL to learn it from.
        if let Ok(public) = std::env::var("FULMAR_PUBLIC") {
            let ip = match public.parse() {
                Ok(ip) => ip,
                Err(_) => fulmar::public_address_from_stun(&public).await.unwrap(),
            };
            eprintln!("server: advertising {ip}");
            config = config.with_public_address(ip);
        }
        let pc = PeerConnection::new(config).await.unwrap();
        let answer = pc.answer_offer(&offer).await.unwrap();
        send_line(&mut w, &answer).await;
        let dc = pc.accept_data_channel().await.unwrap();
        let m = dc.recv().await.unwrap();
        dc.send_msg(m).await.unwrap();
        let (local, remote) = pc.stats().selected_pair.unwrap();
        send_line(&mut w, &format!("{local} {remote}")).await;
        // The client closes when it has read everything.
        let _ = read_line(&mut r).await;
        pc.close().await;
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("bounded");
}

/// Host B: gathers through `FULMAR_STUN`, offers without trickle, checks
/// its srflx candidate is `FULMAR_EXPECT_SRFLX` (the NAT's address, its
/// host address as raddr), and gets its message echoed; the server's pair
/// goes to that address.
#[tokio::test]
#[ignore = "host B of interop/networks/run.sh"]
async fn client() {
    let run = async {
        let stun = env("FULMAR_STUN");
        let nat_ip = env("FULMAR_EXPECT_SRFLX");
        let config = Config::default()
            .with_bind(vec!["0.0.0.0:0".parse().unwrap()])
            .with_ice_servers(vec![IceServer::new([format!("stun:{stun}")])]);
        let pc = PeerConnection::new(config).await.unwrap();
        let host = pc.local_addrs()[0];
        assert!(!host.ip().is_loopback(), "{host}");
        let chat = pc.create_data_channel("chat").await.unwrap();
        pc.create_offer().await.unwrap();
        pc.gathering_complete().await;
        let offer = pc.local_description().unwrap().sdp.to_string();
        let srflx: Vec<&str> = offer.lines().filter(|l| l.contains(" typ srflx")).collect();
        assert_eq!(srflx.len(), 1, "{offer}");
        let expected_raddr = format!(" raddr {} rport {}", host.ip(), host.port());
        assert!(
            srflx[0].contains(&format!(" {nat_ip} ")) && srflx[0].ends_with(&expected_raddr),
            "{offer}"
        );
        eprintln!("client: learnt {}", srflx[0]);
        let (answer, pair) = call(&pc, &chat, &offer).await;
        assert!(answer.contains(" typ host"), "{answer}");
        let remote: SocketAddr = pair.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(remote.ip().to_string(), nat_ip, "server's pair: {pair}");
        eprintln!("client: echoed; server's selected pair {pair}");
        pc.close().await;
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("bounded");
}

/// Offers `offer` to the server on `FULMAR_SIGNAL`, applies its answer,
/// gets a message echoed on `chat`; the answer and the server's selected
/// pair (`local remote`).
async fn call(pc: &PeerConnection, chat: &fulmar::DataChannel, offer: &str) -> (String, String) {
    let tcp = TcpStream::connect(env("FULMAR_SIGNAL")).await.unwrap();
    let (r, mut w) = tcp.into_split();
    let mut r = BufReader::new(r);
    send_line(&mut w, offer).await;
    let answer = read_line(&mut r).await;
    pc.set_remote_description(SessionDescription::answer(&answer).unwrap())
        .await
        .unwrap();
    pc.connected().await.unwrap();
    chat.send_text("across the NAT").await.unwrap();
    assert_eq!(
        chat.recv().await,
        Some(Message::Text("across the NAT".into()))
    );
    let pair = read_line(&mut r).await;
    send_line(&mut w, "bye").await;
    (answer, pair)
}

/// Host A, calling the server behind the 1:1 NAT: the answer's only
/// candidate is the public address `FULMAR_EXPECT_PUBLIC` (its private one
/// hidden), and the call goes there.
#[tokio::test]
#[ignore = "host A of interop/networks/run.sh"]
async fn client_of_public_server() {
    let run = async {
        let public = env("FULMAR_EXPECT_PUBLIC");
        let pc =
            PeerConnection::new(Config::default().with_bind(vec!["0.0.0.0:0".parse().unwrap()]))
                .await
                .unwrap();
        let chat = pc.create_data_channel("chat").await.unwrap();
        let offer = pc.create_offer().await.unwrap().sdp.to_string();
        let (answer, pair) = call(&pc, &chat, &offer).await;
        let cands: Vec<&str> = answer
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        assert_eq!(cands.len(), 1, "{answer}");
        assert!(cands[0].contains(&format!(" {public} ")), "{answer}");
        let (_, remote) = pc.stats().selected_pair.unwrap();
        assert_eq!(remote.ip().to_string(), public);
        eprintln!(
            "client: echoed via {}; server's selected pair {pair}",
            cands[0]
        );
        pc.close().await;
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("bounded");
}
