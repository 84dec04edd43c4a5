//! The server's JSON objects, written once per recipient.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::Rejection;

/// An object with its `type` first, then `seq` when it is a numbered event,
/// then the fields of `body`.
#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    re: Option<u64>,
    #[serde(flatten)]
    body: B,
}

/// The JSON text of an event or reply.
pub(crate) fn write<B: Serialize>(
    kind: &str,
    seq: Option<u64>,
    re: Option<u64>,
    body: B,
) -> String {
    let envelope = Envelope {
        kind,
        seq,
        re,
        body,
    };
    // Serializing these plain structs to a String cannot fail; an empty
    // object is the harmless fallback.
    serde_json::to_string(&envelope).unwrap_or_else(|_| String::from("{}"))
}

/// A peer as presence shows it.
#[derive(Serialize)]
pub(crate) struct PeerInfo<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) meta: &'a RawValue,
}

/// `peer-left`.
#[derive(Serialize)]
pub(crate) struct PeerLeft<'a> {
    pub(crate) id: &'a str,
}

/// `joined` and `resumed`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Joined<'a> {
    pub(crate) id: &'a str,
    pub(crate) room: &'a str,
    pub(crate) resume_token: &'a str,
    pub(crate) peers: Vec<PeerInfo<'a>>,
    /// The last event number sent so far (0 before any).
    pub(crate) seq: u64,
}

/// A relayed `offer` or `answer`.
#[derive(Serialize)]
pub(crate) struct RelayedSdp<'a> {
    pub(crate) from: &'a str,
    pub(crate) sdp: &'a RawValue,
}

/// A relayed `candidate` (`null` is end-of-candidates).
#[derive(Serialize)]
pub(crate) struct RelayedCandidate<'a> {
    pub(crate) from: &'a str,
    pub(crate) candidate: &'a RawValue,
}

/// A relayed `broadcast`.
#[derive(Serialize)]
pub(crate) struct Broadcast<'a> {
    pub(crate) from: &'a str,
    pub(crate) data: &'a RawValue,
}

/// `kicked`.
#[derive(Serialize)]
pub(crate) struct Kicked<'a> {
    pub(crate) by: &'a str,
}

/// `pong`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pong<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) t: Option<&'a RawValue>,
    /// Milliseconds since the Unix epoch on the server.
    pub(crate) server_time: u64,
}

/// `hello`, sent when a connection opens.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Hello {
    pub(crate) v: u32,
    pub(crate) auth: &'static str,
    pub(crate) max_message_bytes: usize,
    pub(crate) resume_grace_ms: u64,
}

/// `error`.
#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) code: &'static str,
    pub(crate) message: &'a str,
}

impl<'a> From<&'a Rejection> for ErrorBody<'a> {
    fn from(r: &'a Rejection) -> Self {
        ErrorBody {
            code: r.code.as_str(),
            message: &r.message,
        }
    }
}

/// An empty body (`ok`, `left`).
#[derive(Serialize)]
pub(crate) struct Empty {}
