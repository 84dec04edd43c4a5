//! Bounded reader and writer helpers for TLS/DTLS wire structures (RFC 5246 §4).

use crate::error::{Error, Result};

/// A bounded cursor over a borrowed byte slice; every read checks the length first.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    /// Bytes not yet read.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Truncated(self.what));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    /// Reads a u8.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian u24.
    pub fn u24(&mut self) -> Result<u32> {
        let b = self.take(3)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Reads a big-endian u48.
    pub fn u48(&mut self) -> Result<u64> {
        let b = self.take(6)?;
        Ok(u64::from_be_bytes([
            0, 0, b[0], b[1], b[2], b[3], b[4], b[5],
        ]))
    }

    /// Reads an opaque vector with a one-byte length prefix.
    pub fn vec8(&mut self) -> Result<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }

    /// Reads an opaque vector with a two-byte length prefix.
    pub fn vec16(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// Reads an opaque vector with a three-byte length prefix.
    pub fn vec24(&mut self) -> Result<&'a [u8]> {
        let n = self.u24()? as usize;
        self.take(n)
    }

    /// Fails unless everything was read.
    pub fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed(self.what))
        }
    }
}

/// Appends a big-endian u16.
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u24 (the caller bounds `v` below 2^24).
pub(crate) fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Appends `body` with a one-byte length prefix (truncated to 255 bytes by construction).
pub(crate) fn put_vec8(out: &mut Vec<u8>, body: &[u8]) {
    let n = body.len().min(u8::MAX as usize);
    out.push(n as u8);
    out.extend_from_slice(&body[..n]);
}

/// Appends `body` with a two-byte length prefix.
pub(crate) fn put_vec16(out: &mut Vec<u8>, body: &[u8]) {
    let n = body.len().min(u16::MAX as usize);
    put_u16(out, n as u16);
    out.extend_from_slice(&body[..n]);
}

/// Appends `body` with a three-byte length prefix.
pub(crate) fn put_vec24(out: &mut Vec<u8>, body: &[u8]) {
    let n = body.len().min(0xff_ffff);
    put_u24(out, n as u32);
    out.extend_from_slice(&body[..n]);
}

/// Starts a length-prefixed block of `width` bytes; finish it with [`end_len`].
pub(crate) fn start_len(out: &mut Vec<u8>, width: usize) -> usize {
    let at = out.len();
    out.extend(core::iter::repeat_n(0u8, width));
    at
}

/// Fills in the length prefix started at `at` by [`start_len`].
pub(crate) fn end_len(out: &mut [u8], at: usize, width: usize) {
    let len = out.len() - at - width;
    let bytes = (len as u32).to_be_bytes();
    out[at..at + width].copy_from_slice(&bytes[4 - width..]);
}
