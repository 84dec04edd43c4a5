//! Bounds-checked big-endian field access; never panics.

#[inline]
pub(crate) fn u8_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

#[inline]
pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    match b.get(off..off.wrapping_add(2)) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn u24_at(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.wrapping_add(3)) {
        Some(&[x, y, z]) => u32::from_be_bytes([0, x, y, z]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.wrapping_add(4)) {
        Some(&[a, c, d, e]) => u32::from_be_bytes([a, c, d, e]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    (u64::from(u32_at(b, off)) << 32) | u64::from(u32_at(b, off.wrapping_add(4)))
}

/// Writes `src` at `off`, failing if `buf` is too short.
#[inline]
pub(crate) fn put(buf: &mut [u8], off: usize, src: &[u8]) -> crate::Result<()> {
    let end = off + src.len();
    match buf.get_mut(off..end) {
        Some(dst) => {
            dst.copy_from_slice(src);
            Ok(())
        }
        None => Err(crate::Error::BufferTooSmall { needed: end }),
    }
}

/// Checks that `buf` holds at least `needed` bytes.
#[inline]
pub(crate) fn need(buf: &[u8], needed: usize) -> crate::Result<()> {
    if buf.len() < needed {
        Err(crate::Error::BufferTooSmall { needed })
    } else {
        Ok(())
    }
}
