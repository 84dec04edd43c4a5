//! Replays the checked-in corpora of the `gateway_clip` fuzz target (clip
//! readers, player and recorder) and of the `gateway_http` fuzz target (the
//! HTTP entry points through the axum router) through their bodies on
//! stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_clip {
    include!("../../../fuzz/bodies/gateway_clip.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod gateway_http {
    include!("../../../fuzz/bodies/gateway_http.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn gateway_clip_corpus() {
    replay("gateway_clip", gateway_clip::entry);
}

#[test]
fn gateway_http_corpus() {
    replay("gateway_http", gateway_http::entry);
}
