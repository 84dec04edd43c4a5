//! [`Message`]: a checked, zero-copy view of a received STUN message
//! (RFC 8489 §5, §14).

use core::fmt;

use crate::attributes::{Attribute, AttributeType, RawAttribute};
use crate::integrity::{crc32, IntegrityKey, FINGERPRINT_XOR};
use crate::{Class, Error, MessageType, Method, TransactionId, HEADER_LEN, MAGIC_COOKIE};

/// Round up to a multiple of 4 (attribute padding, RFC 8489 §14).
pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// A received STUN message, validated once by [`Message::parse`] and then read
/// in place.
///
/// Validation checks the header (leading zero bits, magic cookie, a length
/// that is a multiple of 4 and matches the datagram) and every attribute's
/// length and padding. Attribute values are decoded only when asked for.
///
/// Following RFC 8489 §14.5–§14.7, attributes after MESSAGE-INTEGRITY other
/// than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and attributes after
/// MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT, are ignored: they are
/// invisible to [`Message::get`] and [`Message::attributes`]. Anything after
/// FINGERPRINT is an error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    buf: &'a [u8],
    /// End of the attributes that are not ignored nor integrity/fingerprint.
    body_end: usize,
    integrity: Option<usize>,
    integrity_sha256: Option<usize>,
    fingerprint: Option<usize>,
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Message");
        d.field("method", &self.method())
            .field("class", &self.class())
            .field("transaction_id", &self.transaction_id());
        d.field(
            "attributes",
            &AttrList {
                it: self.attributes(),
            },
        );
        d.finish()
    }
}

struct AttrList<'a> {
    it: Attributes<'a>,
}

impl fmt::Debug for AttrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.it.clone().map(|a| a.attribute_type))
            .finish()
    }
}

/// Read the 4-byte header of the attribute at `off` in `buf`: type and value length.
fn attr_header(buf: &[u8], off: usize) -> Option<(AttributeType, usize)> {
    let h = buf.get(off..off + 4)?;
    Some((
        AttributeType(u16::from_be_bytes([h[0], h[1]])),
        usize::from(u16::from_be_bytes([h[2], h[3]])),
    ))
}

/// The total length a STUN message starting at `buf` claims (header + body),
/// from its first 4 bytes; `None` if fewer than 4 bytes or the leading bits
/// are not zero. Useful to frame STUN over TCP (RFC 8489 §6.2.2).
pub fn message_len(buf: &[u8]) -> Option<usize> {
    let h = buf.get(..4)?;
    if h[0] & 0xC0 != 0 {
        return None;
    }
    Some(HEADER_LEN + usize::from(u16::from_be_bytes([h[2], h[3]])))
}

/// A cheap test that `buf` looks like a STUN message: at least 20 bytes,
/// zero leading bits and the magic cookie (RFC 8489 §5, §7.3). Use it to
/// demultiplex before a full [`Message::parse`].
pub fn is_stun(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN && buf[0] & 0xC0 == 0 && buf[4..8] == MAGIC_COOKIE.to_be_bytes()
}

impl<'a> Message<'a> {
    /// Parse and validate a whole STUN message (one UDP datagram).
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, Error> {
        let header: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(Error::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            })?;
        if header[0] & 0xC0 != 0 {
            return Err(Error::NotStun);
        }
        let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if cookie != MAGIC_COOKIE {
            return Err(Error::BadMagicCookie(cookie));
        }
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if len % 4 != 0 {
            return Err(Error::UnalignedLength(len));
        }
        if buf.len() - HEADER_LEN != len {
            return Err(Error::LengthMismatch {
                declared: len,
                available: buf.len() - HEADER_LEN,
            });
        }

        let mut integrity = None;
        let mut integrity_sha256 = None;
        let mut fingerprint = None;
        let mut body_end = buf.len();
        let mut off = HEADER_LEN;
        while off < buf.len() {
            let (ty, vlen) = attr_header(buf, off).ok_or(Error::AttributeOverrun {
                attribute: AttributeType(0),
                offset: off,
            })?;
            let next = off + 4 + pad4(vlen);
            if next > buf.len() {
                return Err(Error::AttributeOverrun {
                    attribute: ty,
                    offset: off,
                });
            }
            if fingerprint.is_some() {
                return Err(Error::AttributeAfterFingerprint(ty));
            }
            match ty {
                AttributeType::MESSAGE_INTEGRITY
                    if integrity.is_none() && integrity_sha256.is_none() =>
                {
                    if vlen != 20 {
                        return Err(Error::InvalidAttribute {
                            attribute: ty,
                            reason: "must be 20 bytes",
                        });
                    }
                    body_end = body_end.min(off);
                    integrity = Some(off);
                }
                AttributeType::MESSAGE_INTEGRITY_SHA256 if integrity_sha256.is_none() => {
                    if !(16..=32).contains(&vlen) || vlen % 4 != 0 {
                        return Err(Error::InvalidAttribute {
                            attribute: ty,
                            reason: "length must be 16..=32 and a multiple of 4",
                        });
                    }
                    body_end = body_end.min(off);
                    integrity_sha256 = Some(off);
                }
                AttributeType::FINGERPRINT => {
                    if vlen != 4 {
                        return Err(Error::InvalidAttribute {
                            attribute: ty,
                            reason: "must be 4 bytes",
                        });
                    }
                    body_end = body_end.min(off);
                    fingerprint = Some(off);
                }
                _ => {}
            }
            off = next;
        }
        Ok(Message {
            buf,
            body_end,
            integrity,
            integrity_sha256,
            fingerprint,
        })
    }

    /// The message bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Total length in bytes, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when the message has no attributes at all.
    pub fn is_empty(&self) -> bool {
        self.buf.len() == HEADER_LEN
    }

    /// The message type (method and class).
    pub fn message_type(&self) -> MessageType {
        MessageType::from_u16(u16::from_be_bytes([self.buf[0], self.buf[1]]))
    }

    /// The class.
    pub fn class(&self) -> Class {
        self.message_type().class
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.message_type().method
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        let mut t = [0u8; 12];
        t.copy_from_slice(&self.buf[8..HEADER_LEN]);
        TransactionId(t)
    }

    /// Every attribute that counts, in order: those before the first of
    /// MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 / FINGERPRINT, then those
    /// three when present. Ignored attributes (RFC 8489 §14.5) are skipped.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            buf: self.buf,
            off: HEADER_LEN,
            body_end: self.body_end,
            tail: [self.integrity, self.integrity_sha256, self.fingerprint],
            tail_idx: 0,
        }
    }

    /// The raw value of the first attribute of type `ty`, if present.
    pub fn raw(&self, ty: AttributeType) -> Option<&'a [u8]> {
        let special = match ty {
            AttributeType::MESSAGE_INTEGRITY => Some(self.integrity),
            AttributeType::MESSAGE_INTEGRITY_SHA256 => Some(self.integrity_sha256),
            AttributeType::FINGERPRINT => Some(self.fingerprint),
            _ => None,
        };
        if let Some(off) = special {
            let off = off?;
            let (_, vlen) = attr_header(self.buf, off)?;
            return self.buf.get(off + 4..off + 4 + vlen);
        }
        let mut off = HEADER_LEN;
        while off < self.body_end {
            let (t, vlen) = attr_header(self.buf, off)?;
            if t == ty {
                return self.buf.get(off + 4..off + 4 + vlen);
            }
            off += 4 + pad4(vlen);
        }
        None
    }

    /// True if an attribute of type `ty` is present (and not ignored).
    pub fn has(&self, ty: AttributeType) -> bool {
        self.raw(ty).is_some()
    }

    /// Decode the first attribute of type `A`, e.g.
    /// `msg.get::<XorMappedAddress>()`. Errors with
    /// [`Error::MissingAttribute`] when absent, or the decode error when malformed.
    pub fn get<A: Attribute<'a>>(&self) -> Result<A, Error> {
        let value = self.raw(A::TYPE).ok_or(Error::MissingAttribute(A::TYPE))?;
        A::decode(value, &self.transaction_id())
    }

    /// Comprehension-required attributes (type < 0x8000) this crate does not
    /// know. A server must answer a request that has any with a 420 error
    /// listing them in UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1); a client must
    /// treat such a response as failed (§6.3.3, §6.3.4).
    pub fn unknown_comprehension_required(&self) -> impl Iterator<Item = AttributeType> + 'a {
        self.attributes()
            .map(|a| a.attribute_type)
            .filter(|t| t.is_comprehension_required() && !t.is_known())
    }

    /// True if MESSAGE-INTEGRITY is present.
    pub fn has_message_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// True if MESSAGE-INTEGRITY-SHA256 is present.
    pub fn has_message_integrity_sha256(&self) -> bool {
        self.integrity_sha256.is_some()
    }

    /// True if FINGERPRINT is present.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// The header with its length field rewritten to end right after the
    /// attribute at `off` of `attr_len` total bytes, and the bytes it covers
    /// (RFC 8489 §14.5: the length must point to the end of the integrity
    /// attribute even when FINGERPRINT follows).
    fn covered(&self, off: usize, attr_len: usize) -> ([u8; HEADER_LEN], &'a [u8]) {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.buf[..HEADER_LEN]);
        let len = (off + attr_len - HEADER_LEN) as u16;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        (h, &self.buf[HEADER_LEN..off])
    }

    /// Check MESSAGE-INTEGRITY (HMAC-SHA1) with `key`, in constant time
    /// (RFC 8489 §14.5).
    pub fn verify_message_integrity(&self, key: &IntegrityKey) -> Result<(), Error> {
        let off = self
            .integrity
            .ok_or(Error::MissingAttribute(AttributeType::MESSAGE_INTEGRITY))?;
        let (h, body) = self.covered(off, 24);
        let tag = &self.buf[off + 4..off + 24];
        if key.verify_sha1(&[&h, body], tag) {
            Ok(())
        } else {
            Err(Error::IntegrityMismatch)
        }
    }

    /// Check MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, possibly truncated) with
    /// `key`, in constant time (RFC 8489 §14.6).
    pub fn verify_message_integrity_sha256(&self, key: &IntegrityKey) -> Result<(), Error> {
        let off = self.integrity_sha256.ok_or(Error::MissingAttribute(
            AttributeType::MESSAGE_INTEGRITY_SHA256,
        ))?;
        let vlen = attr_header(self.buf, off)
            .map(|(_, l)| l)
            .ok_or(Error::IntegrityMismatch)?;
        let (h, body) = self.covered(off, 4 + vlen);
        let tag = &self.buf[off + 4..off + 4 + vlen];
        if key.verify_sha256(&[&h, body], tag) {
            Ok(())
        } else {
            Err(Error::IntegrityMismatch)
        }
    }

    /// Check the message's integrity with `key`: MESSAGE-INTEGRITY-SHA256 when
    /// present (the stronger one wins, RFC 8489 §9.1.3, §9.2.4), else
    /// MESSAGE-INTEGRITY. Fails with [`Error::MissingAttribute`] when neither is there.
    pub fn verify_integrity(&self, key: &IntegrityKey) -> Result<(), Error> {
        if self.integrity_sha256.is_some() {
            self.verify_message_integrity_sha256(key)
        } else {
            self.verify_message_integrity(key)
        }
    }

    /// Check FINGERPRINT (RFC 8489 §14.7).
    pub fn verify_fingerprint(&self) -> Result<(), Error> {
        let off = self
            .fingerprint
            .ok_or(Error::MissingAttribute(AttributeType::FINGERPRINT))?;
        let v = &self.buf[off + 4..off + 8];
        let got = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        if crc32(&[&self.buf[..off]]) ^ FINGERPRINT_XOR == got {
            Ok(())
        } else {
            Err(Error::FingerprintMismatch)
        }
    }
}

/// Iterator over a message's attributes; see [`Message::attributes`].
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    buf: &'a [u8],
    off: usize,
    body_end: usize,
    tail: [Option<usize>; 3],
    tail_idx: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        let off = if self.off < self.body_end {
            let o = self.off;
            let (_, vlen) = attr_header(self.buf, o)?;
            self.off = o + 4 + pad4(vlen);
            o
        } else {
            loop {
                let slot = self.tail.get(self.tail_idx)?;
                self.tail_idx += 1;
                if let Some(o) = *slot {
                    break o;
                }
            }
        };
        let (attribute_type, vlen) = attr_header(self.buf, off)?;
        let value = self.buf.get(off + 4..off + 4 + vlen)?;
        Some(RawAttribute {
            attribute_type,
            value,
        })
    }
}
