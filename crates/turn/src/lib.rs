//! # fulmar-turn
//!
//! TURN (RFC 8656) for the Fulmar WebRTC stack, sans-IO on both sides:
//!
//! - [`Client`]: one allocation on a TURN server. Long-term credentials
//!   (the 401 challenge, realm and nonce, 438 stale nonce, SHA-256 keys
//!   when the server offers PASSWORD-ALGORITHMS), Refresh ahead of expiry,
//!   CreatePermission and ChannelBind kept fresh, Send/Data indications and
//!   the ChannelData fast path, deallocation on [`Client::close`]. Over UDP or
//!   a stream (TCP/TLS) split by [`StreamFramer`].
//! - [`Server`]: the core of a TURN server. Allocations keyed by
//!   [`FiveTuple`], static long-term users and time-limited `expiry:user`
//!   credentials ([`time_limited_credentials`]), stateless nonces with
//!   expiry, permissions, channels, lifetime bounds, quotas per user and in
//!   total, a bandwidth limit per allocation, a [`PeerPolicy`] that denies
//!   internal addresses by default, and [`ServerStats`] counters.
//!
//! Neither opens a socket nor reads a clock: feed bytes and `now`, drain
//! transmits and events, sleep until `poll_timeout`.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use fulmar_turn::{Client, ClientConfig, ClientEvent, FiveTuple, PeerPolicy, Received,
//!     Server, ServerConfig, TransportProtocol};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let now = Instant::now();
//! let server_addr = SocketAddr::from(([198, 51, 100, 1], 3478));
//! let client_addr = SocketAddr::from(([203, 0, 113, 5], 40000));
//! let peer = SocketAddr::from(([192, 0, 2, 9], 7000));
//! let config = ServerConfig::new("example.org", server_addr.ip())
//!     .with_user("alice", "secret");
//! let mut server = Server::new(config, now, StdRng::seed_from_u64(1));
//! let mut client = Client::new(ClientConfig::new(server_addr, "alice", "secret"), StdRng::seed_from_u64(2));
//! let ft = FiveTuple { client: client_addr, server: server_addr, protocol: TransportProtocol::Udp };
//!
//! // Move messages until quiet: Allocate, 401, Allocate with credentials, 200.
//! client.allocate(now)?;
//! let mut buf = Vec::new();
//! let mut deliver = |client: &mut Client, server: &mut Server, datagram: &[u8]| {
//!     if let Some(relay) = server.handle_client(now, ft, datagram) {
//!         assert_eq!((relay.peer, relay.data), (peer, &b"hello"[..]));
//!     }
//!     while let Some(r) = server.poll_transmit() {
//!         client.handle_receive(now, server_addr, &r.payload);
//!     }
//! };
//! let mut pump = |client: &mut Client, server: &mut Server| {
//!     while let Some(t) = client.poll_transmit(now, &mut buf) {
//!         assert_eq!(t.destination, server_addr);
//!         deliver(client, server, &buf);
//!     }
//! };
//! pump(&mut client, &mut server);
//! assert!(matches!(client.poll_event(), Some(ClientEvent::Allocated { .. })));
//!
//! // Data to a peer: a permission first, then a Send indication.
//! client.create_permission(now, peer.ip())?;
//! pump(&mut client, &mut server);
//! let mut out = Vec::new();
//! client.send_to(now, peer, b"hello", &mut out)?;
//! deliver(&mut client, &mut server, &out);
//!
//! // The peer answers; the server wraps it in a Data indication.
//! let relayed = client.relayed_address().ok_or("not allocated")?;
//! let mut buf = [0u8; 1500];
//! let (to, n) = server.handle_peer(now, relayed, peer, b"hi back", &mut buf).ok_or("not relayed")?;
//! assert_eq!(to, ft);
//! let got = client.handle_receive(now, server_addr, &buf[..n]);
//! assert_eq!(got, Received::PeerData { peer, data: b"hi back" });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod client;
mod error;
mod framing;
mod server;
mod url;

pub use auth::{time_limited_credentials, time_limited_password};
pub use client::{
    Client, ClientConfig, ClientEvent, ClientState, ClientStats, ClientTransport, Received,
    CHANNEL_LIFETIME, MAX_PENDING, MAX_PERMISSIONS, PERMISSION_LIFETIME, SEND_INDICATION_OVERHEAD,
};
pub use error::Error;
pub use framing::{frame_len, StreamFramer, MAX_FRAME_LEN};
pub use fulmar_stun::attributes::AddressFamily;
pub use fulmar_stun::channel_data::MAX_LEGACY_CHANNEL;
pub use fulmar_stun::Transmit;
pub use server::{
    FiveTuple, PeerPolicy, PortPool, RelayAllocator, RelayToPeer, RelayedAddresses, Server,
    ServerConfig, ServerEvent, ServerGauges, ServerStats, ServerTransmit, TransportProtocol,
    CHANNEL_DATA_OVERHEAD, DATA_INDICATION_OVERHEAD, MAX_QUEUED,
};
pub use url::{IceServerUrl, UrlScheme, UrlTransport};
