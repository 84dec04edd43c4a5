//! JWT grants: HS256 and ES256 tokens, expiry, forgery, room, publish,
//! subscribe and admin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{server, Client};
use fulmar_signal::auth::{Auth, Key};
use fulmar_signal::limits::Limits;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &[u8] = b"a test secret that is long enough";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

async fn join_with(c: &mut Client, room: &str, token: &str) -> Value {
    c.request(json!({"type": "join", "room": room, "name": "x", "token": token}))
        .await
}

#[tokio::test]
async fn hs256_tokens_grant_rooms_until_they_expire() {
    let s = server(
        Limits::default(),
        Auth::Jwt(vec![Key::hs256(SECRET).unwrap()]),
    )
    .await;
    let mut c = Client::connect(s.addr).await;
    // No token, a forged one, an expired one, another room's.
    let r = c.request(json!({"type": "join", "room": "r"})).await;
    assert_eq!(r["code"], "unauthorized");
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &json!({"room": "r", "exp": now() + 60}),
        &EncodingKey::from_secret(b"not the secret").unwrap(),
    )
    .unwrap();
    assert_eq!(
        join_with(&mut c, "r", &forged).await["code"],
        "unauthorized"
    );
    let expired = hs256(json!({"room": "r", "exp": now() - 3600}));
    assert_eq!(
        join_with(&mut c, "r", &expired).await["code"],
        "unauthorized"
    );
    assert_eq!(
        join_with(&mut c, "r", "not.a.jwt").await["code"],
        "unauthorized"
    );
    let other = hs256(json!({"room": "other", "exp": now() + 60}));
    assert_eq!(join_with(&mut c, "r", &other).await["code"], "forbidden");
    // The right one.
    let good = hs256(json!({"room": "r", "exp": now() + 60}));
    assert_eq!(join_with(&mut c, "r", &good).await["type"], "joined");
    // A wildcard room grant.
    let mut d = Client::connect(s.addr).await;
    let any = hs256(json!({"room": "*", "exp": now() + 60}));
    assert_eq!(join_with(&mut d, "anything", &any).await["type"], "joined");
}

#[tokio::test]
async fn es256_tokens_are_verified_with_the_public_key() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let key = Key::es256_pem(pair.public_key_pem().as_bytes()).unwrap();
    let s = server(Limits::default(), Auth::Jwt(vec![key])).await;
    let signing = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let token = encode(
        &Header::new(Algorithm::ES256),
        &json!({"room": "r", "exp": now() + 60}),
        &signing,
    )
    .unwrap();
    let mut c = Client::connect(s.addr).await;
    assert_eq!(join_with(&mut c, "r", &token).await["type"], "joined");
    // An HS256 token means nothing to an ES256-only server.
    let mut d = Client::connect(s.addr).await;
    let hs = hs256(json!({"room": "r", "exp": now() + 60}));
    assert_eq!(join_with(&mut d, "r", &hs).await["code"], "unauthorized");
}

#[tokio::test]
async fn publish_subscribe_and_admin_grants_are_enforced() {
    let limits = Limits {
        max_room_peers: 2,
        ..Limits::default()
    };
    let s = server(limits, Auth::Jwt(vec![Key::hs256(SECRET).unwrap()])).await;
    let exp = now() + 60;
    let mut viewer = Client::connect(s.addr).await;
    let v = join_with(
        &mut viewer,
        "r",
        &hs256(json!({"room": "r", "exp": exp, "publish": false})),
    )
    .await;
    let viewer_id = v["id"].as_str().unwrap().to_owned();
    let mut deaf = Client::connect(s.addr).await;
    let d = join_with(
        &mut deaf,
        "r",
        &hs256(json!({"room": "r", "exp": exp, "subscribe": false})),
    )
    .await;
    let deaf_id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(viewer.event().await["type"], "peer-joined");

    // A viewer may not offer or broadcast; nobody may offer to a peer that
    // does not subscribe; answers and candidates are replies, allowed.
    let r = viewer
        .request(json!({"type": "offer", "to": deaf_id, "sdp": "x"}))
        .await;
    assert_eq!(r["code"], "forbidden");
    let r = viewer
        .request(json!({"type": "broadcast", "data": 1}))
        .await;
    assert_eq!(r["code"], "forbidden");
    let r = deaf
        .request(json!({"type": "offer", "to": viewer_id, "sdp": "x"}))
        .await;
    assert_eq!(r["type"], "ok");
    assert_eq!(viewer.event().await["type"], "offer");
    let r = viewer
        .request(json!({"type": "answer", "to": deaf_id, "sdp": "y"}))
        .await;
    assert_eq!(r["type"], "ok");
    assert_eq!(deaf.event().await["type"], "answer");
    let r = viewer.request(json!({"type": "kick", "to": deaf_id})).await;
    assert_eq!(r["code"], "forbidden");

    // The room is full, but an admin may still join, and kick.
    let mut third = Client::connect(s.addr).await;
    let r = join_with(&mut third, "r", &hs256(json!({"room": "r", "exp": exp}))).await;
    assert_eq!(r["code"], "room-full");
    let mut admin = Client::connect(s.addr).await;
    let a = join_with(
        &mut admin,
        "r",
        &hs256(json!({"room": "r", "exp": exp, "admin": true})),
    )
    .await;
    assert_eq!(a["type"], "joined");
    assert_eq!(
        admin.request(json!({"type": "kick", "to": deaf_id})).await["type"],
        "ok"
    );
    assert_eq!(deaf.event().await["type"], "peer-joined");
    let k = deaf.event().await;
    assert_eq!((k["type"].as_str(), &k["by"]), (Some("kicked"), &a["id"]));
    assert!(
        deaf.read().await.is_none(),
        "a kicked peer's connection closes"
    );
    assert_eq!(viewer.event().await["type"], "peer-joined");
    let left = viewer.event().await;
    assert_eq!(
        (left["type"].as_str(), &left["id"]),
        (Some("peer-left"), &json!(deaf_id))
    );
}
