//! ice-peer: a fulmar-ice agent on a real UDP socket on 127.0.0.1, signalled
//! over stdin/stdout; the Fulmar side of `interop/ice` (against libnice).
//!
//! ```text
//! cargo run --example ice-peer -- controlling|controlled
//! ```
//!
//! Line protocol, both directions: `CRED <ufrag> <pwd>`, `CAND <candidate
//! attribute>` (with or without `a=`), `DONE` (end of candidates). Logs go to
//! stderr. Once a pair is selected it sends "hello from fulmar" on it; it
//! exits 0 when it has sent and received application data, 1 on ICE failure
//! or after 20 s. It binds 127.0.0.1 only.

use std::io::{BufRead, Write};
use std::net::UdpSocket;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fulmar_ice::{Candidate, IceAgent, IceConfig, IceConnectionState, IceEvent, IceRole};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe ends the run through the timeout; nothing to do here.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn run(role: IceRole) -> Result<bool, Box<dyn std::error::Error>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    let local = socket.local_addr()?;
    let seed = u64::from(local.port()) ^ 0x5eed;
    let mut agent = IceAgent::new(IceConfig::new(role), StdRng::seed_from_u64(seed));
    let start = Instant::now();

    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let creds = agent.local_credentials().clone();
    say(&format!("CRED {} {}", creds.ufrag, creds.pwd));
    agent.add_host_candidate(start, 1, local)?;
    agent.end_of_local_candidates(start);

    let mut sent = false;
    let mut received = false;
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        if now > start + Duration::from_secs(20) {
            eprintln!("ice-peer: timed out in {:?}", agent.state());
            for p in agent.pair_stats() {
                eprintln!("ice-peer: pair {p:?}");
            }
            eprintln!("ice-peer: {:?}", agent.stats());
            return Ok(false);
        }
        while let Ok(line) = rx.try_recv() {
            let line = line.trim();
            eprintln!("ice-peer: < {line}");
            if let Some(rest) = line.strip_prefix("CRED ") {
                let mut p = rest.split(' ');
                if let (Some(u), Some(pw)) = (p.next(), p.next()) {
                    agent.set_remote_credentials(now, u, pw)?;
                }
            } else if let Some(rest) = line.strip_prefix("CAND ") {
                match Candidate::parse(rest) {
                    Ok(c) => agent.add_remote_candidate(now, c)?,
                    Err(e) => eprintln!("ice-peer: ignoring {rest:?}: {e}"),
                }
            } else if line == "DONE" {
                agent.end_of_remote_candidates(now);
            }
        }
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let d = buf.get(..n).unwrap_or(&[]);
                    if !agent.handle_receive(now, from, local, d) {
                        eprintln!("ice-peer: RECV {}", String::from_utf8_lossy(d));
                        received = true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        if agent.poll_timeout().is_some_and(|t| t <= now) {
            agent.handle_timeout(now);
        }
        let mut out = Vec::new();
        while let Some(t) = agent.poll_transmit(now, &mut out) {
            socket.send_to(&out, t.destination)?;
        }
        while let Some(e) = agent.poll_event() {
            match e {
                IceEvent::LocalCandidate(c) => say(&format!("CAND a={c}")),
                IceEvent::GatheringComplete => say("DONE"),
                IceEvent::ConnectionStateChange(s) => {
                    eprintln!("ice-peer: {s:?} after {:?}", start.elapsed());
                    if s == IceConnectionState::Failed {
                        return Ok(false);
                    }
                }
                IceEvent::SelectedPairChange { pair: Some(p), .. } => {
                    eprintln!(
                        "ice-peer: selected {} ({}) -> {} ({})",
                        p.source,
                        p.local.typ.as_str(),
                        p.destination,
                        p.remote.typ.as_str()
                    );
                }
                IceEvent::RoleChange(r) => eprintln!("ice-peer: role now {r:?}"),
                _ => {}
            }
        }
        if !sent {
            if let Some(p) = agent.selected_pair(1) {
                socket.send_to(b"hello from fulmar", p.destination)?;
                sent = true;
            }
        }
        if sent && received {
            // Linger so the peer's last checks are answered.
            let until = Instant::now() + Duration::from_millis(500);
            while Instant::now() < until {
                let now = Instant::now();
                while let Ok((n, from)) = socket.recv_from(&mut buf) {
                    agent.handle_receive(now, from, local, buf.get(..n).unwrap_or(&[]));
                }
                agent.handle_timeout(now);
                let mut out = Vec::new();
                while let Some(t) = agent.poll_transmit(now, &mut out) {
                    socket.send_to(&out, t.destination)?;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let stats = agent.pair_stats();
            if let Some(p) = stats.iter().find(|p| p.selected) {
                eprintln!(
                    "ice-peer: selected pair stats: {} requests sent, {} received, {} responses received, rtt {:?}",
                    p.requests_sent, p.requests_received, p.responses_received, p.current_rtt
                );
            }
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() -> ExitCode {
    let role = match std::env::args().nth(1).as_deref() {
        Some("controlling") => IceRole::Controlling,
        Some("controlled") => IceRole::Controlled,
        _ => {
            eprintln!("usage: ice-peer controlling|controlled");
            return ExitCode::FAILURE;
        }
    };
    match run(role) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ice-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
