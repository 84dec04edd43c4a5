//! Replays the checked-in fuzz corpora (fuzz/corpus/stun_message,
//! fuzz/corpus/channel_data) through the fuzz targets' bodies on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stun_message {
    include!("../../../fuzz/bodies/stun_message.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod channel_data {
    include!("../../../fuzz/bodies/channel_data.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn stun_message_corpus() {
    replay("stun_message", stun_message::entry);
}

#[test]
fn channel_data_corpus() {
    replay("channel_data", channel_data::entry);
}

#[test]
fn seeds_signed_with_the_fuzz_key_verify() {
    // The ICE seeds were produced by an independent HMAC/CRC implementation
    // with the key the fuzz body uses; they must verify, so that the fuzzer
    // starts from messages that reach the code behind a successful check.
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/stun_message");
    let key = fulmar_stun::IntegrityKey::new(b"fuzz-key");
    for name in [
        "ice-binding-request-fuzz-key",
        "ice-binding-request-sha256",
        "turn-allocate",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let msg = fulmar_stun::Message::parse(&bytes).unwrap();
        msg.verify_integrity(&key).unwrap();
        msg.verify_message_integrity(&key).unwrap();
        msg.verify_fingerprint().unwrap();
    }
}
