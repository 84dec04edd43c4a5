//! Replays the checked-in fuzz corpus (fuzz/corpus/sdp_parse) through the
//! fuzz target's body on stable Rust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sdp_parse {
    include!("../../../fuzz/bodies/sdp_parse.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

#[test]
fn sdp_parse_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sdp_parse");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            sdp_parse::entry(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}

#[test]
fn corpus_seeds_reach_the_parser_success_path() {
    // The real descriptions in the corpus must parse, so the fuzzer starts from
    // inputs that get past validation.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sdp_parse");
    for name in [
        "offer.sdp",
        "answer.sdp",
        "offer-lf.sdp",
        "rfc8866-example.sdp",
        "jsep-extras.sdp",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let sdp = fulmar_sdp::SessionDescription::parse_bytes(&bytes).unwrap();
        assert_eq!(sdp.to_string().as_bytes(), &bytes[..], "{name}");
    }
}
