//! fulmar-turn's server core as a fulmar-netsim host: the one TURN server
//! of the simulated-network tests, here and in fulmar-peer's
//! (`tests/relay.rs` takes it with `#[path]`). It listens on `ip:3478`,
//! relays from the same IP, and records what each client sent.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use fulmar_netsim::{Datagram, Endpoint};
use fulmar_stun::{classify, Class, Message, Method, PacketKind};
use fulmar_turn::{FiveTuple, Server, ServerConfig, TransportProtocol};
use rand::{rngs::StdRng, SeedableRng};

/// The port the server listens on.
pub const TURN_PORT: u16 = 3478;

/// What a client sent the TURN server, as the server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    ChannelData,
    SendIndication,
    Request,
}

/// A netsim host running fulmar-turn's server core (user "user", password
/// "pass", realm "fulmar.test"); a silent one drops everything.
pub struct TurnHost {
    pub addr: SocketAddr,
    pub server: Server,
    pub silent: bool,
    /// What each client sent, in order.
    pub from_clients: Vec<(SocketAddr, Sent)>,
    out: VecDeque<Datagram>,
}

impl TurnHost {
    /// A server on `ip:3478`, its randomness seeded `seed`.
    pub fn new(ip: IpAddr, now: Instant, seed: u64) -> Self {
        let config = ServerConfig::new("fulmar.test", ip).with_user("user", "pass");
        TurnHost {
            addr: SocketAddr::new(ip, TURN_PORT),
            server: Server::new(config, now, StdRng::seed_from_u64(seed)),
            silent: false,
            from_clients: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// A server that never answers.
    pub fn silent(mut self) -> Self {
        self.silent = true;
        self
    }

    /// What `client` sent, from the `skip`th datagram on.
    pub fn sent_by(&self, client: IpAddr, skip: usize) -> Vec<Sent> {
        let all = self.from_clients.iter().filter(|(a, _)| a.ip() == client);
        all.skip(skip).map(|(_, s)| *s).collect()
    }

    fn drain(&mut self) {
        while let Some(t) = self.server.poll_transmit() {
            self.out.push_back(Datagram {
                source: self.addr,
                destination: t.five_tuple.client,
                payload: t.payload,
            });
        }
        while self.server.poll_event().is_some() {}
    }
}

impl Endpoint for TurnHost {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        if self.silent {
            return;
        }
        if d.destination == self.addr {
            let sent = match classify(&d.payload) {
                PacketKind::ChannelData => Sent::ChannelData,
                _ => match Message::parse(&d.payload) {
                    Ok(m) if m.class() == Class::Indication && m.method() == Method::SEND => {
                        Sent::SendIndication
                    }
                    _ => Sent::Request,
                },
            };
            self.from_clients.push((d.source, sent));
            let ft = FiveTuple {
                client: d.source,
                server: self.addr,
                protocol: TransportProtocol::Udp,
            };
            if let Some(r) = self.server.handle_client(now, ft, &d.payload) {
                self.out.push_back(Datagram {
                    source: r.relayed,
                    destination: r.peer,
                    payload: r.data.to_vec(),
                });
            }
        } else {
            let mut buf = vec![0u8; d.payload.len() + 64];
            if let Some((ft, n)) =
                self.server
                    .handle_peer(now, d.destination, d.source, &d.payload, &mut buf)
            {
                buf.truncate(n);
                self.out.push_back(Datagram {
                    source: self.addr,
                    destination: ft.client,
                    payload: buf,
                });
            }
        }
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
        self.drain();
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.server.poll_timeout()
    }
}
