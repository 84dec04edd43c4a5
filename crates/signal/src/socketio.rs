//! Socket.IO (v4 and v5 protocols, by the `socketioxide` crate) on the
//! default namespace: each client event named in
//! [`crate::protocol::CLIENT_EVENTS`] is the request of that
//! type, each frame the hub queues is emitted as an event of its type.
//! A request sent with an acknowledgement callback gets its reply (`ok`,
//! `joined`, `error`, …) through the callback instead of as an event, and
//! without `re`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::Request as HttpRequest;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Socket;
use socketioxide::SocketIo;

use tokio::sync::mpsc;

use crate::error::{ErrorCode, Rejection};
use crate::hub::{ConnHandle, Frame};
use crate::protocol::{Parsed, Request, CLIENT_EVENTS};
use crate::server::{unix_ms, Signal};

/// Request ids the server picks for acknowledged requests that carry none
/// start here (above JavaScript's safe integers, so they never collide
/// with a client's own).
const FIRST_SERVER_ID: u64 = 1 << 53;

/// Whether the client asked for an acknowledgement.
struct WantsAck(bool);

impl<A: Adapter> FromMessageParts<A> for WantsAck {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(WantsAck(ack_id.is_some()))
    }
}

/// Pending acknowledgements of one socket, by request id.
#[derive(Default)]
struct Acks {
    next: u64,
    pending: HashMap<u64, AckSender>,
}

/// The Socket.IO layer for the router.
pub(crate) fn layer(s: &Arc<Signal>) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .max_payload(s.limits().max_message_bytes as u64)
        .build_layer();
    let s = s.clone();
    io.ns("/", move |socket: SocketRef| {
        on_connect(s.clone(), socket);
        async {}
    });
    layer
}

fn on_connect(s: Arc<Signal>, socket: SocketRef) {
    let (handle, mut frames, close) = ConnHandle::new(s.limits().connection_queue);
    let conn = s.hub().connect(handle, Instant::now());
    let acks = Arc::new(Mutex::new(Acks {
        next: FIRST_SERVER_ID,
        pending: HashMap::new(),
    }));
    // Over Redis a message awaits the shared state: one task per socket
    // handles its messages in order. On one node they are handled at once.
    let queue = s.cluster().is_some().then(|| {
        let (tx, mut rx) = mpsc::channel::<Option<Parsed>>(s.limits().connection_queue.max(1));
        let s = s.clone();
        tokio::spawn(async move {
            while let Some(Some(parsed)) = rx.recv().await {
                s.receive(conn, parsed).await;
            }
            s.disconnect(conn).await;
        });
        tx
    });
    for event in CLIENT_EVENTS {
        let (s, acks, queue) = (s.clone(), acks.clone(), queue.clone());
        socket.on(
            event,
            move |TryData(data): TryData<serde_json::Value>, WantsAck(wants), ack: AckSender| {
                let parsed = parse(&acks, event, data.ok(), wants.then_some(ack));
                match &queue {
                    None => s.hub().receive(conn, parsed, Instant::now(), unix_ms()),
                    Some(q) => {
                        if q.try_send(Some(parsed)).is_err() {
                            let r = Rejection::new(ErrorCode::RateLimited, "too many messages");
                            s.hub().reject(conn, None, &r);
                        }
                    }
                }
                async {}
            },
        );
    }
    {
        let s = s.clone();
        socket.on_disconnect(move || {
            match queue {
                None => {
                    s.hub().disconnect(conn, Instant::now());
                }
                Some(q) => {
                    tokio::spawn(async move {
                        let _ = q.send(None).await;
                    });
                }
            }
            async {}
        });
    }
    let writer = socket.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = frames.recv() => {
                    let Some(frame) = frame else { break };
                    if !emit(&writer, &acks, frame) {
                        let _ = writer.clone().disconnect();
                        break;
                    }
                }
                () = close.notified() => {
                    while let Ok(frame) = frames.try_recv() {
                        emit(&writer, &acks, frame);
                    }
                    let _ = writer.clone().disconnect();
                    break;
                }
            }
        }
    });
}

/// Copies the request's URI and headers into allocations of their own.
/// hyper parses them as slices of its connection read buffer (8 KiB or
/// more), and socketioxide keeps each connection's request parts for the
/// connection's life, so without this every idle Socket.IO connection held
/// that whole buffer.
pub(crate) async fn detach_request(req: HttpRequest) -> HttpRequest {
    detach(req)
}

fn detach(mut req: HttpRequest) -> HttpRequest {
    let headers = std::mem::take(req.headers_mut());
    let mut owned = HeaderMap::with_capacity(headers.len());
    let mut name = None;
    // `into_iter` names a header once, then yields its further values
    // without a name.
    for (n, value) in headers {
        if let Some(n) = n {
            name = HeaderName::from_bytes(n.as_str().as_bytes()).ok();
        }
        if let (Some(n), Ok(mut v)) = (&name, HeaderValue::from_bytes(value.as_bytes())) {
            v.set_sensitive(value.is_sensitive());
            owned.append(n.clone(), v);
        }
    }
    *req.headers_mut() = owned;
    if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
        *req.uri_mut() = uri;
    }
    req
}

/// Parses an event's payload and keeps its acknowledgement callback.
fn parse(
    acks: &Mutex<Acks>,
    event: &'static str,
    data: Option<serde_json::Value>,
    ack: Option<AckSender>,
) -> Parsed {
    // The payload goes through the same parser as a WebSocket message.
    // An event with no payload (`socket.emit("leave")`) is an empty object.
    let text = match data {
        None | Some(serde_json::Value::Null) => "{}".to_owned(),
        Some(d) => d.to_string(),
    };
    let mut parsed = Request::parse_event(Some(event), &text);
    if let Some(ack) = ack {
        let mut a = acks.lock().unwrap_or_else(|p| p.into_inner());
        let id = match parsed.id {
            Some(id) => id,
            None => {
                a.next += 1;
                a.next
            }
        };
        parsed.id = Some(id);
        // Bounded by the connection's queue: a client that never reads its
        // replies is closed long before this map grows large.
        if a.pending.len() < 4096 {
            a.pending.insert(id, ack);
        }
    }
    parsed
}

/// Sends `frame` as the acknowledgement it answers or as an event.
fn emit(socket: &SocketRef, acks: &Mutex<Acks>, frame: Frame) -> bool {
    let ack = frame.re.and_then(|re| {
        let mut a = acks.lock().unwrap_or_else(|p| p.into_inner());
        a.pending.remove(&re)
    });
    match ack {
        // The acknowledgement names the request itself: no `re` inside.
        Some(ack) => {
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&frame.json) {
                Ok(mut reply) => {
                    reply.remove("re");
                    ack.send(&reply).is_ok()
                }
                Err(_) => true,
            }
        }
        None => match RawValue::from_string(frame.json.to_string()) {
            Ok(raw) => socket.emit(frame.event, &raw).is_ok(),
            Err(_) => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_requests_keep_every_header_value_and_the_uri() {
        let mut req = HttpRequest::new(axum::body::Body::empty());
        *req.uri_mut() = Uri::from_static("/socket.io/?EIO=4&transport=websocket");
        let h = req.headers_mut();
        h.insert("host", HeaderValue::from_static("127.0.0.1:8443"));
        h.append("x-forwarded-for", HeaderValue::from_static("192.0.2.1"));
        h.append("x-forwarded-for", HeaderValue::from_static("192.0.2.2"));
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        h.insert("authorization", secret);
        let before = req.headers().clone();
        let req = detach(req);
        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(req.headers(), &before);
        let forwarded: Vec<_> = req.headers().get_all("x-forwarded-for").iter().collect();
        assert_eq!(forwarded, ["192.0.2.1", "192.0.2.2"]);
        assert!(req.headers()["authorization"].is_sensitive());
    }
}
