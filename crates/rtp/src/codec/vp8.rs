//! VP8 (RFC 7741 §4.2 payload descriptor).
//!
//! ```text
//!  X R N S R PID | I L T K RSV | M PictureID (7 or 15) | TL0PICIDX | TID Y KEYIDX
//! ```

use super::{Depacketizer, Packetizer};
use crate::{Error, Result};

/// True when a VP8 frame (the bitstream an RTP payload carries after its
/// descriptor) is a key frame: the frame tag's lowest bit, P, is 0 (RFC
/// 6386 §9.1).
pub fn frame_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

/// The width and height of a VP8 key frame (RFC 6386 §9.1: after the
/// 3-byte frame tag, the start code 9d 01 2a and two 14-bit sizes, their
/// top two bits being the scale); `None` for other frames.
pub fn frame_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    if !frame_is_keyframe(frame) || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3fff;
    let h = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3fff;
    Some((w, h))
}

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
        // RFC 7741 §4.3: the frame starts in the first partition's first packet.
        match parse_descriptor(payload) {
            Ok((off, true, 0)) => payload.get(off..).is_some_and(frame_is_keyframe),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_frame_tag_and_dimensions() {
        // Frame tag with P = 0, start code, 640 x 480 with scale bits set.
        let key = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0xe0, 0x41];
        assert!(frame_is_keyframe(&key));
        assert_eq!(frame_dimensions(&key), Some((640, 480)));
        let inter = [0x11, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
        assert!(!frame_is_keyframe(&inter));
        assert_eq!(frame_dimensions(&inter), None);
        assert_eq!(frame_dimensions(&key[..9]), None);
        assert_eq!(
            frame_dimensions(&[0x10, 0, 0, 0x9d, 0x01, 0x2b, 0, 0, 0, 0]),
            None
        );
        assert!(!frame_is_keyframe(&[]));
        // In an RTP payload, behind the descriptor, only at a frame start.
        let d = Vp8Depacketizer;
        assert!(d.is_keyframe(&[&[0x10][..], &key].concat()));
        assert!(!d.is_keyframe(&[&[0x00][..], &key].concat()));
    }
}
