//! The connection to a fulmar-signal server: requests with their replies,
//! pushed events in order, and resume after a lost connection.
//!
//! One task owns the WebSocket. When the connection drops, it reconnects
//! and sends `resume` with the last event it delivered, for as long as the
//! server's grace allows; the server replays what was missed, so the
//! application sees every event once, in order, and the room sees nothing.
//! Requests in flight when the connection dropped fail with
//! [`ClientError::ConnectionLost`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::event::{CandidateInit, Event, Peer};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Events delivered between two `ack`s.
const ACK_EVERY: u64 = 32;
/// Pause between reconnection attempts.
const RETRY: Duration = Duration::from_millis(200);
/// Events queued for the application before the task waits for it.
const EVENT_QUEUE: usize = 1024;
/// Longest wait for the server's `hello` and for a reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The WebSocket could not be opened or broke.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server refused the request.
    #[error("{code}: {message}")]
    Refused {
        /// The error code (`not-joined`, `no-such-peer`, …).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The connection dropped before the reply came (the session resumes;
    /// the request may or may not have been handled).
    #[error("the connection dropped before the reply")]
    ConnectionLost,
    /// The session is over (left, kicked, or not resumable).
    #[error("the session ended")]
    Ended,
    /// No reply within the timeout.
    #[error("no reply from the server")]
    Timeout,
    /// The server sent something this client does not understand.
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// What to join with.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    /// The room.
    pub room: String,
    /// The display name.
    pub name: String,
    /// Metadata shown to the others.
    pub meta: Value,
    /// A JWT, unless the server is in open mode.
    pub token: Option<String>,
}

enum Command {
    Request {
        msg: Value,
        reply: oneshot::Sender<Result<Value, ClientError>>,
    },
    /// Drop the connection now (the task resumes), for tests and network
    /// changes.
    Reconnect,
}

/// A joined session.
pub struct Client {
    id: String,
    peers: Vec<Peer>,
    commands: mpsc::Sender<Command>,
    events: Mutex<mpsc::Receiver<Event>>,
}

impl Client {
    /// Connects to `url` (`ws://host:port/ws`) and joins a room.
    pub async fn join(url: &str, options: JoinOptions) -> Result<Client, ClientError> {
        let mut ws = open(url).await?;
        let grace = hello(&mut ws).await?;
        let join = json!({
            "type": "join", "id": 0, "room": options.room, "name": options.name,
            "meta": options.meta, "token": options.token,
        });
        ws.send(Message::Text(join.to_string().into())).await?;
        let joined = read_reply(&mut ws, 0).await?;
        let id = str_field(&joined, "id")?;
        let resume_token = str_field(&joined, "resumeToken")?;
        let peers = serde_json::from_value(joined.get("peers").cloned().unwrap_or_default())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let last_seq = joined.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let (commands, rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let task = Task {
            url: url.to_owned(),
            session: id.clone(),
            resume_token,
            grace,
            last_seq,
            acked: last_seq,
            next_id: 1,
            pending: HashMap::new(),
            events: events_tx,
        };
        tokio::spawn(task.run(ws, rx));
        Ok(Client {
            id,
            peers,
            commands,
            events: Mutex::new(events),
        })
    }

    /// Our id in the room.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The peers that were in the room when we joined.
    pub fn initial_peers(&self) -> &[Peer] {
        &self.peers
    }

    /// The next event; `None` once the session ended.
    pub async fn next_event(&self) -> Option<Event> {
        self.events.lock().await.recv().await
    }

    /// Sends an offer to `to`.
    pub async fn offer(&self, to: &str, sdp: &str) -> Result<(), ClientError> {
        self.request(json!({"type": "offer", "to": to, "sdp": sdp}))
            .await
            .map(drop)
    }

    /// Sends an answer to `to`.
    pub async fn answer(&self, to: &str, sdp: &str) -> Result<(), ClientError> {
        self.request(json!({"type": "answer", "to": to, "sdp": sdp}))
            .await
            .map(drop)
    }

    /// Trickles a candidate to `to` (`None`: end of candidates).
    pub async fn candidate(
        &self,
        to: &str,
        candidate: Option<&CandidateInit>,
    ) -> Result<(), ClientError> {
        self.request(json!({"type": "candidate", "to": to, "candidate": candidate}))
            .await
            .map(drop)
    }

    /// Sends `data` to everyone else in the room.
    pub async fn broadcast(&self, data: Value) -> Result<(), ClientError> {
        self.request(json!({"type": "broadcast", "data": data}))
            .await
            .map(drop)
    }

    /// Replaces our metadata.
    pub async fn update(&self, meta: Value) -> Result<(), ClientError> {
        self.request(json!({"type": "update", "meta": meta}))
            .await
            .map(drop)
    }

    /// Leaves the room; the session ends.
    pub async fn leave(&self) -> Result<(), ClientError> {
        self.request(json!({"type": "leave"})).await.map(drop)
    }

    /// Measures the round trip to the server.
    pub async fn ping(&self) -> Result<Duration, ClientError> {
        let start = Instant::now();
        self.request(json!({"type": "ping"})).await?;
        Ok(start.elapsed())
    }

    /// Drops the WebSocket now; the session resumes on a new one (what a
    /// network change does).
    pub async fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect).await;
    }

    async fn request(&self, msg: Value) -> Result<Value, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request { msg, reply })
            .await
            .map_err(|_| ClientError::Ended)?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ClientError::Ended),
            Err(_) => Err(ClientError::Timeout),
        }
    }
}

struct Task {
    url: String,
    session: String,
    resume_token: String,
    grace: Duration,
    /// The last event delivered to the application.
    last_seq: u64,
    acked: u64,
    next_id: u64,
    pending: HashMap<u64, oneshot::Sender<Result<Value, ClientError>>>,
    events: mpsc::Sender<Event>,
}

/// Why one connection's loop ended.
enum Ended {
    /// The connection dropped: resume.
    Dropped,
    /// The session is over.
    Over,
}

impl Task {
    async fn run(mut self, mut ws: Ws, mut commands: mpsc::Receiver<Command>) {
        loop {
            match self.serve(&mut ws, &mut commands).await {
                Ended::Over => return,
                Ended::Dropped => {
                    for (_, reply) in self.pending.drain() {
                        let _ = reply.send(Err(ClientError::ConnectionLost));
                    }
                    match self.resume().await {
                        Some(new) => ws = new,
                        None => return,
                    }
                }
            }
        }
    }

    async fn serve(&mut self, ws: &mut Ws, commands: &mut mpsc::Receiver<Command>) -> Ended {
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    // The application dropped the client: leave quietly.
                    None => {
                        let _ = ws.close(None).await;
                        return Ended::Over;
                    }
                    Some(Command::Reconnect) => {
                        let _ = ws.close(None).await;
                        return Ended::Dropped;
                    }
                    Some(Command::Request { mut msg, reply }) => {
                        let id = self.next_id;
                        self.next_id += 1;
                        msg["id"] = json!(id);
                        if ws.send(Message::Text(msg.to_string().into())).await.is_err() {
                            let _ = reply.send(Err(ClientError::ConnectionLost));
                            return Ended::Dropped;
                        }
                        self.pending.insert(id, reply);
                    }
                },
                frame = ws.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ended::Dropped,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                    if let Some(over) = self.handle_frame(ws, v).await {
                        return over;
                    }
                }
            }
        }
    }

    /// Delivers a reply or an event; `Some` when the session is over.
    async fn handle_frame(&mut self, ws: &mut Ws, v: Value) -> Option<Ended> {
        if let Some(re) = v.get("re").and_then(Value::as_u64) {
            if let Some(reply) = self.pending.remove(&re) {
                let _ = reply.send(to_result(v));
            }
            return None;
        }
        let seq = v.get("seq").and_then(Value::as_u64)?;
        if seq <= self.last_seq {
            // Already delivered (a replay that overlapped).
            return None;
        }
        self.last_seq = seq;
        let event = Event::from_frame(&v)?;
        let kicked = matches!(event, Event::Kicked { .. });
        if self.events.send(event).await.is_err() {
            return Some(Ended::Over);
        }
        if kicked {
            return Some(Ended::Over);
        }
        if self.last_seq - self.acked >= ACK_EVERY {
            self.acked = self.last_seq;
            let ack = json!({"type": "ack", "seq": self.acked});
            let _ = ws.send(Message::Text(ack.to_string().into())).await;
        }
        None
    }

    /// Reconnects and resumes within the grace; `None` if it cannot.
    async fn resume(&mut self) -> Option<Ws> {
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(ws)) = tokio::time::timeout(REPLY_TIMEOUT, self.try_resume()).await {
                return Some(ws);
            }
            tokio::time::sleep(RETRY).await;
        }
        None
    }

    async fn try_resume(&mut self) -> Option<Ws> {
        let mut ws = open(&self.url).await.ok()?;
        hello(&mut ws).await.ok()?;
        let msg = json!({
            "type": "resume", "id": 0, "session": self.session,
            "token": self.resume_token, "lastSeq": self.last_seq,
        });
        ws.send(Message::Text(msg.to_string().into())).await.ok()?;
        let reply = read_reply(&mut ws, 0).await.ok()?;
        (reply.get("type").and_then(Value::as_str) == Some("resumed")).then_some(ws)
    }
}

async fn open(url: &str) -> Result<Ws, ClientError> {
    let (ws, _) = tokio_tungstenite::connect_async(url).await?;
    Ok(ws)
}

/// Reads `hello`; returns the server's resume grace.
async fn hello(ws: &mut Ws) -> Result<Duration, ClientError> {
    let v = read_frame(ws).await?;
    if v.get("type").and_then(Value::as_str) != Some("hello") {
        return Err(ClientError::Protocol(v.to_string()));
    }
    let ms = v.get("resumeGraceMs").and_then(Value::as_u64).unwrap_or(0);
    Ok(Duration::from_millis(ms))
}

/// Reads frames until the reply to request `id`.
async fn read_reply(ws: &mut Ws, id: u64) -> Result<Value, ClientError> {
    loop {
        let v = read_frame(ws).await?;
        if v.get("re").and_then(Value::as_u64) == Some(id) {
            return to_result(v);
        }
    }
}

async fn read_frame(ws: &mut Ws) -> Result<Value, ClientError> {
    loop {
        let frame = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .map_err(|_| ClientError::Timeout)?;
        match frame {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str())
                    .map_err(|e| ClientError::Protocol(e.to_string()))
            }
            Some(Ok(Message::Close(_))) | None => return Err(ClientError::ConnectionLost),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(_)) => {}
        }
    }
}

fn to_result(v: Value) -> Result<Value, ClientError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        return Err(ClientError::Refused {
            code: field("code"),
            message: field("message"),
        });
    }
    Ok(v)
}

fn str_field(v: &Value, key: &str) -> Result<String, ClientError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Protocol(format!("no `{key}` in {v}")))
}
