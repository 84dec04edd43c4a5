//! Peer certificate verification: RSA (rsa_pkcs1_sha256, rsa_pss_rsae_sha256)
//! and ECDSA P-384 signatures made by openssl, plus SDP fingerprints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_dtls::cert::PeerKey;
use fulmar_dtls::crypto::{scheme, KeyKind};
use fulmar_dtls::{Error, Fingerprint, HashAlgorithm};

const MSG: &[u8] = include_bytes!("fixtures/signed-message.bin");
const RSA: &[u8] = include_bytes!("fixtures/rsa2048-cert.der");
const P384: &[u8] = include_bytes!("fixtures/ecdsa-p384-cert.der");

#[test]
fn rsa_pkcs1_sha256_and_pss_rsae_sha256() {
    let k = PeerKey::from_certificate(RSA).unwrap();
    assert_eq!(k.kind, KeyKind::Rsa);
    let pkcs1 = include_bytes!("fixtures/rsa-pkcs1-sha256.sig");
    let pss = include_bytes!("fixtures/rsa-pss-rsae-sha256.sig");
    k.verify(scheme::RSA_PKCS1_SHA256, MSG, pkcs1).unwrap();
    k.verify(scheme::RSA_PSS_RSAE_SHA256, MSG, pss).unwrap();
    // Wrong padding or a changed message fails.
    assert!(k.verify(scheme::RSA_PSS_RSAE_SHA256, MSG, pkcs1).is_err());
    assert!(k
        .verify(scheme::RSA_PKCS1_SHA256, b"other message", pkcs1)
        .is_err());
    // An ECDSA scheme with an RSA key is refused.
    assert!(matches!(
        k.verify(scheme::ECDSA_SECP256R1_SHA256, MSG, pkcs1),
        Err(Error::Protocol { .. })
    ));
}

#[test]
fn ecdsa_p384() {
    let k = PeerKey::from_certificate(P384).unwrap();
    assert_eq!(k.kind, KeyKind::EcdsaP384);
    let sig = include_bytes!("fixtures/ecdsa-p384-sha384.sig");
    k.verify(scheme::ECDSA_SECP384R1_SHA384, MSG, sig).unwrap();
    assert!(k.verify(scheme::ECDSA_SECP384R1_SHA384, b"x", sig).is_err());
}

#[test]
fn garbage_certificate_is_a_bad_certificate() {
    assert!(matches!(
        PeerKey::from_certificate(&RSA[..100]),
        Err(Error::Protocol { .. })
    ));
}

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
