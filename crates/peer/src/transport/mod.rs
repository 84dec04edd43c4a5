//! The transport stack under one 5-tuple: ICE, DTLS, SRTP keying and SCTP,
//! demultiplexed by first byte (RFC 7983), and the sans-IO verbs.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulmar_datachannel::DataChannels;
use fulmar_dtls::{Fingerprint, Role};
use fulmar_ice::{IceAgent, IceConnectionState};
use fulmar_stun::{classify, PacketKind};

use crate::relay::Unwrapped;
use crate::{
    media, DtlsState, Event, Failure, IceFailure, PeerConnection, PeerConnectionState,
    SignalingState,
};

#[cfg(test)]
mod tests;
mod transmit;

/// SRTP contexts for sending (local) and receiving (remote).
pub(crate) struct SrtpContexts {
    /// Protects what we send.
    pub(crate) local: fulmar_srtp::Context,
    /// Unprotects what we receive.
    pub(crate) remote: fulmar_srtp::Context,
}

/// The transport stack: DTLS on the selected path, SRTP keyed from it, and
/// the datagrams waiting to be polled.
pub(crate) struct Transport {
    /// Our DTLS role, once `a=setup` decided it (RFC 8842).
    pub(crate) dtls_role: Option<Role>,
    pub(crate) dtls: Option<fulmar_dtls::Connection>,
    pub(crate) dtls_state: DtlsState,
    /// Where DTLS records came from before ICE selected a pair.
    pub(crate) dtls_peer: Option<(SocketAddr, SocketAddr)>,
    /// The selected candidate pair, local then remote address.
    pub(crate) selected: Option<(SocketAddr, SocketAddr)>,
    /// Keyed on first need: a session without media holds none.
    pub(crate) srtp: Option<Box<SrtpContexts>>,
    /// Datagrams built ahead of [`PeerConnection::poll_transmit`]: the SCTP
    /// packets sealed before close_notify.
    pub(crate) transmits: VecDeque<Queued>,
}

/// A datagram built ahead of its poll, with its path.
pub(crate) struct Queued {
    /// Local address to send from.
    pub(crate) source: SocketAddr,
    /// Remote address.
    pub(crate) destination: SocketAddr,
    /// The datagram.
    pub(crate) payload: Vec<u8>,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            dtls_role: None,
            dtls: None,
            dtls_state: DtlsState::New,
            dtls_peer: None,
            selected: None,
            srtp: None,
            transmits: VecDeque::new(),
        }
    }
}

/// Bound of queued outgoing datagrams.
pub(crate) const MAX_TRANSMITS: usize = 4096;
/// How long a connection is quiet before its timers hand back idle buffers.
const IDLE_RELEASE_AFTER: Duration = Duration::from_secs(1);

impl PeerConnection {
    /// Our DTLS certificate's fingerprint (as in `a=fingerprint`).
    pub fn fingerprint(&self) -> Fingerprint {
        self.certificate.fingerprint()
    }

    /// The aggregate connection state.
    pub fn connection_state(&self) -> PeerConnectionState {
        self.state.clone()
    }

    /// The ICE connection state.
    pub fn ice_connection_state(&self) -> IceConnectionState {
        self.ice.state
    }

    /// The DTLS transport state.
    pub fn dtls_state(&self) -> DtlsState {
        self.transport.dtls_state
    }

    /// **Fuzzing hook, not part of the supported API.** Protects the plain
    /// RTP packet in `buf[..len]` (RTCP when `rtcp`) as it is, with this
    /// side's SRTP keys and in place (`buf` must have room for the
    /// trailer), and returns the protected length. It lets fuzz targets and
    /// tests reach the remote's handling of authenticated media that the
    /// track API never builds (any SSRC, header extension or RTCP packet),
    /// which arbitrary bytes never get past SRTP to. `None` before DTLS
    /// keyed SRTP (RFC 5764 §4.2) or when the packet cannot be protected.
    #[doc(hidden)]
    pub fn protect_for_fuzzing(&mut self, rtcp: bool, buf: &mut [u8], len: usize) -> Option<usize> {
        let local = &mut self.ensure_srtp()?.local;
        let protected = if rtcp {
            local.protect_rtcp_in_place(buf, len)
        } else {
            local.protect_rtp_in_place(buf, len)
        };
        protected.ok()
    }

    /// Closes the connection: SCTP abort, DTLS close_notify, ICE stops.
    pub fn close(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if let Some(dc) = self.data.sctp.get_mut() {
            dc.association_mut().abort();
        }
        self.pump(now);
        // The ABORT goes out before close_notify (which DTLS keeps until
        // polled, after this queue), not when next polled.
        self.seal_sctp_now(now);
        if let Some(d) = self.transport.dtls.as_mut() {
            d.close();
        }
        if let Some(ice) = self.ice.agent.as_mut() {
            ice.close();
        }
        self.close_all_channels();
        self.relays.close_when_flushed();
        self.set_dtls_state(DtlsState::Closed);
        self.set_signaling(SignalingState::Closed);
        self.set_state(PeerConnectionState::Closed);
    }

    /// Handles a datagram from `source` received on local `destination`,
    /// demultiplexed by its first byte (RFC 7983 §7). DTLS records are
    /// decrypted where they lie and their SCTP packets parsed there, so the
    /// contents of `datagram` are unspecified afterwards.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &mut [u8],
    ) {
        // What a TURN server sent (even after close: the answer to the
        // Refresh that deletes the allocation) goes to its relay first; the
        // peer data it carries is handled where it lies.
        let (source, destination, datagram) =
            match self.unwrap_relayed(now, source, destination, datagram) {
                Unwrapped::NotRelayed => (source, destination, datagram),
                Unwrapped::Consumed => return,
                Unwrapped::PeerData {
                    peer,
                    relayed,
                    range,
                } => match datagram.get_mut(range) {
                    Some(d) => (peer, relayed, d),
                    None => return,
                },
            };
        if self.is_closed() {
            return;
        }
        self.last_activity = Some(now);
        self.stats.packets_received += 1;
        self.stats.bytes_received += datagram.len() as u64;
        match classify(datagram) {
            PacketKind::Stun => {
                if let Some(ice) = self.ice.agent.as_mut() {
                    ice.handle_receive(now, source, destination, datagram);
                }
                self.drain_ice(now);
            }
            PacketKind::Dtls => {
                if self.transport.dtls_peer.is_none() || self.transport.selected.is_none() {
                    self.transport.dtls_peer = Some((destination, source));
                }
                self.maybe_start_dtls(now);
                self.receive_dtls(now, datagram);
            }
            PacketKind::Rtp => {
                self.stats.rtp_packets_received += 1;
                self.ensure_srtp();
                if let Some((m, mut io)) = self.media_io() {
                    m.handle_receive(&mut io, now, datagram);
                }
                // Media never drives DTLS or SCTP: no pump needed.
                return;
            }
            _ => self.stats.unknown_packets += 1,
        }
        self.pump(now);
    }

    /// Handles the passing of the deadline from [`Self::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        // TURN timers run on after close, until the allocations are deleted.
        self.relay_timeouts(now);
        if self.is_closed() {
            return;
        }
        let quiet = self
            .last_activity
            .is_none_or(|t| now.saturating_duration_since(t) >= IDLE_RELEASE_AFTER);
        if quiet {
            // Our own queues before the timers refill them (the application
            // drained them since the last call; DTLS frees its own buffers,
            // the SCTP association returns its own from its housekeeping
            // timer).
            self.release_idle_buffers();
        }
        if let Some(ice) = self.ice.agent.as_mut() {
            ice.handle_timeout(now);
        }
        self.drain_ice(now);
        if let Some(d) = self.transport.dtls.as_mut() {
            if d.poll_timeout().is_some_and(|t| t <= now) {
                d.handle_timeout(now);
            }
        }
        if let Some(dc) = self.data.sctp.get_mut() {
            if dc.poll_timeout().is_some_and(|t| t <= now) {
                dc.handle_timeout(now);
            }
        }
        if self
            .media
            .engine
            .as_deref()
            .is_some_and(|m| m.report_due(now))
        {
            // Once per report interval: the ICE round-trip time spaces NACK
            // retries until RTCP measures one (a receive-only peer never does).
            if let (Some(rtt), Some(m)) = (self.stats_rtt(), self.media.engine.as_deref_mut()) {
                m.set_rtt(rtt);
            }
        }
        if let Some((m, _)) = self.media_io() {
            m.handle_timeout(now);
        }
        self.pump(now);
    }

    /// Returns the buffers of drained queues to the allocator; run from
    /// timers once the connection has been quiet for [`IDLE_RELEASE_AFTER`],
    /// so an idle connection holds only its state and a busy one reallocates
    /// nothing per packet.
    pub(crate) fn release_idle_buffers(&mut self) {
        if self.transport.transmits.is_empty() {
            self.transport.transmits = VecDeque::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        if let Some(m) = self.media.engine.as_deref_mut() {
            m.release_idle_buffers();
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if let Event::DataChannelMessage { data, .. } = &event {
            // The message leaves the stack's hands: it stops counting
            // against the receive window (see `DataState::undelivered`).
            self.data.undelivered = self.data.undelivered.saturating_sub(data.len());
            self.data.report_held();
        }
        Some(event)
    }

    /// When [`Self::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let relays = self.relays.poll_timeout();
        if self.is_closed() {
            return relays;
        }
        [
            relays,
            self.ice.agent.as_ref().and_then(IceAgent::poll_timeout),
            self.transport
                .dtls
                .as_ref()
                .and_then(fulmar_dtls::Connection::poll_timeout),
            self.data.sctp.get().and_then(DataChannels::poll_timeout),
            self.transport
                .srtp
                .as_ref()
                .and(self.media.engine.as_deref())
                .and_then(media::Media::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn maybe_start_dtls(&mut self, now: Instant) {
        if self.transport.dtls.is_some()
            || self.jsep.remote.fingerprints.is_empty()
            || self.is_closed()
        {
            return;
        }
        let Some(role) = self.transport.dtls_role else {
            return;
        };
        let mut cfg = fulmar_dtls::Config::new(
            self.certificate.clone(),
            self.jsep.remote.fingerprints.clone(),
        );
        // No HelloVerifyRequest: ICE already proved the peer's address
        // (what browsers do too).
        cfg.hello_verify_cookie = false;
        cfg.srtp_profiles = self.config.srtp_profiles.iter().map(|p| p.id()).collect();
        let rng = self.sub_rng();
        let conn = match role {
            // The client waits for ICE so its ClientHello has a path.
            Role::Client if self.transport.selected.is_some() => {
                fulmar_dtls::Connection::client(Arc::new(cfg), now, rng)
            }
            Role::Client => return,
            Role::Server => fulmar_dtls::Connection::server(Arc::new(cfg), rng),
        };
        self.transport.dtls = Some(conn);
        self.set_dtls_state(DtlsState::Connecting);
    }

    /// Hands a DTLS datagram to the connection, which opens its records
    /// where they lie. The events it raised are handled in order; the
    /// plaintext of its application_data records (SCTP packets, RFC 8261)
    /// goes to the association as ranges of `datagram`, ahead of a close
    /// or failure the same datagram raised.
    fn receive_dtls(&mut self, now: Instant, datagram: &mut [u8]) {
        let Some(d) = self.transport.dtls.as_mut() else {
            return;
        };
        d.handle_receive(now, datagram);
        while let Some(e) = self
            .transport
            .dtls
            .as_mut()
            .and_then(fulmar_dtls::Connection::poll_event)
        {
            if matches!(
                e,
                fulmar_dtls::Event::Closed | fulmar_dtls::Event::Failed(_)
            ) {
                self.deliver_sctp(now, datagram);
            }
            self.on_dtls_event(now, e);
        }
        self.deliver_sctp(now, datagram);
    }

    /// Gives the association the SCTP packets DTLS opened in `datagram`.
    fn deliver_sctp(&mut self, now: Instant, datagram: &[u8]) {
        let Some(d) = self.transport.dtls.as_mut() else {
            return;
        };
        while let Some(range) = d.poll_application_data() {
            if let (Some(dc), Some(packet)) = (self.data.sctp.get_mut(), datagram.get(range)) {
                dc.handle_receive(now, packet);
            }
        }
    }

    fn on_dtls_event(&mut self, now: Instant, e: fulmar_dtls::Event) {
        match e {
            fulmar_dtls::Event::Connected => self.on_dtls_connected(now),
            fulmar_dtls::Event::Closed => {
                self.set_dtls_state(DtlsState::Closed);
                self.close_all_channels();
                self.set_state(PeerConnectionState::Closed);
            }
            fulmar_dtls::Event::Failed(failure) => {
                self.set_dtls_state(DtlsState::Failed);
                self.fail(Failure::Dtls(failure));
            }
            _ => {}
        }
    }

    /// Moves DTLS events up (from timers) and SCTP events up. DTLS
    /// records, ICE checks and SCTP packets are taken when polled
    /// ([`Self::poll_transmit`]).
    pub(crate) fn pump(&mut self, now: Instant) {
        self.now = Some(now);
        // One event at a time: handling one may need `self` whole.
        while let Some(e) = self
            .transport
            .dtls
            .as_mut()
            .and_then(fulmar_dtls::Connection::poll_event)
        {
            self.on_dtls_event(now, e);
        }
        self.drain_sctp_events();
    }

    /// The SRTP contexts, keyed from the DTLS exporter (RFC 5764 §4.2) on
    /// first need; the media engine starts with them.
    pub(crate) fn ensure_srtp(&mut self) -> Option<&mut SrtpContexts> {
        if self.transport.srtp.is_none() {
            let role = self.transport.dtls_role?;
            let d = self.transport.dtls.as_ref().filter(|d| d.is_connected())?;
            let profile = fulmar_srtp::ProtectionProfile::from_id(d.srtp_profile()?).ok()?;
            let mut material = [0u8; fulmar_srtp::MAX_KEYING_MATERIAL_LEN];
            let material = material.get_mut(..profile.keying_material_len())?;
            d.export_keying_material(fulmar_srtp::DTLS_SRTP_EXPORTER_LABEL, None, material)
                .ok()?;
            let keys = fulmar_srtp::KeyingMaterial::split(profile, material).ok()?;
            // Each end sends with its own role's write key (RFC 5764 §4.2).
            let (ours, theirs) = match role {
                Role::Client => (keys.client_write, keys.server_write),
                Role::Server => (keys.server_write, keys.client_write),
            };
            let config = fulmar_srtp::Config::default;
            let local = ours.context(profile, config()).ok()?;
            let remote = theirs.context(profile, config()).ok()?;
            self.transport.srtp = Some(Box::new(SrtpContexts { local, remote }));
            if let Some(now) = self.now {
                self.media_mut().start(now);
            }
        }
        self.transport.srtp.as_deref_mut()
    }

    pub(crate) fn set_dtls_state(&mut self, s: DtlsState) {
        if self.transport.dtls_state != s {
            self.transport.dtls_state = s;
            self.events.push_back(Event::DtlsStateChange(s));
        }
    }

    fn set_state(&mut self, s: PeerConnectionState) {
        if self.state != s && self.state != PeerConnectionState::Closed {
            self.state = s.clone();
            self.events.push_back(Event::ConnectionStateChange(s));
        }
    }

    /// A DTLS or SCTP failure ends the connection; the first one is the
    /// reason given.
    pub(crate) fn fail(&mut self, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
        self.update_state();
    }

    pub(crate) fn update_state(&mut self) {
        use IceConnectionState as I;
        let ice_failure = || {
            Failure::Ice(if self.ice.had_pair {
                IceFailure::ConsentLost
            } else {
                IceFailure::NoWorkingPair
            })
        };
        let s = match (self.ice.state, self.transport.dtls_state, &self.failure) {
            (I::Closed, _, _) | (_, DtlsState::Closed, None) => PeerConnectionState::Closed,
            (_, _, Some(f)) => PeerConnectionState::Failed(f.clone()),
            (I::Failed, _, None) => PeerConnectionState::Failed(ice_failure()),
            (I::Disconnected, _, None) => PeerConnectionState::Disconnected,
            (I::Connected | I::Completed, DtlsState::Connected, None) => {
                PeerConnectionState::Connected
            }
            (I::New, DtlsState::New, None) => PeerConnectionState::New,
            _ => PeerConnectionState::Connecting,
        };
        self.set_state(s);
    }
}
