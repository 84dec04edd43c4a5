//! Replays the checked-in corpus of the `gateway_clip` fuzz target (clip
//! readers, player and recorder) through its body on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_clip {
    include!("../../../fuzz/bodies/gateway_clip.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn gateway_clip_corpus() {
    replay("gateway_clip", gateway_clip::entry);
}
