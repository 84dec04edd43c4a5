//! Certificates: self-signed ECDSA P-256 generation, SDP fingerprints
//! (RFC 8122 §5), and the peer-certificate checks of the WebRTC model.

use ring::rand::SecureRandom;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::crypto::{self, HashAlgorithm, KeyKind};
use crate::error::{Error, Result};

/// A certificate fingerprint as carried in SDP `a=fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function.
    pub algorithm: HashAlgorithm,
    /// Hash of the DER certificate.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// Fingerprint of a DER certificate with `algorithm`.
    pub fn of(algorithm: HashAlgorithm, der: &[u8]) -> Self {
        Fingerprint {
            algorithm,
            value: algorithm.hash(der),
        }
    }

    /// A fingerprint from its parts, e.g. those fulmar-sdp's typed
    /// `a=fingerprint` gives; the digest must have the algorithm's length.
    pub fn new(algorithm: HashAlgorithm, value: Vec<u8>) -> Result<Self> {
        if value.len() != algorithm.digest_len() {
            return Err(Error::Malformed("fingerprint length"));
        }
        Ok(Fingerprint { algorithm, value })
    }

    /// SDP form: `sha-256 AB:CD:...` (RFC 8122 §5).
    pub fn to_sdp(&self) -> String {
        let hex: Vec<String> = self.value.iter().map(|b| format!("{b:02X}")).collect();
        format!("{} {}", self.algorithm.sdp_name(), hex.join(":"))
    }

    /// Parses the SDP form (hash name case-insensitive).
    pub fn parse_sdp(s: &str) -> Result<Self> {
        let mut it = s.split_whitespace();
        let name = it.next().ok_or(Error::Malformed("fingerprint"))?;
        let hex = it.next().ok_or(Error::Malformed("fingerprint"))?;
        if it.next().is_some() {
            return Err(Error::Malformed("fingerprint"));
        }
        let algorithm =
            HashAlgorithm::from_sdp_name(name).ok_or(Error::Malformed("fingerprint hash"))?;
        let value = hex
            .split(':')
            .map(|h| {
                if h.len() == 2 {
                    u8::from_str_radix(h, 16).map_err(|_| Error::Malformed("fingerprint hex"))
                } else {
                    Err(Error::Malformed("fingerprint hex"))
                }
            })
            .collect::<Result<Vec<u8>>>()?;
        Self::new(algorithm, value)
    }

    /// Whether `der` has this fingerprint (constant-time comparison).
    pub fn matches(&self, der: &[u8]) -> bool {
        crypto::ct_eq(&self.algorithm.hash(der), &self.value)
    }
}

/// Our certificate and its ECDSA P-256 private key.
pub struct Certificate {
    der: Vec<u8>,
    key: ring::signature::EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl core::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint().to_sdp())
            .finish_non_exhaustive()
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

impl Certificate {
    /// Generates a self-signed ECDSA P-256 certificate with a random common
    /// name, valid from yesterday for 30 days (as browsers generate theirs).
    pub fn generate() -> Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let mut name = [0u8; 8];
        rng.fill(&mut name).map_err(|_| Error::Crypto("random"))?;
        let cn: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|_| Error::Certificate("key generation"))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|_| Error::Certificate("params"))?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, format!("fulmar-{cn}"));
        params.distinguished_name = dn;
        let days = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() / 86_400)
            .unwrap_or(0) as i64;
        let (y, m, d) = civil_from_days(days - 1);
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = civil_from_days(days + 30);
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let mut serial = [0u8; 16];
        rng.fill(&mut serial).map_err(|_| Error::Crypto("random"))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let cert = params
            .self_signed(&key)
            .map_err(|_| Error::Certificate("self-signing"))?;
        Self::from_der(cert.der().to_vec(), &key.serialize_der())
    }

    /// Loads a DER certificate and its PKCS#8 ECDSA P-256 private key.
    pub fn from_der(der: Vec<u8>, pkcs8: &[u8]) -> Result<Self> {
        let key = crypto::ecdsa_p256_key(pkcs8)?;
        Ok(Certificate {
            der,
            key,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PKCS#8 private key.
    pub fn private_key_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The SHA-256 fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(HashAlgorithm::Sha256, &self.der)
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        crypto::sign_ecdsa_p256(&self.key, msg)
    }
}

/// The public key of a peer's certificate, ready to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerKey {
    /// Key type.
    pub kind: KeyKind,
    /// SubjectPublicKeyInfo BIT STRING contents.
    pub key: Vec<u8>,
}

impl PeerKey {
    /// Extracts the public key of a DER certificate.
    pub fn from_certificate(der: &[u8]) -> Result<Self> {
        use x509_parser::oid_registry::{OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| {
            Error::protocol(
                crate::alert::AlertDescription::BadCertificate,
                "unparsable certificate",
            )
        })?;
        let spki = cert.public_key();
        let key = spki.subject_public_key.data.to_vec();
        let alg = &spki.algorithm.algorithm;
        let kind = if *alg == OID_PKCS1_RSAENCRYPTION {
            KeyKind::Rsa
        } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            match key.len() {
                65 => KeyKind::EcdsaP256,
                97 => KeyKind::EcdsaP384,
                _ => {
                    return Err(Error::protocol(
                        crate::alert::AlertDescription::UnsupportedCertificate,
                        "unsupported EC curve",
                    ))
                }
            }
        } else {
            return Err(Error::protocol(
                crate::alert::AlertDescription::UnsupportedCertificate,
                "unsupported public key type",
            ));
        };
        Ok(PeerKey { kind, key })
    }

    /// Verifies a TLS 1.2 signature.
    pub fn verify(&self, scheme: u16, msg: &[u8], sig: &[u8]) -> Result<()> {
        crypto::verify(self.kind, &self.key, scheme, msg, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn generated_certificate_fingerprint_and_key() {
        let c = Certificate::generate().unwrap();
        let fp = c.fingerprint();
        assert!(fp.matches(c.der()));
        let sdp = fp.to_sdp();
        assert!(sdp.starts_with("sha-256 "));
        assert_eq!(Fingerprint::parse_sdp(&sdp).unwrap(), fp);
        let pk = PeerKey::from_certificate(c.der()).unwrap();
        assert_eq!(pk.kind, KeyKind::EcdsaP256);
        let sig = c.sign(b"hello").unwrap();
        pk.verify(crypto::scheme::ECDSA_SECP256R1_SHA256, b"hello", &sig)
            .unwrap();
        assert!(pk
            .verify(crypto::scheme::ECDSA_SECP256R1_SHA256, b"hellp", &sig)
            .is_err());
    }
}
