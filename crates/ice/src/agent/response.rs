//! Responses to our checks and gathering requests (RFC 8445 §7.2.5):
//! success, role conflicts (487) and failures.

use super::*;

impl IceAgent {
    pub(super) fn handle_response(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        msg: &Message<'_>,
    ) {
        let tid = msg.transaction_id();
        let Some(ti) = self.transactions.iter().position(|t| t.id == tid) else {
            self.stats.unmatched_responses += 1;
            return;
        };
        let Some(tx) = self.transactions.get(ti).cloned() else {
            return;
        };
        match tx.kind {
            TxKind::Gather { base, server } => {
                if source != server {
                    self.stats.unmatched_responses += 1;
                    return;
                }
                self.transactions.remove(ti);
                if msg.class() == Class::SuccessResponse {
                    let mapped = msg
                        .get::<XorMappedAddress>()
                        .map(|a| a.0)
                        .or_else(|_| msg.get::<MappedAddress>().map(|a| a.0));
                    if let Ok(mapped) = mapped {
                        self.add_srflx(base, mapped, server);
                    }
                }
                self.update_gathering();
            }
            TxKind::Check {
                pair,
                use_candidate,
            } => {
                let Some(key) = self.remote_key.as_ref() else {
                    return;
                };
                if msg.verify_integrity(key).is_err() {
                    // Unauthenticated responses are ignored, not fatal (§7.2.5.1).
                    self.stats.unauthenticated += 1;
                    return;
                }
                self.transactions.remove(ti);
                self.check_response(now, tx, pair, use_candidate, source, destination, msg);
            }
            TxKind::Consent { component } => {
                let Some(key) = self.remote_key.as_ref() else {
                    return;
                };
                if msg.verify_integrity(key).is_err() {
                    self.stats.unauthenticated += 1;
                    return;
                }
                self.transactions.remove(ti);
                if msg.class() != Class::SuccessResponse
                    || source != tx.destination
                    || destination != tx.source
                {
                    return;
                }
                let rtt = now.saturating_duration_since(tx.first_sent);
                if let Some(s) = self
                    .selected
                    .get_mut(usize::from(component) - 1)
                    .and_then(|s| s.as_mut())
                {
                    if s.pair.destination == source && s.pair.source == destination {
                        s.last_consent_response = now;
                    }
                    if let Some(p) = s.index.and_then(|i| self.pairs.get_mut(i)) {
                        record_rtt(&mut p.counters, now, rtt);
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_response(
        &mut self,
        now: Instant,
        tx: Transaction,
        pair: usize,
        use_candidate: bool,
        source: SocketAddr,
        destination: SocketAddr,
        msg: &Message<'_>,
    ) {
        if let Some(p) = self.pairs.get_mut(pair) {
            record_rtt(
                &mut p.counters,
                now,
                now.saturating_duration_since(tx.first_sent),
            );
        }
        if msg.class() == Class::ErrorResponse {
            let code = msg.get::<ErrorCode>().map(|e| e.code).unwrap_or(0);
            if code == 487 {
                // Role conflict (RFC 8445 §7.2.5.1): switch if the request
                // carried our current role, then retry the pair.
                self.stats.role_conflicts += 1;
                if tx.role == self.role {
                    let new = match self.role {
                        IceRole::Controlling => IceRole::Controlled,
                        IceRole::Controlled => IceRole::Controlling,
                    };
                    self.set_role(new);
                }
                self.enqueue_triggered(pair, false);
            } else {
                self.pair_failed(pair);
            }
            return;
        }
        // Non-symmetric transport addresses fail the pair (§7.2.5.2.1).
        if source != tx.destination || destination != tx.source {
            self.pair_failed(pair);
            return;
        }
        let Ok(XorMappedAddress(mapped)) = msg.get::<XorMappedAddress>() else {
            self.pair_failed(pair);
            return;
        };
        // The valid pair's local candidate (§7.2.5.3.1): a known local
        // candidate with the mapped address, else a new peer-reflexive one.
        let Some(local) = self.pairs.get(pair).map(|p| p.local) else {
            return;
        };
        let base = match self.locals.get(local) {
            Some(l) => l.base,
            None => return,
        };
        let component = self.pairs.get(pair).map_or(1, |p| p.component);
        let mapped_local = match self
            .locals
            .iter()
            .position(|l| l.addr == mapped && l.base == base && l.cand.component == component)
        {
            Some(m) => Some(m),
            None if self.locals.len() < MAX_LOCAL_CANDIDATES * 2 => {
                let local_pref = self.locals.get(local).map_or(0, |l| l.local_pref);
                let cand = Candidate::udp(
                    CandidateType::PeerReflexive,
                    component,
                    mapped,
                    tx.priority,
                    compute_foundation(&CandidateType::PeerReflexive, base.ip(), None),
                    Some(base),
                );
                push_compact(
                    &mut self.locals,
                    LocalCand {
                        cand,
                        base,
                        addr: mapped,
                        local_pref,
                        advertised: true,
                    },
                );
                Some(self.locals.len() - 1)
            }
            None => None,
        };
        let foundation = {
            let Some(p) = self.pairs.get_mut(pair) else {
                return;
            };
            p.state = PairState::Succeeded;
            p.valid = true;
            p.mapped_local = mapped_local.filter(|m| *m != local);
            p.foundation.clone()
        };
        // Unfreeze pairs of the same foundation (§7.2.5.3.3).
        for p in &mut self.pairs {
            if p.foundation == foundation && p.state == PairState::Frozen {
                p.state = PairState::Waiting;
            }
        }
        let c = usize::from(component) - 1;
        if let Some(f) = self.first_valid_at.get_mut(c) {
            f.get_or_insert(now);
        }
        // Nomination (§7.2.5.3.4).
        let nominated = match self.role {
            IceRole::Controlling => use_candidate,
            IceRole::Controlled => self.pairs.get(pair).is_some_and(|p| p.nominate_on_success),
        };
        if nominated {
            if let Some(p) = self.pairs.get_mut(pair) {
                p.nominated = true;
            }
            if let Some(n) = self.nominating.get_mut(c) {
                *n = None;
            }
            self.select(now, pair);
        }
        self.nominate(now);
    }
}
