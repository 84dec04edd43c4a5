//! DTLS record layer framing (RFC 6347 §4.1): borrowed views over datagrams.
//!
//! A datagram carries one or more records, each with a 13-byte header:
//! `type(1) version(2) epoch(2) sequence_number(6) length(2)`. DTLS 1.3
//! (RFC 9147 §4) adds a variable unified header whose first byte has the
//! top three bits `001`; [`Record::parse`] reports it as
//! [`Error::Malformed`] for now, so that a later 1.3 layer can branch on the
//! first byte without changing the 1.2 path.

use crate::codec::Reader;
use crate::error::{Error, Result};

/// Length of the DTLS 1.2 record header.
pub const RECORD_HEADER_LEN: usize = 13;
/// Largest plaintext fragment (RFC 6347 §4.1, RFC 5246 §6.2.1: 2^14).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest ciphertext fragment (RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
/// Largest 48-bit sequence number.
pub const MAX_SEQUENCE: u64 = (1 << 48) - 1;

/// Record content type (RFC 5246 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// change_cipher_spec(20)
    ChangeCipherSpec,
    /// alert(21)
    Alert,
    /// handshake(22)
    Handshake,
    /// application_data(23)
    ApplicationData,
}

impl ContentType {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            20 => ContentType::ChangeCipherSpec,
            21 => ContentType::Alert,
            22 => ContentType::Handshake,
            23 => ContentType::ApplicationData,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => 20,
            ContentType::Alert => 21,
            ContentType::Handshake => 22,
            ContentType::ApplicationData => 23,
        }
    }
}

/// A DTLS protocol version as on the wire (one's complement of TLS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// DTLS 1.0 (0xfeff), also the record version of a first ClientHello.
    pub const DTLS1_0: Self = ProtocolVersion(0xfeff);
    /// DTLS 1.2 (0xfefd).
    pub const DTLS1_2: Self = ProtocolVersion(0xfefd);

    /// Whether this is a DTLS version (major byte 0xfe).
    pub fn is_dtls(self) -> bool {
        self.0 >> 8 == 0xfe
    }

    /// Whether `self` is at least as new as `other` (DTLS numbers count down).
    pub fn at_least(self, other: Self) -> bool {
        self.0 <= other.0
    }
}

/// A checked view of one DTLS 1.2 record inside a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Content type.
    pub content_type: ContentType,
    /// Record-layer version.
    pub version: ProtocolVersion,
    /// Epoch (incremented on each ChangeCipherSpec).
    pub epoch: u16,
    /// 48-bit sequence number within the epoch.
    pub sequence_number: u64,
    /// The (possibly protected) fragment.
    pub fragment: &'a [u8],
    /// The 13 header bytes, for building the AEAD additional data.
    pub header: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parses the first record of `buf`, returning it and what follows.
    pub fn parse(buf: &'a [u8]) -> Result<(Record<'a>, &'a [u8])> {
        let mut r = Reader::new(buf, "record header");
        let t = r.u8()?;
        let content_type =
            ContentType::from_u8(t).ok_or(Error::Malformed("record content type"))?;
        let version = ProtocolVersion(r.u16()?);
        if !version.is_dtls() {
            return Err(Error::Malformed("record version"));
        }
        let epoch = r.u16()?;
        let sequence_number = r.u48()?;
        let len = r.u16()? as usize;
        if len > MAX_CIPHERTEXT {
            return Err(Error::TooLarge("record"));
        }
        let fragment = r
            .take(len)
            .map_err(|_| Error::Truncated("record fragment"))?;
        let header = &buf[..RECORD_HEADER_LEN];
        Ok((
            Record {
                content_type,
                version,
                epoch,
                sequence_number,
                fragment,
                header,
            },
            r.rest(),
        ))
    }

    /// Total length on the wire.
    pub fn wire_len(&self) -> usize {
        RECORD_HEADER_LEN + self.fragment.len()
    }
}

/// The header fields of a record, without borrowing its bytes (so that the
/// fragment can be opened in place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFields {
    /// Content type.
    pub content_type: ContentType,
    /// Record-layer version.
    pub version: ProtocolVersion,
    /// Epoch.
    pub epoch: u16,
    /// 48-bit sequence number within the epoch.
    pub sequence_number: u64,
}

impl RecordFields {
    /// The header fields of `rec`.
    pub fn of(rec: &Record<'_>) -> Self {
        RecordFields {
            content_type: rec.content_type,
            version: rec.version,
            epoch: rec.epoch,
            sequence_number: rec.sequence_number,
        }
    }
}

/// Iterates over the records of a datagram; stops at the first malformed one
/// (RFC 6347 §4.1.2.7: invalid records are silently discarded).
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    /// Records of `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Records { rest: datagram }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Record::parse(self.rest) {
            Ok((rec, rest)) => {
                self.rest = rest;
                Some(Ok(rec))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Appends a record header with `len` fragment bytes to follow.
pub fn write_header(
    out: &mut Vec<u8>,
    content_type: ContentType,
    version: ProtocolVersion,
    epoch: u16,
    sequence_number: u64,
    len: u16,
) {
    out.extend_from_slice(&record_header(
        content_type,
        version,
        epoch,
        sequence_number,
        len,
    ));
}

/// The 13-byte record header (RFC 6347 §4.1) of a record with `len`
/// fragment bytes.
pub fn record_header(
    content_type: ContentType,
    version: ProtocolVersion,
    epoch: u16,
    sequence_number: u64,
    len: u16,
) -> [u8; RECORD_HEADER_LEN] {
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0] = content_type.to_u8();
    h[1..3].copy_from_slice(&version.0.to_be_bytes());
    h[3..5].copy_from_slice(&epoch.to_be_bytes());
    h[5..11].copy_from_slice(&sequence_number.to_be_bytes()[2..]);
    h[11..13].copy_from_slice(&len.to_be_bytes());
    h
}

/// The 13-byte AEAD additional data of RFC 5246 §6.2.3.3 with DTLS's
/// epoch-qualified sequence number (RFC 6347 §4.1.2.1).
pub fn additional_data(
    content_type: ContentType,
    version: ProtocolVersion,
    epoch: u16,
    sequence_number: u64,
    plaintext_len: u16,
) -> [u8; 13] {
    let seq_num = (u64::from(epoch) << 48) | (sequence_number & MAX_SEQUENCE);
    // Bytes 5..13: the last three of seq_num, type, version and length.
    let tail = (seq_num << 40)
        | (u64::from(content_type.to_u8()) << 32)
        | (u64::from(version.0) << 16)
        | u64::from(plaintext_len);
    // Two overlapping 8-byte stores, which is how an AEAD copying these 13
    // bytes reads them (0..8 and 5..13): a read spanning several smaller
    // stores stalls the CPU's store-to-load forwarding on every record.
    let mut ad = [0u8; 13];
    ad[..8].copy_from_slice(&seq_num.to_be_bytes());
    ad[5..].copy_from_slice(&tail.to_be_bytes());
    ad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additional_data_is_seq_num_type_version_length() {
        let ad = additional_data(
            ContentType::ApplicationData,
            ProtocolVersion::DTLS1_2,
            0x0102,
            0xffff_a1a2_a3a4_a5a6,
            0x0456,
        );
        let want = [
            0x01, 0x02, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 23, 0xfe, 0xfd, 0x04, 0x56,
        ];
        assert_eq!(ad, want);
    }
}
