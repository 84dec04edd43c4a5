//! [`MessageBuilder`]: writes a STUN message into a caller-provided buffer,
//! with no allocation (RFC 8489 §5, §14).

use crate::attributes::{Attribute, AttributeType};
use crate::integrity::{crc32, IntegrityKey, FINGERPRINT_XOR};
use crate::message::pad4;
use crate::{Class, Error, MessageType, Method, TransactionId, HEADER_LEN, MAGIC_COOKIE};

/// Where the builder stands with respect to the trailing attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Body,
    AfterIntegrity,
    AfterIntegritySha256,
    AfterFingerprint,
}

/// Builds a STUN message in place in a caller's buffer.
///
/// Methods that add attributes return `&mut Self` so calls chain; the first
/// error (buffer too small, value out of range, attribute in the wrong
/// place) is remembered and reported by [`MessageBuilder::finish`], and
/// later calls do nothing.
///
/// Order follows RFC 8489 §14.5–§14.7: ordinary attributes, then optionally
/// MESSAGE-INTEGRITY, then optionally MESSAGE-INTEGRITY-SHA256, then
/// optionally FINGERPRINT.
///
/// ```
/// use fulmar_stun::{attributes::*, Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};
///
/// let key = IntegrityKey::short_term("remote-ice-pwd");
/// let mut buf = [0u8; 256];
/// let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TransactionId::new([7; 12]));
/// b.add(&Username("rufrag:lufrag"))
///     .add(&Priority(0x6E00_1EFF))
///     .add(&IceControlling(42))
///     .add(&UseCandidate)
///     .add_message_integrity(&key)
///     .add_fingerprint();
/// let bytes = b.finish()?;
///
/// let msg = Message::parse(bytes)?;
/// msg.verify_integrity(&key)?;
/// msg.verify_fingerprint()?;
/// assert_eq!(msg.get::<Priority>()?, Priority(0x6E00_1EFF));
/// # Ok::<(), fulmar_stun::Error>(())
/// ```
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    transaction_id: TransactionId,
    stage: Stage,
    error: Option<Error>,
    padding: u8,
}

impl<'b> MessageBuilder<'b> {
    /// Start a message of `class` and `method` in `buf`, writing the 20-byte header.
    pub fn new(
        buf: &'b mut [u8],
        class: Class,
        method: Method,
        transaction_id: TransactionId,
    ) -> MessageBuilder<'b> {
        Self::with_type(buf, MessageType::new(method, class), transaction_id)
    }

    /// Start a message of the given type in `buf`.
    pub fn with_type(
        buf: &'b mut [u8],
        message_type: MessageType,
        transaction_id: TransactionId,
    ) -> MessageBuilder<'b> {
        let mut b = MessageBuilder {
            buf,
            len: 0,
            transaction_id,
            stage: Stage::Body,
            error: None,
            padding: 0,
        };
        match b.buf.get_mut(..HEADER_LEN) {
            Some(h) => {
                h[0..2].copy_from_slice(&message_type.to_u16().to_be_bytes());
                h[2..4].fill(0);
                h[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                h[8..20].copy_from_slice(&transaction_id.0);
                b.len = HEADER_LEN;
            }
            None => {
                b.error = Some(Error::BufferTooSmall {
                    needed: HEADER_LEN,
                    available: b.buf.len(),
                })
            }
        }
        b
    }

    /// The transaction ID being written.
    pub fn transaction_id(&self) -> TransactionId {
        self.transaction_id
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the header could be written (buffer under 20 bytes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Set the byte used to pad attribute values to a multiple of 4. RFC 8489
    /// §14 says zero (the default); RFC 5769's test vectors pad with 0x20 to
    /// check that receivers ignore padding, and this reproduces them.
    pub fn padding_byte(&mut self, byte: u8) -> &mut Self {
        self.padding = byte;
        self
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Reserve an attribute of `ty` with a `vlen`-byte value (header written,
    /// padding zeroed); returns the value's offset.
    fn reserve(&mut self, ty: AttributeType, vlen: usize) -> Option<usize> {
        if self.error.is_some() {
            return None;
        }
        let Ok(vlen16) = u16::try_from(vlen) else {
            self.fail(Error::InvalidValue(
                "attribute value longer than 65535 bytes",
            ));
            return None;
        };
        let start = self.len;
        let end = start + 4 + pad4(vlen);
        if end - HEADER_LEN > usize::from(u16::MAX) - 3 {
            self.fail(Error::InvalidValue("message longer than 65535 bytes"));
            return None;
        }
        let Some(area) = self.buf.get_mut(start..end) else {
            let available = self.buf.len();
            self.fail(Error::BufferTooSmall {
                needed: end,
                available,
            });
            return None;
        };
        area[0..2].copy_from_slice(&ty.0.to_be_bytes());
        area[2..4].copy_from_slice(&vlen16.to_be_bytes());
        area[4 + vlen..].fill(self.padding);
        self.len = end;
        self.set_length(end);
        Some(start + 4)
    }

    /// Write `end - 20` into the header's length field.
    fn set_length(&mut self, end: usize) {
        let l = (end - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&l.to_be_bytes());
    }

    /// Add a typed attribute (MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and
    /// FINGERPRINT have their own methods).
    pub fn add<'x, A: Attribute<'x>>(&mut self, attribute: &A) -> &mut Self {
        if matches!(
            A::TYPE,
            AttributeType::MESSAGE_INTEGRITY
                | AttributeType::MESSAGE_INTEGRITY_SHA256
                | AttributeType::FINGERPRINT
        ) {
            self.fail(Error::InvalidValue(
                "integrity and fingerprint have dedicated builder methods",
            ));
            return self;
        }
        if self.stage != Stage::Body {
            self.fail(Error::InvalidValue(
                "attribute after MESSAGE-INTEGRITY or FINGERPRINT",
            ));
            return self;
        }
        let vlen = attribute.value_len();
        if let Some(v) = self.reserve(A::TYPE, vlen) {
            let tid = self.transaction_id;
            if let Err(e) = attribute.encode(&mut self.buf[v..v + vlen], &tid) {
                self.fail(e);
            }
        }
        self
    }

    /// Add an attribute of any type from its raw value (e.g. to echo an
    /// unknown comprehension-optional attribute).
    pub fn add_raw(&mut self, attribute_type: AttributeType, value: &[u8]) -> &mut Self {
        if self.stage != Stage::Body {
            self.fail(Error::InvalidValue(
                "attribute after MESSAGE-INTEGRITY or FINGERPRINT",
            ));
            return self;
        }
        if let Some(v) = self.reserve(attribute_type, value.len()) {
            self.buf[v..v + value.len()].copy_from_slice(value);
        }
        self
    }

    /// Append MESSAGE-INTEGRITY: HMAC-SHA1 over the message so far, with the
    /// length field covering this attribute (RFC 8489 §14.5).
    pub fn add_message_integrity(&mut self, key: &IntegrityKey) -> &mut Self {
        if self.stage >= Stage::AfterIntegrity {
            self.fail(Error::InvalidValue(
                "MESSAGE-INTEGRITY must come before MESSAGE-INTEGRITY-SHA256 and FINGERPRINT",
            ));
            return self;
        }
        let covered = self.len;
        if let Some(v) = self.reserve(AttributeType::MESSAGE_INTEGRITY, 20) {
            let tag = key.hmac_sha1(&[&self.buf[..covered]]);
            self.buf[v..v + 20].copy_from_slice(&tag);
            self.stage = Stage::AfterIntegrity;
        }
        self
    }

    /// Append MESSAGE-INTEGRITY-SHA256 with the full 32-byte HMAC-SHA256 (RFC 8489 §14.6).
    pub fn add_message_integrity_sha256(&mut self, key: &IntegrityKey) -> &mut Self {
        self.add_message_integrity_sha256_truncated(key, 32)
    }

    /// Append MESSAGE-INTEGRITY-SHA256 truncated to `len` bytes (16..=32, a
    /// multiple of 4; RFC 8489 §14.6).
    pub fn add_message_integrity_sha256_truncated(
        &mut self,
        key: &IntegrityKey,
        len: usize,
    ) -> &mut Self {
        if !(16..=32).contains(&len) || len % 4 != 0 {
            self.fail(Error::InvalidValue(
                "MESSAGE-INTEGRITY-SHA256 length must be 16..=32 and a multiple of 4",
            ));
            return self;
        }
        if self.stage >= Stage::AfterIntegritySha256 {
            self.fail(Error::InvalidValue(
                "MESSAGE-INTEGRITY-SHA256 must come once, before FINGERPRINT",
            ));
            return self;
        }
        let covered = self.len;
        if let Some(v) = self.reserve(AttributeType::MESSAGE_INTEGRITY_SHA256, len) {
            let tag = key.hmac_sha256(&[&self.buf[..covered]]);
            self.buf[v..v + len].copy_from_slice(&tag[..len]);
            self.stage = Stage::AfterIntegritySha256;
        }
        self
    }

    /// Append FINGERPRINT, which must be last (RFC 8489 §14.7).
    pub fn add_fingerprint(&mut self) -> &mut Self {
        if self.stage == Stage::AfterFingerprint {
            self.fail(Error::InvalidValue("FINGERPRINT added twice"));
            return self;
        }
        let covered = self.len;
        if let Some(v) = self.reserve(AttributeType::FINGERPRINT, 4) {
            let fp = crc32(&[&self.buf[..covered]]) ^ FINGERPRINT_XOR;
            self.buf[v..v + 4].copy_from_slice(&fp.to_be_bytes());
            self.stage = Stage::AfterFingerprint;
        }
        self
    }

    /// The finished message, or the first error met while building.
    pub fn finish(self) -> Result<&'b [u8], Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let len = self.len;
        let buf: &'b [u8] = self.buf;
        Ok(&buf[..len])
    }
}
