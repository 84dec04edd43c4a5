//! Candidates (RFC 8445 §5.1, RFC 8838): local host, relayed and
//! server-reflexive ones (gathering), remote ones as they trickle in, mDNS
//! names resolved before use.

use super::*;

impl IceAgent {
    /// Adds a host candidate: a local socket bound to `addr` for
    /// `component`. Returns the candidate and starts server-reflexive
    /// gathering from it. The candidate is emitted as an event unless
    /// [`IceConfig::public_addresses`] has addresses of its family: then
    /// each of those, with `addr`'s port, is emitted as a host candidate in
    /// its place (a NAT 1:1 mapping), while `addr` stays their base.
    pub fn add_host_candidate(
        &mut self,
        now: Instant,
        component: u16,
        addr: SocketAddr,
    ) -> Result<Candidate, Error> {
        self.check_usable(component)?;
        self.touch(now);
        if let Some(l) = self.locals.iter().find(|l| {
            l.cand.typ == CandidateType::Host
                && l.addr == addr
                && l.base == addr
                && l.cand.component == component
        }) {
            return Ok(l.cand.clone());
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return Err(Error::TooMany("local candidates"));
        }
        let same_family = self
            .locals
            .iter()
            .filter(|l| {
                l.cand.typ == CandidateType::Host
                    && l.addr == l.base
                    && l.addr.is_ipv4() == addr.is_ipv4()
            })
            .count();
        // RFC 8421: prefer IPv6 over IPv4; then the order of addition.
        let base_pref: u16 = if addr.is_ipv6() { 65535 } else { 65535 - 1024 };
        let local_pref = base_pref.saturating_sub(u16::try_from(same_family).unwrap_or(1000));
        let priority = candidate_priority(&CandidateType::Host, local_pref, component);
        let foundation = compute_foundation(&CandidateType::Host, addr.ip(), None);
        let cand = Candidate::udp(
            CandidateType::Host,
            component,
            addr,
            priority,
            foundation.clone(),
            None,
        );
        let public: Vec<SocketAddr> = self
            .config
            .public_addresses
            .iter()
            .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
            .map(|ip| SocketAddr::new(*ip, addr.port()))
            .collect();
        push_compact(
            &mut self.locals,
            LocalCand {
                cand: cand.clone(),
                base: addr,
                addr,
                local_pref,
                advertised: public.is_empty(),
            },
        );
        let idx = self.locals.len() - 1;
        if public.is_empty() {
            self.emit(IceEvent::LocalCandidate(cand.clone()));
        }
        // The public addresses stand for the host address as its reflexive
        // candidates would (§5.1.1.2: checks go out from the base), but are
        // signalled as host candidates, as a 1:1 NAT makes them: the same
        // priority and foundation. Several interfaces behind one mapping
        // give one public candidate per port (redundant ones are dropped,
        // §5.1.3).
        for p in public {
            let dup = self
                .locals
                .iter()
                .any(|l| l.addr == p && l.cand.component == component);
            if dup || self.locals.len() >= MAX_LOCAL_CANDIDATES {
                continue;
            }
            let c = Candidate::udp(
                CandidateType::Host,
                component,
                p,
                priority,
                foundation.clone(),
                None,
            );
            push_compact(
                &mut self.locals,
                LocalCand {
                    cand: c.clone(),
                    base: addr,
                    addr: p,
                    local_pref,
                    advertised: true,
                },
            );
            self.emit(IceEvent::LocalCandidate(c));
        }
        if !self.config.lite {
            for server in self.config.stun_servers.clone() {
                if server.is_ipv4() == addr.is_ipv4() {
                    self.gather_queue.push_back((addr, server));
                }
            }
        }
        self.pair_local(idx);
        self.update_gathering();
        self.update_state(now);
        Ok(cand)
    }

    /// Adds a relayed candidate obtained by a TURN client: `relayed` is the
    /// allocation's relayed transport address, `mapped` the client's
    /// server-reflexive address seen by the TURN server, `server` the TURN
    /// server's IP. Checks on it are emitted with `source == relayed`; the
    /// TURN client wraps them and hands back what arrives on the allocation
    /// with `destination == relayed`.
    pub fn add_relayed_candidate(
        &mut self,
        now: Instant,
        component: u16,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
    ) -> Result<Candidate, Error> {
        self.add_relayed_candidate_over(now, component, relayed, mapped, server, RelayProtocol::Udp)
    }

    /// [`Self::add_relayed_candidate`] for a TURN server reached over
    /// `protocol`, which sets the candidate's local preference (UDP before
    /// TCP before TLS) and foundation.
    pub fn add_relayed_candidate_over(
        &mut self,
        now: Instant,
        component: u16,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
        protocol: RelayProtocol,
    ) -> Result<Candidate, Error> {
        self.check_usable(component)?;
        if self.config.lite {
            return Err(Error::Lite);
        }
        self.touch(now);
        if let Some(l) = self
            .locals
            .iter()
            .find(|l| l.addr == relayed && l.cand.component == component)
        {
            return Ok(l.cand.clone());
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return Err(Error::TooMany("local candidates"));
        }
        let local_pref = protocol.local_preference();
        let cand = Candidate::udp(
            CandidateType::Relay,
            component,
            relayed,
            candidate_priority(&CandidateType::Relay, local_pref, component),
            compute_relay_foundation(mapped.ip(), server, protocol),
            Some(mapped),
        );
        push_compact(
            &mut self.locals,
            LocalCand {
                cand: cand.clone(),
                base: relayed,
                addr: relayed,
                local_pref,
                advertised: true,
            },
        );
        self.emit(IceEvent::LocalCandidate(cand.clone()));
        let idx = self.locals.len() - 1;
        self.pair_local(idx);
        self.update_gathering();
        self.update_state(now);
        Ok(cand)
    }

    /// Tells the agent that the application will add no more host or relayed
    /// candidates; gathering completes when the STUN transactions are done.
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.local_candidates_done = true;
        self.update_gathering();
        self.update_state(now);
    }

    // ------------------------------------------------------------------
    // Remote candidates
    // ------------------------------------------------------------------

    /// Adds a remote candidate, at any time (trickle ICE, RFC 8838 §11).
    /// Candidates the agent cannot use (TCP, unresolvable names, another
    /// generation's `ufrag`) are ignored with a [`IceEvent::CandidateIgnored`].
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: Candidate,
    ) -> Result<(), Error> {
        self.check_usable(candidate.component)?;
        self.touch(now);
        if candidate.transport != Transport::Udp {
            self.ignore(candidate, "transport other than UDP");
            return Ok(());
        }
        if !is_known_type(&candidate.typ) {
            self.ignore(candidate, "unknown candidate type");
            return Ok(());
        }
        if let (Some(u), Some(c)) = (candidate.extension("ufrag"), &self.remote_creds) {
            if u != c.ufrag {
                self.ignore(candidate, "ufrag of another ICE generation");
                return Ok(());
            }
        }
        let ip = match &candidate.address {
            CandidateAddress::Ip(ip) => *ip,
            CandidateAddress::Hostname(name) if candidate.address.is_mdns() => {
                let name = name.clone();
                let Some(resolver) = self.resolver.as_mut() else {
                    self.ignore_hidden(now, candidate, "mDNS candidate and no resolver installed");
                    return Ok(());
                };
                match resolver.resolve(&name) {
                    MdnsResolution::Resolved(ip) => ip,
                    MdnsResolution::NotFound => {
                        self.ignore_hidden(now, candidate, "mDNS name not found");
                        return Ok(());
                    }
                    MdnsResolution::Pending => {
                        if self.pending_mdns.len() >= MAX_PENDING_MDNS {
                            self.ignore(candidate, "too many mDNS names pending");
                        } else {
                            self.pending_mdns.push(PendingMdns {
                                name,
                                cand: candidate,
                            });
                        }
                        self.update_state(now);
                        return Ok(());
                    }
                }
            }
            CandidateAddress::Hostname(_) => {
                self.ignore(candidate, "hostname that is not an mDNS name");
                return Ok(());
            }
        };
        let addr = SocketAddr::new(ip, candidate.port);
        let r = self.add_resolved_remote(candidate, addr);
        self.update_state(now);
        r
    }

    /// Delivers the result of an mDNS query the resolver left
    /// [`MdnsResolution::Pending`]; `None` means the name did not resolve.
    pub fn handle_mdns_resolved(&mut self, now: Instant, name: &str, ip: Option<IpAddr>) {
        self.touch(now);
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_mdns)
            .into_iter()
            .partition(|p| p.name.eq_ignore_ascii_case(name));
        self.pending_mdns = rest;
        for p in done {
            match ip {
                Some(ip) => {
                    let addr = SocketAddr::new(ip, p.cand.port);
                    // Only a full candidate table refuses; then the name is dropped.
                    if self.add_resolved_remote(p.cand.clone(), addr).is_err() {
                        self.ignore(p.cand, "too many remote candidates");
                    }
                }
                None => self.ignore_hidden(now, p.cand, "mDNS name not found"),
            }
        }
        self.update_state(now);
    }

    /// The peer signalled end-of-candidates (RFC 8838 §13): once every pair
    /// has failed the agent may fail.
    pub fn end_of_remote_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.remote_eoc = true;
        self.update_state(now);
    }

    pub(super) fn add_resolved_remote(
        &mut self,
        mut candidate: Candidate,
        addr: SocketAddr,
    ) -> Result<(), Error> {
        candidate.address = CandidateAddress::Ip(addr.ip());
        if let Some(i) = self
            .remotes
            .iter()
            .position(|r| r.addr == addr && r.cand.component == candidate.component)
        {
            // A signalled candidate replaces the peer-reflexive one learned
            // earlier from a check (RFC 8838 §11 / RFC 8445 §7.3.1.3).
            if let Some(r) = self.remotes.get_mut(i) {
                if r.cand.typ == CandidateType::PeerReflexive
                    && candidate.typ != CandidateType::PeerReflexive
                {
                    r.cand = candidate;
                }
            }
            return Ok(());
        }
        if self.remotes.len() >= self.config.max_remote_candidates {
            return Err(Error::TooMany("remote candidates"));
        }
        push_compact(
            &mut self.remotes,
            RemoteCand {
                cand: candidate,
                addr,
            },
        );
        let r = self.remotes.len() - 1;
        if !self.config.lite {
            for l in 0..self.locals.len() {
                self.add_pair(l, r);
            }
        }
        Ok(())
    }

    /// Ignores a remote candidate whose mDNS name did not resolve: the peer
    /// is then waited for a while even after its end-of-candidates, since
    /// its checks will tell its address (see `HIDDEN_PEER_GRACE`).
    fn ignore_hidden(&mut self, now: Instant, candidate: Candidate, reason: &'static str) {
        self.hidden_peer_since.get_or_insert(now);
        self.ignore(candidate, reason);
    }

    pub(super) fn ignore(&mut self, candidate: Candidate, reason: &'static str) {
        self.emit(IceEvent::CandidateIgnored {
            candidate: Box::new(candidate),
            reason,
        });
    }

    // ------------------------------------------------------------------
    // Pairs and the checklist
    // ------------------------------------------------------------------

    pub(super) fn send_gather(&mut self, now: Instant, base: SocketAddr, server: SocketAddr) {
        let id = self.new_tid();
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, id);
        b.add_fingerprint();
        let Ok(bytes) = b.finish() else { return };
        let payload = bytes.to_vec();
        self.start_transaction(
            now,
            id,
            TxKind::Gather { base, server },
            base,
            server,
            payload,
            self.config.max_transmissions,
            0,
        );
    }

    pub(super) fn add_srflx(&mut self, base: SocketAddr, mapped: SocketAddr, server: SocketAddr) {
        // Redundant candidates (same address and base) are dropped (§5.1.3).
        if self
            .locals
            .iter()
            .any(|l| l.addr == mapped && l.base == base)
        {
            return;
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return;
        }
        let Some(host) = self
            .locals
            .iter()
            .find(|l| l.addr == base && l.cand.typ == CandidateType::Host)
            .cloned()
        else {
            return;
        };
        let component = host.cand.component;
        let cand = Candidate::udp(
            CandidateType::ServerReflexive,
            component,
            mapped,
            candidate_priority(&CandidateType::ServerReflexive, host.local_pref, component),
            compute_foundation(
                &CandidateType::ServerReflexive,
                base.ip(),
                Some(server.ip()),
            ),
            Some(base),
        );
        push_compact(
            &mut self.locals,
            LocalCand {
                cand: cand.clone(),
                base,
                addr: mapped,
                local_pref: host.local_pref,
                advertised: true,
            },
        );
        self.emit(IceEvent::LocalCandidate(cand));
    }

    // ------------------------------------------------------------------
    // Nomination and selection
    // ------------------------------------------------------------------

    pub(super) fn update_gathering(&mut self) {
        let gathering_tx = self
            .transactions
            .iter()
            .any(|t| matches!(t.kind, TxKind::Gather { .. }));
        let new = if self.locals.is_empty() && !self.local_candidates_done {
            IceGatheringState::New
        } else if self.local_candidates_done && !gathering_tx && self.gather_queue.is_empty() {
            IceGatheringState::Complete
        } else {
            IceGatheringState::Gathering
        };
        if new != self.gathering {
            self.gathering = new;
            self.emit(IceEvent::GatheringStateChange(new));
            if new == IceGatheringState::Complete {
                self.emit(IceEvent::GatheringComplete);
            }
        }
    }
}
