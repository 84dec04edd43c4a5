//! Source description packets (RFC 3550 §6.5).

use super::{packet_type, write_header, HEADER_LEN};
use crate::wire::u32_at;
use crate::{Error, Result};

/// SDES item types (RFC 3550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItemType(pub u8);

impl SdesItemType {
    /// Canonical end-point identifier.
    pub const CNAME: Self = Self(1);
    /// User name.
    pub const NAME: Self = Self(2);
    /// Electronic mail address.
    pub const EMAIL: Self = Self(3);
    /// Phone number.
    pub const PHONE: Self = Self(4);
    /// Geographic user location.
    pub const LOC: Self = Self(5);
    /// Application or tool name.
    pub const TOOL: Self = Self(6);
    /// Notice/status.
    pub const NOTE: Self = Self(7);
    /// Private extensions.
    pub const PRIV: Self = Self(8);
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type (never 0, which ends the list).
    pub item_type: SdesItemType,
    /// Item text.
    pub value: &'a [u8],
}

/// One SDES chunk: an SSRC and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// SSRC/CSRC described.
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items of the chunk (validated when the packet was parsed).
    pub fn items(&self) -> impl Iterator<Item = SdesItem<'a>> + 'a {
        let mut rest = self.items;
        core::iter::from_fn(move || {
            let (&t, r) = rest.split_first()?;
            if t == 0 {
                return None;
            }
            let (&len, r) = r.split_first()?;
            let value = r.get(..usize::from(len))?;
            rest = &r[usize::from(len)..];
            Some(SdesItem {
                item_type: SdesItemType(t),
                value,
            })
        })
    }
}

/// Validates one chunk at the start of `b`; returns (chunk, bytes used).
fn split_chunk(b: &[u8]) -> Result<(SdesChunk<'_>, usize)> {
    if b.len() < 4 {
        return Err(Error::Truncated("SDES chunk"));
    }
    let mut off = 4;
    loop {
        match b.get(off) {
            None => return Err(Error::Truncated("SDES item list")),
            Some(0) => break,
            Some(_) => {
                let len = usize::from(*b.get(off + 1).ok_or(Error::Truncated("SDES item"))?);
                off += 2 + len;
                if off > b.len() {
                    return Err(Error::Truncated("SDES item"));
                }
            }
        }
    }
    let items = &b[4..off];
    // The null octet(s) end the list and pad the chunk to a 32-bit boundary.
    let end = (off + 1).div_ceil(4) * 4;
    if end > b.len() {
        return Err(Error::Truncated("SDES chunk padding"));
    }
    Ok((
        SdesChunk {
            ssrc: u32_at(b, 0),
            items,
        },
        end,
    ))
}

/// An SDES view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// Validates an SDES body with `count` chunks.
    pub fn parse(count: u8, body: &'a [u8]) -> Result<Self> {
        let mut off = 0;
        for _ in 0..count {
            let rest = body.get(off..).unwrap_or(&[]);
            off += split_chunk(rest)?.1;
        }
        Ok(Sdes { count, body })
    }
    /// The chunks.
    pub fn chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        let mut rest = self.body;
        let mut left = self.count;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let (c, used) = split_chunk(rest).ok()?;
            rest = rest.get(used..).unwrap_or(&[]);
            Some(c)
        })
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> SdesRepr {
        SdesRepr {
            chunks: self
                .chunks()
                .map(|c| SdesChunkRepr {
                    ssrc: c.ssrc,
                    items: c
                        .items()
                        .map(|i| (i.item_type.0, i.value.to_vec()))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// An owned SDES chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunkRepr {
    /// SSRC/CSRC.
    pub ssrc: u32,
    /// Items as (type, value); type 1..=255, value at most 255 bytes.
    pub items: Vec<(u8, Vec<u8>)>,
}

impl SdesChunkRepr {
    fn len(&self) -> usize {
        let items: usize = self.items.iter().map(|(_, v)| 2 + v.len()).sum();
        (4 + items + 1).div_ceil(4) * 4
    }
}

/// An owned SDES packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesRepr {
    /// Chunks (at most 31).
    pub chunks: Vec<SdesChunkRepr>,
}

impl SdesRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.chunks.iter().map(SdesChunkRepr::len).sum::<usize>()
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let count = u8::try_from(self.chunks.len())
            .map_err(|_| Error::InvalidInput("too many SDES chunks"))?;
        write_header(buf, count, packet_type::SDES, total)?;
        let mut off = HEADER_LEN;
        for c in &self.chunks {
            let end = off + c.len();
            buf[off..off + 4].copy_from_slice(&c.ssrc.to_be_bytes());
            let mut p = off + 4;
            for (t, v) in &c.items {
                if *t == 0 {
                    return Err(Error::InvalidInput("SDES item type 0"));
                }
                buf[p] = *t;
                buf[p + 1] =
                    u8::try_from(v.len()).map_err(|_| Error::InvalidInput("SDES item too long"))?;
                buf[p + 2..p + 2 + v.len()].copy_from_slice(v);
                p += 2 + v.len();
            }
            buf[p..end].fill(0);
            off = end;
        }
        Ok(total)
    }
}
