//! IVF files (libvpx's simple frame container): a 32-byte header, then
//! per frame a 12-byte header (size, 64-bit timestamp, little-endian).

use std::io::{Seek, SeekFrom, Write};

use crate::{Error, Result};

/// Length of the file header.
pub const HEADER_LEN: usize = 32;
/// Length of each frame header.
pub const FRAME_HEADER_LEN: usize = 12;
/// FourCC of VP8.
pub const VP8: [u8; 4] = *b"VP80";
/// FourCC of VP9.
pub const VP9: [u8; 4] = *b"VP90";
/// FourCC of AV1.
pub const AV1: [u8; 4] = *b"AV01";

/// The IVF file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// Codec FourCC ([`VP8`], [`VP9`], [`AV1`]).
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Time base denominator (timestamps are in units of numerator/denominator seconds).
    pub timebase_denominator: u32,
    /// Time base numerator.
    pub timebase_numerator: u32,
    /// Number of frames (may be 0 when unknown).
    pub frame_count: u32,
}

impl IvfHeader {
    /// A header for RTP video: 90 kHz time base.
    pub fn rtp(fourcc: [u8; 4], width: u16, height: u16) -> Self {
        IvfHeader {
            fourcc,
            width,
            height,
            timebase_denominator: 90_000,
            timebase_numerator: 1,
            frame_count: 0,
        }
    }

    /// Parses the 32-byte header.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let h = b.get(..HEADER_LEN).ok_or(Error::Truncated("IVF header"))?;
        if &h[0..4] != b"DKIF" {
            return Err(Error::Malformed("IVF signature"));
        }
        let le16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
        let le32 = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        if le16(4) != 0 {
            return Err(Error::Malformed("IVF version"));
        }
        if usize::from(le16(6)) < HEADER_LEN {
            return Err(Error::Malformed("IVF header length"));
        }
        Ok(IvfHeader {
            fourcc: [h[8], h[9], h[10], h[11]],
            width: le16(12),
            height: le16(14),
            timebase_denominator: le32(16),
            timebase_numerator: le32(20),
            frame_count: le32(24),
        })
    }

    /// The 32 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(b"DKIF");
        h[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        h[8..12].copy_from_slice(&self.fourcc);
        h[12..14].copy_from_slice(&self.width.to_le_bytes());
        h[14..16].copy_from_slice(&self.height.to_le_bytes());
        h[16..20].copy_from_slice(&self.timebase_denominator.to_le_bytes());
        h[20..24].copy_from_slice(&self.timebase_numerator.to_le_bytes());
        h[24..28].copy_from_slice(&self.frame_count.to_le_bytes());
        h
    }
}

/// One frame of an IVF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfFrame<'a> {
    /// Presentation timestamp in time-base units.
    pub timestamp: u64,
    /// Frame bytes.
    pub data: &'a [u8],
}

/// Reads an IVF file from memory without copying.
#[derive(Debug, Clone)]
pub struct IvfReader<'a> {
    header: IvfHeader,
    rest: &'a [u8],
}

impl<'a> IvfReader<'a> {
    /// Parses the header; frames follow through the iterator.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let header = IvfHeader::parse(data)?;
        let hlen = usize::from(u16::from_le_bytes([data[6], data[7]]));
        let rest = data.get(hlen..).ok_or(Error::Truncated("IVF header"))?;
        Ok(IvfReader { header, rest })
    }
    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }
}

impl<'a> Iterator for IvfReader<'a> {
    type Item = Result<IvfFrame<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = (|| {
            let h = self
                .rest
                .get(..FRAME_HEADER_LEN)
                .ok_or(Error::Truncated("IVF frame header"))?;
            let size = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&h[4..12]);
            let data = self.rest[FRAME_HEADER_LEN..]
                .get(..size)
                .ok_or(Error::Truncated("IVF frame"))?;
            self.rest = &self.rest[FRAME_HEADER_LEN + size..];
            Ok(IvfFrame {
                timestamp: u64::from_le_bytes(ts),
                data,
            })
        })();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// Writes an IVF file.
#[derive(Debug)]
pub struct IvfWriter<W: Write> {
    out: W,
    header: IvfHeader,
    frames: u32,
}

impl<W: Write> IvfWriter<W> {
    /// Writes `header` and returns the writer.
    pub fn new(mut out: W, header: IvfHeader) -> Result<Self> {
        out.write_all(&header.to_bytes())?;
        Ok(IvfWriter {
            out,
            header,
            frames: 0,
        })
    }

    /// Appends one frame.
    pub fn write_frame(&mut self, timestamp: u64, data: &[u8]) -> Result<()> {
        let size =
            u32::try_from(data.len()).map_err(|_| Error::InvalidInput("IVF frame above 4 GiB"))?;
        let mut h = [0u8; FRAME_HEADER_LEN];
        h[0..4].copy_from_slice(&size.to_le_bytes());
        h[4..12].copy_from_slice(&timestamp.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.frames = self.frames.saturating_add(1);
        Ok(())
    }

    /// Frames written so far.
    pub fn frame_count(&self) -> u32 {
        self.frames
    }

    /// Flushes and returns the output without touching the header.
    pub fn into_inner(mut self) -> Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write + Seek> IvfWriter<W> {
    /// Rewrites the header with the final frame count, then returns the output.
    pub fn finish(mut self) -> Result<W> {
        let end = self.out.stream_position()?;
        self.header.frame_count = self.frames;
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&self.header.to_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }
}
