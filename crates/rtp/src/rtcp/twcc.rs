//! Transport-wide congestion control feedback
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): RTPFB FMT=15.
//!
//! Body: sender SSRC, media SSRC, base sequence number, packet status count,
//! 24-bit signed reference time (×64 ms), feedback packet count, packet
//! chunks (run-length or status vector), then receive deltas (×250 µs).

use super::{packet_type, write_header, HEADER_LEN};
use crate::wire::{u16_at, u24_at, u32_at, u8_at};
use crate::{Error, Result};

const FIXED: usize = 16;
/// Largest run a run-length chunk carries.
const MAX_RUN: usize = 0x1fff;

/// The reception status of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwccStatus {
    /// Packet not received.
    NotReceived,
    /// Received, with a one-byte unsigned delta.
    SmallDelta,
    /// Received, with a two-byte signed delta.
    LargeDelta,
}

impl TwccStatus {
    fn from_bits(b: u16) -> Result<Self> {
        match b {
            0 => Ok(Self::NotReceived),
            1 => Ok(Self::SmallDelta),
            2 => Ok(Self::LargeDelta),
            _ => Err(Error::Malformed("reserved TWCC packet status")),
        }
    }
    fn bits(self) -> u16 {
        match self {
            Self::NotReceived => 0,
            Self::SmallDelta => 1,
            Self::LargeDelta => 2,
        }
    }
    fn delta_len(self) -> usize {
        self.bits() as usize
    }
}

/// One packet's entry in the feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccPacket {
    /// Transport-wide sequence number.
    pub sequence_number: u16,
    /// Reception status.
    pub status: TwccStatus,
    /// Receive delta in 250 µs ticks from the previous received packet (or
    /// from the reference time for the first); 0 when not received.
    pub delta: i16,
}

fn chunk_symbols(chunk: u16) -> usize {
    if chunk & 0x8000 == 0 {
        usize::from(chunk & 0x1fff)
    } else if chunk & 0x4000 == 0 {
        14
    } else {
        7
    }
}

fn chunk_symbol(chunk: u16, i: usize) -> Result<TwccStatus> {
    if chunk & 0x8000 == 0 {
        TwccStatus::from_bits((chunk >> 13) & 3)
    } else if chunk & 0x4000 == 0 {
        TwccStatus::from_bits((chunk >> (13 - i)) & 1)
    } else {
        TwccStatus::from_bits((chunk >> (12 - 2 * i)) & 3)
    }
}

/// A transport-wide CC feedback view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportCc<'a> {
    body: &'a [u8],
    deltas_start: usize,
}

impl<'a> TransportCc<'a> {
    /// Validates a feedback body: every status is defined and every delta present.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        if body.len() < FIXED {
            return Err(Error::Truncated("transport-wide CC header"));
        }
        let count = usize::from(u16_at(body, 10));
        let mut off = FIXED;
        let mut seen = 0;
        let mut delta_bytes = 0;
        while seen < count {
            if body.len() < off + 2 {
                return Err(Error::Truncated("transport-wide CC chunks"));
            }
            let chunk = u16_at(body, off);
            off += 2;
            let n = chunk_symbols(chunk).min(count - seen);
            for i in 0..n {
                delta_bytes += chunk_symbol(chunk, i)?.delta_len();
            }
            seen += n;
        }
        if body.len() < off + delta_bytes {
            return Err(Error::Truncated("transport-wide CC deltas"));
        }
        Ok(TransportCc {
            body,
            deltas_start: off,
        })
    }
    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// SSRC of the media source.
    pub fn media_ssrc(&self) -> u32 {
        u32_at(self.body, 4)
    }
    /// First sequence number reported.
    pub fn base_sequence_number(&self) -> u16 {
        u16_at(self.body, 8)
    }
    /// Number of packets reported.
    pub fn packet_status_count(&self) -> u16 {
        u16_at(self.body, 10)
    }
    /// Reference time in multiples of 64 ms (signed 24-bit).
    pub fn reference_time(&self) -> i32 {
        ((u24_at(self.body, 12) << 8) as i32) >> 8
    }
    /// Feedback packet count.
    pub fn fb_pkt_count(&self) -> u8 {
        u8_at(self.body, 15)
    }
    /// The packets in sequence order.
    pub fn packets(&self) -> TwccPacketIter<'a> {
        TwccPacketIter {
            body: self.body,
            chunk_off: FIXED,
            in_chunk: 0,
            delta_off: self.deltas_start,
            seq: self.base_sequence_number(),
            left: usize::from(self.packet_status_count()),
        }
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> TransportCcRepr {
        TransportCcRepr {
            sender_ssrc: self.sender_ssrc(),
            media_ssrc: self.media_ssrc(),
            base_sequence_number: self.base_sequence_number(),
            reference_time: self.reference_time(),
            fb_pkt_count: self.fb_pkt_count(),
            packets: self.packets().collect(),
        }
    }
}

/// Iterator over the packets of a [`TransportCc`].
#[derive(Debug, Clone)]
pub struct TwccPacketIter<'a> {
    body: &'a [u8],
    chunk_off: usize,
    in_chunk: usize,
    delta_off: usize,
    seq: u16,
    left: usize,
}

impl Iterator for TwccPacketIter<'_> {
    type Item = TwccPacket;

    fn next(&mut self) -> Option<TwccPacket> {
        while self.left > 0 {
            if self.body.len() < self.chunk_off + 2 {
                return None;
            }
            let chunk = u16_at(self.body, self.chunk_off);
            if self.in_chunk >= chunk_symbols(chunk) {
                self.chunk_off += 2;
                self.in_chunk = 0;
                continue;
            }
            let status = chunk_symbol(chunk, self.in_chunk).ok()?;
            self.in_chunk += 1;
            let delta = match status {
                TwccStatus::NotReceived => 0,
                TwccStatus::SmallDelta => i16::from(*self.body.get(self.delta_off)?),
                TwccStatus::LargeDelta => u16_at(self.body, self.delta_off) as i16,
            };
            self.delta_off += status.delta_len();
            let p = TwccPacket {
                sequence_number: self.seq,
                status,
                delta,
            };
            self.seq = self.seq.wrapping_add(1);
            self.left -= 1;
            return Some(p);
        }
        None
    }
}

/// An owned transport-wide CC feedback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransportCcRepr {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source.
    pub media_ssrc: u32,
    /// First sequence number reported.
    pub base_sequence_number: u16,
    /// Reference time in multiples of 64 ms (signed 24-bit).
    pub reference_time: i32,
    /// Feedback packet count.
    pub fb_pkt_count: u8,
    /// Packets with consecutive sequence numbers starting at the base.
    pub packets: Vec<TwccPacket>,
}

impl TransportCcRepr {
    /// Builds feedback from arrival times in microseconds (`None` = lost) of
    /// consecutive sequence numbers starting at `base_sequence_number`.
    /// Deltas are rounded to 250 µs; a delta beyond ±8.19 s is an error.
    pub fn from_arrivals(
        sender_ssrc: u32,
        media_ssrc: u32,
        base_sequence_number: u16,
        fb_pkt_count: u8,
        arrivals_us: &[Option<i64>],
    ) -> Result<Self> {
        let first = arrivals_us.iter().flatten().next().copied().unwrap_or(0);
        let reference_time = first.div_euclid(64_000);
        let mut prev_ticks = reference_time * 256;
        let mut packets = Vec::with_capacity(arrivals_us.len());
        for (i, a) in arrivals_us.iter().enumerate() {
            let sequence_number = base_sequence_number.wrapping_add(i as u16);
            let p = match a {
                None => TwccPacket {
                    sequence_number,
                    status: TwccStatus::NotReceived,
                    delta: 0,
                },
                Some(t) => {
                    let ticks = t.div_euclid(250);
                    let d = ticks - prev_ticks;
                    prev_ticks = ticks;
                    let delta = i16::try_from(d)
                        .map_err(|_| Error::InvalidInput("TWCC delta out of range"))?;
                    let status = if (0..=255).contains(&delta) {
                        TwccStatus::SmallDelta
                    } else {
                        TwccStatus::LargeDelta
                    };
                    TwccPacket {
                        sequence_number,
                        status,
                        delta,
                    }
                }
            };
            packets.push(p);
        }
        Ok(TransportCcRepr {
            sender_ssrc,
            media_ssrc,
            base_sequence_number,
            reference_time: ((reference_time as i32) << 8) >> 8,
            fb_pkt_count,
            packets,
        })
    }

    /// Encodes the status list into chunks (calls `f` for each chunk).
    fn chunks(&self, mut f: impl FnMut(u16)) {
        let st = &self.packets;
        let mut i = 0;
        while i < st.len() {
            let s = st[i].status;
            let run = st[i..]
                .iter()
                .take(MAX_RUN)
                .take_while(|p| p.status == s)
                .count();
            if run >= 7 {
                f((s.bits() << 13) | run as u16);
                i += run;
                continue;
            }
            let k14 = (st.len() - i).min(14);
            if st[i..i + k14]
                .iter()
                .all(|p| p.status != TwccStatus::LargeDelta)
            {
                let mut c = 0x8000u16;
                for (j, p) in st[i..i + k14].iter().enumerate() {
                    c |= p.status.bits() << (13 - j);
                }
                f(c);
                i += k14;
            } else {
                let k7 = (st.len() - i).min(7);
                let mut c = 0xc000u16;
                for (j, p) in st[i..i + k7].iter().enumerate() {
                    c |= p.status.bits() << (12 - 2 * j);
                }
                f(c);
                i += k7;
            }
        }
    }

    fn unpadded_len(&self) -> usize {
        let mut n = 0;
        self.chunks(|_| n += 1);
        let deltas: usize = self.packets.iter().map(|p| p.status.delta_len()).sum();
        HEADER_LEN + FIXED + 2 * n + deltas
    }

    /// Bytes written (padded to 32 bits).
    pub fn buffer_len(&self) -> usize {
        self.unpadded_len().div_ceil(4) * 4
    }

    /// Writes the packet, zero-padded to 32 bits.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let count = u16::try_from(self.packets.len())
            .map_err(|_| Error::InvalidInput("too many TWCC packets"))?;
        if !(-(1 << 23)..(1 << 23)).contains(&self.reference_time) {
            return Err(Error::InvalidInput("TWCC reference time outside 24 bits"));
        }
        for (i, p) in self.packets.iter().enumerate() {
            if p.sequence_number != self.base_sequence_number.wrapping_add(i as u16) {
                return Err(Error::InvalidInput("TWCC packets not consecutive"));
            }
            if p.status == TwccStatus::SmallDelta && !(0..=255).contains(&p.delta) {
                return Err(Error::InvalidInput("TWCC small delta out of range"));
            }
        }
        let unpadded = self.unpadded_len();
        let total = self.buffer_len();
        write_header(buf, 15, packet_type::RTPFB, total)?;
        let b = &mut buf[HEADER_LEN..total];
        b[0..4].copy_from_slice(&self.sender_ssrc.to_be_bytes());
        b[4..8].copy_from_slice(&self.media_ssrc.to_be_bytes());
        b[8..10].copy_from_slice(&self.base_sequence_number.to_be_bytes());
        b[10..12].copy_from_slice(&count.to_be_bytes());
        b[12..15].copy_from_slice(&(self.reference_time as u32).to_be_bytes()[1..]);
        b[15] = self.fb_pkt_count;
        let mut off = FIXED;
        self.chunks(|c| {
            b[off..off + 2].copy_from_slice(&c.to_be_bytes());
            off += 2;
        });
        for p in &self.packets {
            match p.status {
                TwccStatus::NotReceived => {}
                TwccStatus::SmallDelta => {
                    b[off] = p.delta as u8;
                    off += 1;
                }
                TwccStatus::LargeDelta => {
                    b[off..off + 2].copy_from_slice(&p.delta.to_be_bytes());
                    off += 2;
                }
            }
        }
        // Zero octets up to the 32-bit boundary; the status count bounds the
        // deltas, so no P bit is needed and the packet may sit anywhere in a compound.
        debug_assert_eq!(off + HEADER_LEN, unpadded);
        b[off..].fill(0);
        Ok(total)
    }
}
