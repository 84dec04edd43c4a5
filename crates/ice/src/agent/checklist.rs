//! The checklist (RFC 8445 §6.1.2, §6.1.4): pairs and their priorities,
//! paced and triggered checks, and the STUN transactions that carry them
//! (retransmission and failure).

use super::*;

impl IceAgent {
    pub(super) fn pair_local(&mut self, l: usize) {
        if self.config.lite {
            return;
        }
        for r in 0..self.remotes.len() {
            self.add_pair(l, r);
        }
    }

    /// Forms the pair (l, r) if they are compatible (RFC 8445 §6.1.2.2):
    /// same component, same address family, and a local candidate that is
    /// its own base (reflexive locals are replaced by their base, §6.1.2.4).
    pub(super) fn add_pair(&mut self, l: usize, r: usize) -> Option<usize> {
        let (lc, rc) = (self.locals.get(l)?, self.remotes.get(r)?);
        if lc.cand.component != rc.cand.component
            || lc.addr.is_ipv4() != rc.addr.is_ipv4()
            || !matches!(lc.cand.typ, CandidateType::Host | CandidateType::Relay)
            || lc.addr != lc.base
        {
            return None;
        }
        if let Some(i) = self.find_pair(lc.base, rc.addr) {
            return Some(i);
        }
        if self.pairs.len() >= self.config.max_pairs {
            return None;
        }
        let foundation = (lc.cand.foundation.clone(), rc.cand.foundation.clone());
        // RFC 8838 §10 / RFC 8445 §6.1.2.6: a new pair starts Waiting unless
        // another pair of its foundation is already being checked.
        let busy = self.pairs.iter().any(|p| {
            p.foundation == foundation
                && matches!(p.state, PairState::Waiting | PairState::InProgress)
        });
        let succeeded = self
            .pairs
            .iter()
            .any(|p| p.foundation == foundation && p.state == PairState::Succeeded);
        let state = if succeeded || !busy {
            PairState::Waiting
        } else {
            PairState::Frozen
        };
        push_compact(
            &mut self.pairs,
            Pair {
                local: l,
                remote: r,
                component: lc.cand.component,
                foundation,
                state,
                valid: false,
                nominated: false,
                nominate_on_success: false,
                mapped_local: None,
                counters: Counters::default(),
            },
        );
        Some(self.pairs.len() - 1)
    }

    pub(super) fn find_pair(&self, base: SocketAddr, remote: SocketAddr) -> Option<usize> {
        self.pairs.iter().position(|p| {
            self.locals.get(p.local).is_some_and(|l| l.base == base)
                && self.remotes.get(p.remote).is_some_and(|r| r.addr == remote)
        })
    }

    /// The pair priority with the current roles (RFC 8445 §6.1.2.3); a valid
    /// pair uses its mapped local candidate (§7.2.5.3.2).
    pub(super) fn priority_of(&self, p: &Pair) -> u64 {
        let local = p
            .mapped_local
            .and_then(|m| self.locals.get(m))
            .or_else(|| self.locals.get(p.local))
            .map_or(0, |l| l.cand.priority);
        let remote = self.remotes.get(p.remote).map_or(0, |r| r.cand.priority);
        match self.role {
            IceRole::Controlling => pair_priority(local, remote),
            IceRole::Controlled => pair_priority(remote, local),
        }
    }

    pub(super) fn component_done(&self, component: u16) -> bool {
        self.pairs
            .iter()
            .any(|p| p.component == component && p.nominated)
    }

    pub(super) fn find_pair_idx(&self, local: usize, remote: usize) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.local == local && p.remote == remote)
    }

    /// A pair for a lite agent, outside the checklist rules.
    pub(super) fn force_pair(&mut self, local: usize, remote: usize) -> Option<usize> {
        if self.pairs.len() >= self.config.max_pairs {
            return None;
        }
        let l = self.locals.get(local)?;
        let r = self.remotes.get(remote)?;
        push_compact(
            &mut self.pairs,
            Pair {
                local,
                remote,
                component: l.cand.component,
                foundation: (l.cand.foundation.clone(), r.cand.foundation.clone()),
                state: PairState::Waiting,
                valid: false,
                nominated: false,
                nominate_on_success: false,
                mapped_local: None,
                counters: Counters::default(),
            },
        );
        Some(self.pairs.len() - 1)
    }

    pub(super) fn enqueue_triggered(&mut self, pair: usize, nominate: bool) {
        if let Some(e) = self.triggered.iter_mut().find(|(p, _)| *p == pair) {
            e.1 |= nominate;
            return;
        }
        if self.triggered.len() >= self.config.max_pairs {
            return;
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if p.state != PairState::Succeeded {
                p.state = PairState::Waiting;
            }
        }
        self.triggered.push_back((pair, nominate));
    }

    pub(super) fn has_paced_work(&self) -> bool {
        if self.closed {
            return false;
        }
        if !self.gather_queue.is_empty() {
            return true;
        }
        if self.config.lite || self.remote_creds.is_none() {
            return false;
        }
        if self.transactions.len() >= MAX_TRANSACTIONS {
            return false;
        }
        if !self.triggered.is_empty() {
            return true;
        }
        // A Waiting pair, or a Frozen one that send_paced would unfreeze
        // (no pair of its foundation Waiting or In-Progress). Frozen pairs
        // held by a running check cause no wake-ups.
        self.pairs.iter().any(|p| {
            !self.component_done(p.component)
                && match p.state {
                    PairState::Waiting => true,
                    PairState::Frozen => !self.pairs.iter().any(|q| {
                        q.foundation == p.foundation
                            && matches!(q.state, PairState::Waiting | PairState::InProgress)
                    }),
                    _ => false,
                }
        })
    }

    /// Starts one new transaction, the one Ta allows (RFC 8445 §6.1.4.2):
    /// gathering first, then the triggered-check queue, then the
    /// highest-priority Waiting pair (unfreezing one per foundation if none).
    pub(super) fn send_paced(&mut self, now: Instant) -> bool {
        if self.transactions.len() >= MAX_TRANSACTIONS {
            return false;
        }
        if let Some((base, server)) = self.gather_queue.pop_front() {
            self.send_gather(now, base, server);
            return true;
        }
        if self.config.lite || self.remote_creds.is_none() {
            return false;
        }
        while let Some((pair, nominate)) = self.triggered.pop_front() {
            if self.pairs.get(pair).is_some() {
                self.send_check(now, pair, nominate);
                return true;
            }
        }
        let pick = |s: &Self| {
            s.pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.state == PairState::Waiting && !s.component_done(p.component))
                .max_by_key(|(_, p)| s.priority_of(p))
                .map(|(i, _)| i)
        };
        let mut chosen = pick(self);
        if chosen.is_none() {
            // Unfreeze the best Frozen pair of each foundation that has no
            // pair Waiting or In-Progress.
            let mut order: Vec<usize> = (0..self.pairs.len())
                .filter(|&i| {
                    self.pairs.get(i).is_some_and(|p| {
                        p.state == PairState::Frozen && !self.component_done(p.component)
                    })
                })
                .collect();
            order.sort_by_key(|&i| {
                std::cmp::Reverse(self.pairs.get(i).map_or(0, |p| self.priority_of(p)))
            });
            for i in order {
                let Some(f) = self.pairs.get(i).map(|p| p.foundation.clone()) else {
                    continue;
                };
                let busy = self.pairs.iter().any(|p| {
                    p.foundation == f
                        && matches!(p.state, PairState::Waiting | PairState::InProgress)
                });
                if !busy {
                    if let Some(p) = self.pairs.get_mut(i) {
                        p.state = PairState::Waiting;
                    }
                }
            }
            chosen = pick(self);
        }
        match chosen {
            Some(i) => {
                self.send_check(now, i, false);
                true
            }
            None => false,
        }
    }

    pub(super) fn new_tid(&mut self) -> TransactionId {
        let mut b = [0u8; 12];
        self.rng.fill_bytes(&mut b);
        TransactionId::new(b)
    }

    /// The ICE request for `pair` (RFC 8445 §7.2.2): USERNAME, PRIORITY,
    /// ICE-CONTROLLING/CONTROLLED, USE-CANDIDATE when nominating,
    /// MESSAGE-INTEGRITY with the peer's password, FINGERPRINT.
    pub(super) fn build_request(
        &mut self,
        id: TransactionId,
        local: usize,
        component: u16,
        use_candidate: bool,
    ) -> Option<(Vec<u8>, u32)> {
        let creds = self.remote_creds.as_ref()?;
        let l = self.locals.get(local)?;
        let prio = candidate_priority(&CandidateType::PeerReflexive, l.local_pref, component);
        let username = format!("{}:{}", creds.ufrag, self.local_creds.ufrag);
        let key = self.remote_key.as_ref()?;
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, id);
        b.add(&Username(&username)).add(&Priority(prio));
        match self.role {
            IceRole::Controlling => {
                b.add(&IceControlling(self.tiebreaker));
                if use_candidate {
                    b.add(&UseCandidate);
                }
            }
            IceRole::Controlled => {
                b.add(&IceControlled(self.tiebreaker));
            }
        }
        b.add_message_integrity(key).add_fingerprint();
        let bytes = b.finish().ok()?;
        Some((bytes.to_vec(), prio))
    }

    pub(super) fn send_check(&mut self, now: Instant, pair: usize, nominate: bool) {
        let Some(p) = self.pairs.get(pair) else {
            return;
        };
        let (local, remote, component) = (p.local, p.remote, p.component);
        let (Some(l), Some(r)) = (self.locals.get(local), self.remotes.get(remote)) else {
            return;
        };
        let (source, destination) = (l.base, r.addr);
        let use_candidate = nominate && self.role == IceRole::Controlling;
        let id = self.new_tid();
        let Some((payload, prio)) = self.build_request(id, local, component, use_candidate) else {
            return;
        };
        // A check already in flight for the pair is cancelled (RFC 8445 §7.2.5.4).
        for t in &mut self.transactions {
            if matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair) {
                t.cancelled = true;
            }
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if p.state != PairState::Succeeded {
                p.state = PairState::InProgress;
            }
        }
        self.start_transaction(
            now,
            id,
            TxKind::Check {
                pair,
                use_candidate,
            },
            source,
            destination,
            payload,
            self.config.max_transmissions,
            prio,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_transaction(
        &mut self,
        now: Instant,
        id: TransactionId,
        kind: TxKind,
        source: SocketAddr,
        destination: SocketAddr,
        payload: Vec<u8>,
        max_transmissions: u32,
        priority: u32,
    ) {
        // RFC 8445 §14.3: RTO = MAX(500 ms, Ta * (Waiting + In-Progress)),
        // with the configured floor.
        let active = self
            .pairs
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count();
        let rto = self
            .config
            .rto
            .max(self.config.ta * u32::try_from(active).unwrap_or(u32::MAX / 2).min(100));
        self.push_transaction(
            now,
            id,
            kind,
            (source, destination),
            payload,
            rto,
            max_transmissions,
            priority,
        );
    }

    /// Sends a request now and keeps it for retransmission with an initial
    /// RTO of `rto`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_transaction(
        &mut self,
        now: Instant,
        id: TransactionId,
        kind: TxKind,
        (source, destination): (SocketAddr, SocketAddr),
        payload: Vec<u8>,
        rto: Duration,
        max_transmissions: u32,
        priority: u32,
    ) {
        let mut timer = ClientTransaction::new(now, self.retransmission(rto, max_transmissions));
        if !timer.poll_transmit() {
            return;
        }
        self.count_request(kind, now);
        self.send(source, destination, Outgoing::Request(id));
        push_compact(
            &mut self.transactions,
            Transaction {
                id,
                kind,
                payload,
                source,
                destination,
                first_sent: now,
                timer,
                cancelled: false,
                role: self.role,
                priority,
            },
        );
    }

    /// RFC 8489 §6.2.1 timing for one request: `max_transmissions` (Rc)
    /// sends, the RTO doubling from `rto` up to the configured cap, and the
    /// last wait continuing the doubling under that cap.
    fn retransmission(&self, rto: Duration, max_transmissions: u32) -> TransactionConfig {
        let max_rto = self.config.max_rto.max(self.config.rto);
        let rc = max_transmissions.max(1);
        TransactionConfig {
            rto: rto.min(max_rto),
            max_transmissions: rc,
            last_wait_factor: 1 << (rc - 1).min(16),
            max_rto,
        }
    }

    pub(super) fn count_request(&mut self, kind: TxKind, now: Instant) {
        let pair = match kind {
            TxKind::Check { pair, .. } => Some(pair),
            TxKind::Consent { component } => self
                .selected
                .get(usize::from(component) - 1)
                .and_then(|s| s.as_ref())
                .and_then(|s| s.index),
            TxKind::Gather { .. } => None,
        };
        if let Some(p) = pair.and_then(|i| self.pairs.get_mut(i)) {
            p.counters.requests_sent += 1;
            p.counters.last_request_sent = Some(now);
            if matches!(kind, TxKind::Consent { .. }) {
                p.counters.consent_requests_sent += 1;
            }
        }
        if let TxKind::Check { .. } | TxKind::Consent { .. } = kind {
            let base = match kind {
                TxKind::Check { pair, .. } => self
                    .pairs
                    .get(pair)
                    .and_then(|p| self.locals.get(p.local))
                    .map(|l| l.base),
                _ => None,
            };
            for s in self.selected.iter_mut().flatten() {
                if Some(s.pair.source) == base
                    || matches!(kind, TxKind::Consent { component } if component == s.pair.component)
                {
                    s.last_sent = now;
                }
            }
        }
    }

    /// Retransmits due requests and fails those out of transmissions.
    pub(super) fn run_transactions(&mut self, now: Instant) {
        let mut resend = Vec::new();
        let mut failed = Vec::new();
        self.transactions.retain_mut(|t| {
            if t.timer.poll_timeout().is_some_and(|due| due > now) {
                return true;
            }
            if t.cancelled {
                // Kept until its next deadline only to match a late response.
                return false;
            }
            t.timer.handle_timeout(now);
            if t.timer.poll_transmit() {
                resend.push((t.kind, t.source, t.destination, t.id));
                return true;
            }
            if t.timer.is_timed_out() {
                failed.push(t.kind);
            }
            !t.timer.is_finished()
        });
        for (kind, s, d, id) in resend {
            self.count_request(kind, now);
            self.send(s, d, Outgoing::Request(id));
        }
        for kind in failed {
            match kind {
                TxKind::Check { pair, .. } => self.pair_failed(pair),
                TxKind::Gather { .. } | TxKind::Consent { .. } => {}
            }
        }
    }

    pub(super) fn pair_failed(&mut self, pair: usize) {
        // Another transaction (a newer triggered check) may still be running.
        let other = self
            .transactions
            .iter()
            .any(|t| !t.cancelled && matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair));
        let queued = self.triggered.iter().any(|(q, _)| *q == pair);
        if other || queued {
            return;
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if !p.valid {
                p.state = PairState::Failed;
            }
            let c = usize::from(p.component) - 1;
            if self.nominating.get(c).copied().flatten() == Some(pair) {
                if let Some(n) = self.nominating.get_mut(c) {
                    *n = None;
                }
                // A nomination that failed leaves the pair unusable.
                p.state = PairState::Failed;
                p.valid = false;
            }
        }
    }

    // ------------------------------------------------------------------
    // Requests (RFC 8445 §7.3)
    // ------------------------------------------------------------------
}
