//! A Rust client for [fulmar-signal](../fulmar_signal/index.html): join a
//! room over plain WebSocket ([`Client`]), with automatic resume after a
//! lost connection, and a mesh of Fulmar peer connections to everyone in
//! the room ([`run_mesh`]) negotiated with perfect negotiation and trickle
//! ICE both ways.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fulmar_signal_client::ClientError> {
//! use std::sync::Arc;
//! use fulmar_signal_client::{run_mesh, Client, JoinOptions, MeshHandler};
//!
//! struct Chat;
//! impl MeshHandler for Chat {
//!     async fn peer_added(&self, _peer: &str, pc: &fulmar::PeerConnection) {
//!         let _ = pc.create_data_channel("chat").await;
//!     }
//! }
//!
//! let options = JoinOptions { room: "lobby".into(), name: "bot".into(), ..Default::default() };
//! let client = Arc::new(Client::join("ws://127.0.0.1:8443/ws", options).await?);
//! run_mesh(client, fulmar::Config::default(), Arc::new(Chat)).await
//! # }
//! ```

mod client;
mod event;
mod mesh;

pub use client::{Client, ClientError, JoinOptions};
pub use event::{CandidateInit, Event, Peer};
pub use mesh::{run_mesh, MeshHandler};
