//! An in-memory pair of endpoints over a lossy, reordering, duplicating
//! link with simulated time (no sleeps), in the style of quinn-proto's `Pair`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_dtls::{Certificate, Config, Connection, Event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn certs() -> (Arc<Certificate>, Arc<Certificate>) {
    (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    )
}

/// Configs where each side expects the other's certificate.
pub fn configs() -> (Config, Config) {
    let (a, b) = certs();
    (
        Config::new(a.clone(), vec![b.fingerprint()]),
        Config::new(b, vec![a.fingerprint()]),
    )
}

/// Offset of the first handshake message of type `ty` in a plaintext
/// datagram, pointing at its body.
pub fn find_handshake(d: &[u8], ty: u8) -> Option<usize> {
    let mut at = 0;
    while at + 13 <= d.len() {
        let len = u16::from_be_bytes([d[at + 11], d[at + 12]]) as usize;
        let epoch = u16::from_be_bytes([d[at + 3], d[at + 4]]);
        if d[at] == 22 && epoch == 0 && d.get(at + 13) == Some(&ty) {
            return Some(at + 13 + 12);
        }
        at += 13 + len;
    }
    None
}

pub struct Link {
    pub loss: f64,
    pub duplicate: f64,
    pub delay: Duration,
    pub jitter: Duration,
}

impl Link {
    pub fn perfect() -> Self {
        Link {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
        }
    }
    pub fn lossy(loss: f64) -> Self {
        Link {
            loss,
            duplicate: 0.1,
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(40),
        }
    }
}

pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub start: Instant,
    pub rng: StdRng,
    pub link: Link,
    /// (deliver at, to the server?, datagram)
    pub in_flight: Vec<(Instant, bool, Vec<u8>)>,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// Datagrams sent by (client, server).
    pub sent: (Vec<(Duration, Vec<u8>)>, Vec<(Duration, Vec<u8>)>),
    /// A man in the middle: sees (from the client?, datagram) and may rewrite it.
    pub tamper: Option<Box<dyn FnMut(bool, &mut Vec<u8>)>>,
}

impl Pair {
    pub fn new(client: Config, server: Config, link: Link, seed: u64) -> Self {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(seed);
        let c = Connection::client(Arc::new(client), now, StdRng::seed_from_u64(rng.gen()));
        let s = Connection::server(Arc::new(server), StdRng::seed_from_u64(rng.gen()));
        Pair {
            client: c,
            server: s,
            now,
            start: now,
            rng,
            link,
            in_flight: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            sent: (Vec::new(), Vec::new()),
            tamper: None,
        }
    }

    fn collect(&mut self) {
        let t = self.now - self.start;
        let mut out = Vec::new();
        while let Some(d) = self.client.poll_transmit() {
            self.sent.0.push((t, d.clone()));
            out.push((true, d));
        }
        while let Some(d) = self.server.poll_transmit() {
            self.sent.1.push((t, d.clone()));
            out.push((false, d));
        }
        for (to_server, mut d) in out {
            if let Some(t) = self.tamper.as_mut() {
                t(to_server, &mut d);
            }
            if self.rng.gen_bool(self.link.loss) {
                continue;
            }
            let copies = if self.rng.gen_bool(self.link.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let j = self.link.jitter.as_micros() as u64;
                let extra = if j > 0 { self.rng.gen_range(0..j) } else { 0 };
                let at = self.now + self.link.delay + Duration::from_micros(extra);
                self.in_flight.push((at, to_server, d.clone()));
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// One step: deliver what is due, or advance time to the next event.
    pub fn step(&mut self) -> bool {
        self.collect();
        self.in_flight.sort_by_key(|(t, _, _)| *t);
        let next_delivery = self.in_flight.first().map(|(t, _, _)| *t);
        let next = [
            next_delivery,
            self.client.poll_timeout(),
            self.server.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        if next > self.now {
            self.now = next;
        }
        let now = self.now;
        let due: Vec<_> = {
            let (due, rest): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|(t, _, _)| *t <= now);
            self.in_flight = rest;
            due
        };
        for (_, to_server, d) in due {
            if to_server {
                self.server.handle_receive(now, &d);
            } else {
                self.client.handle_receive(now, &d);
            }
        }
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
        self.collect();
        true
    }

    /// Runs until both are connected, one failed, or `limit` of simulated time passed.
    pub fn drive(&mut self, limit: Duration) {
        while self.now - self.start < limit {
            if self.client.is_connected() && self.server.is_connected() && self.in_flight.is_empty()
            {
                break;
            }
            if self.failed() {
                // Let the alert reach the peer.
                for _ in 0..4 {
                    self.step();
                }
                break;
            }
            if !self.step() {
                break;
            }
        }
        self.collect();
    }

    /// Delivers everything in flight and processes it.
    pub fn flush(&mut self) {
        for _ in 0..20 {
            self.collect();
            if self.in_flight.is_empty() {
                break;
            }
            self.step();
        }
    }

    pub fn failed(&self) -> bool {
        self.client_events
            .iter()
            .chain(&self.server_events)
            .any(|e| matches!(e, Event::Failed(_)))
    }

    pub fn client_failure(&self) -> Option<fulmar_dtls::Error> {
        self.client_events.iter().find_map(|e| match e {
            Event::Failed(e) => Some(e.clone()),
            _ => None,
        })
    }

    pub fn server_failure(&self) -> Option<fulmar_dtls::Error> {
        self.server_events.iter().find_map(|e| match e {
            Event::Failed(e) => Some(e.clone()),
            _ => None,
        })
    }

    pub fn data(events: &[Event]) -> Vec<Vec<u8>> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::ApplicationData(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }
}
