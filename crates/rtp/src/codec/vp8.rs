//! VP8 (RFC 7741 §4.2 payload descriptor).
//!
//! ```text
//!  X R N S R PID | I L T K RSV | M PictureID (7 or 15) | TL0PICIDX | TID Y KEYIDX
//! ```

use super::{Depacketizer, Packetizer};
use crate::{Error, Result};

/// Parses the payload descriptor; returns (descriptor length, S bit, PID).
pub fn parse_descriptor(p: &[u8]) -> Result<(usize, bool, u8)> {
    let b0 = *p
        .first()
        .ok_or(Error::Truncated("VP8 payload descriptor"))?;
    let mut off = 1;
    if b0 & 0x80 != 0 {
        let x = *p.get(1).ok_or(Error::Truncated("VP8 payload descriptor"))?;
        off = 2;
        if x & 0x80 != 0 {
            let m = *p.get(off).ok_or(Error::Truncated("VP8 picture ID"))?;
            off += if m & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            off += 1;
        }
        if x & 0x30 != 0 {
            off += 1;
        }
    }
    if p.len() <= off {
        return Err(Error::Truncated("VP8 payload"));
    }
    Ok((off, b0 & 0x10 != 0, b0 & 0x07))
}

/// VP8 packetizer writing a 15-bit picture ID (RFC 7741 §4.2, M=1).
#[derive(Debug, Default, Clone)]
pub struct Vp8Packetizer {
    picture_id: u16,
    buf: Vec<u8>,
}

impl Packetizer for Vp8Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<()> {
        const HDR: usize = 4;
        if max_payload <= HDR {
            return Err(Error::InvalidInput("payload size too small for VP8"));
        }
        if frame.is_empty() {
            return Err(Error::InvalidInput("empty VP8 frame"));
        }
        let pid = self.picture_id & 0x7fff;
        self.picture_id = self.picture_id.wrapping_add(1);
        let mut chunks = frame.chunks(max_payload - HDR).peekable();
        let mut first = true;
        while let Some(c) = chunks.next() {
            self.buf.clear();
            self.buf.extend_from_slice(&[
                0x80 | if first { 0x10 } else { 0 },
                0x80,
                0x80 | (pid >> 8) as u8,
                pid as u8,
            ]);
            self.buf.extend_from_slice(c);
            out(&self.buf, chunks.peek().is_none());
            first = false;
        }
        Ok(())
    }
}

/// VP8 depacketizer.
#[derive(Debug, Default, Clone, Copy)]
pub struct Vp8Depacketizer;

impl Depacketizer for Vp8Depacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<()> {
        let (off, _, _) = parse_descriptor(payload)?;
        super::append(frame, &payload[off..])
    }
    fn is_frame_start(&self, payload: &[u8]) -> bool {
        matches!(parse_descriptor(payload), Ok((_, true, 0)))
    }
    fn is_keyframe(&self, payload: &[u8]) -> bool {
        // RFC 7741 §4.3: P bit (bit 0 of the first payload header byte) is 0 for key frames.
        match parse_descriptor(payload) {
            Ok((off, true, 0)) => payload.get(off).is_some_and(|b| b & 0x01 == 0),
            _ => false,
        }
    }
}
