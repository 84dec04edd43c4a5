//! Replays the checked-in fuzz corpus (fuzz/corpus/dcep_message) through the
//! fuzz target's body on stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dcep_message {
    include!("../../../fuzz/bodies/dcep_message.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

#[test]
fn dcep_message_corpus() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dcep_message");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            dcep_message::entry(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}
