//! Property tests of the message parser: any text parses or is refused
//! with a code, and well-formed requests keep every field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_signal::protocol::{RelayKind, Request, CLIENT_EVENTS};
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #[test]
    fn any_text_parses_or_is_refused(text in ".{0,300}", event in 0usize..12) {
        let parsed = Request::parse(&text);
        if let Err(r) = parsed.request {
            prop_assert!(!r.message.is_empty());
        }
        let name = CLIENT_EVENTS.get(event).copied();
        let _ = Request::parse_event(name, &text);
    }

    #[test]
    fn joins_keep_their_fields(room in "\\PC{1,40}", name in "\\PC{0,40}", id in any::<u64>(), n in any::<i64>()) {
        let text = json!({"type": "join", "room": room, "name": name, "meta": {"n": n}, "id": id}).to_string();
        let parsed = Request::parse(&text);
        prop_assert_eq!(parsed.id, Some(id));
        match parsed.request.unwrap() {
            Request::Join { room: r, name: nm, meta, token } => {
                prop_assert_eq!(r, room);
                prop_assert_eq!(nm, name);
                let meta: serde_json::Value = serde_json::from_str(meta.get()).unwrap();
                prop_assert_eq!(meta, json!({"n": n}));
                prop_assert_eq!(token, None);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn relays_carry_their_body_verbatim(to in "[0-9a-f]{1,32}", sdp in "\\PC{0,200}", kind in 0usize..3) {
        let (event, field) = [("offer", "sdp"), ("answer", "sdp"), ("candidate", "candidate")][kind];
        let mut msg = json!({"type": event, "to": to});
        msg[field] = json!(sdp);
        let parsed = Request::parse(&msg.to_string());
        match parsed.request.unwrap() {
            Request::Relay { kind: k, to: t, body } => {
                prop_assert_eq!(k.name(), event);
                prop_assert_eq!(t, to);
                prop_assert_eq!(serde_json::from_str::<String>(body.get()).unwrap(), sdp);
                prop_assert!(matches!(k, RelayKind::Offer | RelayKind::Answer | RelayKind::Candidate));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
