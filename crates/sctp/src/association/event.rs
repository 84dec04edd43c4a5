//! What the application learns from an association.

use bytes::Bytes;

/// A user message as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stream identifier.
    pub stream: u16,
    /// Payload Protocol Identifier.
    pub ppid: u32,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// The message.
    pub data: Bytes,
}

/// Why an association ended, and so who ended it: both ends by agreement
/// ([`CloseReason::Shutdown`]), the peer ([`CloseReason::PeerAbort`]), our
/// application ([`CloseReason::UserAbort`]), the peer breaking the protocol
/// ([`CloseReason::ProtocolViolation`]) or the peer going silent
/// ([`CloseReason::Timeout`]). Kept by
/// [`Association::close_reason`](super::Association::close_reason) and
/// carried by [`Event::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The SHUTDOWN sequence completed (RFC 9260 §9.2), whichever end
    /// started it.
    Shutdown,
    /// The peer sent ABORT (RFC 9260 §9.1), with its first error cause if
    /// it gave one.
    PeerAbort(Option<AbortCause>),
    /// Our application aborted: [`Association::abort`](super::Association::abort)
    /// (ABORT sent with the User-Initiated Abort cause), or
    /// [`Association::shutdown`](super::Association::shutdown) before the
    /// association was up.
    UserAbort,
    /// The peer broke the protocol: we sent ABORT with the matching error
    /// cause and closed.
    ProtocolViolation(ProtocolViolation),
    /// The peer stopped answering: a retransmission limit was reached.
    Timeout(RetransmissionLimit),
}

impl CloseReason {
    /// Whether the peer ended the association or made us end it (an ABORT
    /// received, a protocol violation, silence), as opposed to a graceful
    /// shutdown or our own application's abort.
    pub fn is_peer_failure(&self) -> bool {
        matches!(
            self,
            CloseReason::PeerAbort(_) | CloseReason::ProtocolViolation(_) | CloseReason::Timeout(_)
        )
    }
}

/// Longest error-cause information kept from a peer's ABORT.
pub const MAX_ABORT_INFO: usize = 256;

/// The first error cause of an ABORT the peer sent (RFC 9260 §3.3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortCause {
    /// Cause code (see [`crate::param::cause_code`]: 12 User-Initiated
    /// Abort, 13 Protocol Violation, ...).
    pub code: u16,
    /// Cause-specific information (for User-Initiated Abort, the upper
    /// layer's reason), at most [`MAX_ABORT_INFO`] bytes of it.
    pub info: Vec<u8>,
}

/// What the peer did that made us abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A SACK or SHUTDOWN acknowledged a TSN we never sent; ABORT carried
    /// the Protocol Violation cause (RFC 9260 §3.3.10.13).
    AckOfUnsentTsn,
    /// A DATA chunk carried no user data; ABORT carried the No User Data
    /// cause with its TSN (RFC 9260 §6.2, §3.3.10.9).
    NoUserData,
}

/// Which retransmission limit ended the association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetransmissionLimit {
    /// INIT or COOKIE-ECHO went unanswered Max.Init.Retransmits times
    /// (T1-init, T1-cookie; RFC 9260 §5.1).
    Init,
    /// DATA or HEARTBEAT went unacknowledged Association.Max.Retrans times
    /// in a row (T3-rtx, heartbeats; RFC 9260 §8.1).
    Association,
    /// SHUTDOWN or SHUTDOWN-ACK went unanswered Association.Max.Retrans
    /// times (T2-shutdown; RFC 9260 §9.2).
    Shutdown,
}

/// What the application learns from the association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The association is established.
    Connected,
    /// A complete user message.
    Message(Message),
    /// The peer reset these outgoing streams of its own (RFC 6525); their
    /// incoming SSNs start again at zero. Empty means all.
    IncomingStreamsReset(Vec<u16>),
    /// Our outgoing reset request for these streams was performed.
    OutgoingStreamsReset(Vec<u16>),
    /// A stream's buffered amount fell to its low threshold.
    BufferedAmountLow(u16),
    /// The association is closed.
    Closed(CloseReason),
}
