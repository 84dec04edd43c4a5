//! The plain WebSocket endpoint: each text message is one JSON request,
//! each frame the hub queues is one text message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use crate::error::{ErrorCode, Rejection};
use crate::hub::ConnHandle;
use crate::protocol::Request;
use crate::server::Signal;

/// Longest wait to write the last frames of a connection being closed.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(1);

/// Bytes read from a connection at a time.
const READ_BUFFER: usize = 4096;

/// Where the endpoint is served.
pub const PATH: &str = "/ws";

/// Upgrades the request; messages over the size cap close the connection.
pub(crate) async fn upgrade(ws: WebSocketUpgrade, State(s): State<Arc<Signal>>) -> Response {
    let max = s.limits().max_message_bytes;
    // Idle sessions must be cheap: a small read buffer (tungstenite's
    // default is 128 KiB per connection); larger messages still arrive,
    // read in several chunks.
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| run(s, socket))
}

async fn run(s: Arc<Signal>, socket: WebSocket) {
    let (handle, mut frames, close) = ConnHandle::new(s.limits().connection_queue);
    let conn = s.hub().connect(handle, Instant::now());
    let idle = s.limits().idle_timeout;
    let (mut tx, mut rx) = socket.split();
    loop {
        tokio::select! {
            read = tokio::time::timeout(idle, rx.next()) => {
                let msg = match read {
                    Ok(Some(Ok(msg))) => msg,
                    // Idle, closed or broken.
                    _ => break,
                };
                match msg {
                    Message::Text(text) => {
                        let parsed = Request::parse(text.as_str());
                        s.receive(conn, parsed).await;
                    }
                    Message::Binary(_) => {
                        let r = Rejection::new(ErrorCode::BadMessage, "send JSON as text messages");
                        s.hub().reject(conn, None, &r);
                    }
                    Message::Close(_) => break,
                    // Pings are answered by axum and count as activity.
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                if tx.send(Message::Text(frame.json.as_ref().into())).await.is_err() {
                    break;
                }
            }
            () = close.notified() => {
                // Flush what is queued (a `kicked` or final `error`), then
                // close; a peer that does not read gets a bounded wait.
                let flush = async {
                    while let Ok(frame) = frames.try_recv() {
                        tx.send(Message::Text(frame.json.as_ref().into())).await?;
                    }
                    tx.send(Message::Close(None)).await
                };
                let _ = tokio::time::timeout(FLUSH_ON_CLOSE, flush).await;
                break;
            }
        }
    }
    s.disconnect(conn).await;
}
