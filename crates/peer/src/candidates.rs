//! ICE: local candidates, trickled remote candidates and the agent's events.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use fulmar_ice::{IceAgent, IceConfig, IceConnectionState, IceEvent, IceGatheringState, IceRole};
use fulmar_sdp::SessionDescription as Sdp;

use crate::{Error, Event, PeerConnection, RelayProtocol};

/// The ICE agent, created by the first description, and the candidates
/// gathered before it exists.
pub(crate) struct Ice {
    pub(crate) agent: Option<IceAgent>,
    pub(crate) state: IceConnectionState,
    pub(crate) pending_hosts: Vec<SocketAddr>,
    pub(crate) pending_relays: Vec<(SocketAddr, SocketAddr, IpAddr, RelayProtocol)>,
    /// Local gathering is complete (`a=end-of-candidates`).
    pub(crate) end_of_candidates: bool,
    /// A pair was selected since the agent started (or restarted): an ICE
    /// failure then means consent was lost, not that no pair worked.
    pub(crate) had_pair: bool,
}

impl Default for Ice {
    fn default() -> Self {
        Ice {
            agent: None,
            state: IceConnectionState::New,
            pending_hosts: Vec::new(),
            pending_relays: Vec::new(),
            end_of_candidates: false,
            had_pair: false,
        }
    }
}

impl PeerConnection {
    /// Adds a host candidate: a local UDP socket bound to `addr`. A TURN
    /// server of [`crate::Config::turn_servers`] reached over UDP is
    /// allocated on from the first socket of its family, at once; one over
    /// TCP or TLS, on the stream the driver opens for it. With
    /// [`crate::Config::relay_only`] the socket carries TURN traffic but is
    /// not a candidate.
    pub fn add_host_candidate(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
        self.now = Some(now);
        self.relays.add_socket(addr);
        self.start_relays(now);
        if self.config.relay_only && !self.relays.is_empty() {
            return Ok(());
        }
        match self.ice.agent.as_mut() {
            Some(ice) => {
                ice.add_host_candidate(now, 1, addr)?;
            }
            None => {
                if !self.ice.pending_hosts.contains(&addr) {
                    self.ice.pending_hosts.push(addr);
                }
            }
        }
        self.drain_ice(now);
        Ok(())
    }

    /// Adds a relayed candidate (RFC 8445 §5.1.1.2): `relayed` is the
    /// address a TURN server allocated, `mapped` the server-reflexive address
    /// it saw, `server` the TURN server. The caller owns the TURN client and
    /// feeds what arrives on the allocation to [`Self::handle_receive`] with
    /// `relayed` as the destination; transmits whose source is `relayed` go
    /// through the allocation.
    pub fn add_relayed_candidate(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
    ) -> Result<(), Error> {
        self.add_relayed_candidate_over(now, relayed, mapped, server, RelayProtocol::Udp)
    }

    /// [`Self::add_relayed_candidate`] for a TURN server reached over
    /// `protocol`, which ranks the candidate (UDP before TCP before TLS).
    pub fn add_relayed_candidate_over(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
        protocol: RelayProtocol,
    ) -> Result<(), Error> {
        self.now = Some(now);
        match self.ice.agent.as_mut() {
            Some(ice) => {
                ice.add_relayed_candidate_over(now, 1, relayed, mapped, server, protocol)?;
            }
            None => {
                if !self.ice.pending_relays.iter().any(|r| r.0 == relayed) {
                    self.ice
                        .pending_relays
                        .push((relayed, mapped, server, protocol));
                }
            }
        }
        self.drain_ice(now);
        Ok(())
    }

    /// Declares every local socket added: local gathering is complete
    /// (`a=end-of-candidates`) once the TURN allocations of
    /// [`crate::Config::turn_servers`] succeeded or failed.
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.now = Some(now);
        self.end_of_hosts(now);
    }

    /// Gives ICE the end of local candidates.
    pub(crate) fn end_ice_gathering(&mut self, now: Instant) {
        self.ice.end_of_candidates = true;
        if let Some(ice) = self.ice.agent.as_mut() {
            ice.end_of_local_candidates(now);
        }
        self.drain_ice(now);
    }

    /// Adds a trickled remote candidate (`candidate:...`); an empty string
    /// means end-of-candidates (RFC 8838 §4.4).
    pub fn add_ice_candidate(&mut self, now: Instant, candidate: &str) -> Result<(), Error> {
        let c = candidate.trim();
        if c.is_empty() || c == "a=end-of-candidates" {
            self.end_of_remote_candidates(now)
        } else {
            self.add_remote_candidate(now, fulmar_sdp::Candidate::parse(c)?)
        }
    }

    /// Adds a remote candidate already parsed (from an SDP fragment, say).
    /// Component 2 (RTCP without rtcp-mux, which BUNDLE excludes) is ignored.
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: fulmar_sdp::Candidate,
    ) -> Result<(), Error> {
        let ice = self
            .ice
            .agent
            .as_mut()
            .ok_or(Error::InvalidState("add_remote_candidate"))?;
        if candidate.component == 1 {
            ice.add_remote_candidate(now, candidate)?;
        }
        self.drain_ice(now);
        Ok(())
    }

    /// The peer has no more candidates to trickle (RFC 8838 §4.4).
    pub fn end_of_remote_candidates(&mut self, now: Instant) -> Result<(), Error> {
        let ice = self
            .ice
            .agent
            .as_mut()
            .ok_or(Error::InvalidState("end_of_remote_candidates"))?;
        ice.end_of_remote_candidates(now);
        self.drain_ice(now);
        Ok(())
    }

    pub(crate) fn ensure_ice(&mut self, role: IceRole) {
        if self.ice.agent.is_some() {
            return;
        }
        let mut cfg = IceConfig::new(role);
        cfg.stun_servers = self.config.stun_servers.clone();
        cfg.public_addresses = self.config.public_addresses.clone();
        let rng = self.sub_rng();
        self.ice.agent = Some(IceAgent::new(cfg, rng));
        if let Some(now) = self.now {
            self.add_pending_hosts(now);
        }
    }

    fn add_pending_hosts(&mut self, now: Instant) {
        if let Some(ice) = self.ice.agent.as_mut() {
            for addr in self.ice.pending_hosts.drain(..) {
                let _ = ice.add_host_candidate(now, 1, addr);
            }
            for (relayed, mapped, server, protocol) in self.ice.pending_relays.drain(..) {
                let _ = ice.add_relayed_candidate_over(now, 1, relayed, mapped, server, protocol);
            }
            if self.ice.end_of_candidates {
                ice.end_of_local_candidates(now);
            }
        }
    }

    pub(crate) fn drain_ice(&mut self, now: Instant) {
        if (!self.ice.pending_hosts.is_empty() || !self.ice.pending_relays.is_empty())
            && self.ice.agent.is_some()
        {
            self.add_pending_hosts(now);
        }
        let Some(ice) = self.ice.agent.as_mut() else {
            return;
        };
        let mut events = Vec::new();
        while let Some(e) = ice.poll_event() {
            events.push(e);
        }
        // Its checks and responses stay with it until polled
        // ([`PeerConnection::poll_transmit`] writes them straight into the
        // caller's buffer).
        for e in events {
            match e {
                IceEvent::LocalCandidate(c) => {
                    self.events.push_back(Event::LocalCandidate(c.to_string()))
                }
                IceEvent::GatheringComplete => self.events.push_back(Event::GatheringComplete),
                IceEvent::GatheringStateChange(s) => {
                    self.events.push_back(Event::IceGatheringStateChange(s))
                }
                IceEvent::ConnectionStateChange(s) => {
                    self.ice.state = s;
                    self.events.push_back(Event::IceConnectionStateChange(s));
                    self.update_state();
                }
                IceEvent::SelectedPairChange { component: 1, pair } => {
                    self.ice.had_pair |= pair.is_some();
                    self.transport.selected = pair.map(|p| (p.source, p.destination));
                    self.maybe_start_dtls(now);
                }
                _ => {}
            }
        }
    }

    pub(crate) fn restart_ice_agent(&mut self) {
        if let (Some(ice), Some(now)) = (self.ice.agent.as_mut(), self.now) {
            ice.restart(now);
            self.ice.had_pair = false;
            if self.ice.end_of_candidates {
                ice.end_of_local_candidates(now);
            }
        }
    }

    /// Writes the gathered candidates (and end-of-candidates) into every
    /// bundled section, as a non-trickle description carries them.
    pub(crate) fn add_local_candidates(&self, sdp: &mut Sdp) {
        let Some(ice) = self.ice.agent.as_ref() else {
            return;
        };
        let cands = ice.local_candidates();
        let complete = ice.gathering_state() == IceGatheringState::Complete;
        for m in sdp.media_mut() {
            if m.port() == 0 {
                continue;
            }
            let existing: Vec<fulmar_sdp::Candidate> = m.candidates().collect();
            for c in &cands {
                if !existing.contains(c) {
                    let _ = m.push_candidate(c);
                }
            }
            if complete && !m.end_of_candidates() {
                let _ = m.push_attribute("end-of-candidates", None);
            }
        }
    }
}
