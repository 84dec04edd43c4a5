//! Ogg pages (RFC 3533) carrying Opus (RFC 7845): `OpusHead`, `OpusTags`,
//! then one audio packet per page with the 48 kHz granule position.

use std::io::Write;

use crate::codec::opus::packet_samples;
use crate::{Error, Result};

/// Ogg's CRC-32 (RFC 3533 §6): polynomial 0x04c11db7, initial 0, no reflection.
const OGG_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::Algorithm {
    width: 32,
    poly: 0x04c1_1db7,
    init: 0,
    refin: false,
    refout: false,
    xorout: 0,
    check: 0x89a1_897f,
    residue: 0,
});

/// Header type flag: the page continues a packet from the previous page.
pub const CONTINUED: u8 = 0x01;
/// Header type flag: first page of a logical stream.
pub const BEGIN_OF_STREAM: u8 = 0x02;
/// Header type flag: last page of a logical stream.
pub const END_OF_STREAM: u8 = 0x04;
/// Largest packet the reader reassembles.
pub const MAX_PACKET: usize = 1 << 20;

/// Checksum of a page whose CRC field is zero.
fn page_crc(page: &[u8]) -> u32 {
    OGG_CRC.checksum(page)
}

/// One Ogg page, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OggPage<'a> {
    /// Header type flags.
    pub header_type: u8,
    /// Granule position (codec-defined; 48 kHz samples for Opus).
    pub granule_position: u64,
    /// Bitstream serial number.
    pub serial: u32,
    /// Page sequence number.
    pub sequence: u32,
    /// Lacing values.
    pub segments: &'a [u8],
    /// Page body.
    pub data: &'a [u8],
}

/// Splits one page off `b`, checking the capture pattern, version and CRC.
pub fn parse_page(b: &[u8]) -> Result<(OggPage<'_>, usize)> {
    let h = b.get(..27).ok_or(Error::Truncated("Ogg page header"))?;
    if &h[0..4] != b"OggS" {
        return Err(Error::Malformed("Ogg capture pattern"));
    }
    if h[4] != 0 {
        return Err(Error::Malformed("Ogg version"));
    }
    let n = usize::from(h[26]);
    let segments = b
        .get(27..27 + n)
        .ok_or(Error::Truncated("Ogg segment table"))?;
    let body: usize = segments.iter().map(|&s| usize::from(s)).sum();
    let total = 27 + n + body;
    let page = b.get(..total).ok_or(Error::Truncated("Ogg page body"))?;
    let stored = u32::from_le_bytes([h[22], h[23], h[24], h[25]]);
    let mut digest = OGG_CRC.digest();
    digest.update(&page[..22]);
    digest.update(&[0; 4]);
    digest.update(&page[26..]);
    if digest.finalize() != stored {
        return Err(Error::Malformed("Ogg page CRC"));
    }
    let mut gp = [0u8; 8];
    gp.copy_from_slice(&h[6..14]);
    Ok((
        OggPage {
            header_type: h[5],
            granule_position: u64::from_le_bytes(gp),
            serial: u32::from_le_bytes([h[14], h[15], h[16], h[17]]),
            sequence: u32::from_le_bytes([h[18], h[19], h[20], h[21]]),
            segments,
            data: &page[27 + n..],
        },
        total,
    ))
}

/// Reassembles packets from the pages of one logical stream.
#[derive(Debug, Clone)]
pub struct OggPacketReader<'a> {
    rest: &'a [u8],
    page: Option<(OggPage<'a>, usize, usize)>,
    partial: Vec<u8>,
}

/// A packet with the granule position of the page where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket {
    /// Packet bytes.
    pub data: Vec<u8>,
    /// Granule position of the page on which this packet ends
    /// (meaningful for the last packet ending on a page).
    pub granule_position: u64,
}

impl<'a> OggPacketReader<'a> {
    /// Reads from the whole file in memory.
    pub fn new(data: &'a [u8]) -> Self {
        OggPacketReader {
            rest: data,
            page: None,
            partial: Vec::new(),
        }
    }

    fn step(&mut self) -> Result<Option<OggPacket>> {
        loop {
            if self.page.is_none() {
                if self.rest.is_empty() {
                    return if self.partial.is_empty() {
                        Ok(None)
                    } else {
                        Err(Error::Truncated("Ogg packet"))
                    };
                }
                let (p, used) = parse_page(self.rest)?;
                self.rest = &self.rest[used..];
                if p.header_type & CONTINUED == 0 && !self.partial.is_empty() {
                    return Err(Error::Malformed("Ogg packet not continued"));
                }
                self.page = Some((p, 0, 0));
            }
            let Some((page, seg, off)) = self.page.as_mut() else {
                continue;
            };
            if *seg >= page.segments.len() {
                self.page = None;
                continue;
            }
            let lace = usize::from(page.segments[*seg]);
            let chunk = page
                .data
                .get(*off..*off + lace)
                .ok_or(Error::Truncated("Ogg segment"))?;
            *seg += 1;
            *off += lace;
            if self.partial.len() + lace > MAX_PACKET {
                return Err(Error::Malformed("Ogg packet larger than MAX_PACKET"));
            }
            self.partial.extend_from_slice(chunk);
            if lace < 255 {
                let granule_position = page.granule_position;
                return Ok(Some(OggPacket {
                    data: core::mem::take(&mut self.partial),
                    granule_position,
                }));
            }
        }
    }
}

impl Iterator for OggPacketReader<'_> {
    type Item = Result<OggPacket>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(p) => p.map(Ok),
            Err(e) => {
                self.rest = &[];
                self.page = None;
                self.partial.clear();
                Some(Err(e))
            }
        }
    }
}

/// The Opus identification header (RFC 7845 §5.1), mapping family 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channel count (1 or 2 for mapping family 0).
    pub channels: u8,
    /// Samples (48 kHz) to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input (informational).
    pub input_sample_rate: u32,
    /// Output gain in Q7.8 dB.
    pub output_gain: i16,
}

impl OpusHead {
    /// Parses an `OpusHead` packet.
    pub fn parse(b: &[u8]) -> Result<Self> {
        if b.len() < 19 {
            return Err(Error::Truncated("OpusHead"));
        }
        if &b[0..8] != b"OpusHead" {
            return Err(Error::Malformed("OpusHead magic"));
        }
        if b[8] >> 4 != 0 {
            return Err(Error::Malformed("OpusHead major version"));
        }
        if b[9] == 0 {
            return Err(Error::Malformed("OpusHead channel count"));
        }
        Ok(OpusHead {
            channels: b[9],
            pre_skip: u16::from_le_bytes([b[10], b[11]]),
            input_sample_rate: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
            output_gain: i16::from_le_bytes([b[16], b[17]]),
        })
    }

    /// The 19-byte packet (version 1, channel mapping family 0).
    pub fn to_bytes(&self) -> [u8; 19] {
        let mut b = [0u8; 19];
        b[0..8].copy_from_slice(b"OpusHead");
        b[8] = 1;
        b[9] = self.channels;
        b[10..12].copy_from_slice(&self.pre_skip.to_le_bytes());
        b[12..16].copy_from_slice(&self.input_sample_rate.to_le_bytes());
        b[16..18].copy_from_slice(&self.output_gain.to_le_bytes());
        b
    }
}

/// Writes an Ogg Opus file: `OpusHead` and `OpusTags` pages, then one
/// page per audio packet; the last page carries the end-of-stream flag.
#[derive(Debug)]
pub struct OggOpusWriter<W: Write> {
    out: W,
    serial: u32,
    sequence: u32,
    granule: u64,
    pending: Option<Vec<u8>>,
    page: Vec<u8>,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the header pages. `serial` names the logical stream.
    pub fn new(out: W, serial: u32, head: OpusHead, vendor: &str) -> Result<Self> {
        let mut w = OggOpusWriter {
            out,
            serial,
            sequence: 0,
            granule: 0,
            pending: None,
            page: Vec::new(),
        };
        w.write_page(&head.to_bytes(), BEGIN_OF_STREAM, 0)?;
        let mut tags = Vec::with_capacity(16 + vendor.len());
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes());
        w.write_page(&tags, 0, 0)?;
        w.granule = u64::from(head.pre_skip);
        Ok(w)
    }

    fn write_page(&mut self, packet: &[u8], header_type: u8, granule: u64) -> Result<()> {
        let full = packet.len() / 255;
        let nseg = full + 1;
        if nseg > 255 {
            return Err(Error::InvalidInput("packet too large for one Ogg page"));
        }
        let p = &mut self.page;
        p.clear();
        p.extend_from_slice(b"OggS");
        p.push(0);
        p.push(header_type);
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&self.serial.to_le_bytes());
        p.extend_from_slice(&self.sequence.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        p.push(nseg as u8);
        p.extend(core::iter::repeat_n(255u8, full));
        p.push((packet.len() % 255) as u8);
        p.extend_from_slice(packet);
        let crc = page_crc(p);
        p[22..26].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(p)?;
        self.sequence = self.sequence.wrapping_add(1);
        Ok(())
    }

    /// Appends one Opus packet; its duration comes from its TOC byte.
    pub fn write_packet(&mut self, packet: &[u8]) -> Result<()> {
        let samples = packet_samples(packet).ok_or(Error::Malformed("Opus TOC"))?;
        if let Some(prev) = self.pending.take() {
            self.write_page(&prev, 0, self.granule)?;
        }
        self.granule += u64::from(samples);
        self.pending = Some(packet.to_vec());
        Ok(())
    }

    /// Writes the last page with the end-of-stream flag and returns the output.
    pub fn finish(mut self) -> Result<W> {
        let last = self.pending.take().unwrap_or_default();
        self.write_page(&last, END_OF_STREAM, self.granule)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3533_crc_is_crc32_poly_04c11db7_init_0() {
        assert_eq!(OGG_CRC.checksum(b"123456789"), 0x89a1_897f);
    }
}
