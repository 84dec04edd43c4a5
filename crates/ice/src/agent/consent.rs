//! Consent freshness (RFC 7675) and keepalives on the selected pairs.

use super::*;

impl IceAgent {
    pub(super) fn consent_jitter(&mut self) -> Duration {
        // RFC 7675 §5.1: uniformly 0.8..1.2 of the interval.
        let f: f64 = self.rng.gen_range(0.8..1.2);
        self.config.consent_interval.mul_f64(f)
    }

    // ------------------------------------------------------------------
    // Consent freshness (RFC 7675) and keepalives (RFC 8445 §11)
    // ------------------------------------------------------------------

    pub(super) fn run_consent(&mut self, now: Instant) {
        let mut to_check = Vec::new();
        let mut lost = false;
        let mut keepalive = Vec::new();
        let creds = self.remote_creds.is_some();
        for s in self.selected.iter_mut().flatten() {
            if creds && !self.config.lite && !self.consent_lost {
                if now >= s.last_consent_response + self.config.consent_timeout {
                    lost = true;
                    continue;
                }
                if now >= s.next_consent {
                    to_check.push(s.pair.component);
                }
            }
            if now >= s.last_sent + self.config.keepalive_interval {
                s.last_sent = now;
                keepalive.push((s.pair.source, s.pair.destination));
            }
        }
        if lost {
            // Consent expired: stop sending (RFC 7675 §5.1); the agent fails.
            self.consent_lost = true;
            for c in 0..self.selected.len() {
                if let Some(slot) = self.selected.get_mut(c) {
                    if slot.take().is_some() {
                        self.emit(IceEvent::SelectedPairChange {
                            component: u16::try_from(c + 1).unwrap_or(u16::MAX),
                            pair: None,
                        });
                    }
                }
            }
            return;
        }
        for component in to_check {
            let jitter = self.consent_jitter();
            let Some(s) = self
                .selected
                .get_mut(usize::from(component) - 1)
                .and_then(|s| s.as_mut())
            else {
                continue;
            };
            s.next_consent = now + jitter;
            let (src, dst) = (s.pair.source, s.pair.destination);
            let base_local = self.locals.iter().position(|l| {
                l.base == src
                    && l.addr == l.base
                    && matches!(l.cand.typ, CandidateType::Host | CandidateType::Relay)
            });
            let Some(local) = base_local else { continue };
            let id = self.new_tid();
            let Some((payload, prio)) = self.build_request(id, local, component, false) else {
                continue;
            };
            if self.transactions.len() >= MAX_TRANSACTIONS {
                continue;
            }
            // Retransmitted like any STUN request over UDP (RFC 7675 §5.1
            // defers to RFC 8489's timers); its timeout is not itself a
            // failure: only the 30 s without any response is.
            self.push_transaction(
                now,
                id,
                TxKind::Consent { component },
                (src, dst),
                payload,
                self.config.rto,
                self.config.max_transmissions,
                prio,
            );
        }
        for (src, dst) in keepalive {
            let id = self.new_tid();
            self.send(src, dst, Outgoing::Keepalive(id));
        }
    }

    // ------------------------------------------------------------------
    // States
    // ------------------------------------------------------------------
}
