//! H.264 (RFC 6184): single NAL unit packets (§5.6), STAP-A (§5.7.1) and
//! FU-A (§5.8), in packetization-mode 0 (single NAL only) or 1 (non-interleaved).
//! Frames are Annex-B byte streams (ITU-T H.264 Annex B).

use super::{Depacketizer, Packetizer};
use crate::{Error, Result};

/// NAL unit type of STAP-A.
pub const STAP_A: u8 = 24;
/// NAL unit type of FU-A.
pub const FU_A: u8 = 28;
/// NAL unit type of an IDR slice.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// The 4-byte Annex-B start code this crate writes.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Iterates the NAL units of an Annex-B byte stream (3- or 4-byte start
/// codes; trailing zero bytes are not part of a NAL unit).
pub fn annexb_nals(data: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let find = |d: &[u8], from: usize| -> Option<usize> {
        d.get(from..)?
            .windows(3)
            .position(|w| w == [0, 0, 1])
            .map(|p| p + from)
    };
    let mut pos = find(data, 0).map(|p| p + 3);
    core::iter::from_fn(move || loop {
        let start = pos?;
        let next = find(data, start);
        let end = next.unwrap_or(data.len());
        pos = next.map(|p| p + 3);
        let mut nal = data.get(start..end)?;
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        if !nal.is_empty() {
            return Some(nal);
        }
    })
}

/// RFC 6184 §6 packetization mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketizationMode {
    /// Mode 0: single NAL unit packets only.
    SingleNal,
    /// Mode 1: single NAL, STAP-A and FU-A.
    #[default]
    NonInterleaved,
}

/// H.264 packetizer over Annex-B frames.
#[derive(Debug, Default, Clone)]
pub struct H264Packetizer {
    /// Packetization mode in force.
    pub mode: PacketizationMode,
    buf: Vec<u8>,
    packets: Vec<(usize, usize)>,
}

impl H264Packetizer {
    /// A packetizer for `mode`.
    pub fn new(mode: PacketizationMode) -> Self {
        H264Packetizer {
            mode,
            ..Default::default()
        }
    }

    fn flush(&mut self, agg: &mut Vec<(usize, usize)>, frame: &[u8]) {
        match agg.len() {
            0 => {}
            1 => {
                let (s, e) = agg[0];
                let start = self.buf.len();
                self.buf.extend_from_slice(&frame[s..e]);
                self.packets.push((start, self.buf.len()));
            }
            _ => {
                let start = self.buf.len();
                let nri = agg.iter().map(|&(s, _)| frame[s] & 0x60).max().unwrap_or(0);
                self.buf.push(nri | STAP_A);
                for &(s, e) in agg.iter() {
                    self.buf.extend_from_slice(&((e - s) as u16).to_be_bytes());
                    self.buf.extend_from_slice(&frame[s..e]);
                }
                self.packets.push((start, self.buf.len()));
            }
        }
        agg.clear();
    }
}

impl Packetizer for H264Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<()> {
        if max_payload < 3 {
            return Err(Error::InvalidInput("payload size too small for H.264"));
        }
        self.buf.clear();
        self.packets.clear();
        let mut agg: Vec<(usize, usize)> = Vec::new();
        let mut agg_len = 1;
        for nal in annexb_nals(frame) {
            // Offsets of the NAL inside `frame`.
            let s = nal.as_ptr() as usize - frame.as_ptr() as usize;
            let e = s + nal.len();
            if self.mode == PacketizationMode::SingleNal {
                if nal.len() > max_payload {
                    return Err(Error::InvalidInput(
                        "NAL unit larger than the payload size in mode 0",
                    ));
                }
                agg.push((s, e));
                self.flush(&mut agg, frame);
                continue;
            }
            if nal.len() > max_payload {
                self.flush(&mut agg, frame);
                agg_len = 1;
                // FU-A (RFC 6184 §5.8): indicator F|NRI|28, header S|E|R|type.
                let hdr = nal[0];
                let body = &nal[1..];
                let chunk = max_payload - 2;
                let n = body.chunks(chunk).count();
                for (i, c) in body.chunks(chunk).enumerate() {
                    let start = self.buf.len();
                    let se = if i == 0 { 0x80 } else { 0 } | if i + 1 == n { 0x40 } else { 0 };
                    self.buf
                        .extend_from_slice(&[(hdr & 0xe0) | FU_A, se | (hdr & 0x1f)]);
                    self.buf.extend_from_slice(c);
                    self.packets.push((start, self.buf.len()));
                }
                continue;
            }
            let add = 2 + nal.len();
            // STAP-A sizes are 16 bits: never aggregate beyond 65535 bytes.
            if !agg.is_empty() && agg_len + add > max_payload.min(0xffff) {
                self.flush(&mut agg, frame);
                agg_len = 1;
            }
            agg.push((s, e));
            agg_len += add;
        }
        self.flush(&mut agg, frame);
        let n = self.packets.len();
        for (i, &(s, e)) in self.packets.iter().enumerate() {
            out(&self.buf[s..e], i + 1 == n);
        }
        Ok(())
    }
}

/// H.264 depacketizer writing Annex-B with 4-byte start codes.
#[derive(Debug, Default, Clone)]
pub struct H264Depacketizer {
    fu_active: bool,
}

fn nal_is_key(t: u8) -> bool {
    t == NAL_IDR || t == NAL_SPS
}

impl Depacketizer for H264Depacketizer {
    fn begin_frame(&mut self, _frame: &mut Vec<u8>) {
        self.fu_active = false;
    }

    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<()> {
        let hdr = *payload
            .first()
            .ok_or(Error::Truncated("H.264 NAL header"))?;
        match hdr & 0x1f {
            1..=23 => {
                super::append(frame, &START_CODE)?;
                super::append(frame, payload)
            }
            STAP_A => {
                let mut rest = &payload[1..];
                if rest.is_empty() {
                    return Err(Error::Truncated("STAP-A"));
                }
                while !rest.is_empty() {
                    let [a, b, tail @ ..] = rest else {
                        return Err(Error::Truncated("STAP-A NAL size"));
                    };
                    let len = usize::from(u16::from_be_bytes([*a, *b]));
                    if len == 0 {
                        return Err(Error::Malformed("STAP-A empty NAL unit"));
                    }
                    let nal = tail.get(..len).ok_or(Error::Truncated("STAP-A NAL unit"))?;
                    super::append(frame, &START_CODE)?;
                    super::append(frame, nal)?;
                    rest = &tail[len..];
                }
                Ok(())
            }
            FU_A => {
                let [ind, fu, body @ ..] = payload else {
                    return Err(Error::Truncated("FU-A header"));
                };
                if fu & 0x80 != 0 {
                    super::append(frame, &START_CODE)?;
                    super::append(frame, &[(ind & 0xe0) | (fu & 0x1f)])?;
                    self.fu_active = true;
                } else if !self.fu_active {
                    return Err(Error::Malformed("FU-A continuation without a start"));
                }
                super::append(frame, body)?;
                if fu & 0x40 != 0 {
                    self.fu_active = false;
                }
                Ok(())
            }
            _ => Err(Error::Malformed("unsupported H.264 NAL unit type")),
        }
    }

    fn is_frame_start(&self, _payload: &[u8]) -> bool {
        // H.264 payloads do not mark access-unit starts; the assembler uses
        // the marker bit and timestamps.
        false
    }

    fn may_start_frame(&self, payload: &[u8]) -> bool {
        // Anything but the middle or end of a fragmented NAL unit.
        match payload {
            [hdr, fu, ..] if hdr & 0x1f == FU_A => fu & 0x80 != 0,
            [_, ..] => true,
            [] => false,
        }
    }

    fn is_keyframe(&self, payload: &[u8]) -> bool {
        let Some(&hdr) = payload.first() else {
            return false;
        };
        match hdr & 0x1f {
            STAP_A => {
                let mut rest = &payload[1..];
                while let [a, b, tail @ ..] = rest {
                    let len = usize::from(u16::from_be_bytes([*a, *b]));
                    match tail.first() {
                        Some(h) if nal_is_key(h & 0x1f) => return true,
                        _ => {}
                    }
                    rest = tail.get(len..).unwrap_or(&[]);
                }
                false
            }
            FU_A => payload
                .get(1)
                .is_some_and(|fu| fu & 0x80 != 0 && nal_is_key(fu & 0x1f)),
            t => nal_is_key(t),
        }
    }
}
