//! A sans-IO ICE agent (RFC 8445) for Fulmar.
//!
//! [`IceAgent`] runs the whole of RFC 8445 for one data stream, in either
//! role or as an ICE-lite agent: candidate priorities and foundations,
//! server-reflexive gathering through STUN servers, peer-reflexive discovery,
//! checklists with Frozen/Waiting states per foundation, Ta pacing, triggered
//! checks, retransmissions, role conflicts (487), regular nomination, trickle
//! ICE (RFC 8838), consent freshness (RFC 7675), keepalives and ICE restart.
//! Relayed candidates come from a TURN client through
//! [`IceAgent::add_relayed_candidate`]; remote mDNS candidates through an
//! [`MdnsResolver`] hook.
//!
//! It never touches a socket or a clock: feed it datagrams and time, drain
//! datagrams and events, sleep until its deadline. The [`Candidate`] it
//! works with is fulmar-sdp's typed candidate (re-exported here), which owns
//! the RFC 8839 grammar; the agent adds priorities and foundations.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use fulmar_ice::{IceAgent, IceConfig, IceConnectionState, IceEvent, IceRole};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let mut now = Instant::now();
//! let mut a = IceAgent::new(IceConfig::new(IceRole::Controlling), StdRng::seed_from_u64(1));
//! let mut b = IceAgent::new(IceConfig::new(IceRole::Controlled), StdRng::seed_from_u64(2));
//! let (ca, cb) = (a.local_credentials().clone(), b.local_credentials().clone());
//! a.set_remote_credentials(now, &cb.ufrag, &cb.pwd)?;
//! b.set_remote_credentials(now, &ca.ufrag, &ca.pwd)?;
//! let host_a = a.add_host_candidate(now, 1, SocketAddr::from(([192, 0, 2, 1], 5000)))?;
//! let host_b = b.add_host_candidate(now, 1, SocketAddr::from(([192, 0, 2, 2], 6000)))?;
//! a.add_remote_candidate(now, host_b)?;
//! b.add_remote_candidate(now, host_a)?;
//!
//! // A zero-delay "network": move datagrams between the two agents.
//! for _ in 0..100 {
//!     let mut buf = Vec::new();
//!     while let Some(t) = a.poll_transmit(now, &mut buf) { b.handle_receive(now, t.source, t.destination, &buf); }
//!     while let Some(t) = b.poll_transmit(now, &mut buf) { a.handle_receive(now, t.source, t.destination, &buf); }
//!     let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
//!     now = next.map_or(now, |t| t.max(now));
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//!     if a.state() == IceConnectionState::Connected && b.state() == IceConnectionState::Connected { break; }
//! }
//! assert_eq!(a.state(), IceConnectionState::Connected);
//! let pair = a.selected_pair(1).ok_or("no pair")?;
//! assert_eq!(pair.destination, SocketAddr::from(([192, 0, 2, 2], 6000)));
//! assert!(std::iter::from_fn(|| b.poll_event())
//!     .any(|e| matches!(e, IceEvent::SelectedPairChange { pair: Some(_), .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod agent;
mod candidate;
mod error;
mod types;

pub use agent::IceAgent;
pub use candidate::{
    candidate_priority, compute_foundation, compute_relay_foundation, pair_priority,
    type_preference, Candidate, CandidateAddress, CandidateType, RelayProtocol, Transport,
    MAX_FOUNDATION_LEN,
};
pub use error::Error;
pub use fulmar_stun::Transmit;
pub use types::{
    AgentStats, Credentials, IceConfig, IceConnectionState, IceEvent, IceGatheringState, IceRole,
    MdnsResolution, MdnsResolver, PairState, PairStats, SelectedPair,
};
