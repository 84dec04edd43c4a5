//! Checks from the peer (RFC 8445 §7.3): authentication, role conflicts,
//! peer-reflexive candidates, triggered checks and responses.

use super::*;

impl IceAgent {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        msg: &Message<'_>,
    ) {
        let Some(local) = self.locals.iter().position(|l| {
            l.base == destination
                && l.addr == l.base
                && matches!(l.cand.typ, CandidateType::Host | CandidateType::Relay)
        }) else {
            self.stats.unknown_destination += 1;
            return;
        };
        let tid = msg.transaction_id();
        // RFC 8489 §9.1.3: no USERNAME or MESSAGE-INTEGRITY -> 400.
        let username = match msg.get::<Username>() {
            Ok(u) => u,
            Err(_) => {
                self.stats.unauthenticated += 1;
                self.send_error(destination, source, tid, 400, false);
                return;
            }
        };
        if !msg.has_message_integrity() && !msg.has_message_integrity_sha256() {
            self.stats.unauthenticated += 1;
            self.send_error(destination, source, tid, 400, false);
            return;
        }
        // USERNAME is "<our ufrag>:<their ufrag>" (RFC 8445 §7.3).
        let mut parts = username.as_str().splitn(2, ':');
        let ours = parts.next().unwrap_or("");
        let theirs = parts.next();
        let their_ok = match (&self.remote_creds, theirs) {
            (_, None) => false,
            (Some(c), Some(t)) => c.ufrag == t,
            (None, Some(_)) => true,
        };
        if ours != self.local_creds.ufrag || !their_ok {
            self.stats.unauthenticated += 1;
            self.send_error(destination, source, tid, 401, false);
            return;
        }
        let key = self.local_key.clone();
        if msg.verify_integrity(&key).is_err() {
            self.stats.unauthenticated += 1;
            self.send_error(destination, source, tid, 401, false);
            return;
        }
        let unknown: Vec<AttributeType> = msg.unknown_comprehension_required().take(8).collect();
        if !unknown.is_empty() {
            self.send_unknown(destination, source, tid, &unknown);
            return;
        }
        let Ok(Priority(prio)) = msg.get::<Priority>() else {
            self.send_error(destination, source, tid, 400, true);
            return;
        };

        // Role conflict (RFC 8445 §7.3.1.1).
        if !self.config.lite || self.remote_lite {
            match (
                self.role,
                msg.get::<IceControlling>(),
                msg.get::<IceControlled>(),
            ) {
                (IceRole::Controlling, Ok(IceControlling(t)), _) => {
                    self.stats.role_conflicts += 1;
                    if self.tiebreaker >= t {
                        self.send_error(destination, source, tid, 487, true);
                        return;
                    }
                    self.set_role(IceRole::Controlled);
                }
                (IceRole::Controlled, _, Ok(IceControlled(t))) => {
                    self.stats.role_conflicts += 1;
                    if self.tiebreaker >= t {
                        self.set_role(IceRole::Controlling);
                    } else {
                        self.send_error(destination, source, tid, 487, true);
                        return;
                    }
                }
                _ => {}
            }
        }

        // Success response with XOR-MAPPED-ADDRESS (RFC 8445 §7.3.1.2),
        // written when polled.
        self.send(destination, source, Outgoing::Success(tid));

        // The remote candidate, peer-reflexive if unknown (§7.3.1.3).
        let component = self.locals.get(local).map_or(1, |l| l.cand.component);
        let remote = match self
            .remotes
            .iter()
            .position(|r| r.addr == source && r.cand.component == component)
        {
            Some(r) => r,
            None => {
                if self.remotes.len() >= self.config.max_remote_candidates {
                    return;
                }
                self.prflx_counter = self.prflx_counter.wrapping_add(1);
                let cand = Candidate::udp(
                    CandidateType::PeerReflexive,
                    component,
                    source,
                    prio,
                    format!("prflx{}", self.prflx_counter),
                    None,
                );
                self.stats.peer_reflexive_learned += 1;
                push_compact(&mut self.remotes, RemoteCand { cand, addr: source });
                let r = self.remotes.len() - 1;
                if !self.config.lite {
                    for l in 0..self.locals.len() {
                        self.add_pair(l, r);
                    }
                }
                r
            }
        };
        let use_candidate = msg.get::<UseCandidate>().is_ok();

        if self.config.lite {
            // A lite agent forms the pair from the check and takes the
            // controlling agent's nomination as is (RFC 8445 §7.3.1.5).
            let pair = match self.find_pair_idx(local, remote) {
                Some(p) => Some(p),
                None => self.force_pair(local, remote),
            };
            if let Some(pi) = pair {
                if let Some(p) = self.pairs.get_mut(pi) {
                    p.counters.requests_received += 1;
                    p.counters.responses_sent += 1;
                    p.state = PairState::Succeeded;
                    p.valid = true;
                    if use_candidate {
                        p.nominated = true;
                    }
                }
                if use_candidate {
                    self.select(now, pi);
                }
            }
            return;
        }

        let Some(pair) = self.find_pair(destination, source) else {
            return;
        };
        if let Some(p) = self.pairs.get_mut(pair) {
            p.counters.requests_received += 1;
            p.counters.responses_sent += 1;
        }
        // Triggered check (RFC 8445 §7.3.1.4).
        let state = self.pairs.get(pair).map(|p| p.state);
        match state {
            Some(PairState::Succeeded) => {}
            Some(PairState::InProgress) => {
                for t in &mut self.transactions {
                    if matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair) {
                        t.cancelled = true;
                    }
                }
                self.enqueue_triggered(pair, false);
            }
            Some(_) => self.enqueue_triggered(pair, false),
            None => {}
        }
        // Nomination by the controlling peer (RFC 8445 §7.3.1.5).
        if use_candidate && self.role == IceRole::Controlled {
            let succeeded = self.pairs.get(pair).is_some_and(|p| p.valid);
            if succeeded {
                if let Some(p) = self.pairs.get_mut(pair) {
                    p.nominated = true;
                }
                self.select(now, pair);
            } else if let Some(p) = self.pairs.get_mut(pair) {
                p.nominate_on_success = true;
            }
        }
    }

    // ------------------------------------------------------------------
    // Responses (RFC 8445 §7.2.5)
    // ------------------------------------------------------------------
}
