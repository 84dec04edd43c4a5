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

use fulmar_dtls::{Certificate, Config, Connection, Event, Failure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The DTLS-SRTP protection profiles of RFC 5764 §4.1.2 and RFC 7714 §14.2,
/// by IANA id, in WebRTC's preference order (fulmar-srtp's `PREFERRED`).
pub const SRTP_PROFILES: [u16; 4] = [0x0007, 0x0008, 0x0001, 0x0002];

pub fn certs() -> (Arc<Certificate>, Arc<Certificate>) {
    (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    )
}

/// Configs where each side expects the other's certificate, offering the
/// WebRTC SRTP profiles.
pub fn configs() -> (Config, Config) {
    let (a, b) = certs();
    let mut c = Config::new(a.clone(), vec![b.fingerprint()]);
    let mut s = Config::new(b, vec![a.fingerprint()]);
    c.srtp_profiles = SRTP_PROFILES.to_vec();
    s.srtp_profiles = SRTP_PROFILES.to_vec();
    (c, s)
}

/// 60 bytes of the DTLS-SRTP exporter (RFC 5764 §4.2): equal on both ends
/// of one handshake.
pub fn srtp_keys(c: &Connection) -> Vec<u8> {
    let mut out = vec![0u8; 60];
    c.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut out)
        .unwrap();
    out
}

/// Every datagram `c` has to send.
pub fn transmits(c: &mut Connection, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    std::iter::from_fn(|| c.poll_transmit(now, &mut buf).map(|_| buf.clone())).collect()
}

/// One protected record of application data from `c`.
pub fn sealed(c: &mut Connection, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    c.seal_application_data(data, &mut out).unwrap();
    out
}

/// Feeds `datagram` (a copy of it) to `c` and returns the application data
/// it carried.
pub fn receive(c: &mut Connection, now: Instant, datagram: &[u8]) -> Vec<Vec<u8>> {
    let mut d = datagram.to_vec();
    c.handle_receive(now, &mut d);
    std::iter::from_fn(|| c.poll_application_data().map(|r| d[r].to_vec())).collect()
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
    /// Application data received by the client and by the server.
    pub client_data: Vec<Vec<u8>>,
    pub server_data: Vec<Vec<u8>>,
    /// Datagrams sent by (client, server).
    pub sent: (Vec<(Duration, Vec<u8>)>, Vec<(Duration, Vec<u8>)>),
    /// A man in the middle: sees (from the client?, datagram) and may rewrite it.
    pub tamper: Option<Box<dyn FnMut(bool, &mut Vec<u8>)>>,
    /// Application data sealed by (client, server), sent with the next step.
    outgoing: (Vec<Vec<u8>>, Vec<Vec<u8>>),
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
            client_data: Vec::new(),
            server_data: Vec::new(),
            sent: (Vec::new(), Vec::new()),
            tamper: None,
            outgoing: (Vec::new(), Vec::new()),
        }
    }

    /// Seals `data` at the client, to be sent over the link.
    pub fn send_from_client(&mut self, data: &[u8]) -> Result<(), fulmar_dtls::Error> {
        let mut d = Vec::new();
        self.client.seal_application_data(data, &mut d)?;
        self.outgoing.0.push(d);
        Ok(())
    }

    /// Seals `data` at the server, to be sent over the link.
    pub fn send_from_server(&mut self, data: &[u8]) -> Result<(), fulmar_dtls::Error> {
        let mut d = Vec::new();
        self.server.seal_application_data(data, &mut d)?;
        self.outgoing.1.push(d);
        Ok(())
    }

    fn collect(&mut self) {
        let t = self.now - self.start;
        let mut out = Vec::new();
        let mut client_out = transmits(&mut self.client, self.now);
        client_out.append(&mut self.outgoing.0);
        for d in client_out {
            self.sent.0.push((t, d.clone()));
            out.push((true, d));
        }
        let mut server_out = transmits(&mut self.server, self.now);
        server_out.append(&mut self.outgoing.1);
        for d in server_out {
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
                let data = receive(&mut self.server, now, &d);
                self.server_data.extend(data);
            } else {
                let data = receive(&mut self.client, now, &d);
                self.client_data.extend(data);
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

    pub fn client_failure(&self) -> Option<Failure> {
        self.client_events.iter().find_map(|e| match e {
            Event::Failed(e) => Some(e.clone()),
            _ => None,
        })
    }

    pub fn server_failure(&self) -> Option<Failure> {
        self.server_events.iter().find_map(|e| match e {
            Event::Failed(e) => Some(e.clone()),
            _ => None,
        })
    }
}
