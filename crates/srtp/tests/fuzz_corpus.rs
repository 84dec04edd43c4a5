//! Replays the checked-in corpus of the `srtp_unprotect` fuzz target
//! (fuzz/corpus/srtp_unprotect/) through the target's body on stable Rust.

mod srtp_unprotect {
    include!("../../../fuzz/bodies/srtp_unprotect.rs");

    pub fn replay(data: &[u8]) {
        run(data);
    }
}

#[test]
fn srtp_unprotect_corpus() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/srtp_unprotect");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}"));
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        srtp_unprotect::replay(&data);
        count += 1;
    }
    assert!(count > 0, "empty corpus");
}

/// The corpus must reach the success paths: some seeds unprotect.
#[test]
fn corpus_holds_valid_packets() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/srtp_unprotect");
    let mut valid = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
        let data = std::fs::read(entry.unwrap_or_else(|e| panic!("{e}")).path())
            .unwrap_or_else(|e| panic!("{e}"));
        for profile in fulmar_srtp::ProtectionProfile::ALL {
            let key = vec![0x42; profile.master_key_len()];
            let salt = vec![0x43; profile.master_salt_len()];
            let mut rx = fulmar_srtp::Context::new(profile, &key, &salt, Default::default())
                .unwrap_or_else(|e| panic!("{e}"));
            if rx.unprotect_rtp_in_place(&mut data.clone()).is_ok()
                || rx.unprotect_rtcp_in_place(&mut data.clone()).is_ok()
            {
                valid += 1;
            }
        }
    }
    assert!(valid >= 8, "only {valid} valid seeds");
}
