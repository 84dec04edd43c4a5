//! Replays the checked-in corpus of the `turnd_config` fuzz target (the TOML
//! configuration parser and its validation) through its body on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod turnd_config {
    include!("../../../fuzz/bodies/turnd_config.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn turnd_config_corpus() {
    replay("turnd_config", turnd_config::entry);
}
