//! A minimal Socket.IO client (Engine.IO v4 over WebSocket, Socket.IO v5
//! packets), spoken at the wire level the way `socket.io-client` does.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

/// A minimal Socket.IO client on the default namespace.
pub struct Sio {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// A Socket.IO packet as the tests care about it.
#[derive(Debug, PartialEq)]
pub enum Packet {
    /// `42[event, data]`
    Event(String, Value),
    /// `43<id>[data]`
    Ack(u64, Value),
}

impl Sio {
    pub async fn connect(addr: std::net::SocketAddr) -> Sio {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut s = Sio { ws };
        let open = s.raw().await;
        assert!(open.starts_with('0'), "engine.io open: {open}");
        s.ws.send(Message::Text("40".into())).await.unwrap();
        let connect = s.raw().await;
        assert!(connect.starts_with("40{"), "socket.io connect: {connect}");
        s
    }

    /// The next text frame, answering Engine.IO pings on the way.
    pub async fn raw(&mut self) -> String {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame");
            match m {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    self.ws.send(Message::Text("3".into())).await.unwrap();
                }
                Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    }

    pub async fn packet(&mut self) -> Packet {
        let t = self.raw().await;
        if let Some(body) = t.strip_prefix("42") {
            let v: Value = serde_json::from_str(body).unwrap();
            return Packet::Event(v[0].as_str().unwrap().to_owned(), v[1].clone());
        }
        if let Some(body) = t.strip_prefix("43") {
            let split = body.find('[').unwrap();
            let id = body[..split].parse().unwrap();
            let v: Value = serde_json::from_str(&body[split..]).unwrap();
            return Packet::Ack(id, v[0].clone());
        }
        panic!("unexpected packet {t}");
    }

    pub async fn emit(&mut self, event: &str, data: Value) {
        let t = format!("42{}", json!([event, data]));
        self.ws.send(Message::Text(t.into())).await.unwrap();
    }

    pub async fn emit_with_ack(&mut self, ack: u64, event: &str, data: Value) {
        let t = format!("42{ack}{}", json!([event, data]));
        self.ws.send(Message::Text(t.into())).await.unwrap();
    }
}
