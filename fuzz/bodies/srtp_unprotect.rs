// Body of the `srtp_unprotect` fuzz target (shared with fulmar-srtp's
// tests/fuzz_corpus.rs). Each input is fed, for every protection profile, to
// SRTP and SRTCP unprotect contexts keyed with a fixed master key (the corpus
// holds packets protected with that key, so the decryption and replay paths
// are reached), twice to exercise the replay window. It is also used as a
// plaintext RTP/RTCP packet that must survive protect then unprotect intact.

/// The fixed master key and salt the corpus packets were protected with:
/// every key byte 0x42, every salt byte 0x43.
fn fuzz_keys(profile: fulmar_srtp::ProtectionProfile) -> (Vec<u8>, Vec<u8>) {
    (
        vec![0x42; profile.master_key_len()],
        vec![0x43; profile.master_salt_len()],
    )
}

fn fuzz_context(profile: fulmar_srtp::ProtectionProfile) -> Option<fulmar_srtp::Context> {
    let (key, salt) = fuzz_keys(profile);
    let config = fulmar_srtp::Config::default()
        .with_max_streams(4)
        .with_replay_window(128);
    fulmar_srtp::Context::new(profile, &key, &salt, config).ok()
}

fn run(data: &[u8]) {
    let Some(data) = data.get(..data.len().min(4096)) else {
        return;
    };
    for profile in fulmar_srtp::ProtectionProfile::ALL {
        let Some(mut rx) = fuzz_context(profile) else {
            return;
        };
        for _ in 0..2 {
            let mut buf = data.to_vec();
            if let Ok(n) = rx.unprotect_rtp_in_place(&mut buf) {
                assert!(n + profile.rtp_auth_tag_len() == data.len());
            }
            let mut buf = data.to_vec();
            if let Ok(n) = rx.unprotect_rtcp_in_place(&mut buf) {
                assert!(n + profile.rtcp_overhead() == data.len());
            }
        }

        // Round trip with the input as plaintext.
        let (Some(mut tx), Some(mut rx)) = (fuzz_context(profile), fuzz_context(profile)) else {
            return;
        };
        let mut buf = data.to_vec();
        if tx.protect_rtp(&mut buf).is_ok() {
            assert!(rx.unprotect_rtp(&mut buf).is_ok());
            assert!(buf == data);
        }
        let mut buf = data.to_vec();
        if tx.protect_rtcp(&mut buf).is_ok() {
            assert!(rx.unprotect_rtcp(&mut buf).is_ok());
            assert!(buf == data);
        }
    }
}
