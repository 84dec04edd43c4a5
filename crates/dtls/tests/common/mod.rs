//! The DTLS connection on fulmar-netsim's two-party [`NetPair`]: a client
//! (party A) and a server (party B) over one simulated link, in simulated
//! time. [`Dtls`] is the few lines that plug a connection into the pair.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity
)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_dtls::{Certificate, Config, Connection, Event, Failure};
use fulmar_netsim::{Direction, LinkConfig, Pair as NetPair, Party};
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

/// Whether a datagram carries a record of epoch 1 (RFC 6347 §4.1 header:
/// type, version, epoch at bytes 3..5, sequence number, length at 11..13).
pub fn has_epoch1_record(d: &[u8]) -> bool {
    let mut at = 0;
    while let Some(h) = d.get(at..at + 13) {
        if u16::from_be_bytes([h[3], h[4]]) == 1 {
            return true;
        }
        at += 13 + usize::from(u16::from_be_bytes([h[11], h[12]]));
    }
    false
}

/// A 10 ms link that loses, reorders and duplicates nothing.
pub fn perfect() -> LinkConfig {
    LinkConfig::ideal().with_delay(Duration::from_millis(10))
}

/// A 10 ms link with up to 40 ms of jitter (which reorders), 10 %
/// duplication and `loss`.
pub fn lossy(loss: f64) -> LinkConfig {
    perfect()
        .with_jitter(Duration::from_millis(40))
        .with_duplicate(0.1)
        .with_loss(loss)
}

/// What a [`Dtls`] party reports: the connection's events and, as it
/// arrives, the application data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Event(Event),
    Data(Vec<u8>),
}

/// A connection as a netsim party; the application data of each datagram
/// is taken as it is opened, and data the test sealed goes out after the
/// connection's own datagrams.
pub struct Dtls {
    pub conn: Connection,
    data: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
}

impl Party for Dtls {
    type Event = Got;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.conn.handle_receive(now, datagram);
        while let Some(r) = self.conn.poll_application_data() {
            self.data.push_back(datagram[r].to_vec());
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        if let Some(n) = self.conn.poll_transmit(now, buf) {
            return Some(n);
        }
        let d = self.outgoing.pop_front()?;
        buf.clear();
        buf.extend_from_slice(&d);
        Some(d.len())
    }
    fn poll_event(&mut self) -> Option<Got> {
        if let Some(e) = self.conn.poll_event() {
            return Some(Got::Event(e));
        }
        self.data.pop_front().map(Got::Data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }
}

/// A client and a server on a netsim pair, with what each received.
pub struct Pair {
    pub net: NetPair<Dtls, Dtls>,
}

impl Pair {
    pub fn new(client: Config, server: Config, link: LinkConfig, seed: u64) -> Self {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(seed);
        let party = |conn| Dtls {
            conn,
            data: VecDeque::new(),
            outgoing: VecDeque::new(),
        };
        let c = Connection::client(Arc::new(client), now, StdRng::seed_from_u64(rng.gen()));
        let s = Connection::server(Arc::new(server), StdRng::seed_from_u64(rng.gen()));
        let mut net = NetPair::new(now, party(c), party(s), rng.gen()).with_link(link);
        net.enable_trace();
        Pair { net }
    }

    pub fn client(&mut self) -> &mut Connection {
        &mut self.net.a.conn
    }

    pub fn server(&mut self) -> &mut Connection {
        &mut self.net.b.conn
    }

    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// A man in the middle: sees (from the client?, datagram), may rewrite
    /// it, and drops it by returning false.
    pub fn set_tamper(&mut self, mut tamper: impl FnMut(bool, &mut Vec<u8>) -> bool + 'static) {
        self.net
            .set_tamper(move |dir, d| tamper(dir == Direction::AToB, d));
    }

    /// Datagrams sent by the client (or the server), with when.
    pub fn sent(&self, by_client: bool) -> Vec<(Duration, Vec<u8>)> {
        let dir = if by_client {
            Direction::AToB
        } else {
            Direction::BToA
        };
        self.net
            .trace()
            .iter()
            .filter(|s| s.direction == dir)
            .map(|s| (s.at, s.datagram.clone()))
            .collect()
    }

    /// Seals `data` at the client, to go over the link.
    pub fn send_from_client(&mut self, data: &[u8]) -> Result<(), fulmar_dtls::Error> {
        let d = sealed_or(&mut self.net.a.conn, data)?;
        self.net.a.outgoing.push_back(d);
        Ok(())
    }

    /// Seals `data` at the server, to go over the link.
    pub fn send_from_server(&mut self, data: &[u8]) -> Result<(), fulmar_dtls::Error> {
        let d = sealed_or(&mut self.net.b.conn, data)?;
        self.net.b.outgoing.push_back(d);
        Ok(())
    }

    pub fn client_events(&self) -> Vec<Event> {
        events(&self.net.events_a)
    }

    pub fn server_events(&self) -> Vec<Event> {
        events(&self.net.events_b)
    }

    /// Application data the client received.
    pub fn client_data(&self) -> Vec<Vec<u8>> {
        data(&self.net.events_a)
    }

    /// Application data the server received.
    pub fn server_data(&self) -> Vec<Vec<u8>> {
        data(&self.net.events_b)
    }

    pub fn step(&mut self) -> bool {
        self.net.step()
    }

    /// Runs until both are connected and the link is empty, one failed, or
    /// `limit` of simulated time passed.
    pub fn drive(&mut self, limit: Duration) {
        self.net.run_until(limit, |n| {
            let connected = n.a.conn.is_connected() && n.b.conn.is_connected();
            let failed = [&n.events_a, &n.events_b]
                .iter()
                .any(|e| e.iter().any(|g| matches!(g, Got::Event(Event::Failed(_)))));
            (connected && n.in_flight() == 0) || failed
        });
        if self.failed() {
            // Let the alert reach the peer.
            self.net.run_for(Duration::from_millis(200));
        }
    }

    /// Delivers everything in flight, and the answers to it.
    pub fn flush(&mut self) {
        self.net.run_for(Duration::from_millis(200));
    }

    pub fn failed(&self) -> bool {
        self.client_failure().is_some() || self.server_failure().is_some()
    }

    pub fn client_failure(&self) -> Option<Failure> {
        failure(&self.net.events_a)
    }

    pub fn server_failure(&self) -> Option<Failure> {
        failure(&self.net.events_b)
    }
}

fn sealed_or(c: &mut Connection, data: &[u8]) -> Result<Vec<u8>, fulmar_dtls::Error> {
    let mut out = Vec::new();
    c.seal_application_data(data, &mut out)?;
    Ok(out)
}

fn events(got: &[Got]) -> Vec<Event> {
    got.iter()
        .filter_map(|g| match g {
            Got::Event(e) => Some(e.clone()),
            Got::Data(_) => None,
        })
        .collect()
}

fn data(got: &[Got]) -> Vec<Vec<u8>> {
    got.iter()
        .filter_map(|g| match g {
            Got::Data(d) => Some(d.clone()),
            Got::Event(_) => None,
        })
        .collect()
}

fn failure(got: &[Got]) -> Option<Failure> {
    got.iter().find_map(|g| match g {
        Got::Event(Event::Failed(f)) => Some(f.clone()),
        _ => None,
    })
}
