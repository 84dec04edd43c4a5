//! The sans-IO WebRTC peer connection of Fulmar: JSEP offer/answer
//! (RFC 9429) with BUNDLE (max-bundle) and rtcp-mux, ICE (fulmar-ice), DTLS
//! (fulmar-dtls) with `a=setup` roles (RFC 8842), SCTP data channels over
//! DTLS (fulmar-sctp, fulmar-datachannel, RFC 8831/8832/8261) and media:
//! transceivers with codec and header-extension negotiation, SRTP keyed from
//! the DTLS exporter (RFC 5764), tracks that take encoded frames or RTP and
//! yield frames or RTP ([`PeerConnection::write_frame`],
//! [`PeerConnection::write_rtp`], [`Event::MediaFrame`], [`Event::Rtp`]),
//! and the RTCP duties (reports, NACK/RTX, PLI/FIR, transport-wide CC), all
//! demultiplexed on one transport by first byte (RFC 7983). Relayed
//! candidates come from TURN servers ([`Config::turn_servers`]): the core
//! allocates, binds channels and wraps and unwraps what crosses the relay
//! (over TCP or TLS the driver carries the frames on its stream); a shared
//! socket's datagrams are routed to their connection by an [`Endpoint`].
//!
//! Like every Fulmar protocol core, [`PeerConnection`] never touches a socket
//! or a clock: feed it datagrams with [`PeerConnection::handle_receive`], call
//! [`PeerConnection::handle_timeout`] at [`PeerConnection::poll_timeout`], and
//! drain [`PeerConnection::poll_transmit`] and [`PeerConnection::poll_event`].
//! The verbs are the stack's one I/O contract (ARCHITECTURE.md):
//! [`PeerConnection::poll_transmit`] writes each datagram into the caller's
//! buffer and returns a [`Transmit`] that says where it goes, and
//! [`PeerConnection::handle_receive`] decrypts and parses the caller's
//! buffer in place. Data-channel packets are built and sealed when polled,
//! as the congestion window allows, so poll after every input; a driver
//! that reuses one buffer each way allocates nothing per datagram.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use fulmar_peer::{Config, Event, PeerConnection};
//! use fulmar_datachannel::ChannelConfig;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let now = Instant::now();
//! let mut a = PeerConnection::new(Config::default(), StdRng::seed_from_u64(1))?;
//! let mut b = PeerConnection::new(Config::default(), StdRng::seed_from_u64(2))?;
//! a.add_host_candidate(now, SocketAddr::from(([192, 0, 2, 1], 4000)))?;
//! b.add_host_candidate(now, SocketAddr::from(([192, 0, 2, 2], 5000)))?;
//! let chat = a.create_data_channel(ChannelConfig::new("chat"))?;
//! // Non-trickle offer/answer: the descriptions carry every candidate.
//! let offer = a.create_offer()?;
//! a.set_local_description(now, offer.clone())?;
//! b.set_remote_description(now, offer)?;
//! let answer = b.create_answer()?;
//! b.set_local_description(now, answer.clone())?;
//! a.set_remote_description(now, answer)?;
//!
//! // A zero-delay network between the two.
//! let (mut now, mut got, mut buf) = (now, None, Vec::new());
//! for _ in 0..2000 {
//!     while let Some(t) = a.poll_transmit(now, &mut buf) { b.handle_receive(now, t.source, t.destination, &mut buf); }
//!     while let Some(t) = b.poll_transmit(now, &mut buf) { a.handle_receive(now, t.source, t.destination, &mut buf); }
//!     while let Some(e) = a.poll_event() {
//!         if let Event::DataChannelOpen(id) = e { a.send_text(now, id, "hello")?; }
//!     }
//!     while let Some(e) = b.poll_event() {
//!         if let Event::DataChannelMessage { data, .. } = e { got = Some(data); }
//!     }
//!     if got.is_some() { break; }
//!     if let Some(t) = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
//!         now = now.max(t);
//!     }
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # let _ = chat;
//! # Ok::<(), fulmar_peer::Error>(())
//! ```

// Unit tests share the integration tests' harness (tests/common), which
// names the crate.
#[cfg(test)]
extern crate self as fulmar_peer;
/// The netsim harness of the behaviour tests, shared with tests/*.rs.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_harness;

mod candidates;
mod channels;
mod config;
mod endpoint;
mod error;
mod event;
mod failure;
mod jsep;
mod media;
mod negotiation;
mod relay;
mod rng;
mod stats;
mod tracks;
mod transport;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use fulmar_dtls::Certificate;
use rand::RngCore;
use rng::CompactRng;

pub use channels::ChannelId;
pub use config::{Config, TurnServer};
pub use endpoint::{ConnectionHandle, Endpoint, EndpointError, MAX_ROUTES};
pub use error::Error;
pub use event::{DtlsState, Event, PeerConnectionState, SignalingState};
pub use failure::{Failure, IceFailure};
/// How a relayed candidate's TURN server is reached (ranks relays).
pub use fulmar_ice::RelayProtocol;
pub use fulmar_rtp::Codec;
/// Where a datagram written by [`PeerConnection::poll_transmit`] goes: the
/// stack's one addressed transmit type.
pub use fulmar_stun::Transmit;
pub use jsep::{SdpType, SessionDescription};
pub use media::{KeyframeKind, MediaFrame, MediaStats, ReceiveMode, RtpReceived};
pub use negotiation::{
    default_codecs, CodecParams, MediaKind, TrackInfo, Transceiver, TransceiverId,
};
pub use stats::Stats;
use transport::SrtpContexts;

/// The sans-IO peer connection (see the [crate docs](crate)).
///
/// Its state is grouped by owner: the JSEP negotiation (module `jsep`),
/// the ICE agent and its candidates (`candidates`), the DTLS/SRTP transport
/// and its outgoing queue (`transport`), the SCTP association and its data
/// channels (`channels`), and the transceivers with their media engine
/// (`tracks`, `media`).
pub struct PeerConnection {
    rng: CompactRng,
    certificate: Arc<Certificate>,
    config: Config,
    jsep: jsep::Negotiation,
    ice: candidates::Ice,
    transport: transport::Transport,
    data: channels::DataState,
    media: tracks::MediaState,
    /// TURN allocations and their relayed candidates.
    relays: relay::Relays,
    state: PeerConnectionState,
    /// The DTLS or SCTP failure that ended the connection (these are
    /// final; an ICE failure is read from the agent's state, as an ICE
    /// restart may recover from it).
    failure: Option<Failure>,
    events: VecDeque<Event>,
    stats: Stats,
    now: Option<Instant>,
    /// Last datagram received or message sent, for idle housekeeping.
    last_activity: Option<Instant>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("signaling", &self.jsep.signaling)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    /// A new peer connection; randomness (ICE credentials, tie-breakers, DTLS
    /// randoms, SCTP tags) comes from `rng`.
    pub fn new(config: Config, mut rng: impl RngCore) -> Result<Self, Error> {
        let certificate = match &config.certificate {
            Some(c) => c.clone(),
            None => Arc::new(Certificate::generate()?),
        };
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut rng = CompactRng::from_seed(seed);
        let session_id = rng.next_u64() >> 2;
        // The media engine's randomness (SSRC of reports, sequence and
        // timestamp bases, RTCP intervals) from its own stream of the seed.
        let mut media_seed = seed;
        media_seed[0] ^= 0x6d;
        Ok(PeerConnection {
            rng,
            certificate,
            relays: relay::Relays::new(&config.turn_servers),
            config,
            jsep: jsep::Negotiation::new(session_id),
            ice: candidates::Ice::default(),
            transport: transport::Transport::default(),
            data: channels::DataState::default(),
            media: tracks::MediaState::new(media_seed),
            state: PeerConnectionState::New,
            failure: None,
            events: VecDeque::new(),
            stats: Stats::default(),
            now: None,
            last_activity: None,
        })
    }

    /// Whether [`Self::close`] was called.
    fn is_closed(&self) -> bool {
        self.jsep.signaling == SignalingState::Closed
    }

    /// A generator for a sub-component, seeded from ours.
    fn sub_rng(&mut self) -> CompactRng {
        CompactRng::seed_from_u64(self.rng.next_u64())
    }
}
