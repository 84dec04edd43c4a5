//! What the gateway's test binaries share: a gateway served on 127.0.0.1,
//! an SDP `POST`, and the `/sessions` listing.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use fulmar_gateway::{Gateway, GatewayConfig};
use reqwest::Client;

/// A gateway served on an ephemeral 127.0.0.1 port; its base URL.
pub async fn start(config: GatewayConfig) -> (String, Arc<Gateway>) {
    let gateway = Arc::new(Gateway::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(fulmar_gateway::serve(listener, gateway.clone()));
    (base, gateway)
}

/// `POST url` with an `application/sdp` body.
pub async fn post_sdp(client: &Client, url: &str, sdp: &str) -> reqwest::Response {
    client
        .post(url)
        .header("Content-Type", "application/sdp")
        .body(sdp.to_owned())
        .send()
        .await
        .unwrap()
}

/// `GET /sessions`: the JSON text and its parsed value.
pub async fn sessions(client: &Client, base: &str) -> (String, serde_json::Value) {
    let json = client
        .get(format!("{base}/sessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = serde_json::from_str(&json).unwrap();
    (json, value)
}
