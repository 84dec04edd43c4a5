//! The wire protocol: what clients send and what the server answers, as
//! JSON objects with a `type` field (plain WebSocket) or as Socket.IO events
//! named by that type with the same object as payload.
//!
//! Every client message may carry a request `id`; the answer to it (`ok`,
//! `joined`, `resumed`, `pong` or `error`) carries it back as `re`. Events
//! the server pushes on its own (presence and relayed messages) carry a
//! per-session sequence number `seq`, which a client acknowledges and names
//! when it resumes.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ErrorCode, Rejection};

/// The protocol version this server speaks (`v` in messages and `hello`).
pub const VERSION: u32 = 1;

/// The event names clients may send, in the order of the README's table.
pub const CLIENT_EVENTS: [&str; 11] = [
    "join",
    "resume",
    "offer",
    "answer",
    "candidate",
    "broadcast",
    "update",
    "leave",
    "ping",
    "ack",
    "kick",
];

/// A client message as it arrives, every field optional; [`Request::parse`]
/// turns it into a typed request. JSON values the server only relays
/// (metadata, broadcast data, SDP, candidates) stay as raw JSON text and
/// are relayed verbatim.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Incoming<'a> {
    #[serde(default)]
    v: Option<u32>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, rename = "type")]
    kind: Option<&'a str>,
    #[serde(default, borrow)]
    room: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    meta: Option<&'a RawValue>,
    #[serde(default, borrow)]
    token: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    session: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    last_seq: Option<u64>,
    #[serde(default, borrow)]
    to: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    sdp: Option<&'a RawValue>,
    #[serde(default, borrow)]
    candidate: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default, borrow)]
    t: Option<&'a RawValue>,
}

/// Just the request id of a message whose other fields do not parse.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<u64>,
}

/// A typed client request.
#[derive(Debug, Clone)]
pub enum Request {
    /// Join `room` under a display name with metadata (raw JSON), with a
    /// token when the server requires one.
    Join {
        /// The room's name.
        room: String,
        /// The display name.
        name: String,
        /// Metadata shown to the other peers (raw JSON; `null` if absent).
        meta: Box<RawValue>,
        /// A JWT granting the room.
        token: Option<String>,
    },
    /// Take back a session after a lost connection.
    Resume {
        /// The session id `joined` gave.
        session: String,
        /// The resume token `joined` gave.
        token: String,
        /// The last `seq` the client processed.
        last_seq: u64,
    },
    /// Relay an offer, an answer or a candidate to one peer.
    Relay {
        /// Which of the three.
        kind: RelayKind,
        /// The target peer's id.
        to: String,
        /// The SDP (offer, answer) or the candidate, raw JSON; for a
        /// candidate `null` means end-of-candidates.
        body: Box<RawValue>,
    },
    /// Send `data` (raw JSON) to everyone else in the room.
    Broadcast {
        /// The data.
        data: Box<RawValue>,
    },
    /// Replace this peer's metadata.
    Update {
        /// The new metadata (raw JSON).
        meta: Box<RawValue>,
    },
    /// Leave the room and end the session.
    Leave,
    /// Measure the round trip: answered at once with `pong` echoing `t`.
    Ping {
        /// The client's timestamp (raw JSON), echoed.
        t: Option<Box<RawValue>>,
    },
    /// Every event up to `seq` was processed: the server may forget them.
    Ack {
        /// The highest processed sequence number.
        seq: u64,
    },
    /// Remove a peer from the room (admin grant only).
    Kick {
        /// The peer's id.
        id: String,
    },
}

/// The three relayed negotiation messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// A trickled ICE candidate (or end-of-candidates).
    Candidate,
}

impl RelayKind {
    /// The event name.
    pub fn name(self) -> &'static str {
        match self {
            RelayKind::Offer => "offer",
            RelayKind::Answer => "answer",
            RelayKind::Candidate => "candidate",
        }
    }
}

/// A parsed message: its request id (if any) and the request or why it
/// was refused.
#[derive(Debug)]
pub struct Parsed {
    /// The request id to answer with.
    pub id: Option<u64>,
    /// The request, or the error to answer with.
    pub request: Result<Request, Rejection>,
}

impl Request {
    /// Parses a WebSocket text message (a JSON object with `type`).
    pub fn parse(text: &str) -> Parsed {
        Self::parse_event(None, text)
    }

    /// Parses a message whose type is `event` (a Socket.IO event name) or,
    /// when `event` is `None`, the object's `type` field.
    pub fn parse_event(event: Option<&str>, text: &str) -> Parsed {
        let incoming: Incoming<'_> = match serde_json::from_str(text) {
            Ok(i) => i,
            Err(e) => {
                // A field of the wrong type: the id may still be readable,
                // so the error can answer the request.
                let id = serde_json::from_str::<IdOnly>(text).ok().and_then(|m| m.id);
                return Parsed {
                    id,
                    request: Err(Rejection::new(ErrorCode::BadMessage, e.to_string())),
                };
            }
        };
        let id = incoming.id;
        Parsed {
            id,
            request: Self::from_incoming(event, incoming),
        }
    }

    fn from_incoming(event: Option<&str>, m: Incoming<'_>) -> Result<Request, Rejection> {
        if let Some(v) = m.v {
            if v != VERSION {
                return Err(Rejection::new(
                    ErrorCode::UnsupportedVersion,
                    format!("this server speaks version {VERSION}"),
                ));
            }
        }
        let kind = event
            .or(m.kind)
            .ok_or_else(|| Rejection::bad("missing `type`"))?;
        let text = |v: Option<std::borrow::Cow<'_, str>>, field: &str| {
            v.map(|s| s.into_owned())
                .ok_or_else(|| Rejection::bad(format!("`{kind}` needs `{field}`")))
        };
        let raw = |v: Option<&RawValue>, field: &str| {
            v.map(RawValue::to_owned)
                .ok_or_else(|| Rejection::bad(format!("`{kind}` needs `{field}`")))
        };
        let relay = |kind: RelayKind, body: Result<Box<RawValue>, Rejection>, to| {
            Ok(Request::Relay {
                kind,
                to: text(to, "to")?,
                body: body?,
            })
        };
        match kind {
            "join" => Ok(Request::Join {
                room: text(m.room, "room")?,
                name: m.name.map(|s| s.into_owned()).unwrap_or_default(),
                meta: m.meta.map_or_else(null, RawValue::to_owned),
                token: m.token.map(|s| s.into_owned()),
            }),
            "resume" => Ok(Request::Resume {
                session: text(m.session, "session")?,
                token: text(m.token, "token")?,
                last_seq: m
                    .last_seq
                    .ok_or_else(|| Rejection::bad("`resume` needs `lastSeq`"))?,
            }),
            "offer" => relay(RelayKind::Offer, raw(m.sdp, "sdp"), m.to),
            "answer" => relay(RelayKind::Answer, raw(m.sdp, "sdp"), m.to),
            // An absent or null candidate is end-of-candidates.
            "candidate" => relay(
                RelayKind::Candidate,
                Ok(m.candidate.map_or_else(null, RawValue::to_owned)),
                m.to,
            ),
            "broadcast" => Ok(Request::Broadcast {
                data: raw(m.data, "data")?,
            }),
            "update" => Ok(Request::Update {
                meta: raw(m.meta, "meta")?,
            }),
            "leave" => Ok(Request::Leave),
            "ping" => Ok(Request::Ping {
                t: m.t.map(RawValue::to_owned),
            }),
            "ack" => Ok(Request::Ack {
                seq: m.seq.ok_or_else(|| Rejection::bad("`ack` needs `seq`"))?,
            }),
            "kick" => Ok(Request::Kick {
                id: text(m.to, "to")?,
            }),
            other => Err(Rejection::new(
                ErrorCode::UnknownType,
                format!("unknown message type `{}`", truncate(other, 64)),
            )),
        }
    }
}

/// JSON `null`.
pub(crate) fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}
