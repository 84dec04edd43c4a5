//! Codec packetizers and depacketizers: Opus (RFC 7587), VP8 (RFC 7741),
//! VP9 (RFC 9628), H.264 (RFC 6184) and AV1 (AOM "RTP Payload Format for AV1").
//!
//! A [`Packetizer`] splits one encoded frame into RTP payloads of at most a
//! given size. A [`Depacketizer`] turns payloads back into the codec's
//! bitstream (Annex-B for H.264, low-overhead OBUs for AV1), and tells frame
//! boundaries and keyframes apart for [`crate::FrameAssembler`].

pub mod av1;
pub mod h264;
pub mod opus;
pub mod vp8;
pub mod vp9;

use crate::Result;

/// Largest frame a depacketizer assembles (bounds memory on hostile input).
pub const MAX_FRAME_LEN: usize = 8 << 20;

/// Splits encoded frames into RTP payloads.
pub trait Packetizer {
    /// Packetizes `frame` into payloads of at most `max_payload` bytes,
    /// calling `out(payload, last)` once per packet in order; `last` is true
    /// for the final packet of the frame (set the RTP marker bit there for video).
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<()>;
}

/// Turns RTP payloads back into a codec bitstream.
pub trait Depacketizer {
    /// Called before the first payload of each frame; may write a prefix.
    fn begin_frame(&mut self, _frame: &mut Vec<u8>) {}
    /// Appends the bitstream carried by `payload` to `frame`.
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<()>;
    /// True when the payload says by itself that it starts a frame.
    fn is_frame_start(&self, payload: &[u8]) -> bool;
    /// True when the payload could be the first of a frame: used for the
    /// very first packet of a stream, when no earlier packet tells where
    /// frames begin. Defaults to [`Depacketizer::is_frame_start`].
    fn may_start_frame(&self, payload: &[u8]) -> bool {
        self.is_frame_start(payload)
    }
    /// True when the packet ends a frame (by default: the marker bit).
    fn is_frame_end(&self, _payload: &[u8], marker: bool) -> bool {
        marker
    }
    /// True when this payload shows its frame is a keyframe (decoder refresh point).
    fn is_keyframe(&self, payload: &[u8]) -> bool;
}

/// The codecs this crate packetizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Opus (RFC 7587).
    Opus,
    /// VP8 (RFC 7741).
    Vp8,
    /// VP9 (RFC 9628).
    Vp9,
    /// H.264 (RFC 6184), packetization-mode 1.
    H264,
    /// AV1 (AOM RTP specification).
    Av1,
    /// G.711 µ-law (RFC 3551 §4.5.14): one packet per frame, 8 kHz.
    Pcmu,
    /// G.711 A-law (RFC 3551 §4.5.14): one packet per frame, 8 kHz.
    Pcma,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Codec; 7] = [
        Codec::Opus,
        Codec::Vp8,
        Codec::Vp9,
        Codec::H264,
        Codec::Av1,
        Codec::Pcmu,
        Codec::Pcma,
    ];

    /// The codec of an SDP encoding name (`a=rtpmap`), case-insensitive.
    pub fn from_name(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// The SDP encoding name (RFC 7587, RFC 7741, RFC 9628, RFC 6184, AV1, RFC 3551).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Vp8 => "VP8",
            Codec::Vp9 => "VP9",
            Codec::H264 => "H264",
            Codec::Av1 => "AV1",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// True for audio codecs.
    pub fn is_audio(self) -> bool {
        matches!(self, Codec::Opus | Codec::Pcmu | Codec::Pcma)
    }

    /// A fresh depacketizer for this codec.
    pub fn depacketizer(self) -> Box<dyn Depacketizer + Send> {
        match self {
            // Opus and G.711 both carry one whole frame per payload.
            Codec::Opus | Codec::Pcmu | Codec::Pcma => Box::new(opus::OpusDepacketizer),
            Codec::Vp8 => Box::new(vp8::Vp8Depacketizer),
            Codec::Vp9 => Box::new(vp9::Vp9Depacketizer),
            Codec::H264 => Box::new(h264::H264Depacketizer::default()),
            Codec::Av1 => Box::new(av1::Av1Depacketizer::default()),
        }
    }

    /// A fresh packetizer for this codec.
    pub fn packetizer(self) -> Box<dyn Packetizer + Send> {
        match self {
            Codec::Opus | Codec::Pcmu | Codec::Pcma => Box::new(opus::OpusPacketizer),
            Codec::Vp8 => Box::new(vp8::Vp8Packetizer::default()),
            Codec::Vp9 => Box::new(vp9::Vp9Packetizer::default()),
            Codec::H264 => Box::new(h264::H264Packetizer::default()),
            Codec::Av1 => Box::new(av1::Av1Packetizer::default()),
        }
    }

    /// The RTP clock rate (RFC 7587 §4.1: 48 kHz for Opus; 8 kHz for G.711;
    /// 90 kHz for video).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::Pcmu | Codec::Pcma => 8_000,
            _ => 90_000,
        }
    }
}

/// Appends to a frame, refusing to grow past [`MAX_FRAME_LEN`].
pub(crate) fn append(frame: &mut Vec<u8>, data: &[u8]) -> Result<()> {
    if frame.len() + data.len() > MAX_FRAME_LEN {
        return Err(crate::Error::Malformed("frame larger than MAX_FRAME_LEN"));
    }
    frame.extend_from_slice(data);
    Ok(())
}

/// Reads an unsigned LEB128 value (at most 8 bytes, as AV1 allows); returns (value, bytes read).
pub(crate) fn leb128_read(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().take(8).enumerate() {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Bytes a LEB128 encoding of `v` takes.
pub(crate) fn leb128_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends the LEB128 encoding of `v`.
pub(crate) fn leb128_write(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}
