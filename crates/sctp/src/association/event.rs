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

/// Why an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The SHUTDOWN sequence completed.
    Shutdown,
    /// The peer sent ABORT, with its first error cause code if any.
    PeerAbort(Option<u16>),
    /// We aborted (see [`Association::abort`]).
    LocalAbort,
    /// Too many retransmissions of INIT, COOKIE-ECHO, DATA, HEARTBEAT or SHUTDOWN.
    Timeout,
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
