//! A deterministic in-process network for testing sans-IO protocol endpoints.
//!
//! [`Pair`] joins two parties by one simulated link: the harness for
//! point-to-point protocols (DTLS, SCTP, data channels, a peer connection).
//!
//! [`Network`] holds hosts (each driving one [`Endpoint`]), NAT boxes with
//! every mapping and filtering behaviour of RFC 4787, and access links with
//! delay, jitter, loss, duplication, reordering and bandwidth limits. Time is
//! simulated: the driver jumps straight to the next deadline (a datagram
//! arrival or an endpoint's `poll_timeout`), so minutes of protocol run in
//! milliseconds. All randomness comes from one seeded RNG: the same seed gives
//! the same run, datagram for datagram.
//!
//! Topology: zone [`INTERNET`] always exists; [`Network::add_nat`] creates a
//! NAT whose external address lives in a parent zone and returns the zone
//! behind it; [`Network::add_host`] puts a host with its addresses into a zone.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use fulmar_netsim::{Datagram, Endpoint, Link, LinkConfig, NatConfig, Network, INTERNET};
//!
//! /// Sends "ping" once to `peer`; answers every datagram with "pong".
//! struct Pinger { peer: Option<std::net::SocketAddr>, out: Vec<Datagram>, got: Vec<Vec<u8>> }
//! impl Endpoint for Pinger {
//!     fn handle_receive(&mut self, _now: Instant, d: Datagram) {
//!         if d.payload == b"ping" {
//!             self.out.push(Datagram { source: d.destination, destination: d.source, payload: b"pong".to_vec() });
//!         }
//!         self.got.push(d.payload);
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
//!         if let Some(peer) = self.peer.take() {
//!             return Some(Datagram { source: std::net::SocketAddr::from(([0, 0, 0, 0], 5000)), destination: peer, payload: b"ping".to_vec() });
//!         }
//!         self.out.pop()
//!     }
//!     fn poll_timeout(&mut self) -> Option<Instant> { None }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut net = Network::new(42);
//! let (_nat, home) = net.add_nat(INTERNET, "203.0.113.1".parse()?, NatConfig::port_restricted_cone());
//! let server = net.add_host(INTERNET, &["198.51.100.7".parse()?],
//!     Pinger { peer: None, out: vec![], got: vec![] });
//! let client = net.add_host(home, &["192.168.1.2".parse()?],
//!     Pinger { peer: Some("198.51.100.7:3478".parse()?), out: vec![], got: vec![] });
//! net.set_link(client, Link::symmetric(LinkConfig::ideal().with_delay(Duration::from_millis(25))));
//!
//! assert!(net.run_until_idle(Duration::from_secs(1)));
//! assert_eq!(net.endpoint::<Pinger>(client).ok_or("no client")?.got, vec![b"pong".to_vec()]);
//! assert_eq!(net.elapsed(), Duration::from_millis(50)); // one round trip
//! assert_eq!(net.endpoint::<Pinger>(server).ok_or("no server")?.got, vec![b"ping".to_vec()]);
//! # Ok(()) }
//! ```

mod link;
mod nat;
mod network;
mod pair;

pub use link::{Link, LinkConfig};
pub use nat::{Filtering, Mapping, NatConfig, PortAssignment};
pub use network::{
    Datagram, DropReason, Endpoint, HostId, NatId, Network, NodeId, NodeStats, TraceEvent, ZoneId,
    INTERNET,
};
pub use pair::{Direction, LinkStats, Pair, Party, Sent, Tamper};
