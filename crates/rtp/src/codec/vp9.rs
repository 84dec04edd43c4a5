//! VP9 (RFC 9628 §4.2 payload descriptor).
//!
//! ```text
//!  I P L F B E V Z | M PictureID | TID U SID D | TL0PICIDX | P_DIFF N ... | SS
//! ```

use super::{Depacketizer, Packetizer};
use crate::{Error, Result};

/// Fields of a VP9 payload descriptor this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp9Descriptor {
    /// Descriptor length in bytes.
    pub len: usize,
    /// P: inter-picture predicted frame.
    pub inter_predicted: bool,
    /// B: start of a frame.
    pub start_of_frame: bool,
    /// E: end of a frame.
    pub end_of_frame: bool,
    /// Picture ID, when I is set.
    pub picture_id: Option<u16>,
    /// Spatial layer ID (0 when L is clear).
    pub spatial_id: u8,
}

/// Parses the payload descriptor, scalability structure included.
pub fn parse_descriptor(p: &[u8]) -> Result<Vp9Descriptor> {
    let t = Error::Truncated("VP9 payload descriptor");
    let b0 = *p.first().ok_or(t)?;
    let (i, pbit, l, f, v) = (
        b0 & 0x80 != 0,
        b0 & 0x40 != 0,
        b0 & 0x20 != 0,
        b0 & 0x10 != 0,
        b0 & 0x02 != 0,
    );
    let mut off = 1;
    let get = |o: usize| p.get(o).copied().ok_or(t);
    let mut picture_id = None;
    if i {
        let m = get(off)?;
        if m & 0x80 != 0 {
            picture_id = Some(u16::from_be_bytes([m & 0x7f, get(off + 1)?]));
            off += 2;
        } else {
            picture_id = Some(u16::from(m));
            off += 1;
        }
    }
    let mut spatial_id = 0;
    if l {
        spatial_id = (get(off)? >> 1) & 0x07;
        off += if f { 1 } else { 2 };
    }
    if f && pbit {
        // Up to 3 reference indices, each with an N (more follow) bit.
        for k in 0..3 {
            let d = get(off)?;
            off += 1;
            if d & 0x01 == 0 {
                break;
            }
            if k == 2 {
                return Err(Error::Malformed("VP9 more than 3 P_DIFF"));
            }
        }
    }
    if v {
        let ss = get(off)?;
        off += 1;
        let n_s = usize::from(ss >> 5) + 1;
        if ss & 0x10 != 0 {
            off += 4 * n_s;
        }
        if ss & 0x08 != 0 {
            let n_g = get(off)?;
            off += 1;
            for _ in 0..n_g {
                let r = usize::from((get(off)? >> 2) & 0x03);
                off += 1 + r;
            }
        }
    }
    if p.len() <= off {
        return Err(Error::Truncated("VP9 payload"));
    }
    Ok(Vp9Descriptor {
        len: off,
        inter_predicted: pbit,
        start_of_frame: b0 & 0x08 != 0,
        end_of_frame: b0 & 0x04 != 0,
        picture_id,
        spatial_id,
    })
}

struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.b.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

/// Reads a VP9 uncompressed header (VP9 bitstream spec §6.2): returns
/// `Some(Some((width, height)))` for a key frame, `Some(None)` for another frame.
pub fn keyframe_size(frame: &[u8]) -> Option<Option<(u16, u16)>> {
    let mut r = Bits { b: frame, pos: 0 };
    if r.read(2)? != 2 {
        return None;
    }
    let profile = r.read(1)? | (r.read(1)? << 1);
    if profile == 3 {
        r.read(1)?;
    }
    if r.read(1)? == 1 {
        return Some(None); // show_existing_frame
    }
    if r.read(1)? != 0 {
        return Some(None); // not KEY_FRAME
    }
    r.read(2)?; // show_frame, error_resilient_mode
    if r.read(24)? != 0x49_8342 {
        return None;
    }
    if profile >= 2 {
        r.read(1)?;
    }
    let color_space = r.read(3)?;
    if color_space != 7 {
        r.read(1)?;
        if profile == 1 || profile == 3 {
            r.read(3)?;
        }
    } else if profile == 1 || profile == 3 {
        r.read(1)?;
    }
    let w = r.read(16)? + 1;
    let h = r.read(16)? + 1;
    Some(Some((w as u16, h as u16)))
}

/// VP9 packetizer: non-flexible mode, one spatial layer, 15-bit picture ID,
/// and a scalability structure with the resolution on key frames.
#[derive(Debug, Default, Clone)]
pub struct Vp9Packetizer {
    picture_id: u16,
    buf: Vec<u8>,
}

impl Packetizer for Vp9Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<()> {
        if frame.is_empty() {
            return Err(Error::InvalidInput("empty VP9 frame"));
        }
        let key = keyframe_size(frame);
        let is_key = matches!(key, Some(Some(_)));
        let pid = self.picture_id & 0x7fff;
        self.picture_id = self.picture_id.wrapping_add(1);
        let mut off = 0;
        let mut first = true;
        while off < frame.len() {
            self.buf.clear();
            let ss = first && is_key;
            let mut b0 = 0x80 | if is_key { 0 } else { 0x40 } | if first { 0x08 } else { 0 };
            if ss {
                b0 |= 0x02;
            }
            self.buf
                .extend_from_slice(&[b0, 0x80 | (pid >> 8) as u8, pid as u8]);
            if ss {
                match key {
                    Some(Some((w, h))) => {
                        self.buf.push(0x10);
                        self.buf.extend_from_slice(&w.to_be_bytes());
                        self.buf.extend_from_slice(&h.to_be_bytes());
                    }
                    _ => self.buf.push(0x00),
                }
            }
            let room = max_payload.saturating_sub(self.buf.len());
            if room == 0 {
                return Err(Error::InvalidInput("payload size too small for VP9"));
            }
            let n = room.min(frame.len() - off);
            self.buf.extend_from_slice(&frame[off..off + n]);
            off += n;
            let last = off == frame.len();
            if last {
                self.buf[0] |= 0x04;
            }
            out(&self.buf, last);
            first = false;
        }
        Ok(())
    }
}

/// VP9 depacketizer.
#[derive(Debug, Default, Clone, Copy)]
pub struct Vp9Depacketizer;

impl Depacketizer for Vp9Depacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<()> {
        let d = parse_descriptor(payload)?;
        super::append(frame, &payload[d.len..])
    }
    fn is_frame_start(&self, payload: &[u8]) -> bool {
        parse_descriptor(payload).is_ok_and(|d| d.start_of_frame && d.spatial_id == 0)
    }
    fn is_keyframe(&self, payload: &[u8]) -> bool {
        // RFC 9628 §4.2: a key frame starts with B=1, P=0 in the base spatial layer.
        parse_descriptor(payload)
            .is_ok_and(|d| d.start_of_frame && !d.inter_predicted && d.spatial_id == 0)
    }
}
