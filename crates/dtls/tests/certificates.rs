//! SDP fingerprints (RFC 8122 §5) of certificates made by openssl; their
//! signatures are verified in the crate's unit tests (src/tests/peer_keys.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_dtls::{Fingerprint, HashAlgorithm};

const RSA: &[u8] = include_bytes!("fixtures/rsa2048-cert.der");
const P384: &[u8] = include_bytes!("fixtures/ecdsa-p384-cert.der");

#[test]
fn fingerprints_in_every_sdp_hash() {
    for alg in [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ] {
        let f = Fingerprint::of(alg, RSA);
        let parsed = Fingerprint::parse_sdp(&f.to_sdp()).unwrap();
        assert_eq!(parsed, f);
        assert!(parsed.matches(RSA));
        assert!(!parsed.matches(P384));
    }
    let lower = Fingerprint::of(HashAlgorithm::Sha256, RSA)
        .to_sdp()
        .to_lowercase()
        .replace("sha-256", "SHA-256");
    assert!(Fingerprint::parse_sdp(&lower).unwrap().matches(RSA));
    assert!(Fingerprint::parse_sdp("sha-256 AB:CD").is_err());
    assert!(Fingerprint::parse_sdp("md5 AB").is_err());
    assert!(Fingerprint::parse_sdp(
        "sha-1 GG:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00"
    )
    .is_err());
}
