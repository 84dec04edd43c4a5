//! Peer certificate verification: RSA (rsa_pkcs1_sha256, rsa_pss_rsae_sha256)
//! and ECDSA P-384 signatures made by openssl.

use crate::cert::PeerKey;
use crate::crypto::{scheme, KeyKind};
use crate::Error;

const MSG: &[u8] = include_bytes!("../../tests/fixtures/signed-message.bin");
const RSA: &[u8] = include_bytes!("../../tests/fixtures/rsa2048-cert.der");
const P384: &[u8] = include_bytes!("../../tests/fixtures/ecdsa-p384-cert.der");

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn rsa_pkcs1_sha256_and_pss_rsae_sha256() -> TestResult {
    let k = PeerKey::from_certificate(RSA)?;
    assert_eq!(k.kind, KeyKind::Rsa);
    let pkcs1 = include_bytes!("../../tests/fixtures/rsa-pkcs1-sha256.sig");
    let pss = include_bytes!("../../tests/fixtures/rsa-pss-rsae-sha256.sig");
    k.verify(scheme::RSA_PKCS1_SHA256, MSG, pkcs1)?;
    k.verify(scheme::RSA_PSS_RSAE_SHA256, MSG, pss)?;
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
    Ok(())
}

#[test]
fn ecdsa_p384() -> TestResult {
    let k = PeerKey::from_certificate(P384)?;
    assert_eq!(k.kind, KeyKind::EcdsaP384);
    let sig = include_bytes!("../../tests/fixtures/ecdsa-p384-sha384.sig");
    k.verify(scheme::ECDSA_SECP384R1_SHA384, MSG, sig)?;
    assert!(k.verify(scheme::ECDSA_SECP384R1_SHA384, b"x", sig).is_err());
    Ok(())
}

#[test]
fn garbage_certificate_is_a_bad_certificate() {
    assert!(matches!(
        PeerKey::from_certificate(&RSA[..100]),
        Err(Error::Protocol { .. })
    ));
}
