//! fulmar-signal: the signaling server WebRTC applications put in front of
//! their peers. Peers join a room, see who else is there, and relay offers,
//! answers and trickled candidates to one another; a peer that loses its
//! connection resumes its session without the others noticing.
//!
//! One room core ([`hub::Hub`]) serves two transports on one axum router:
//! plain WebSocket with JSON messages ([`ws`], at `/ws`) and Socket.IO
//! ([`socketio`], by `socketioxide`, at `/socket.io/`), so a browser on
//! `socket.io-client` and a Rust peer on a WebSocket share a room. The
//! protocol (events and fields) is in [`protocol`] and the README.
//!
//! With a Redis URL ([`Signal::with_redis`]), several nodes share rooms:
//! the room core then keeps its state in Redis ([`cluster`]).

pub mod auth;
pub mod cluster;
pub mod config;
pub mod error;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod socketio;
pub mod ws;

pub use server::Signal;
