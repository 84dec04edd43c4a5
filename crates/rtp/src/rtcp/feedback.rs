//! Feedback messages: generic NACK and PLI (RFC 4585 §6.2.1, §6.3.1), FIR
//! (RFC 5104 §4.3.1) and REMB (draft-alvestrand-rmcat-remb-03 §2.2).

use super::{packet_type, write_header, HEADER_LEN};
use crate::wire::{u16_at, u32_at, u8_at};
use crate::{Error, Result};

/// Common feedback header after the RTCP header: sender SSRC and media SSRC.
const FB_LEN: usize = 8;

fn fb_header(buf: &mut [u8], sender_ssrc: u32, media_ssrc: u32) {
    buf[4..8].copy_from_slice(&sender_ssrc.to_be_bytes());
    buf[8..12].copy_from_slice(&media_ssrc.to_be_bytes());
}

/// One generic NACK FCI entry: a lost packet ID and a bitmask of the 16 following.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NackPair {
    /// Packet ID (PID): a lost sequence number.
    pub packet_id: u16,
    /// Bitmask of following lost packets (BLP): bit i means PID+i+1 is lost.
    pub lost_bitmask: u16,
}

impl NackPair {
    /// The sequence numbers this entry reports lost.
    pub fn lost(&self) -> impl Iterator<Item = u16> {
        let (pid, blp) = (self.packet_id, self.lost_bitmask);
        core::iter::once(pid).chain(
            (0..16u16)
                .filter(move |i| blp & (1 << i) != 0)
                .map(move |i| pid.wrapping_add(i + 1)),
        )
    }
}

/// A generic NACK view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    body: &'a [u8],
}

impl<'a> Nack<'a> {
    /// Validates a generic NACK body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        if body.len() < FB_LEN + 4 || body.len() % 4 != 0 {
            return Err(Error::Truncated("generic NACK"));
        }
        Ok(Nack { body })
    }
    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// SSRC of the media source.
    pub fn media_ssrc(&self) -> u32 {
        u32_at(self.body, 4)
    }
    /// FCI entries.
    pub fn pairs(&self) -> impl Iterator<Item = NackPair> + 'a {
        self.body
            .get(FB_LEN..)
            .unwrap_or(&[])
            .chunks_exact(4)
            .map(|c| NackPair {
                packet_id: u16_at(c, 0),
                lost_bitmask: u16_at(c, 2),
            })
    }
    /// All sequence numbers reported lost.
    pub fn lost(&self) -> impl Iterator<Item = u16> + 'a {
        self.pairs().flat_map(|p| p.lost())
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> NackRepr {
        NackRepr {
            sender_ssrc: self.sender_ssrc(),
            media_ssrc: self.media_ssrc(),
            pairs: self.pairs().collect(),
        }
    }
}

/// An owned generic NACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NackRepr {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
    /// FCI entries (at least one).
    pub pairs: Vec<NackPair>,
}

impl NackRepr {
    /// Packs sorted-or-not lost sequence numbers into PID/BLP pairs. Expects
    /// the numbers in sending order (wrap-around handled by the caller's order).
    pub fn from_lost(
        sender_ssrc: u32,
        media_ssrc: u32,
        lost: impl IntoIterator<Item = u16>,
    ) -> Self {
        let mut pairs: Vec<NackPair> = Vec::new();
        for seq in lost {
            if let Some(last) = pairs.last_mut() {
                let d = seq.wrapping_sub(last.packet_id);
                if d == 0 {
                    continue;
                }
                if (1..=16).contains(&d) {
                    last.lost_bitmask |= 1 << (d - 1);
                    continue;
                }
            }
            pairs.push(NackPair {
                packet_id: seq,
                lost_bitmask: 0,
            });
        }
        NackRepr {
            sender_ssrc,
            media_ssrc,
            pairs,
        }
    }
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + FB_LEN + 4 * self.pairs.len()
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.pairs.is_empty() {
            return Err(Error::InvalidInput("NACK without entries"));
        }
        let total = self.buffer_len();
        write_header(buf, 1, packet_type::RTPFB, total)?;
        fb_header(buf, self.sender_ssrc, self.media_ssrc);
        for (i, p) in self.pairs.iter().enumerate() {
            let o = HEADER_LEN + FB_LEN + 4 * i;
            buf[o..o + 2].copy_from_slice(&p.packet_id.to_be_bytes());
            buf[o + 2..o + 4].copy_from_slice(&p.lost_bitmask.to_be_bytes());
        }
        Ok(total)
    }
}

/// A picture loss indication (PLI has no FCI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pli {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
}

impl Pli {
    /// Parses a PLI body.
    pub fn parse(body: &[u8]) -> Result<Self> {
        if body.len() < FB_LEN {
            return Err(Error::Truncated("PLI"));
        }
        Ok(Pli {
            sender_ssrc: u32_at(body, 0),
            media_ssrc: u32_at(body, 4),
        })
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> PliRepr {
        PliRepr {
            sender_ssrc: self.sender_ssrc,
            media_ssrc: self.media_ssrc,
        }
    }
}

/// An owned PLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PliRepr {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
}

impl PliRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + FB_LEN
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        write_header(buf, 1, packet_type::PSFB, total)?;
        fb_header(buf, self.sender_ssrc, self.media_ssrc);
        Ok(total)
    }
}

/// One FIR FCI entry (RFC 5104 §4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirEntry {
    /// SSRC of the media sender asked for a decoder refresh point.
    pub ssrc: u32,
    /// Command sequence number.
    pub sequence_number: u8,
}

/// A FIR view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    body: &'a [u8],
}

impl<'a> Fir<'a> {
    /// Validates a FIR body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        if body.len() < FB_LEN + 8 || (body.len() - FB_LEN) % 8 != 0 {
            return Err(Error::Truncated("FIR"));
        }
        Ok(Fir { body })
    }
    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// FCI entries.
    pub fn entries(&self) -> impl Iterator<Item = FirEntry> + 'a {
        self.body
            .get(FB_LEN..)
            .unwrap_or(&[])
            .chunks_exact(8)
            .map(|c| FirEntry {
                ssrc: u32_at(c, 0),
                sequence_number: u8_at(c, 4),
            })
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> FirRepr {
        FirRepr {
            sender_ssrc: self.sender_ssrc(),
            entries: self.entries().collect(),
        }
    }
}

/// An owned FIR.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FirRepr {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// FCI entries (at least one).
    pub entries: Vec<FirEntry>,
}

impl FirRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + FB_LEN + 8 * self.entries.len()
    }
    /// Writes the packet (media SSRC is 0 as RFC 5104 §4.3.1.2 requires).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.entries.is_empty() {
            return Err(Error::InvalidInput("FIR without entries"));
        }
        let total = self.buffer_len();
        write_header(buf, 4, packet_type::PSFB, total)?;
        fb_header(buf, self.sender_ssrc, 0);
        for (i, e) in self.entries.iter().enumerate() {
            let o = HEADER_LEN + FB_LEN + 8 * i;
            buf[o..o + 4].copy_from_slice(&e.ssrc.to_be_bytes());
            buf[o + 4..o + 8].copy_from_slice(&[e.sequence_number, 0, 0, 0]);
        }
        Ok(total)
    }
}

/// A REMB view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    body: &'a [u8],
}

impl<'a> Remb<'a> {
    /// Validates a REMB body (an AFB message with the "REMB" identifier).
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        if body.len() < FB_LEN + 8 || body.get(8..12) != Some(b"REMB") {
            return Err(Error::Truncated("REMB"));
        }
        let n = usize::from(u8_at(body, 12));
        if body.len() < FB_LEN + 8 + 4 * n {
            return Err(Error::Truncated("REMB SSRC list"));
        }
        Ok(Remb { body })
    }
    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// Estimated maximum bitrate in bits per second (mantissa << exponent).
    pub fn bitrate(&self) -> u64 {
        let v = u32_at(self.body, 12);
        let exp = (v >> 18) & 0x3f;
        let m = u64::from(v & 0x3_ffff);
        if m.leading_zeros() < exp {
            u64::MAX
        } else {
            m << exp
        }
    }
    /// The SSRCs the estimate applies to.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let b = self.body;
        (0..usize::from(u8_at(b, 12))).map(move |i| u32_at(b, 16 + 4 * i))
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> RembRepr {
        RembRepr {
            sender_ssrc: self.sender_ssrc(),
            bitrate: self.bitrate(),
            ssrcs: self.ssrcs().collect(),
        }
    }
}

/// An owned REMB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RembRepr {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// Bitrate in bits per second; rounded down to 18 significant bits on write.
    pub bitrate: u64,
    /// SSRCs the estimate applies to (at most 255).
    pub ssrcs: Vec<u32>,
}

impl RembRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + FB_LEN + 8 + 4 * self.ssrcs.len()
    }
    /// Splits a bitrate into (exponent, 18-bit mantissa).
    pub fn encode_bitrate(bitrate: u64) -> (u8, u32) {
        let mut exp = 0u8;
        let mut m = bitrate;
        while m > 0x3_ffff {
            m >>= 1;
            exp += 1;
        }
        (exp, m as u32)
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let n = u8::try_from(self.ssrcs.len())
            .map_err(|_| Error::InvalidInput("too many REMB SSRCs"))?;
        write_header(buf, 15, packet_type::PSFB, total)?;
        fb_header(buf, self.sender_ssrc, 0);
        buf[12..16].copy_from_slice(b"REMB");
        let (exp, m) = Self::encode_bitrate(self.bitrate);
        let v = (u32::from(n) << 24) | (u32::from(exp) << 18) | m;
        buf[16..20].copy_from_slice(&v.to_be_bytes());
        for (i, s) in self.ssrcs.iter().enumerate() {
            buf[20 + 4 * i..24 + 4 * i].copy_from_slice(&s.to_be_bytes());
        }
        Ok(total)
    }
}
