//! Extended reports (RFC 3611): receiver reference time (§4.4) and DLRR (§4.5).

use super::{packet_type, write_header, HEADER_LEN};
use crate::wire::{u16_at, u32_at, u64_at, u8_at};
use crate::{Error, Result};

/// Block type of a receiver reference time report block.
pub const BT_RRTR: u8 = 4;
/// Block type of a DLRR report block.
pub const BT_DLRR: u8 = 5;

/// One DLRR sub-block (RFC 3611 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DlrrSubBlock {
    /// SSRC of the receiver.
    pub ssrc: u32,
    /// Last RR timestamp: middle 32 bits of the RRTR's NTP time (LRR).
    pub last_rr: u32,
    /// Delay since last RR, in 1/65536 seconds (DLRR).
    pub delay_since_last_rr: u32,
}

/// A report block of an XR packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrBlock<'a> {
    /// Receiver reference time (NTP timestamp).
    Rrtr {
        /// 64-bit NTP timestamp.
        ntp_time: u64,
    },
    /// DLRR with its sub-blocks, 12 bytes each.
    Dlrr(&'a [u8]),
    /// A block type this crate does not interpret.
    Unknown {
        /// Block type.
        block_type: u8,
        /// Type-specific byte.
        type_specific: u8,
        /// Block contents.
        data: &'a [u8],
    },
}

impl<'a> XrBlock<'a> {
    /// The sub-blocks of a DLRR block (empty for other blocks).
    pub fn dlrr(&self) -> impl Iterator<Item = DlrrSubBlock> + 'a {
        let d: &'a [u8] = match self {
            XrBlock::Dlrr(d) => d,
            _ => &[],
        };
        d.chunks_exact(12).map(|c| DlrrSubBlock {
            ssrc: u32_at(c, 0),
            last_rr: u32_at(c, 4),
            delay_since_last_rr: u32_at(c, 8),
        })
    }
}

fn split_block(b: &[u8]) -> Result<(XrBlock<'_>, usize)> {
    if b.len() < 4 {
        return Err(Error::Truncated("XR block header"));
    }
    let len = 4 + 4 * usize::from(u16_at(b, 2));
    let data = b.get(4..len).ok_or(Error::Truncated("XR block"))?;
    let block = match u8_at(b, 0) {
        BT_RRTR if data.len() == 8 => XrBlock::Rrtr {
            ntp_time: u64_at(data, 0),
        },
        BT_RRTR => return Err(Error::Malformed("RRTR block length")),
        BT_DLRR if data.len() % 12 == 0 => XrBlock::Dlrr(data),
        BT_DLRR => return Err(Error::Malformed("DLRR block length")),
        bt => XrBlock::Unknown {
            block_type: bt,
            type_specific: u8_at(b, 1),
            data,
        },
    };
    Ok((block, len))
}

/// An XR view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedReport<'a> {
    body: &'a [u8],
}

impl<'a> ExtendedReport<'a> {
    /// Validates an XR body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        if body.len() < 4 {
            return Err(Error::Truncated("XR"));
        }
        let mut off = 4;
        while off < body.len() {
            off += split_block(&body[off..])?.1;
        }
        Ok(ExtendedReport { body })
    }
    /// SSRC of the packet sender.
    pub fn ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// The report blocks.
    pub fn blocks(&self) -> impl Iterator<Item = XrBlock<'a>> + 'a {
        let mut rest = self.body.get(4..).unwrap_or(&[]);
        core::iter::from_fn(move || {
            let (b, used) = split_block(rest).ok()?;
            rest = rest.get(used..).unwrap_or(&[]);
            Some(b)
        })
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> XrRepr {
        XrRepr {
            ssrc: self.ssrc(),
            blocks: self
                .blocks()
                .map(|b| match b {
                    XrBlock::Rrtr { ntp_time } => XrBlockRepr::Rrtr { ntp_time },
                    XrBlock::Dlrr(_) => XrBlockRepr::Dlrr(b.dlrr().collect()),
                    XrBlock::Unknown {
                        block_type,
                        type_specific,
                        data,
                    } => XrBlockRepr::Unknown {
                        block_type,
                        type_specific,
                        data: data.to_vec(),
                    },
                })
                .collect(),
        }
    }
}

/// An owned XR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrBlockRepr {
    /// Receiver reference time.
    Rrtr {
        /// 64-bit NTP timestamp.
        ntp_time: u64,
    },
    /// DLRR sub-blocks.
    Dlrr(Vec<DlrrSubBlock>),
    /// Any other block; data length a multiple of 4.
    Unknown {
        /// Block type.
        block_type: u8,
        /// Type-specific byte.
        type_specific: u8,
        /// Contents.
        data: Vec<u8>,
    },
}

impl XrBlockRepr {
    fn len(&self) -> usize {
        4 + match self {
            XrBlockRepr::Rrtr { .. } => 8,
            XrBlockRepr::Dlrr(s) => 12 * s.len(),
            XrBlockRepr::Unknown { data, .. } => data.len(),
        }
    }
}

/// An owned XR packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XrRepr {
    /// SSRC of the packet sender.
    pub ssrc: u32,
    /// Report blocks.
    pub blocks: Vec<XrBlockRepr>,
}

impl XrRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 4 + self.blocks.iter().map(XrBlockRepr::len).sum::<usize>()
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        write_header(buf, 0, packet_type::XR, total)?;
        buf[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut off = 8;
        for b in &self.blocks {
            let len = b.len();
            let words = u16::try_from((len - 4) / 4)
                .map_err(|_| Error::InvalidInput("XR block too long"))?;
            let (bt, ts) = match b {
                XrBlockRepr::Rrtr { .. } => (BT_RRTR, 0),
                XrBlockRepr::Dlrr(_) => (BT_DLRR, 0),
                XrBlockRepr::Unknown {
                    block_type,
                    type_specific,
                    data,
                } => {
                    if data.len() % 4 != 0 {
                        return Err(Error::InvalidInput("XR block data not a multiple of 4"));
                    }
                    (*block_type, *type_specific)
                }
            };
            buf[off] = bt;
            buf[off + 1] = ts;
            buf[off + 2..off + 4].copy_from_slice(&words.to_be_bytes());
            let d = &mut buf[off + 4..off + len];
            match b {
                XrBlockRepr::Rrtr { ntp_time } => d.copy_from_slice(&ntp_time.to_be_bytes()),
                XrBlockRepr::Dlrr(subs) => {
                    for (i, s) in subs.iter().enumerate() {
                        d[12 * i..12 * i + 4].copy_from_slice(&s.ssrc.to_be_bytes());
                        d[12 * i + 4..12 * i + 8].copy_from_slice(&s.last_rr.to_be_bytes());
                        d[12 * i + 8..12 * i + 12]
                            .copy_from_slice(&s.delay_since_last_rr.to_be_bytes());
                    }
                }
                XrBlockRepr::Unknown { data, .. } => d.copy_from_slice(data),
            }
            off += len;
        }
        Ok(total)
    }
}
