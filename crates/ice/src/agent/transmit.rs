//! Datagrams out: the agent queues what to send (a request of one of its
//! transactions, a response, a keepalive) and writes the message straight
//! into the caller's buffer when polled, so no message is copied or
//! allocated on its way.

use super::*;

/// Most attributes an unknown-attributes error response lists.
const MAX_UNKNOWN: usize = 8;

/// A STUN message waiting for [`IceAgent::poll_transmit`], sent from
/// `source` to `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Queued {
    source: SocketAddr,
    destination: SocketAddr,
    message: Outgoing,
}

/// What a queued message is; it is written when polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outgoing {
    /// The request of transaction `id` (a first transmission or a
    /// retransmission), as the transaction keeps it.
    Request(TransactionId),
    /// A success response to `tid` (RFC 8445 §7.3.1.2): XOR-MAPPED-ADDRESS
    /// is the destination, signed with our password.
    Success(TransactionId),
    /// An error response to `tid` with `code`, signed with our password
    /// when `integrity`.
    Error {
        tid: TransactionId,
        code: u16,
        integrity: bool,
    },
    /// A 420 error response to `tid` listing `count` unknown attributes.
    Unknown {
        tid: TransactionId,
        attributes: [AttributeType; MAX_UNKNOWN],
        count: u8,
    },
    /// A Binding indication keeping a pair's NAT bindings alive.
    Keepalive(TransactionId),
}

impl IceAgent {
    /// Writes the next datagram into `buf` (replacing its contents) and says
    /// where it goes: from the local socket bound to `source` (a host
    /// candidate's base) to `destination`. When `source` is a relayed
    /// candidate, hand the bytes to the TURN client owning that allocation,
    /// which wraps them in a Send indication or ChannelData.
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        // A drained queue gives its buffer back (below): asked on every
        // datagram the connection sends, this answers without a call.
        if self.transmits.capacity() == 0 {
            return None;
        }
        self.poll_queued(now, buf)
    }

    fn poll_queued(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        while let Some(q) = self.transmits.pop_front() {
            if self.write(q, buf).is_some() {
                return Some(Transmit {
                    source: q.source,
                    destination: q.destination,
                    len: buf.len(),
                });
            }
        }
        if self.transmits.capacity() != 0 {
            // Only STUN goes through here: an idle agent keeps no buffer.
            self.transmits = VecDeque::new();
        }
        None
    }

    /// Writes `q`'s message into `buf`; `None` if it is no longer to be
    /// sent (its transaction ended).
    fn write(&self, q: Queued, buf: &mut Vec<u8>) -> Option<()> {
        if let Outgoing::Request(id) = q.message {
            let t = self.transactions.iter().find(|t| t.id == id)?;
            buf.clear();
            buf.extend_from_slice(&t.payload);
            return Some(());
        }
        buf.clear();
        buf.resize(BUF, 0);
        let len = {
            let (mut b, integrity) = match q.message {
                Outgoing::Success(tid) => {
                    let mut b =
                        MessageBuilder::new(buf, Class::SuccessResponse, Method::BINDING, tid);
                    b.add(&XorMappedAddress(q.destination));
                    (b, true)
                }
                Outgoing::Error {
                    tid,
                    code,
                    integrity,
                } => {
                    let mut b =
                        MessageBuilder::new(buf, Class::ErrorResponse, Method::BINDING, tid);
                    b.add(&ErrorCode::with_default_reason(code));
                    (b, integrity)
                }
                Outgoing::Unknown {
                    tid,
                    attributes,
                    count,
                } => {
                    let listed = attributes.get(..usize::from(count)).unwrap_or_default();
                    let mut b =
                        MessageBuilder::new(buf, Class::ErrorResponse, Method::BINDING, tid);
                    b.add(&ErrorCode::with_default_reason(420))
                        .add(&UnknownAttributes::new(listed));
                    (b, false)
                }
                Outgoing::Keepalive(tid) => (
                    MessageBuilder::new(buf, Class::Indication, Method::BINDING, tid),
                    false,
                ),
                Outgoing::Request(_) => return None,
            };
            if integrity {
                b.add_message_integrity(&self.local_key);
            }
            b.add_fingerprint();
            b.finish().ok()?.len()
        };
        buf.truncate(len);
        Some(())
    }

    /// Queues `message` from `source` to `destination` (the oldest queued
    /// one is dropped past the bound).
    pub(super) fn send(&mut self, source: SocketAddr, destination: SocketAddr, message: Outgoing) {
        if self.transmits.len() >= MAX_TRANSMITS {
            self.transmits.pop_front();
        }
        self.transmits.push_back(Queued {
            source,
            destination,
            message,
        });
    }

    /// Queues a 420 response to `tid` listing `unknown` (at most eight).
    pub(super) fn send_unknown(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        tid: TransactionId,
        unknown: &[AttributeType],
    ) {
        let mut attributes = [AttributeType(0); MAX_UNKNOWN];
        let count = unknown.len().min(MAX_UNKNOWN);
        for (slot, a) in attributes.iter_mut().zip(unknown) {
            *slot = *a;
        }
        let count = u8::try_from(count).unwrap_or(0);
        self.send(
            from,
            to,
            Outgoing::Unknown {
                tid,
                attributes,
                count,
            },
        );
    }

    /// Queues an error response to `tid` with `code`.
    pub(super) fn send_error(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        tid: TransactionId,
        code: u16,
        integrity: bool,
    ) {
        self.send(
            from,
            to,
            Outgoing::Error {
                tid,
                code,
                integrity,
            },
        );
    }
}
