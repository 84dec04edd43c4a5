//! Stream reconfiguration (RFC 6525): our Outgoing SSN Reset Requests and
//! the answers to the peer's.

use std::time::Instant;

use crate::chunk::Chunk;
use crate::error::Error;
use crate::list::{List, TlvList};
use crate::param::{reconfig_result, ReconfigParam};

use super::recv::unwrap_near;
use super::{Association, Event};

#[derive(Debug)]
pub(super) struct ReconfigRequest {
    pub(super) seq: u32,
    pub(super) streams: Vec<u16>,
    pub(super) last_tsn: u32,
}

impl Association {
    /// Requests a reset of our outgoing streams (RFC 6525 §5.1.2), sent once
    /// the data queued on them is out. [`Event::OutgoingStreamsReset`] follows.
    pub fn reset_streams(&mut self, streams: &[u16]) -> Result<(), Error> {
        if !self.is_established() {
            return Err(Error::InvalidState);
        }
        if !self.peer_reconfig {
            return Err(Error::ProtocolViolation("peer does not support RE-CONFIG"));
        }
        for &s in streams {
            if self.sender.mark_resetting(s) {
                self.reset_queue.push(s);
            }
        }
        Ok(())
    }

    pub(super) fn maybe_send_reconfig(&mut self, now: Instant) {
        if self.reconfig_outstanding.is_some() || self.reset_queue.is_empty() {
            return;
        }
        // RFC 6525 §5.1.2: wait until data queued on the streams has been sent.
        if self
            .reset_queue
            .iter()
            .any(|&s| self.sender.buffered_amount(s) > 0)
        {
            return;
        }
        let streams = std::mem::take(&mut self.reset_queue);
        let seq = self.my_next_req_seq;
        self.my_next_req_seq = self.my_next_req_seq.wrapping_add(1);
        let last_tsn = self.sender.last_assigned_tsn();
        self.queue_reconfig_request(seq, last_tsn, &streams);
        self.reconfig_outstanding = Some(ReconfigRequest {
            seq,
            streams,
            last_tsn,
        });
        self.reconfig_timer = Some(now + self.sender.rto);
    }

    pub(super) fn queue_reconfig_request(&mut self, seq: u32, last_tsn: u32, streams: &[u16]) {
        let params = [ReconfigParam::OutgoingSsnResetRequest {
            request_seq: seq,
            response_seq: self.peer_next_req_seq.wrapping_sub(1),
            last_tsn,
            streams: List::Items(streams),
        }];
        self.queue_chunk(&Chunk::ReConfig {
            params: TlvList::Items(&params),
        });
    }

    pub(super) fn on_reconfig(
        &mut self,
        now: Instant,
        params: &TlvList<'_, ReconfigParam<'_>>,
    ) -> Result<(), Error> {
        if !self.is_established() {
            return Ok(());
        }
        for p in params.iter().take(2) {
            match p? {
                ReconfigParam::OutgoingSsnResetRequest {
                    request_seq,
                    last_tsn,
                    streams,
                    ..
                } => {
                    let result = if request_seq == self.peer_next_req_seq {
                        let cum = self.receiver.as_ref().map(|r| r.cum).unwrap_or_default();
                        if unwrap_near(cum, last_tsn) <= cum {
                            let list: Vec<u16> = streams.iter().take(65536).collect();
                            if let Some(r) = self.receiver.as_mut() {
                                r.reset_streams(&list);
                            }
                            self.events.push_back(Event::IncomingStreamsReset(list));
                            self.peer_next_req_seq = request_seq.wrapping_add(1);
                            self.peer_last_result = reconfig_result::SUCCESS_PERFORMED;
                            reconfig_result::SUCCESS_PERFORMED
                        } else {
                            // RFC 6525 §5.2.2: wait for the TSNs before it; the
                            // peer retransmits the request.
                            reconfig_result::IN_PROGRESS
                        }
                    } else if request_seq == self.peer_next_req_seq.wrapping_sub(1) {
                        self.peer_last_result
                    } else {
                        reconfig_result::ERROR_BAD_SEQUENCE_NUMBER
                    };
                    let resp = [ReconfigParam::Response {
                        response_seq: request_seq,
                        result,
                        next_tsns: None,
                    }];
                    self.queue_chunk(&Chunk::ReConfig {
                        params: TlvList::Items(&resp),
                    });
                }
                ReconfigParam::Response {
                    response_seq,
                    result,
                    ..
                } => {
                    let Some(req) = &self.reconfig_outstanding else {
                        continue;
                    };
                    if req.seq != response_seq {
                        continue;
                    }
                    match result {
                        reconfig_result::SUCCESS_PERFORMED
                        | reconfig_result::SUCCESS_NOTHING_TO_DO => {
                            let streams = self
                                .reconfig_outstanding
                                .take()
                                .map(|r| r.streams)
                                .unwrap_or_default();
                            self.reconfig_timer = None;
                            self.sender.reset_done(&streams);
                            self.events.push_back(Event::OutgoingStreamsReset(streams));
                        }
                        reconfig_result::IN_PROGRESS => {
                            self.reconfig_timer = Some(now + self.sender.rto);
                        }
                        _ => {
                            let streams = self
                                .reconfig_outstanding
                                .take()
                                .map(|r| r.streams)
                                .unwrap_or_default();
                            self.reconfig_timer = None;
                            self.sender.reset_failed(&streams);
                        }
                    }
                }
                ReconfigParam::IncomingSsnResetRequest {
                    request_seq,
                    streams,
                } if !streams.is_empty() && request_seq == self.peer_next_req_seq => {
                    // RFC 6525 §5.2.3: answer with our own Outgoing SSN Reset
                    // Request for those streams, whose Response Sequence
                    // Number names this request (see queue_reconfig_request).
                    self.peer_next_req_seq = request_seq.wrapping_add(1);
                    self.peer_last_result = reconfig_result::SUCCESS_PERFORMED;
                    for s in streams.iter() {
                        if self.sender.mark_resetting(s) {
                            self.reset_queue.push(s);
                        }
                    }
                }
                ReconfigParam::IncomingSsnResetRequest { request_seq, .. }
                    if request_seq == self.peer_next_req_seq.wrapping_sub(1) =>
                {
                    // A retransmission: our Outgoing request is on its way.
                }
                ReconfigParam::IncomingSsnResetRequest { request_seq, .. }
                | ReconfigParam::SsnTsnResetRequest { request_seq }
                | ReconfigParam::AddOutgoingStreams { request_seq, .. }
                | ReconfigParam::AddIncomingStreams { request_seq, .. } => {
                    let resp = [ReconfigParam::Response {
                        response_seq: request_seq,
                        result: reconfig_result::DENIED,
                        next_tsns: None,
                    }];
                    self.queue_chunk(&Chunk::ReConfig {
                        params: TlvList::Items(&resp),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}
