//! Replays the checked-in corpus of the `signal_message` fuzz target (the
//! message parser and the room core) through its body on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod signal_message {
    include!("../../../fuzz/bodies/signal_message.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn signal_message_corpus() {
    replay("signal_message", signal_message::entry);
}
