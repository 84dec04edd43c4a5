//! Replays the checked-in corpora of the `turn_server` and `turn_client`
//! fuzz targets (fuzz/corpus/<target>) through their bodies on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod turn_server {
    include!("../../../fuzz/bodies/turn_server.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod turn_client {
    include!("../../../fuzz/bodies/turn_client.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn turn_server_corpus() {
    replay("turn_server", turn_server::entry);
}

#[test]
fn turn_client_corpus() {
    replay("turn_client", turn_client::entry);
}
