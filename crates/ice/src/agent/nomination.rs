//! Nomination (RFC 8445 §8.1) and the selected pair.

use super::*;

impl IceAgent {
    /// Regular nomination (RFC 8445 §8.1.1): once the best valid pair of a
    /// component cannot be beaten by a pair still being checked, or after
    /// `nomination_timeout`, check it again with USE-CANDIDATE.
    pub(super) fn nominate(&mut self, now: Instant) {
        if self.role != IceRole::Controlling || self.config.lite || self.remote_creds.is_none() {
            return;
        }
        for c in 1..=self.config.components {
            let ci = usize::from(c) - 1;
            if self.component_done(c) || self.nominating.get(ci).copied().flatten().is_some() {
                continue;
            }
            let best = self
                .pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.component == c && p.valid && p.state == PairState::Succeeded)
                .max_by_key(|(_, p)| self.priority_of(p))
                .map(|(i, p)| (i, self.priority_of(p)));
            let Some((best, best_prio)) = best else {
                continue;
            };
            let better_pending = self.pairs.iter().any(|p| {
                p.component == c
                    && matches!(
                        p.state,
                        PairState::Frozen | PairState::Waiting | PairState::InProgress
                    )
                    && self.priority_of(p) > best_prio
            });
            let waited = self
                .first_valid_at
                .get(ci)
                .copied()
                .flatten()
                .is_some_and(|f| now >= f + self.config.nomination_timeout);
            if !better_pending || waited {
                if let Some(n) = self.nominating.get_mut(ci) {
                    *n = Some(best);
                }
                self.enqueue_triggered(best, true);
            }
        }
    }

    pub(super) fn select(&mut self, now: Instant, pair: usize) {
        // Lost consent is final for this ICE generation (RFC 7675 §5.1):
        // only a restart selects again.
        if self.consent_lost {
            return;
        }
        let Some(p) = self.pairs.get(pair) else {
            return;
        };
        let c = usize::from(p.component) - 1;
        // Among nominated pairs the highest priority wins (§8.1.1).
        if let Some(Some(cur)) = self.selected.get(c) {
            if let Some(cur_pair) = cur.index.and_then(|i| self.pairs.get(i)) {
                if cur.index == Some(pair) || self.priority_of(cur_pair) > self.priority_of(p) {
                    return;
                }
            }
        }
        let (Some(l), Some(r)) = (self.locals.get(p.local), self.remotes.get(p.remote)) else {
            return;
        };
        let local = p
            .mapped_local
            .and_then(|m| self.locals.get(m))
            .unwrap_or(l)
            .cand
            .clone();
        let sp = SelectedPair {
            component: p.component,
            local,
            remote: r.cand.clone(),
            source: l.base,
            destination: r.addr,
        };
        let jitter = self.consent_jitter();
        let sel = Selected {
            pair: sp.clone(),
            index: Some(pair),
            next_consent: now + jitter,
            last_consent_response: now,
            last_sent: now,
        };
        if let Some(slot) = self.selected.get_mut(c) {
            *slot = Some(sel);
        }
        self.emit(IceEvent::SelectedPairChange {
            component: sp.component,
            pair: Some(Box::new(sp)),
        });
        // Once nominated, lower-priority checks of the component stop (§8.1.2).
        let prio = self.pairs.get(pair).map_or(0, |p| self.priority_of(p));
        let component = c + 1;
        let lower: Vec<usize> = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, q)| {
                usize::from(q.component) == component
                    && q.state == PairState::InProgress
                    && self.priority_of(q) < prio
            })
            .map(|(i, _)| i)
            .collect();
        for t in &mut self.transactions {
            if matches!(t.kind, TxKind::Check { pair: q, use_candidate: false } if lower.contains(&q))
            {
                t.cancelled = true;
            }
        }
    }
}
