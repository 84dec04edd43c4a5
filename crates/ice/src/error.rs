//! The crate's single error type.

/// Everything that can go wrong in fulmar-ice.
///
/// Malformed input (credentials with bad characters) is separated from
/// API misuse (a call that makes no sense in the agent's current state).
/// Datagrams from the network never produce errors: they are dropped and
/// counted (see [`crate::AgentStats`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- malformed input -----
    /// ice-ufrag or ice-pwd has bad characters or length (RFC 8839 §5.4).
    #[error("invalid ICE credentials: {0}")]
    InvalidCredentials(&'static str),

    // ----- API misuse -----
    /// The component is zero or above the configured component count.
    #[error("no such component {0}")]
    NoSuchComponent(u16),
    /// A limit on candidates or pairs was reached (RFC 8445 §6.1.2.5).
    #[error("too many {0}")]
    TooMany(&'static str),
    /// The operation is not allowed for an ICE-lite agent.
    #[error("not allowed for an ICE-lite agent")]
    Lite,
    /// The agent is closed.
    #[error("agent is closed")]
    Closed,
}
