//! Authentication attributes: MESSAGE-INTEGRITY(-SHA256), FINGERPRINT,
//! USERHASH, PASSWORD-ALGORITHM(S) (RFC 8489 §14.4–§14.7, §14.11, §14.12).
//!
//! MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are computed
//! over the message, so they are written by [`crate::MessageBuilder`]'s
//! dedicated methods and checked by [`crate::Message`]'s `verify_*` methods;
//! their types here only read the received values.

use core::fmt;

use sha2::{Digest, Sha256};

use super::{exact, invalid, put, Attribute, AttributeType};
use crate::{Error, TransactionId};

/// MESSAGE-INTEGRITY: the 20-byte HMAC-SHA1 (RFC 8489 §14.5). Read-only; see
/// [`crate::Message::verify_integrity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageIntegrity<'a>(pub &'a [u8; 20]);

impl<'a> Attribute<'a> for MessageIntegrity<'a> {
    const TYPE: AttributeType = AttributeType::MESSAGE_INTEGRITY;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        <&[u8; 20]>::try_from(value)
            .map(MessageIntegrity)
            .map_err(|_| invalid(Self::TYPE, "must be 20 bytes"))
    }
    fn value_len(&self) -> usize {
        20
    }
    fn encode(&self, _: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        Err(Error::InvalidValue(
            "use MessageBuilder::add_message_integrity",
        ))
    }
}

/// MESSAGE-INTEGRITY-SHA256: an HMAC-SHA256, possibly truncated to 16..=32
/// bytes in steps of 4 (RFC 8489 §14.6). Read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageIntegritySha256<'a>(pub &'a [u8]);

impl<'a> Attribute<'a> for MessageIntegritySha256<'a> {
    const TYPE: AttributeType = AttributeType::MESSAGE_INTEGRITY_SHA256;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        if (16..=32).contains(&value.len()) && value.len() % 4 == 0 {
            Ok(MessageIntegritySha256(value))
        } else {
            Err(invalid(
                Self::TYPE,
                "length must be 16..=32 and a multiple of 4",
            ))
        }
    }
    fn value_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, _: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        Err(Error::InvalidValue(
            "use MessageBuilder::add_message_integrity_sha256",
        ))
    }
}

/// FINGERPRINT: CRC-32 of the message XOR 0x5354554E (RFC 8489 §14.7). Read-only;
/// see [`crate::Message::verify_fingerprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub u32);

impl<'a> Attribute<'a> for Fingerprint {
    const TYPE: AttributeType = AttributeType::FINGERPRINT;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        Ok(Fingerprint(u32::from_be_bytes(exact(Self::TYPE, value)?)))
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, _: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        Err(Error::InvalidValue("use MessageBuilder::add_fingerprint"))
    }
}

/// USERHASH: SHA-256 of `username ":" realm`, sent instead of USERNAME for
/// username anonymity (RFC 8489 §14.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Userhash(pub [u8; 32]);

impl Userhash {
    /// Compute the hash of a username and realm (both already processed with
    /// the OpaqueString profile by the caller).
    pub fn new(username: &str, realm: &str) -> Userhash {
        let mut h = Sha256::new();
        h.update(username.as_bytes());
        h.update(b":");
        h.update(realm.as_bytes());
        Userhash(h.finalize().into())
    }
}

impl fmt::Debug for Userhash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Userhash(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl<'a> Attribute<'a> for Userhash {
    const TYPE: AttributeType = AttributeType::USERHASH;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        exact(Self::TYPE, value).map(Userhash)
    }
    fn value_len(&self) -> usize {
        32
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &self.0)
    }
}

/// A password algorithm number (RFC 8489 §18.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordAlgorithmId(pub u16);

impl PasswordAlgorithmId {
    /// MD5 (0x0001): key = MD5(username ":" realm ":" password).
    pub const MD5: PasswordAlgorithmId = PasswordAlgorithmId(0x0001);
    /// SHA-256 (0x0002): key = SHA-256(username ":" realm ":" password).
    pub const SHA256: PasswordAlgorithmId = PasswordAlgorithmId(0x0002);
}

/// PASSWORD-ALGORITHM: the algorithm the client chose (RFC 8489 §14.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordAlgorithm<'a> {
    /// The algorithm.
    pub algorithm: PasswordAlgorithmId,
    /// Its parameters (empty for MD5 and SHA-256).
    pub parameters: &'a [u8],
}

impl PasswordAlgorithm<'static> {
    /// An algorithm without parameters.
    pub const fn new(algorithm: PasswordAlgorithmId) -> Self {
        PasswordAlgorithm {
            algorithm,
            parameters: &[],
        }
    }
}

const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Read one algorithm entry; returns it and the entry's padded size.
fn read_algorithm(ty: AttributeType, v: &[u8]) -> Result<(PasswordAlgorithm<'_>, usize), Error> {
    let h = v.get(..4).ok_or(invalid(ty, "truncated algorithm entry"))?;
    let algorithm = PasswordAlgorithmId(u16::from_be_bytes([h[0], h[1]]));
    let plen = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let parameters = v
        .get(4..4 + plen)
        .ok_or(invalid(ty, "parameters past the end"))?;
    // The last entry's padding may be the attribute's own padding.
    let size = (4 + pad4(plen)).min(v.len());
    Ok((
        PasswordAlgorithm {
            algorithm,
            parameters,
        },
        size,
    ))
}

fn write_algorithm(a: &PasswordAlgorithm<'_>, out: &mut [u8]) -> Result<usize, Error> {
    let plen = u16::try_from(a.parameters.len())
        .map_err(|_| Error::InvalidValue("parameters too long"))?;
    let size = 4 + pad4(a.parameters.len());
    let o = out
        .get_mut(..size)
        .ok_or(Error::InvalidValue("encoded length mismatch"))?;
    o[..2].copy_from_slice(&a.algorithm.0.to_be_bytes());
    o[2..4].copy_from_slice(&plen.to_be_bytes());
    o[4..4 + a.parameters.len()].copy_from_slice(a.parameters);
    o[4 + a.parameters.len()..].fill(0);
    Ok(size)
}

impl<'a> Attribute<'a> for PasswordAlgorithm<'a> {
    const TYPE: AttributeType = AttributeType::PASSWORD_ALGORITHM;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let (a, size) = read_algorithm(Self::TYPE, value)?;
        if size != value.len() {
            return Err(invalid(Self::TYPE, "trailing bytes"));
        }
        Ok(a)
    }
    fn value_len(&self) -> usize {
        4 + self.parameters.len()
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        // The parameters' padding is the attribute padding here.
        let plen = u16::try_from(self.parameters.len())
            .map_err(|_| Error::InvalidValue("parameters too long"))?;
        if out.len() != self.value_len() {
            return Err(Error::InvalidValue("encoded length mismatch"));
        }
        out[..2].copy_from_slice(&self.algorithm.0.to_be_bytes());
        out[2..4].copy_from_slice(&plen.to_be_bytes());
        out[4..].copy_from_slice(self.parameters);
        Ok(())
    }
}

/// PASSWORD-ALGORITHMS: the algorithms a server offers, in its order of
/// preference (RFC 8489 §14.11).
#[derive(Clone, Copy)]
pub struct PasswordAlgorithms<'a>(Repr<'a>);

#[derive(Clone, Copy)]
enum Repr<'a> {
    Wire(&'a [u8]),
    List(&'a [PasswordAlgorithm<'a>]),
}

impl<'a> PasswordAlgorithms<'a> {
    /// An attribute listing `algorithms`, for building.
    pub const fn new(algorithms: &'a [PasswordAlgorithm<'a>]) -> Self {
        PasswordAlgorithms(Repr::List(algorithms))
    }

    /// The listed algorithms.
    pub fn iter(&self) -> PasswordAlgorithmsIter<'a> {
        PasswordAlgorithmsIter(self.0, 0)
    }

    /// True if `algorithm` is listed.
    pub fn contains(&self, algorithm: PasswordAlgorithmId) -> bool {
        self.iter().any(|a| a.algorithm == algorithm)
    }
}

impl fmt::Debug for PasswordAlgorithms<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for PasswordAlgorithms<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for PasswordAlgorithms<'_> {}

/// Iterator over the entries of a [`PasswordAlgorithms`].
#[derive(Clone)]
pub struct PasswordAlgorithmsIter<'a>(Repr<'a>, usize);

impl<'a> Iterator for PasswordAlgorithmsIter<'a> {
    type Item = PasswordAlgorithm<'a>;
    fn next(&mut self) -> Option<PasswordAlgorithm<'a>> {
        match self.0 {
            Repr::Wire(w) => {
                let rest = w.get(self.1..).filter(|r| !r.is_empty())?;
                let (a, size) = read_algorithm(AttributeType::PASSWORD_ALGORITHMS, rest).ok()?;
                self.1 += size;
                Some(a)
            }
            Repr::List(l) => {
                let a = *l.get(self.1)?;
                self.1 += 1;
                Some(a)
            }
        }
    }
}

impl<'a> Attribute<'a> for PasswordAlgorithms<'a> {
    const TYPE: AttributeType = AttributeType::PASSWORD_ALGORITHMS;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        // Validate every entry once so that iteration cannot fail later.
        let mut off = 0;
        while off < value.len() {
            let (_, size) = read_algorithm(Self::TYPE, &value[off..])?;
            off += size;
        }
        Ok(PasswordAlgorithms(Repr::Wire(value)))
    }
    fn value_len(&self) -> usize {
        match self.0 {
            Repr::Wire(w) => w.len(),
            Repr::List(l) => l.iter().map(|a| 4 + pad4(a.parameters.len())).sum(),
        }
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        match self.0 {
            Repr::Wire(w) => put(out, w),
            Repr::List(l) => {
                let mut off = 0;
                for a in l {
                    let rest = out
                        .get_mut(off..)
                        .ok_or(Error::InvalidValue("encoded length mismatch"))?;
                    off += write_algorithm(a, rest)?;
                }
                Ok(())
            }
        }
    }
}
