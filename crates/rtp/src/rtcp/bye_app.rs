//! BYE (RFC 3550 §6.6) and APP (RFC 3550 §6.7) packets.

use super::{packet_type, write_header, HEADER_LEN};
use crate::wire::{u32_at, u8_at};
use crate::{Error, Result};

/// A BYE view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Bye<'a> {
    /// Validates a BYE body with `count` SSRCs and an optional reason.
    pub fn parse(count: u8, body: &'a [u8]) -> Result<Self> {
        let n = 4 * usize::from(count);
        if body.len() < n {
            return Err(Error::Truncated("BYE"));
        }
        if let Some(&len) = body.get(n) {
            if body.len() < n + 1 + usize::from(len) {
                return Err(Error::Truncated("BYE reason"));
            }
        }
        Ok(Bye { count, body })
    }
    /// The SSRCs leaving.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let b = self.body;
        (0..usize::from(self.count)).map(move |i| u32_at(b, 4 * i))
    }
    /// The reason for leaving, if given.
    pub fn reason(&self) -> Option<&'a [u8]> {
        let n = 4 * usize::from(self.count);
        let len = usize::from(*self.body.get(n)?);
        self.body.get(n + 1..n + 1 + len)
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> ByeRepr {
        ByeRepr {
            ssrcs: self.ssrcs().collect(),
            reason: self.reason().map(<[u8]>::to_vec),
        }
    }
}

/// An owned BYE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ByeRepr {
    /// SSRCs leaving (at most 31).
    pub ssrcs: Vec<u32>,
    /// Optional reason (at most 255 bytes).
    pub reason: Option<Vec<u8>>,
}

impl ByeRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        let r = self.reason.as_ref().map_or(0, |r| 1 + r.len());
        HEADER_LEN + 4 * self.ssrcs.len() + r.div_ceil(4) * 4
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let count =
            u8::try_from(self.ssrcs.len()).map_err(|_| Error::InvalidInput("too many SSRCs"))?;
        write_header(buf, count, packet_type::BYE, total)?;
        let mut off = HEADER_LEN;
        for s in &self.ssrcs {
            buf[off..off + 4].copy_from_slice(&s.to_be_bytes());
            off += 4;
        }
        if let Some(r) = &self.reason {
            buf[off] =
                u8::try_from(r.len()).map_err(|_| Error::InvalidInput("BYE reason too long"))?;
            buf[off + 1..off + 1 + r.len()].copy_from_slice(r);
            buf[off + 1 + r.len()..total].fill(0);
        }
        Ok(total)
    }
}

/// An APP view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    subtype: u8,
    body: &'a [u8],
}

impl<'a> App<'a> {
    /// Validates an APP body.
    pub fn parse(subtype: u8, body: &'a [u8]) -> Result<Self> {
        if body.len() < 8 {
            return Err(Error::Truncated("APP"));
        }
        Ok(App { subtype, body })
    }
    /// The 5-bit subtype.
    pub fn subtype(&self) -> u8 {
        self.subtype
    }
    /// SSRC/CSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        u32_at(self.body, 0)
    }
    /// The 4-octet ASCII name.
    pub fn name(&self) -> [u8; 4] {
        [
            u8_at(self.body, 4),
            u8_at(self.body, 5),
            u8_at(self.body, 6),
            u8_at(self.body, 7),
        ]
    }
    /// Application-dependent data.
    pub fn data(&self) -> &'a [u8] {
        self.body.get(8..).unwrap_or(&[])
    }
    /// Owned meaning.
    pub fn to_repr(&self) -> AppRepr {
        AppRepr {
            subtype: self.subtype,
            ssrc: self.ssrc(),
            name: self.name(),
            data: self.data().to_vec(),
        }
    }
}

/// An owned APP packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppRepr {
    /// Subtype (0..=31).
    pub subtype: u8,
    /// SSRC/CSRC.
    pub ssrc: u32,
    /// Four ASCII characters.
    pub name: [u8; 4],
    /// Data, a multiple of 4 bytes.
    pub data: Vec<u8>,
}

impl AppRepr {
    /// Bytes written.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 8 + self.data.len()
    }
    /// Writes the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.data.len() % 4 != 0 {
            return Err(Error::InvalidInput("APP data not a multiple of 4"));
        }
        let total = self.buffer_len();
        write_header(buf, self.subtype, packet_type::APP, total)?;
        buf[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        buf[8..12].copy_from_slice(&self.name);
        buf[12..total].copy_from_slice(&self.data);
        Ok(total)
    }
}
