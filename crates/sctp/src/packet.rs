//! The SCTP packet: common header (RFC 9260 §3.1), CRC32c (Appendix A),
//! zero checksum (RFC 9653) and the chunk sequence.

use crate::chunk::{chunk_type, Chunk, Data, Sack};
use crate::error::Error;
use crate::list::pad4;

/// Size of the common header.
pub const COMMON_HEADER_LEN: usize = 12;

/// The CRC32c of a packet computed with the checksum field taken as zero,
/// in the value order that goes on the wire (RFC 9260 Appendix A).
pub fn compute_checksum(packet: &[u8]) -> u32 {
    if packet.len() < COMMON_HEADER_LEN {
        return crc32c::crc32c(packet);
    }
    let c = crc32c::crc32c(&packet[..8]);
    let c = crc32c::crc32c_append(c, &[0; 4]);
    crc32c::crc32c_append(c, &packet[COMMON_HEADER_LEN..])
}

/// A checked, borrowed view of an SCTP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Wraps `buf` after checking it holds a common header. The checksum is
    /// not verified here; see [`Packet::verify_checksum`].
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        if buf.len() < COMMON_HEADER_LEN {
            return Err(Error::PacketTooShort);
        }
        Ok(Packet { buf })
    }

    /// Source Port Number.
    pub fn source_port(&self) -> u16 {
        u16::from_be_bytes([self.buf[0], self.buf[1]])
    }

    /// Destination Port Number.
    pub fn destination_port(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    /// Verification Tag.
    pub fn verification_tag(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }

    /// The checksum field as it appears on the wire (CRC32c bytes are stored
    /// least significant first, RFC 9260 Appendix A).
    pub fn checksum(&self) -> u32 {
        u32::from_le_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }

    /// Checks the CRC32c; with `accept_zero`, a zero checksum also passes
    /// (RFC 9653 §5, after the endpoint advertised Zero Checksum Acceptable).
    pub fn verify_checksum(&self, accept_zero: bool) -> Result<(), Error> {
        let c = self.checksum();
        if (accept_zero && c == 0) || c == compute_checksum(self.buf) {
            Ok(())
        } else {
            Err(Error::BadChecksum)
        }
    }

    /// The bytes after the common header.
    pub fn chunk_bytes(&self) -> &'a [u8] {
        &self.buf[COMMON_HEADER_LEN..]
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Iterates over the chunks; a malformed chunk yields one error and ends
    /// the iteration.
    pub fn chunks(&self) -> Chunks<'a> {
        Chunks {
            rest: self.chunk_bytes(),
            failed: false,
        }
    }
}

/// Iterator over the chunks of a packet.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Chunks<'a> {
    /// Bytes not yet consumed.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Takes the next chunk if it is a well-formed DATA chunk, decoded where
    /// it is used (the data path: no [`Chunk`] is built and moved, which
    /// copies its fields in pieces that stall store-to-load forwarding).
    /// Anything else, a malformed DATA chunk included, is left for
    /// [`Iterator::next`].
    #[inline]
    pub fn next_data(&mut self) -> Option<Data<'a>> {
        self.take_if(chunk_type::DATA, Data::from_value)
    }

    /// The same for a well-formed SACK chunk.
    #[inline]
    pub fn next_sack(&mut self) -> Option<Sack<'a>> {
        self.take_if(chunk_type::SACK, |_, v| Sack::from_value(v))
    }

    /// Takes the next chunk if it has type `ty` and `decode` accepts its
    /// flags and value.
    #[inline]
    fn take_if<T>(&mut self, ty: u8, decode: impl FnOnce(u8, &'a [u8]) -> Option<T>) -> Option<T> {
        if self.failed {
            return None;
        }
        let [t, flags, l0, l1, ..] = *self.rest else {
            return None;
        };
        if t != ty {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let chunk = decode(flags, self.rest.get(4..len)?)?;
        self.rest = self
            .rest
            .get(pad4(len).min(self.rest.len())..)
            .unwrap_or(&[]);
        Some(chunk)
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Chunk::parse(self.rest) {
            Ok((chunk, used)) => {
                self.rest = self.rest.get(used..).unwrap_or(&[]);
                Some(Ok(chunk))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Builds a packet into a caller's buffer: header, chunks, then checksum.
#[derive(Debug)]
pub struct PacketWriter<'b> {
    out: &'b mut Vec<u8>,
    start: usize,
}

impl<'b> PacketWriter<'b> {
    /// Starts a packet at the end of `out` with the given header fields.
    pub fn new(
        out: &'b mut Vec<u8>,
        source_port: u16,
        destination_port: u16,
        verification_tag: u32,
    ) -> Self {
        let start = out.len();
        out.extend_from_slice(&source_port.to_be_bytes());
        out.extend_from_slice(&destination_port.to_be_bytes());
        out.extend_from_slice(&verification_tag.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        PacketWriter { out, start }
    }

    /// Appends a chunk.
    pub fn push(&mut self, chunk: &Chunk<'_>) -> &mut Self {
        chunk.emit(self.out);
        self
    }

    /// The buffer, to append chunks with lower-level writers.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Bytes written so far for this packet.
    pub fn len(&self) -> usize {
        self.out.len() - self.start
    }

    /// Whether no chunk has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == COMMON_HEADER_LEN
    }

    /// Fills in the checksum (CRC32c, or zero when `zero_checksum`) and
    /// returns the packet length.
    pub fn finish(self, zero_checksum: bool) -> usize {
        let pkt = &mut self.out[self.start..];
        let c = if zero_checksum {
            0
        } else {
            compute_checksum(pkt)
        };
        pkt[8..12].copy_from_slice(&c.to_le_bytes());
        pkt.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{emit_data, DATA_FLAG_B, DATA_FLAG_E};

    /// A packet of `chunks` (the checksum is not checked here).
    fn packet(chunks: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; COMMON_HEADER_LEN];
        p.extend_from_slice(chunks);
        p
    }

    #[test]
    fn next_data_takes_well_formed_data_and_leaves_the_rest() {
        let mut chunks = Vec::new();
        let flags = DATA_FLAG_B | DATA_FLAG_E;
        emit_data(&mut chunks, flags, 7, 1, 2, 51, b"abc");
        emit_data(&mut chunks, flags, 8, 1, 3, 53, b"x");
        // A DATA chunk with no user data (RFC 9260 §3.3.1 forbids it).
        chunks.extend_from_slice(&[0, 3, 0, 16, 0, 0, 0, 9, 0, 1, 0, 4, 0, 0, 0, 51]);
        let p = packet(&chunks);
        let pkt = Packet::parse(&p).unwrap();
        let mut it = pkt.chunks();
        let first = it.next_data().unwrap();
        assert_eq!(
            (first.tsn, first.stream, first.ssn, first.ppid),
            (7, 1, 2, 51)
        );
        assert_eq!((first.flags, first.payload), (flags, &b"abc"[..]));
        // Padding is skipped: the next chunk starts on a 4-byte boundary.
        assert_eq!(
            it.next_data().map(|d| (d.tsn, d.payload)),
            Some((8, &b"x"[..]))
        );
        // The malformed chunk is left for `next`, which reports it.
        assert!(it.next_data().is_none());
        assert!(matches!(it.next(), Some(Err(Error::EmptyData))));
        assert!(it.next_data().is_none() && it.next().is_none());
    }

    #[test]
    fn next_sack_takes_well_formed_sacks_and_leaves_the_rest() {
        #[rustfmt::skip]
        let chunks = [
            // SACK: cum TSN 9, a_rwnd 4096, one gap block (2..3), one duplicate (5).
            3, 0, 0, 24, 0, 0, 0, 9, 0, 0, 16, 0, 0, 1, 0, 1, 0, 2, 0, 3, 0, 0, 0, 5,
            // A SACK claiming a gap block it does not carry.
            3, 0, 0, 16, 0, 0, 0, 9, 0, 0, 16, 0, 0, 1, 0, 0,
        ];
        let p = packet(&chunks);
        let pkt = Packet::parse(&p).unwrap();
        let mut it = pkt.chunks();
        assert!(it.next_data().is_none(), "not DATA");
        let sack = it.next_sack().unwrap();
        assert_eq!((sack.cumulative_tsn_ack, sack.a_rwnd), (9, 4096));
        assert_eq!(sack.gap_blocks.iter().count(), 1);
        assert_eq!(sack.duplicate_tsns.iter().collect::<Vec<_>>(), [5]);
        assert!(it.next_sack().is_none());
        assert!(matches!(it.next(), Some(Err(_))));
    }

    #[test]
    fn next_data_leaves_other_chunks_alone() {
        let p = packet(&[11, 0, 0, 4]); // COOKIE ACK
        let pkt = Packet::parse(&p).unwrap();
        let mut it = pkt.chunks();
        assert!(it.next_data().is_none());
        assert!(matches!(it.next(), Some(Ok(Chunk::CookieAck))));
    }
}
