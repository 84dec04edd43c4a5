//! RTP packets (RFC 3550 §5.1): a zero-copy view and an owned description
//! that writes into caller buffers.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! ```

use crate::extension::{ExtensionIter, ExtensionProfile, ExtensionWriter, HeaderExtensionElement};
use crate::wire::{u16_at, u32_at, u8_at};
use crate::{Error, Result};

/// Length of the fixed RTP header.
pub const FIXED_HEADER_LEN: usize = 12;
/// Largest CSRC count (4-bit CC field).
pub const MAX_CSRCS: usize = 15;

/// A checked, zero-copy view of an RTP packet over any byte buffer.
///
/// Built with [`RtpPacket::new_checked`], which validates the version, CSRC
/// list, header extension and padding lengths once; getters then read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
    padding_len: usize,
}

impl<T: AsRef<[u8]>> RtpPacket<T> {
    /// Validates `buffer` as an RTP packet and wraps it.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < FIXED_HEADER_LEN {
            return Err(Error::Truncated("RTP fixed header"));
        }
        let v = b[0] >> 6;
        if v != 2 {
            return Err(Error::BadVersion(v));
        }
        let cc = usize::from(b[0] & 0x0f);
        let mut header_len = FIXED_HEADER_LEN + 4 * cc;
        if b.len() < header_len {
            return Err(Error::Truncated("RTP CSRC list"));
        }
        if b[0] & 0x10 != 0 {
            if b.len() < header_len + 4 {
                return Err(Error::Truncated("RTP header extension"));
            }
            let words = usize::from(u16_at(b, header_len + 2));
            header_len += 4 + 4 * words;
            if b.len() < header_len {
                return Err(Error::Truncated("RTP header extension"));
            }
        }
        let mut padding_len = 0;
        if b[0] & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding, itself included.
            padding_len = usize::from(*b.last().unwrap_or(&0));
            if padding_len == 0 || padding_len > b.len() - header_len {
                return Err(Error::BadPadding);
            }
        }
        Ok(RtpPacket {
            buffer,
            header_len,
            padding_len,
        })
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole packet bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version field (always 2 for a checked packet).
    #[inline]
    pub fn version(&self) -> u8 {
        u8_at(self.as_bytes(), 0) >> 6
    }
    /// Padding (P) bit.
    #[inline]
    pub fn has_padding(&self) -> bool {
        u8_at(self.as_bytes(), 0) & 0x20 != 0
    }
    /// Extension (X) bit.
    #[inline]
    pub fn has_extension(&self) -> bool {
        u8_at(self.as_bytes(), 0) & 0x10 != 0
    }
    /// CSRC count (CC).
    #[inline]
    pub fn csrc_count(&self) -> u8 {
        u8_at(self.as_bytes(), 0) & 0x0f
    }
    /// Marker (M) bit.
    #[inline]
    pub fn marker(&self) -> bool {
        u8_at(self.as_bytes(), 1) & 0x80 != 0
    }
    /// Payload type (PT).
    #[inline]
    pub fn payload_type(&self) -> u8 {
        u8_at(self.as_bytes(), 1) & 0x7f
    }
    /// Sequence number.
    #[inline]
    pub fn sequence_number(&self) -> u16 {
        u16_at(self.as_bytes(), 2)
    }
    /// RTP timestamp.
    #[inline]
    pub fn timestamp(&self) -> u32 {
        u32_at(self.as_bytes(), 4)
    }
    /// Synchronization source.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        u32_at(self.as_bytes(), 8)
    }
    /// The contributing sources.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        let b = self.as_bytes();
        (0..usize::from(self.csrc_count())).map(move |i| u32_at(b, FIXED_HEADER_LEN + 4 * i))
    }
    /// Length of the header (fixed part, CSRCs and header extension).
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// Number of padding octets at the end (0 when P is clear).
    #[inline]
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }
    fn ext_start(&self) -> usize {
        FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count())
    }
    /// The 16-bit "defined by profile" field of the header extension.
    pub fn extension_profile(&self) -> Option<u16> {
        self.has_extension()
            .then(|| u16_at(self.as_bytes(), self.ext_start()))
    }
    /// The raw header extension data (after the 4-byte extension header).
    pub fn extension_data(&self) -> Option<&[u8]> {
        if !self.has_extension() {
            return None;
        }
        self.as_bytes().get(self.ext_start() + 4..self.header_len)
    }
    /// Iterates the RFC 8285 extension elements (empty if the extension is
    /// absent or uses another profile).
    pub fn extensions(&self) -> ExtensionIter<'_> {
        match (self.extension_profile(), self.extension_data()) {
            (Some(p), Some(d)) => ExtensionIter::new(p, d),
            _ => ExtensionIter::empty(),
        }
    }
    /// Finds the data of the RFC 8285 extension element with `id` (the
    /// hot-path lookup: a direct scan of the one-byte form).
    #[inline]
    pub fn extension(&self, id: u8) -> Option<&[u8]> {
        let profile = self.extension_profile()?;
        let mut d = self.extension_data()?;
        if profile != crate::extension::ONE_BYTE_PROFILE {
            return self
                .extensions()
                .map_while(|e| e.ok())
                .find(|e| e.id == id)
                .map(|e| e.data);
        }
        while let [first, rest @ ..] = d {
            let eid = first >> 4;
            if eid == 0 {
                d = rest;
                continue;
            }
            if eid == 15 {
                return None;
            }
            let len = usize::from(first & 0x0f) + 1;
            let data = rest.get(..len)?;
            if eid == id {
                return Some(data);
            }
            d = &rest[len..];
        }
        None
    }
    /// The payload, without header or padding.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.as_bytes();
        b.get(self.header_len..b.len() - self.padding_len)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RtpPacket<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Sets the marker bit.
    pub fn set_marker(&mut self, m: bool) {
        if let Some(b) = self.bytes_mut().get_mut(1) {
            *b = (*b & 0x7f) | if m { 0x80 } else { 0 };
        }
    }
    /// Sets the payload type (low 7 bits used).
    pub fn set_payload_type(&mut self, pt: u8) {
        if let Some(b) = self.bytes_mut().get_mut(1) {
            *b = (*b & 0x80) | (pt & 0x7f);
        }
    }
    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, seq: u16) {
        if let Some(d) = self.bytes_mut().get_mut(2..4) {
            d.copy_from_slice(&seq.to_be_bytes());
        }
    }
    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        if let Some(d) = self.bytes_mut().get_mut(4..8) {
            d.copy_from_slice(&ts.to_be_bytes());
        }
    }
    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        if let Some(d) = self.bytes_mut().get_mut(8..12) {
            d.copy_from_slice(&ssrc.to_be_bytes());
        }
    }
    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, pad) = (self.header_len, self.padding_len);
        let b = self.bytes_mut();
        let end = b.len() - pad;
        b.get_mut(start..end).unwrap_or(&mut [])
    }
}

/// The header extension of an [`RtpRepr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderExtension<'a> {
    /// No header extension (X = 0).
    #[default]
    None,
    /// A raw extension: profile field and data (length a multiple of 4).
    Raw {
        /// The 16-bit "defined by profile" field.
        profile: u16,
        /// Extension data, a whole number of 32-bit words.
        data: &'a [u8],
    },
    /// RFC 8285 elements, written in the one-byte form when every element
    /// allows it and in the two-byte form otherwise.
    Elements(&'a [HeaderExtensionElement<'a>]),
}

impl HeaderExtension<'_> {
    /// Bytes this extension takes on the wire, 4-byte header included.
    pub fn wire_len(&self) -> usize {
        match self {
            HeaderExtension::None => 0,
            HeaderExtension::Raw { data, .. } => 4 + data.len().div_ceil(4) * 4,
            HeaderExtension::Elements(els) => {
                let profile = ExtensionProfile::choose(els);
                4 + ExtensionWriter::elements_len(profile, els).div_ceil(4) * 4
            }
        }
    }
}

/// The meaning of an RTP packet, for building packets and in tests
/// (smoltcp's `Repr` pattern). Borrows its CSRC list, extension and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpRepr<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (0..=127).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// Contributing sources (at most 15), as written on the wire (big-endian 4-byte words).
    pub csrcs: &'a [u32],
    /// Header extension.
    pub extension: HeaderExtension<'a>,
    /// Payload.
    pub payload: &'a [u8],
    /// Number of padding octets to append (0 for none; includes the count octet).
    pub padding_len: u8,
}

impl<'a> RtpRepr<'a> {
    /// Reads the meaning of a checked packet. The extension is kept raw and
    /// the CSRC list must be supplied by the caller's storage, so this
    /// returns the CSRCs separately in `csrc_buf`.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &'a RtpPacket<T>,
        csrc_buf: &'a mut [u32; MAX_CSRCS],
    ) -> RtpRepr<'a> {
        let n = usize::from(packet.csrc_count());
        for (slot, c) in csrc_buf.iter_mut().zip(packet.csrcs()) {
            *slot = c;
        }
        let extension = match (packet.extension_profile(), packet.extension_data()) {
            (Some(profile), Some(data)) => HeaderExtension::Raw { profile, data },
            _ => HeaderExtension::None,
        };
        RtpRepr {
            marker: packet.marker(),
            payload_type: packet.payload_type(),
            sequence_number: packet.sequence_number(),
            timestamp: packet.timestamp(),
            ssrc: packet.ssrc(),
            csrcs: csrc_buf.get(..n).unwrap_or(&[]),
            extension,
            payload: packet.payload(),
            padding_len: packet.padding_len() as u8,
        }
    }

    /// Length of the header this repr writes.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrcs.len() + self.extension.wire_len()
    }

    /// Total bytes [`RtpRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len() + usize::from(self.padding_len)
    }

    /// Writes the header only and returns its length; the payload is then
    /// written by the caller at `buf[len..]` (no copy for in-place builders).
    pub fn emit_header(&self, buf: &mut [u8]) -> Result<usize> {
        if self.csrcs.len() > MAX_CSRCS {
            return Err(Error::InvalidInput("more than 15 CSRCs"));
        }
        if self.payload_type > 127 {
            return Err(Error::InvalidInput("payload type above 127"));
        }
        let hlen = self.header_len();
        crate::wire::need(buf, hlen)?;
        let x = !matches!(self.extension, HeaderExtension::None);
        buf[0] = 0x80
            | if self.padding_len > 0 { 0x20 } else { 0 }
            | if x { 0x10 } else { 0 }
            | self.csrcs.len() as u8;
        buf[1] = (u8::from(self.marker) << 7) | self.payload_type;
        buf[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        buf[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut off = FIXED_HEADER_LEN;
        for c in self.csrcs {
            buf[off..off + 4].copy_from_slice(&c.to_be_bytes());
            off += 4;
        }
        match self.extension {
            HeaderExtension::None => {}
            HeaderExtension::Raw { profile, data } => {
                let words = data.len().div_ceil(4);
                let words16 =
                    u16::try_from(words).map_err(|_| Error::InvalidInput("extension too long"))?;
                buf[off..off + 2].copy_from_slice(&profile.to_be_bytes());
                buf[off + 2..off + 4].copy_from_slice(&words16.to_be_bytes());
                off += 4;
                buf[off..off + data.len()].copy_from_slice(data);
                buf[off + data.len()..off + words * 4].fill(0);
            }
            HeaderExtension::Elements(els) => {
                let profile = ExtensionProfile::choose(els);
                let n = ExtensionWriter::write(profile, els, &mut buf[off + 4..hlen])?;
                let words = n.div_ceil(4);
                let words16 =
                    u16::try_from(words).map_err(|_| Error::InvalidInput("extension too long"))?;
                buf[off..off + 2].copy_from_slice(&profile.profile_field().to_be_bytes());
                buf[off + 2..off + 4].copy_from_slice(&words16.to_be_bytes());
                buf[off + 4 + n..off + 4 + words * 4].fill(0);
            }
        }
        Ok(hlen)
    }

    /// Writes the whole packet into `buf` and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        crate::wire::need(buf, total)?;
        let hlen = self.emit_header(buf)?;
        let end = hlen + self.payload.len();
        buf[hlen..end].copy_from_slice(self.payload);
        if self.padding_len > 0 {
            buf[end..total].fill(0);
            buf[total - 1] = self.padding_len;
        }
        Ok(total)
    }
}
