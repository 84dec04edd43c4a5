//! A server on a loopback port and a WebSocket client for the tests. Every
//! wait is bounded: a missing frame fails the test after `WAIT`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod sio;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fulmar_signal::auth::Auth;
use fulmar_signal::limits::Limits;
use fulmar_signal::Signal;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for any one frame.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub signal: Arc<Signal>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server with `limits` and `auth` on a loopback port.
pub async fn server(limits: Limits, auth: Auth) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let signal = Signal::new(limits, auth);
    let task = tokio::spawn({
        let s = signal.clone();
        async move {
            let _ = s.serve(listener).await;
        }
    });
    Server { addr, signal, task }
}

/// An open-mode server with default limits.
pub async fn open_server() -> Server {
    server(Limits::default(), Auth::Open).await
}

/// A plain WebSocket client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events received while waiting for a reply, in order.
    pending: std::collections::VecDeque<Value>,
}

impl Client {
    /// Connects and reads the `hello`.
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .unwrap();
        let mut c = Client {
            ws,
            next_id: 1,
            pending: Default::default(),
        };
        let hello = c.read().await.expect("hello");
        assert_eq!(hello["type"], "hello");
        assert_eq!(hello["v"], 1);
        c
    }

    /// Sends a raw text message.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// Sends `msg` with a fresh `id` and returns the reply to it (events
    /// that arrive first are kept for [`Self::event`]).
    pub async fn request(&mut self, mut msg: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        msg["id"] = json!(id);
        self.send_text(&msg.to_string()).await;
        loop {
            let m = self.read().await.expect("a reply");
            if m["re"] == json!(id) {
                return m;
            }
            self.pending.push_back(m);
        }
    }

    /// Joins `room` as `name`; returns the `joined` reply.
    pub async fn join(&mut self, room: &str, name: &str) -> Value {
        let r = self
            .request(json!({"type": "join", "room": room, "name": name, "meta": {"n": name}}))
            .await;
        assert_eq!(r["type"], "joined", "{r}");
        r
    }

    /// The next pushed event (one with a `seq`).
    pub async fn event(&mut self) -> Value {
        if let Some(m) = self.pending.pop_front() {
            return m;
        }
        self.read().await.expect("an event")
    }

    /// The next message, or `None` when the server closed the connection.
    pub async fn read(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame within the wait");
            match msg {
                Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Events received but not read yet.
    pub fn unread_events(&self) -> usize {
        self.pending.len()
    }

    /// Closes the connection abruptly (no `leave`).
    pub async fn drop_connection(mut self) {
        let _ = self.ws.close(None).await;
    }
}
