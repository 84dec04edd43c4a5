//! Replays the checked-in corpus of the `turn_server` fuzz target
//! (fuzz/corpus/turn_server) through its body on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod turn_server {
    include!("../../../fuzz/bodies/turn_server.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

#[test]
fn turn_server_corpus() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/turn_server");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            turn_server::entry(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}
