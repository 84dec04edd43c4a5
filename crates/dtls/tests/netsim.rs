//! Handshakes over fulmar-netsim: the client behind a port-restricted NAT,
//! the server on the public side, links with 0 %, 10 % and 30 % loss plus
//! jitter, reordering and duplication; seeded and in simulated time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_dtls::{Certificate, Config, Connection, Event};
use fulmar_netsim::{Datagram, Endpoint, Link, LinkConfig, NatConfig, Network, INTERNET};
use rand::rngs::StdRng;
use rand::SeedableRng;

const SERVER: &str = "198.51.100.7:4444";

/// Adapts a DTLS connection to the simulator; the server learns its peer
/// from the first datagram.
struct Peer {
    conn: Option<Connection>,
    make: Option<Box<dyn FnOnce(Instant) -> Connection>>,
    local: SocketAddr,
    remote: Option<SocketAddr>,
    events: Vec<Event>,
}

impl Peer {
    fn drain(&mut self) {
        if let Some(c) = &mut self.conn {
            while let Some(e) = c.poll_event() {
                self.events.push(e);
            }
        }
    }
    fn connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.is_connected())
    }
}

impl Endpoint for Peer {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        if self.remote.is_none() {
            self.remote = Some(d.source);
        }
        if Some(d.source) == self.remote {
            if let Some(c) = &mut self.conn {
                let mut payload = d.payload;
                c.handle_receive(now, &mut payload);
            }
        }
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = &mut self.conn {
            c.handle_timeout(now);
        }
        self.drain();
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if let Some(make) = self.make.take() {
            self.conn = Some(make(now));
        }
        let mut payload = Vec::new();
        self.conn.as_mut()?.poll_transmit(now, &mut payload)?;
        Some(Datagram {
            source: self.local,
            destination: self.remote?,
            payload,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.conn.as_ref().and_then(|c| c.poll_timeout())
    }
}

fn run(loss: f64, seed: u64) -> Duration {
    let a = Arc::new(Certificate::generate().unwrap());
    let b = Arc::new(Certificate::generate().unwrap());
    let mut cc = Config::new(a.clone(), vec![b.fingerprint()]);
    let mut sc = Config::new(b, vec![a.fingerprint()]);
    // SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80 (RFC 5764 §4.1.2).
    cc.srtp_profiles = vec![0x0007, 0x0001];
    sc.srtp_profiles = vec![0x0007, 0x0001];
    let (cc, sc) = (Arc::new(cc), Arc::new(sc));
    let mut net = Network::new(seed);
    let (_nat, home) = net.add_nat(
        INTERNET,
        "203.0.113.1".parse().unwrap(),
        NatConfig::port_restricted_cone(),
    );
    let server = net.add_host(
        INTERNET,
        &["198.51.100.7".parse().unwrap()],
        Peer {
            conn: Some(Connection::server(sc, StdRng::seed_from_u64(seed))),
            make: None,
            local: SERVER.parse().unwrap(),
            remote: None,
            events: vec![],
        },
    );
    let client = net.add_host(
        home,
        &["192.168.1.2".parse().unwrap()],
        Peer {
            conn: None,
            make: Some(Box::new(move |now| {
                Connection::client(cc, now, StdRng::seed_from_u64(seed + 1))
            })),
            local: "0.0.0.0:5000".parse().unwrap(),
            remote: Some(SERVER.parse().unwrap()),
            events: vec![],
        },
    );
    let link = LinkConfig::ideal()
        .with_delay(Duration::from_millis(20))
        .with_jitter(Duration::from_millis(15))
        .with_loss(loss)
        .with_duplicate(0.05)
        .with_reorder(0.1, Duration::from_millis(30));
    net.set_link(client, Link::symmetric(link.clone()));
    net.set_link(server, Link::symmetric(link));
    let done = net.run_until_cond(Duration::from_secs(300), |n| {
        n.endpoint::<Peer>(client).unwrap().connected()
            && n.endpoint::<Peer>(server).unwrap().connected()
    });
    let c = net.endpoint::<Peer>(client).unwrap();
    let s = net.endpoint::<Peer>(server).unwrap();
    assert!(
        done,
        "loss {loss} seed {seed}: client {:?} server {:?}",
        c.events, s.events
    );
    let (cc, sc) = (c.conn.as_ref().unwrap(), s.conn.as_ref().unwrap());
    assert_eq!(cc.srtp_profile(), Some(0x0007));
    let (mut ck, mut sk) = ([0u8; 56], [0u8; 56]);
    cc.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut ck)
        .unwrap();
    sc.export_keying_material(b"EXTRACTOR-dtls_srtp", None, &mut sk)
        .unwrap();
    assert_eq!(ck, sk);
    net.elapsed()
}

#[test]
fn handshake_through_nat_without_loss() {
    let t = run(0.0, 1);
    // HelloVerifyRequest round trip plus the four-flight handshake, no timeouts.
    assert!(t < Duration::from_millis(500), "{t:?}");
}

#[test]
fn handshake_through_nat_with_10_percent_loss() {
    for seed in 10..14 {
        run(0.10, seed);
    }
}

#[test]
fn handshake_through_nat_with_30_percent_loss() {
    for seed in 30..34 {
        run(0.30, seed);
    }
}
