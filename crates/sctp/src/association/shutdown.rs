//! Ending an association: graceful SHUTDOWN (RFC 9260 §9.2) and ABORT
//! (§9.1).

use std::time::Instant;

use crate::chunk::Chunk;
use crate::error::Error;
use crate::list::TlvList;
use crate::param::{cause_code, ErrorCause};

use super::recv::Receiver;
use super::{Association, CloseReason, Event, ProtocolViolation, State};

impl Association {
    /// Starts a graceful SHUTDOWN (RFC 9260 §9.2) after outstanding data.
    pub fn shutdown(&mut self, now: Instant) -> Result<(), Error> {
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.maybe_progress_shutdown(now);
                Ok(())
            }
            State::Closed | State::CookieWait | State::CookieEchoed => {
                self.close(CloseReason::UserAbort);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Sends ABORT with a User-Initiated Abort cause and closes at once.
    pub fn abort(&mut self) {
        if self.state == State::Closed && self.peer_vtag == 0 {
            return;
        }
        let causes = [ErrorCause {
            code: cause_code::USER_INITIATED_ABORT,
            info: &[],
        }];
        self.queue_chunk(&Chunk::Abort {
            t: false,
            causes: TlvList::Items(&causes),
        });
        self.close(CloseReason::UserAbort);
    }

    /// The peer broke the protocol: sends ABORT with `cause` (its code and
    /// information) and closes at once.
    pub(super) fn abort_for(&mut self, violation: ProtocolViolation, cause: ErrorCause<'_>) {
        let causes = [cause];
        self.control.clear();
        self.queue_chunk(&Chunk::Abort {
            t: false,
            causes: TlvList::Items(&causes),
        });
        self.close(CloseReason::ProtocolViolation(violation));
    }

    /// A SACK or SHUTDOWN acknowledged a TSN we never sent.
    pub(super) fn abort_for_unsent_ack(&mut self) {
        self.abort_for(
            ProtocolViolation::AckOfUnsentTsn,
            ErrorCause {
                code: cause_code::PROTOCOL_VIOLATION,
                info: b"cumulative TSN ack beyond the highest TSN sent",
            },
        );
    }

    pub(super) fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.t1 = None;
        self.t2 = None;
        self.hb_next = None;
        self.hb_outstanding = None;
        self.sack_at = None;
        self.sack_now = false;
        self.reconfig_timer = None;
        self.sender.clear();
        self.close_reason = Some(reason.clone());
        self.events.push_back(Event::Closed(reason));
    }

    pub(super) fn on_shutdown(&mut self, now: Instant, cum: u32) {
        if !self.is_established() {
            return;
        }
        if self.sender.acks_unsent(cum) {
            self.abort_for_unsent_ack();
            return;
        }
        self.sender.on_cum_ack(now, cum, &mut self.stats);
        match self.state {
            State::Established | State::ShutdownPending => {
                self.state = State::ShutdownReceived;
                self.maybe_progress_shutdown(now);
            }
            State::ShutdownSent => {
                // RFC 9260 §9.2: both sides shut down at once.
                self.queue_chunk(&Chunk::ShutdownAck);
                self.state = State::ShutdownAckSent;
                self.t2 = Some(now + self.sender.rto);
            }
            _ => {}
        }
    }

    pub(super) fn queue_shutdown(&mut self) {
        let cum = self
            .receiver
            .as_ref()
            .map(Receiver::cum_tsn)
            .unwrap_or_default();
        self.queue_chunk(&Chunk::Shutdown {
            cumulative_tsn_ack: cum,
        });
    }

    pub(super) fn maybe_progress_shutdown(&mut self, now: Instant) {
        if !self.sender.all_done() {
            return;
        }
        match self.state {
            State::ShutdownPending => {
                self.queue_shutdown();
                self.state = State::ShutdownSent;
                self.t2 = Some(now + self.sender.rto);
                self.t2_count = 0;
            }
            State::ShutdownReceived => {
                self.queue_chunk(&Chunk::ShutdownAck);
                self.state = State::ShutdownAckSent;
                self.t2 = Some(now + self.sender.rto);
                self.t2_count = 0;
            }
            _ => {}
        }
    }
}
