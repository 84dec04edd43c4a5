//! Sender and receiver reports (RFC 3550 §6.4).

use super::{packet_type, write_header, HEADER_LEN};
use crate::wire::{u24_at, u32_at, u64_at, u8_at};
use crate::{Error, Result};

/// Length of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;
const SR_INFO_LEN: usize = 24;

/// A reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// SSRC of the source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256 units.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost (signed 24-bit).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since the last SR, in 1/65536 seconds (DLSR).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> Self {
        let lost = u24_at(b, 5);
        ReportBlock {
            ssrc: u32_at(b, 0),
            fraction_lost: u8_at(b, 4),
            cumulative_lost: ((lost << 8) as i32) >> 8,
            extended_highest_sequence: u32_at(b, 8),
            jitter: u32_at(b, 12),
            last_sr: u32_at(b, 16),
            delay_since_last_sr: u32_at(b, 20),
        }
    }

    fn write(&self, b: &mut [u8]) -> Result<()> {
        if !(-(1 << 23)..(1 << 23)).contains(&self.cumulative_lost) {
            return Err(Error::InvalidInput("cumulative lost outside 24 bits"));
        }
        let b = b.get_mut(..REPORT_BLOCK_LEN).ok_or(Error::BufferTooSmall {
            needed: REPORT_BLOCK_LEN,
        })?;
        b[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        let lost = (self.cumulative_lost as u32) & 0x00ff_ffff;
        b[4..8].copy_from_slice(&((u32::from(self.fraction_lost) << 24) | lost).to_be_bytes());
        b[8..12].copy_from_slice(&self.extended_highest_sequence.to_be_bytes());
        b[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        b[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        b[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
        Ok(())
    }
}

fn blocks(b: &[u8], count: u8) -> impl Iterator<Item = ReportBlock> + '_ {
    b.chunks_exact(REPORT_BLOCK_LEN)
        .take(usize::from(count))
        .map(ReportBlock::read)
}

/// A sender report view (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// Validates an SR body (after the 4-byte header) with `count` report blocks.
    pub fn parse(count: u8, body: &'a [u8]) -> Result<Self> {
        if body.len() < 4 + SR_INFO_LEN - 4 + REPORT_BLOCK_LEN * usize::from(count) {
            return Err(Error::Truncated("sender report"));
        }
        Ok(SenderReport { count, body })
    }
    /// SSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// NTP timestamp (64-bit, RFC 3550 §4).
    pub fn ntp_time(&self) -> u64 {
        u64_at(self.body, 4)
    }
    /// RTP timestamp corresponding to the NTP timestamp.
    pub fn rtp_time(&self) -> u32 {
        u32_at(self.body, 12)
    }
    /// Sender's packet count.
    pub fn packet_count(&self) -> u32 {
        u32_at(self.body, 16)
    }
    /// Sender's octet count.
    pub fn octet_count(&self) -> u32 {
        u32_at(self.body, 20)
    }
    /// The reception report blocks.
    pub fn reports(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        blocks(self.body.get(SR_INFO_LEN..).unwrap_or(&[]), self.count)
    }
    /// Profile-specific extension after the report blocks.
    pub fn profile_extension(&self) -> &'a [u8] {
        self.body
            .get(SR_INFO_LEN + REPORT_BLOCK_LEN * usize::from(self.count)..)
            .unwrap_or(&[])
    }
    /// Owned meaning (the profile-specific extension is dropped).
    pub fn to_repr(&self) -> SenderReportRepr {
        SenderReportRepr {
            ssrc: self.ssrc(),
            ntp_time: self.ntp_time(),
            rtp_time: self.rtp_time(),
            packet_count: self.packet_count(),
            octet_count: self.octet_count(),
            reports: self.reports().collect(),
        }
    }
}

/// A receiver report view (RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// Validates an RR body with `count` report blocks.
    pub fn parse(count: u8, body: &'a [u8]) -> Result<Self> {
        if body.len() < 4 + REPORT_BLOCK_LEN * usize::from(count) {
            return Err(Error::Truncated("receiver report"));
        }
        Ok(ReceiverReport { count, body })
    }
    /// SSRC of the packet sender.
    pub fn ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// The reception report blocks.
    pub fn reports(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        blocks(self.body.get(4..).unwrap_or(&[]), self.count)
    }
    /// Profile-specific extension after the report blocks.
    pub fn profile_extension(&self) -> &'a [u8] {
        self.body
            .get(4 + REPORT_BLOCK_LEN * usize::from(self.count)..)
            .unwrap_or(&[])
    }
    /// Owned meaning (the profile-specific extension is dropped).
    pub fn to_repr(&self) -> ReceiverReportRepr {
        ReceiverReportRepr {
            ssrc: self.ssrc(),
            reports: self.reports().collect(),
        }
    }
}

/// An owned sender report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReportRepr {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// NTP timestamp.
    pub ntp_time: u64,
    /// RTP timestamp.
    pub rtp_time: u32,
    /// Sender's packet count.
    pub packet_count: u32,
    /// Sender's octet count.
    pub octet_count: u32,
    /// Report blocks (at most 31).
    pub reports: Vec<ReportBlock>,
}

impl SenderReportRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + SR_INFO_LEN + REPORT_BLOCK_LEN * self.reports.len()
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let count = u8::try_from(self.reports.len())
            .map_err(|_| Error::InvalidInput("too many report blocks"))?;
        write_header(buf, count, packet_type::SR, total)?;
        buf[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        buf[8..16].copy_from_slice(&self.ntp_time.to_be_bytes());
        buf[16..20].copy_from_slice(&self.rtp_time.to_be_bytes());
        buf[20..24].copy_from_slice(&self.packet_count.to_be_bytes());
        buf[24..28].copy_from_slice(&self.octet_count.to_be_bytes());
        for (i, r) in self.reports.iter().enumerate() {
            r.write(&mut buf[28 + i * REPORT_BLOCK_LEN..])?;
        }
        Ok(total)
    }
}

/// An owned receiver report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReportRepr {
    /// SSRC of the packet sender.
    pub ssrc: u32,
    /// Report blocks (at most 31).
    pub reports: Vec<ReportBlock>,
}

impl ReceiverReportRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 4 + REPORT_BLOCK_LEN * self.reports.len()
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let count = u8::try_from(self.reports.len())
            .map_err(|_| Error::InvalidInput("too many report blocks"))?;
        write_header(buf, count, packet_type::RR, total)?;
        buf[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        for (i, r) in self.reports.iter().enumerate() {
            r.write(&mut buf[8 + i * REPORT_BLOCK_LEN..])?;
        }
        Ok(total)
    }
}
