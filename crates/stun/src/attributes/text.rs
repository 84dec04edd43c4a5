//! Text attributes (USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN),
//! ERROR-CODE and UNKNOWN-ATTRIBUTES (RFC 8489 §14).

use core::fmt;

use super::{invalid, put, Attribute, AttributeType};
use crate::{Error, TransactionId};

/// Longest encoded text value accepted when building (RFC 8489: 763 bytes
/// for REALM, NONCE, SOFTWARE and reason phrases).
const MAX_TEXT: usize = 763;

fn utf8(ty: AttributeType, v: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(v).map_err(|_| invalid(ty, "not UTF-8"))
}

macro_rules! text_attribute {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name<'a>(pub &'a str);

        impl<'a> $name<'a> {
            /// The text.
            pub fn as_str(&self) -> &'a str {
                self.0
            }
        }

        impl<'a> Attribute<'a> for $name<'a> {
            const TYPE: AttributeType = AttributeType::$ty;
            fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
                utf8(Self::TYPE, value).map($name)
            }
            fn value_len(&self) -> usize {
                self.0.len()
            }
            fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
                if self.0.len() > $max {
                    return Err(Error::InvalidValue(concat!(stringify!($ty), " too long")));
                }
                put(out, self.0.as_bytes())
            }
        }
    };
}

text_attribute!(
    /// USERNAME: user name and password hint; for ICE `remote-ufrag:local-ufrag`
    /// (RFC 8489 §14.3, RFC 8445 §7.2.2). At most 513 bytes.
    Username, USERNAME, 513
);
text_attribute!(
    /// REALM: the long-term credential realm (RFC 8489 §14.9).
    Realm, REALM, MAX_TEXT
);
text_attribute!(
    /// NONCE: the server's nonce, possibly with a nonce cookie (RFC 8489 §14.10, §9.2).
    Nonce, NONCE, MAX_TEXT
);
text_attribute!(
    /// SOFTWARE: a description of the sending software (RFC 8489 §14.14).
    Software, SOFTWARE, MAX_TEXT
);
text_attribute!(
    /// ALTERNATE-DOMAIN: the domain of ALTERNATE-SERVER for TLS checks (RFC 8489 §14.16).
    AlternateDomain, ALTERNATE_DOMAIN, 255
);

/// The nonce cookie that marks a NONCE carrying security feature bits (RFC 8489 §9.2).
pub const NONCE_COOKIE: &str = "obMatJos2";

/// The 24 "security feature" bits a server advertises at the start of its
/// NONCE (RFC 8489 §9.2, §18.1); bit 0 is the most significant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecurityFeatures(pub u32);

impl SecurityFeatures {
    /// Bit 0: the server supports PASSWORD-ALGORITHMS (RFC 8489 §9.2.1).
    pub const PASSWORD_ALGORITHMS: SecurityFeatures = SecurityFeatures(0x80_0000);
    /// Bit 1: the server supports USERHASH, "username anonymity" (RFC 8489 §9.2.1).
    pub const USERNAME_ANONYMITY: SecurityFeatures = SecurityFeatures(0x40_0000);

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: SecurityFeatures) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    pub const fn union(self, other: SecurityFeatures) -> SecurityFeatures {
        SecurityFeatures((self.0 | other.0) & 0xFF_FFFF)
    }

    /// Parse the cookie prefix of a NONCE value: `obMatJos2` and four base64
    /// characters holding the 24 bits. `None` when there is no cookie.
    pub fn from_nonce(nonce: &str) -> Option<SecurityFeatures> {
        let rest = nonce.as_bytes().strip_prefix(NONCE_COOKIE.as_bytes())?;
        let chars = rest.get(..4)?;
        let mut v = 0u32;
        for &c in chars {
            v = (v << 6) | u32::from(b64_value(c)?);
        }
        Some(SecurityFeatures(v))
    }

    /// The 13-byte cookie prefix (`obMatJos2` + 4 base64 chars) a server
    /// puts at the start of its NONCE.
    pub fn nonce_prefix(self) -> [u8; 13] {
        let mut out = [0u8; 13];
        out[..9].copy_from_slice(NONCE_COOKIE.as_bytes());
        for i in 0..4 {
            let six = (self.0 >> (18 - 6 * i)) & 0x3F;
            out[9 + i] = B64[six as usize];
        }
        out
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

impl Nonce<'_> {
    /// The security feature bits of a nonce cookie, if the nonce has one (RFC 8489 §9.2).
    pub fn security_features(&self) -> Option<SecurityFeatures> {
        SecurityFeatures::from_nonce(self.0)
    }
}

/// ERROR-CODE: a 3-digit error code (300..=699) and a reason phrase (RFC 8489 §14.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode<'a> {
    /// The code, class * 100 + number.
    pub code: u16,
    /// The reason phrase.
    pub reason: &'a str,
}

impl<'a> ErrorCode<'a> {
    /// 300 Try Alternate.
    pub const TRY_ALTERNATE: u16 = 300;
    /// 400 Bad Request.
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthenticated.
    pub const UNAUTHENTICATED: u16 = 401;
    /// 403 Forbidden (RFC 8656).
    pub const FORBIDDEN: u16 = 403;
    /// 420 Unknown Attribute.
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 437 Allocation Mismatch (RFC 8656).
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438 Stale Nonce.
    pub const STALE_NONCE: u16 = 438;
    /// 440 Address Family not Supported (RFC 8656).
    pub const ADDRESS_FAMILY_NOT_SUPPORTED: u16 = 440;
    /// 441 Wrong Credentials (RFC 8656).
    pub const WRONG_CREDENTIALS: u16 = 441;
    /// 442 Unsupported Transport Protocol (RFC 8656).
    pub const UNSUPPORTED_TRANSPORT_PROTOCOL: u16 = 442;
    /// 443 Peer Address Family Mismatch (RFC 8656).
    pub const PEER_ADDRESS_FAMILY_MISMATCH: u16 = 443;
    /// 486 Allocation Quota Reached (RFC 8656).
    pub const ALLOCATION_QUOTA_REACHED: u16 = 486;
    /// 487 Role Conflict (RFC 8445).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500 Server Error.
    pub const SERVER_ERROR: u16 = 500;
    /// 508 Insufficient Capacity (RFC 8656).
    pub const INSUFFICIENT_CAPACITY: u16 = 508;

    /// An error code with its reason phrase.
    pub const fn new(code: u16, reason: &'a str) -> Self {
        ErrorCode { code, reason }
    }

    /// An error code with the RFC's recommended reason phrase.
    pub fn with_default_reason(code: u16) -> ErrorCode<'static> {
        ErrorCode {
            code,
            reason: default_reason(code),
        }
    }
}

/// The reason phrase the RFCs suggest for an error code.
pub(crate) fn default_reason(code: u16) -> &'static str {
    match code {
        300 => "Try Alternate",
        400 => "Bad Request",
        401 => "Unauthenticated",
        403 => "Forbidden",
        420 => "Unknown Attribute",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        443 => "Peer Address Family Mismatch",
        486 => "Allocation Quota Reached",
        487 => "Role Conflict",
        500 => "Server Error",
        508 => "Insufficient Capacity",
        _ => "",
    }
}

/// Decode class/number + reason after `skip` leading bytes (shared with ADDRESS-ERROR-CODE).
pub(crate) fn decode_error_code(ty: AttributeType, v: &[u8]) -> Result<(u16, &str), Error> {
    if v.len() < 4 {
        return Err(invalid(ty, "shorter than 4 bytes"));
    }
    let class = u16::from(v[2] & 0x07);
    let number = u16::from(v[3]);
    if !(3..=6).contains(&class) || number > 99 {
        return Err(invalid(ty, "code outside 300..=699"));
    }
    Ok((class * 100 + number, utf8(ty, &v[4..])?))
}

/// Encode class/number + reason; byte 0 is left to the caller.
pub(crate) fn encode_error_code(code: u16, reason: &str, out: &mut [u8]) -> Result<(), Error> {
    if !(300..=699).contains(&code) {
        return Err(Error::InvalidValue("error code outside 300..=699"));
    }
    if reason.len() > MAX_TEXT || out.len() != 4 + reason.len() {
        return Err(Error::InvalidValue("reason phrase too long"));
    }
    out[1] = 0;
    out[2] = (code / 100) as u8;
    out[3] = (code % 100) as u8;
    out[4..].copy_from_slice(reason.as_bytes());
    Ok(())
}

impl<'a> Attribute<'a> for ErrorCode<'a> {
    const TYPE: AttributeType = AttributeType::ERROR_CODE;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let (code, reason) = decode_error_code(Self::TYPE, value)?;
        Ok(ErrorCode { code, reason })
    }
    fn value_len(&self) -> usize {
        4 + self.reason.len()
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        if let Some(b) = out.first_mut() {
            *b = 0;
        }
        encode_error_code(self.code, self.reason, out)
    }
}

/// UNKNOWN-ATTRIBUTES: the comprehension-required attribute types a 420
/// response did not understand (RFC 8489 §14.13).
#[derive(Clone, Copy)]
pub struct UnknownAttributes<'a>(Repr<'a>);

#[derive(Clone, Copy)]
enum Repr<'a> {
    Wire(&'a [u8]),
    Types(&'a [AttributeType]),
}

impl<'a> UnknownAttributes<'a> {
    /// An attribute listing `types`, for building.
    pub const fn new(types: &'a [AttributeType]) -> Self {
        UnknownAttributes(Repr::Types(types))
    }

    /// The listed attribute types.
    pub fn iter(&self) -> UnknownAttributesIter<'a> {
        UnknownAttributesIter(self.0, 0)
    }

    /// How many types are listed.
    pub fn len(&self) -> usize {
        match self.0 {
            Repr::Wire(w) => w.len() / 2,
            Repr::Types(t) => t.len(),
        }
    }

    /// True when no type is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for UnknownAttributes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for UnknownAttributes<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for UnknownAttributes<'_> {}

/// Iterator over the types of an [`UnknownAttributes`].
#[derive(Clone)]
pub struct UnknownAttributesIter<'a>(Repr<'a>, usize);

impl Iterator for UnknownAttributesIter<'_> {
    type Item = AttributeType;
    fn next(&mut self) -> Option<AttributeType> {
        let i = self.1;
        let t = match self.0 {
            Repr::Wire(w) => {
                let b = w.get(2 * i..2 * i + 2)?;
                AttributeType(u16::from_be_bytes([b[0], b[1]]))
            }
            Repr::Types(t) => *t.get(i)?,
        };
        self.1 += 1;
        Some(t)
    }
}

impl<'a> Attribute<'a> for UnknownAttributes<'a> {
    const TYPE: AttributeType = AttributeType::UNKNOWN_ATTRIBUTES;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        if value.len() % 2 != 0 {
            return Err(invalid(Self::TYPE, "odd length"));
        }
        Ok(UnknownAttributes(Repr::Wire(value)))
    }
    fn value_len(&self) -> usize {
        2 * self.len()
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        if out.len() != self.value_len() {
            return Err(Error::InvalidValue("encoded length mismatch"));
        }
        for (chunk, t) in out.chunks_exact_mut(2).zip(self.iter()) {
            chunk.copy_from_slice(&t.0.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_cookie_round_trip() {
        let f = SecurityFeatures::PASSWORD_ALGORITHMS.union(SecurityFeatures::USERNAME_ANONYMITY);
        let p = f.nonce_prefix();
        let s = core::str::from_utf8(&p).unwrap();
        assert_eq!(s, "obMatJos2wAAA");
        assert_eq!(SecurityFeatures::from_nonce(s), Some(f));
        assert_eq!(SecurityFeatures::from_nonce("f//499k954d6OL34"), None);
        assert_eq!(SecurityFeatures::from_nonce("obMatJos2A"), None);
        assert_eq!(SecurityFeatures::from_nonce("obMatJos2AA*A"), None);
    }
}
