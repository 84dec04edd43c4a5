//! AV1 (AOM "RTP Payload Format for AV1" v1.0.0, §4.4 aggregation header
//! and §5 packetization).
//!
//! ```text
//!  Z Y W W N - - -  | OBU element (LEB128 length + OBU without size field) ...
//! ```
//! Frames are temporal units in low-overhead bitstream format (every OBU
//! with `obu_has_size_field = 1`), as IVF carries them.

use super::{leb128_len, leb128_read, leb128_write, Depacketizer, Packetizer};
use crate::{Error, Result};

/// OBU type of a sequence header.
pub const OBU_SEQUENCE_HEADER: u8 = 1;
/// OBU type of a temporal delimiter.
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
/// OBU type of a tile list.
pub const OBU_TILE_LIST: u8 = 8;
/// Largest OBU reassembled from fragments.
const MAX_OBU: usize = super::MAX_FRAME_LEN;

/// One OBU of a low-overhead bitstream: header (and extension) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    /// OBU header byte(s): 1, or 2 with the extension.
    pub header: &'a [u8],
    /// OBU payload.
    pub payload: &'a [u8],
}

impl Obu<'_> {
    /// The obu_type field.
    pub fn obu_type(&self) -> u8 {
        self.header.first().map_or(0, |h| (h >> 3) & 0x0f)
    }
}

/// Splits one OBU off `data` (AV1 spec §5.3); an OBU without a size field
/// takes the rest of the data.
pub fn split_obu(data: &[u8]) -> Result<(Obu<'_>, &[u8])> {
    let h = *data.first().ok_or(Error::Truncated("OBU header"))?;
    if h & 0x80 != 0 {
        return Err(Error::Malformed("OBU forbidden bit set"));
    }
    let hlen = if h & 0x04 != 0 { 2 } else { 1 };
    let header = data
        .get(..hlen)
        .ok_or(Error::Truncated("OBU extension header"))?;
    let rest = &data[hlen..];
    if h & 0x02 != 0 {
        let (size, n) = leb128_read(rest).ok_or(Error::Truncated("OBU size"))?;
        let size = usize::try_from(size).map_err(|_| Error::Malformed("OBU size"))?;
        let payload = rest
            .get(n..)
            .and_then(|r| r.get(..size))
            .ok_or(Error::Truncated("OBU payload"))?;
        Ok((Obu { header, payload }, &rest[n + size..]))
    } else {
        Ok((
            Obu {
                header,
                payload: rest,
            },
            &[],
        ))
    }
}

/// AV1 packetizer: drops temporal delimiters and tile lists, strips OBU
/// size fields, and writes every OBU element with a length (W = 0).
#[derive(Debug, Default, Clone)]
pub struct Av1Packetizer {
    elements: Vec<u8>,
    spans: Vec<(usize, usize)>,
    buf: Vec<u8>,
}

impl Packetizer for Av1Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<()> {
        if max_payload < 4 {
            return Err(Error::InvalidInput("payload size too small for AV1"));
        }
        // Rewrite the OBUs without size fields, back to back.
        self.elements.clear();
        self.spans.clear();
        let mut rest = frame;
        let mut new_sequence = false;
        while !rest.is_empty() {
            let (obu, r) = split_obu(rest)?;
            rest = r;
            let t = obu.obu_type();
            if t == OBU_TEMPORAL_DELIMITER || t == OBU_TILE_LIST {
                continue;
            }
            new_sequence |= t == OBU_SEQUENCE_HEADER;
            let s = self.elements.len();
            self.elements.push(obu.header[0] & !0x02);
            self.elements.extend_from_slice(&obu.header[1..]);
            self.elements.extend_from_slice(obu.payload);
            self.spans.push((s, self.elements.len()));
        }
        if self.spans.is_empty() {
            return Err(Error::InvalidInput("AV1 temporal unit without OBUs"));
        }
        // Fill packets: aggregation header, then (LEB128 length, element) pairs.
        let mut idx = 0;
        let mut off = self.spans[0].0;
        let mut first_packet = true;
        let mut continuation = false;
        while idx < self.spans.len() {
            self.buf.clear();
            self.buf.push(0);
            let z = continuation;
            let mut y = false;
            while idx < self.spans.len() {
                let end = self.spans[idx].1;
                let left = end - off;
                let room = max_payload - self.buf.len();
                if room < 2 {
                    break;
                }
                // Largest n with leb128_len(n) + n <= room.
                let mut n = left.min(room - 1);
                while n > 0 && leb128_len(n as u64) + n > room {
                    n -= 1;
                }
                if n == 0 {
                    break;
                }
                leb128_write(n as u64, &mut self.buf);
                self.buf.extend_from_slice(&self.elements[off..off + n]);
                off += n;
                if off == end {
                    idx += 1;
                    if let Some(&(s, _)) = self.spans.get(idx) {
                        off = s;
                    }
                } else {
                    y = true;
                    break;
                }
            }
            continuation = y;
            self.buf[0] = if z { 0x80 } else { 0 }
                | if y { 0x40 } else { 0 }
                | if first_packet && new_sequence {
                    0x08
                } else {
                    0
                };
            first_packet = false;
            out(&self.buf, idx == self.spans.len());
        }
        Ok(())
    }
}

/// AV1 depacketizer: writes a temporal delimiter at each frame start and
/// every OBU with its size field.
#[derive(Debug, Default, Clone)]
pub struct Av1Depacketizer {
    pending: Vec<u8>,
    pending_active: bool,
}

fn write_obu(element: &[u8], frame: &mut Vec<u8>) -> Result<()> {
    let h = *element
        .first()
        .ok_or(Error::Malformed("empty OBU element"))?;
    if h & 0x02 != 0 {
        // Already has a size field: copy the OBU as it is after checking it.
        let (obu, _) = split_obu(element)?;
        let total = obu.header.len() + leb128_len(obu.payload.len() as u64) + obu.payload.len();
        return super::append(frame, element.get(..total).unwrap_or(element));
    }
    let hlen = if h & 0x04 != 0 { 2 } else { 1 };
    let ext = element
        .get(1..hlen)
        .ok_or(Error::Truncated("OBU extension header"))?;
    let payload = &element[hlen..];
    if frame.len() + element.len() + 9 > super::MAX_FRAME_LEN {
        return Err(Error::Malformed("frame larger than MAX_FRAME_LEN"));
    }
    frame.push(h | 0x02);
    frame.extend_from_slice(ext);
    leb128_write(payload.len() as u64, frame);
    frame.extend_from_slice(payload);
    Ok(())
}

impl Depacketizer for Av1Depacketizer {
    fn begin_frame(&mut self, frame: &mut Vec<u8>) {
        self.pending.clear();
        self.pending_active = false;
        frame.extend_from_slice(&[OBU_TEMPORAL_DELIMITER << 3 | 0x02, 0]);
    }

    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<()> {
        let (&agg, mut rest) = payload
            .split_first()
            .ok_or(Error::Truncated("AV1 aggregation header"))?;
        let (z, y, w) = (
            agg & 0x80 != 0,
            agg & 0x40 != 0,
            usize::from((agg >> 4) & 0x03),
        );
        let mut i = 0;
        while !rest.is_empty() {
            i += 1;
            let element = if w != 0 && i == w {
                core::mem::take(&mut rest)
            } else {
                let (len, n) =
                    leb128_read(rest).ok_or(Error::Truncated("AV1 OBU element length"))?;
                let len =
                    usize::try_from(len).map_err(|_| Error::Malformed("AV1 OBU element length"))?;
                let e = rest
                    .get(n..)
                    .and_then(|r| r.get(..len))
                    .ok_or(Error::Truncated("AV1 OBU element"))?;
                rest = &rest[n + len..];
                e
            };
            let last = rest.is_empty();
            if i == 1 && z {
                if !self.pending_active {
                    return Err(Error::Malformed("AV1 continuation without a start"));
                }
                if self.pending.len() + element.len() > MAX_OBU {
                    return Err(Error::Malformed("AV1 OBU too large"));
                }
                self.pending.extend_from_slice(element);
            } else {
                if self.pending_active {
                    return Err(Error::Malformed("AV1 OBU fragment not continued"));
                }
                self.pending.clear();
                self.pending.extend_from_slice(element);
                self.pending_active = true;
            }
            if !(last && y) {
                self.pending_active = false;
                if !self.pending.is_empty() {
                    write_obu(&self.pending, frame)?;
                }
            }
        }
        Ok(())
    }

    fn is_frame_start(&self, payload: &[u8]) -> bool {
        // N: first packet of a coded video sequence.
        payload
            .first()
            .is_some_and(|a| a & 0x80 == 0 && a & 0x08 != 0)
    }

    fn may_start_frame(&self, payload: &[u8]) -> bool {
        // Z = 0: the first OBU element is not the continuation of an earlier one.
        payload.first().is_some_and(|a| a & 0x80 == 0)
    }

    fn is_keyframe(&self, payload: &[u8]) -> bool {
        payload.first().is_some_and(|a| a & 0x08 != 0)
    }
}
