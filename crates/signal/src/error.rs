//! Why the server refused a message: a stable code for programs and a
//! sentence for people, sent as an `error` reply.

use serde::Serialize;

/// The stable error codes of `error` replies (the README lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not JSON, not an object, or a field of the wrong type or missing.
    BadMessage,
    /// A `type` (or Socket.IO event) the server does not know.
    UnknownType,
    /// A `v` other than [`crate::protocol::VERSION`].
    UnsupportedVersion,
    /// Larger than the message size cap, or a field over its own cap.
    TooLarge,
    /// More messages than the connection's rate allows.
    RateLimited,
    /// No token where one is required, or a forged or expired one.
    Unauthorized,
    /// The token does not grant this (room, publish, subscribe, admin).
    Forbidden,
    /// The room holds as many peers as it may.
    RoomFull,
    /// The server holds as many sessions as it may.
    ServerFull,
    /// The message needs a joined session.
    NotJoined,
    /// `join` or `resume` on a connection that already has a session.
    AlreadyJoined,
    /// No peer with that id in the room.
    NoSuchPeer,
    /// The session is unknown, expired, the token is wrong, or the events
    /// after `lastSeq` are no longer held: join again.
    ResumeFailed,
    /// The shared state of a scaled-out server (Redis) cannot be reached
    /// just now: try again.
    Unavailable,
}

impl ErrorCode {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad-message",
            ErrorCode::UnknownType => "unknown-type",
            ErrorCode::UnsupportedVersion => "unsupported-version",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RoomFull => "room-full",
            ErrorCode::ServerFull => "server-full",
            ErrorCode::NotJoined => "not-joined",
            ErrorCode::AlreadyJoined => "already-joined",
            ErrorCode::NoSuchPeer => "no-such-peer",
            ErrorCode::ResumeFailed => "resume-failed",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// Whether the client misbehaved (counts toward closing the
    /// connection), rather than met a state it could not foresee.
    pub fn is_abuse(self) -> bool {
        matches!(
            self,
            ErrorCode::BadMessage
                | ErrorCode::UnknownType
                | ErrorCode::TooLarge
                | ErrorCode::RateLimited
                | ErrorCode::Unauthorized
                | ErrorCode::Forbidden
        )
    }
}

/// A refused message: the code and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct Rejection {
    /// The code.
    pub code: ErrorCode,
    /// The reason, for people.
    pub message: String,
}

impl Rejection {
    /// A rejection with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }

    /// A [`ErrorCode::BadMessage`] rejection.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadMessage, message)
    }
}
