//! Opus (RFC 7587 §4.2): one Opus packet per RTP payload, no header.

use super::{Depacketizer, Packetizer};
use crate::{Error, Result};

/// Opus packetizer: the frame is the payload (also used for G.711).
#[derive(Debug, Default, Clone, Copy)]
pub struct OpusPacketizer;

impl Packetizer for OpusPacketizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<()> {
        if frame.len() > max_payload {
            return Err(Error::InvalidInput(
                "Opus packet larger than the payload size",
            ));
        }
        out(frame, true);
        Ok(())
    }
}

/// Opus depacketizer: every payload is a whole frame (also used for G.711).
#[derive(Debug, Default, Clone, Copy)]
pub struct OpusDepacketizer;

impl Depacketizer for OpusDepacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<()> {
        super::append(frame, payload)
    }
    fn is_frame_start(&self, _payload: &[u8]) -> bool {
        true
    }
    fn is_frame_end(&self, _payload: &[u8], _marker: bool) -> bool {
        true
    }
    fn is_keyframe(&self, _payload: &[u8]) -> bool {
        true
    }
}

/// Number of 48 kHz samples in an Opus packet (RFC 6716 §3.1), from its TOC
/// byte and frame count; `None` if the packet is malformed.
pub fn packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame size in 48 kHz samples per configuration group (RFC 6716 Table 2).
    let per_frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let total = per_frame * frames;
    // RFC 6716 §3.2.5: at most 120 ms per packet.
    (frames > 0 && total <= 5760).then_some(total)
}
