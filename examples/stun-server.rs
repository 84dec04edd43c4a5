//! stun-server: a STUN server (RFC 8489 Binding) on fulmar-stun's sans-IO
//! `BindingResponder`, and a self-test that connects two fulmar-ice agents
//! through it over real UDP sockets.
//!
//! ```text
//! cargo run --example stun-server -- 127.0.0.1:3478        # serve forever
//! cargo run --example stun-server -- 127.0.0.1:3478 --count 10   # exit after 10 replies
//! cargo run --example stun-server -- --self-test
//! ```
//!
//! `--self-test` binds the server on 127.0.0.1 (port chosen by the system),
//! then two ICE agents (controlling and controlled), each with a host
//! candidate on 127.0.0.1 and the server configured for server-reflexive
//! gathering; it trickles their candidates to each other, drives everything
//! from one thread with non-blocking sockets, and checks that both agents
//! select a pair, that application data flows over it, and that the server
//! answered. It talks to 127.0.0.1 only.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fulmar_ice::{IceAgent, IceConfig, IceConnectionState, IceEvent, IceRole};
use fulmar_stun::server::BindingResponder;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Answers every datagram waiting on `socket`; returns how many replies went out.
fn serve_ready(socket: &UdpSocket, responder: &mut BindingResponder) -> std::io::Result<u64> {
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    let local = socket.local_addr()?;
    let mut sent = 0;
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let data = buf.get(..n).unwrap_or(&[]);
                let now = Instant::now();
                responder.handle_receive(now, from, local, data);
                while let Some(t) = responder.poll_transmit(now, &mut out) {
                    socket.send_to(&out, t.destination)?;
                    sent += 1;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(sent),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Ok(sent),
            Err(e) => return Err(e),
        }
    }
}

fn serve(addr: SocketAddr, count: Option<u64>) -> std::io::Result<()> {
    let socket = UdpSocket::bind(addr)?;
    println!("stun-server listening on {}", socket.local_addr()?);
    let mut responder = BindingResponder::new().with_software("fulmar stun-server");
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut total = 0;
    loop {
        total += serve_ready(&socket, &mut responder)?;
        if count.is_some_and(|c| total >= c) {
            let s = responder.stats();
            println!(
                "answered {} requests ({} errors, {} dropped)",
                s.success_responses, s.error_responses, s.dropped
            );
            return Ok(());
        }
    }
}

/// One ICE agent with its socket.
struct Peer {
    name: &'static str,
    socket: UdpSocket,
    agent: IceAgent,
    data: Vec<Vec<u8>>,
}

impl Peer {
    fn new(
        name: &'static str,
        role: IceRole,
        server: SocketAddr,
        seed: u64,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        let config = IceConfig::new(role).with_stun_server(server);
        Ok(Peer {
            name,
            socket,
            agent: IceAgent::new(config, StdRng::seed_from_u64(seed)),
            data: Vec::new(),
        })
    }

    fn flush(&mut self, now: Instant) -> std::io::Result<()> {
        let mut out = Vec::new();
        while let Some(t) = self.agent.poll_transmit(now, &mut out) {
            self.socket.send_to(&out, t.destination)?;
        }
        Ok(())
    }

    fn receive(&mut self, now: Instant) -> std::io::Result<()> {
        let local = self.socket.local_addr()?;
        let mut buf = [0u8; 2048];
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let d = buf.get(..n).unwrap_or(&[]);
                    if !self.agent.handle_receive(now, from, local, d) {
                        self.data.push(d.to_vec());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

fn self_test() -> std::io::Result<bool> {
    let server_socket = UdpSocket::bind("127.0.0.1:0")?;
    server_socket.set_nonblocking(true)?;
    let server = server_socket.local_addr()?;
    let mut responder = BindingResponder::new().with_software("fulmar stun-server");
    println!("stun-server on {server}");

    let mut a = Peer::new("controlling", IceRole::Controlling, server, 1)?;
    let mut b = Peer::new("controlled", IceRole::Controlled, server, 2)?;
    let start = Instant::now();
    let (ca, cb) = (
        a.agent.local_credentials().clone(),
        b.agent.local_credentials().clone(),
    );
    let bad = |e: fulmar_ice::Error| std::io::Error::other(e.to_string());
    a.agent
        .set_remote_credentials(start, &cb.ufrag, &cb.pwd)
        .map_err(bad)?;
    b.agent
        .set_remote_credentials(start, &ca.ufrag, &ca.pwd)
        .map_err(bad)?;
    for p in [&mut a, &mut b] {
        let addr = p.socket.local_addr()?;
        p.agent.add_host_candidate(start, 1, addr).map_err(bad)?;
        p.agent.end_of_local_candidates(start);
    }

    let deadline = start + Duration::from_secs(10);
    let mut sent_data = false;
    let mut replies = 0;
    loop {
        let now = Instant::now();
        if now > deadline {
            println!("timed out: {:?} / {:?}", a.agent.state(), b.agent.state());
            return Ok(false);
        }
        replies += serve_ready(&server_socket, &mut responder)?;
        a.receive(now)?;
        b.receive(now)?;
        for p in [&mut a, &mut b] {
            if p.agent.poll_timeout().is_some_and(|t| t <= now) {
                p.agent.handle_timeout(now);
            }
            p.flush(now)?;
        }
        // Trickle: each side's events go to the other (signaling is a function call here).
        let mut to_b = Vec::new();
        let mut to_a = Vec::new();
        for (p, out) in [(&mut a, &mut to_b), (&mut b, &mut to_a)] {
            while let Some(e) = p.agent.poll_event() {
                match &e {
                    IceEvent::LocalCandidate(c) => println!("{}: candidate {c}", p.name),
                    IceEvent::ConnectionStateChange(s) => {
                        println!("{}: {s:?} after {:?}", p.name, start.elapsed())
                    }
                    IceEvent::SelectedPairChange { pair: Some(sp), .. } => {
                        println!("{}: selected {} -> {}", p.name, sp.source, sp.destination)
                    }
                    _ => {}
                }
                out.push(e);
            }
        }
        for (p, evs) in [(&mut a, to_a), (&mut b, to_b)] {
            for e in evs {
                match e {
                    IceEvent::LocalCandidate(c) => {
                        p.agent.add_remote_candidate(now, c).map_err(bad)?
                    }
                    IceEvent::GatheringComplete => p.agent.end_of_remote_candidates(now),
                    _ => {}
                }
            }
            p.flush(now)?;
        }
        let connected = |s: IceConnectionState| {
            matches!(
                s,
                IceConnectionState::Connected | IceConnectionState::Completed
            )
        };
        if connected(a.agent.state()) && connected(b.agent.state()) && !sent_data {
            for p in [&a, &b] {
                if let Some(sp) = p.agent.selected_pair(1) {
                    // RTP-looking first byte, so the peer's agent hands it back.
                    p.socket.send_to(&[0x80, 0x00, 0x01], sp.destination)?;
                }
            }
            sent_data = true;
        }
        if sent_data && !a.data.is_empty() && !b.data.is_empty() {
            println!(
                "data flowed both ways; the server answered {replies} Binding requests; took {:?}",
                start.elapsed()
            );
            return Ok(replies > 0);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--self-test") {
        return match self_test() {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("self-test: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let addr: SocketAddr = match args.first().map(|a| a.parse()) {
        None => SocketAddr::from(([127, 0, 0, 1], 3478)),
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            eprintln!("usage: stun-server [ADDR] [--count N] | --self-test");
            return ExitCode::FAILURE;
        }
    };
    let count = args
        .iter()
        .position(|a| a == "--count")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    match serve(addr, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stun-server: {e}");
            ExitCode::FAILURE
        }
    }
}
