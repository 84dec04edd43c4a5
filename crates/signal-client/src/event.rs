//! What the server pushes, typed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A peer in the room, as presence shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Peer {
    /// Its id (its session id).
    pub id: String,
    /// Its display name.
    #[serde(default)]
    pub name: String,
    /// Its metadata.
    #[serde(default)]
    pub meta: Value,
}

/// A trickled ICE candidate as browsers write it (`RTCIceCandidateInit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateInit {
    /// The `candidate:...` attribute value.
    pub candidate: String,
    /// The media section's mid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE ufrag the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// An event pushed by the server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A peer joined the room.
    PeerJoined(Peer),
    /// A peer changed its metadata.
    PeerUpdated(Peer),
    /// A peer left (or its session expired).
    PeerLeft {
        /// Its id.
        id: String,
    },
    /// A peer sent an offer.
    Offer {
        /// The sender.
        from: String,
        /// The SDP.
        sdp: String,
    },
    /// A peer answered.
    Answer {
        /// The sender.
        from: String,
        /// The SDP.
        sdp: String,
    },
    /// A peer trickled a candidate (`None`: end of candidates).
    Candidate {
        /// The sender.
        from: String,
        /// The candidate.
        candidate: Option<CandidateInit>,
    },
    /// A peer broadcast data to the room.
    Broadcast {
        /// The sender.
        from: String,
        /// The data.
        data: Value,
    },
    /// An admin removed us from the room; the session is over.
    Kicked {
        /// The admin's id.
        by: String,
    },
}

impl Event {
    /// The event in a server frame, if the frame is a known event.
    pub(crate) fn from_frame(v: &Value) -> Option<Event> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let peer = || serde_json::from_value::<Peer>(v.clone()).ok();
        Some(match v.get("type")?.as_str()? {
            "peer-joined" => Event::PeerJoined(peer()?),
            "peer-updated" => Event::PeerUpdated(peer()?),
            "peer-left" => Event::PeerLeft { id: s("id")? },
            "offer" => Event::Offer {
                from: s("from")?,
                sdp: s("sdp")?,
            },
            "answer" => Event::Answer {
                from: s("from")?,
                sdp: s("sdp")?,
            },
            "candidate" => Event::Candidate {
                from: s("from")?,
                candidate: v
                    .get("candidate")
                    .filter(|c| !c.is_null())
                    .and_then(|c| serde_json::from_value(c.clone()).ok()),
            },
            "broadcast" => Event::Broadcast {
                from: s("from")?,
                data: v.get("data").cloned().unwrap_or(Value::Null),
            },
            "kicked" => Event::Kicked { by: s("by")? },
            _ => return None,
        })
    }
}
