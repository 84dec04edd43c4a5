// Shared by the crates' `tests/fuzz_corpus.rs` through `include!`, so that
// every corpus is replayed the same way on stable Rust.

/// The checked-in corpus folder of a fuzz target (`fuzz/corpus/<target>`).
#[allow(dead_code)]
fn corpus_dir(target: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Feeds every file of `fuzz/corpus/<target>` to `run` (a fuzz body) and
/// fails if the corpus is empty.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = corpus_dir(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            run(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}
