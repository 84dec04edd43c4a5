//! H.264 Annex-B byte streams (ITU-T H.264 Annex B): NAL units separated by
//! start codes.

use std::io::Write;

pub use crate::codec::h264::{annexb_nals, START_CODE};
use crate::Result;

/// Writes an Annex-B byte stream.
#[derive(Debug)]
pub struct AnnexBWriter<W: Write> {
    out: W,
}

impl<W: Write> AnnexBWriter<W> {
    /// Wraps an output.
    pub fn new(out: W) -> Self {
        AnnexBWriter { out }
    }

    /// Writes one NAL unit, prefixed with a 4-byte start code.
    pub fn write_nal(&mut self, nal: &[u8]) -> Result<()> {
        self.out.write_all(&START_CODE)?;
        self.out.write_all(nal)?;
        Ok(())
    }

    /// Writes an access unit that is already in Annex-B form (as
    /// [`crate::codec::h264::H264Depacketizer`] produces).
    pub fn write_access_unit(&mut self, annexb: &[u8]) -> Result<()> {
        self.out.write_all(annexb)?;
        Ok(())
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Groups the NAL units of a byte stream into access units: a new unit
/// starts at after a slice has been seen, an SEI (type 6), SPS (7), PPS (8),
/// access unit delimiter (9), or a slice whose first_mb_in_slice is 0 (H.264 §7.4.1.2.3).
pub fn access_units(data: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut units: Vec<Vec<&[u8]>> = Vec::new();
    let mut cur: Vec<&[u8]> = Vec::new();
    let mut seen_slice = false;
    for nal in annexb_nals(data) {
        let t = nal.first().map_or(0, |h| h & 0x1f);
        let is_slice = t == 1 || t == 5;
        // first_mb_in_slice is ue(v); a leading 1 bit means the value 0.
        let first_mb_zero = nal.get(1).is_some_and(|b| b & 0x80 != 0);
        // After a slice, an AUD, SEI, SPS or PPS, or a slice starting at
        // macroblock 0, opens the next access unit.
        let starts = seen_slice && (matches!(t, 6..=9) || (is_slice && first_mb_zero));
        if starts && !cur.is_empty() {
            units.push(core::mem::take(&mut cur));
            seen_slice = false;
        }
        seen_slice |= is_slice;
        cur.push(nal);
    }
    if !cur.is_empty() {
        units.push(cur);
    }
    units
}
