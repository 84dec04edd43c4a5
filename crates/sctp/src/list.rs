//! Borrowed lists of fixed-size items and of TLV items, readable straight from
//! the wire or built from a slice.

use crate::error::Error;

/// A fixed-size item that appears in a list inside a chunk or parameter.
pub trait FixedItem: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Reads one item from exactly `SIZE` bytes.
    fn read(b: &[u8]) -> Self;
    /// Appends the encoded item.
    fn write(&self, out: &mut Vec<u8>);
}

impl FixedItem for u16 {
    const SIZE: usize = 2;
    fn read(b: &[u8]) -> Self {
        u16::from_be_bytes([b[0], b[1]])
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl FixedItem for u32 {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

/// A list of fixed-size items: either a checked view over wire bytes or a
/// slice supplied by the builder.
#[derive(Debug, Clone, Copy)]
pub enum List<'a, T> {
    /// Wire bytes; the length is a multiple of `T::SIZE` (checked at parse).
    Wire(&'a [u8]),
    /// Items supplied by the caller.
    Items(&'a [T]),
}

impl<'a, T: FixedItem> List<'a, T> {
    /// An empty list.
    pub const fn empty() -> Self {
        List::Items(&[])
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            List::Wire(b) => b.len() / T::SIZE,
            List::Items(i) => i.len(),
        }
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over the items.
    pub fn iter(&self) -> ListIter<'a, T> {
        ListIter {
            list: *self,
            pos: 0,
        }
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.len() * T::SIZE
    }

    /// Appends the encoded items.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            List::Wire(b) => out.extend_from_slice(&b[..b.len() / T::SIZE * T::SIZE]),
            List::Items(items) => items.iter().for_each(|i| i.write(out)),
        }
    }
}

impl<T: FixedItem + PartialEq> PartialEq for List<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: FixedItem + Eq> Eq for List<'_, T> {}

/// Iterator over a [`List`].
#[derive(Debug, Clone)]
pub struct ListIter<'a, T> {
    list: List<'a, T>,
    pos: usize,
}

impl<T: FixedItem> Iterator for ListIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let item = match self.list {
            List::Wire(b) => b
                .get(self.pos * T::SIZE..(self.pos + 1) * T::SIZE)
                .map(T::read),
            List::Items(i) => i.get(self.pos).copied(),
        };
        self.pos += 1;
        item
    }
}

/// An item encoded as type-length-value (parameters and error causes,
/// RFC 9260 §3.2.1 and §3.3.10).
pub trait TlvItem<'a>: Sized {
    /// Parses an item from its type and value.
    fn parse(kind: u16, value: &'a [u8]) -> Result<Self, Error>;
    /// The item's type code.
    fn kind(&self) -> u16;
    /// Length of the value (without the 4-byte header and padding).
    fn value_len(&self) -> usize;
    /// Appends the value (without header and padding).
    fn write_value(&self, out: &mut Vec<u8>);
}

/// Rounds up to a multiple of four.
pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Writes one TLV with its padding; returns the padding written.
pub(crate) fn write_tlv<'a, T: TlvItem<'a>>(item: &T, out: &mut Vec<u8>) -> usize {
    let len = 4 + item.value_len();
    out.extend_from_slice(&item.kind().to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    item.write_value(out);
    let pad = pad4(len) - len;
    out.extend_from_slice(&[0u8; 3][..pad]);
    pad
}

/// A list of TLV items: a view over wire bytes, or a slice to encode.
#[derive(Debug, Clone, Copy)]
pub enum TlvList<'a, T> {
    /// Wire bytes (TLVs with padding).
    Wire(&'a [u8]),
    /// Items supplied by the caller.
    Items(&'a [T]),
}

impl<'a, T: TlvItem<'a> + Clone> TlvList<'a, T> {
    /// An empty list.
    pub const fn empty() -> Self {
        TlvList::Items(&[])
    }

    /// Iterates over the items; a malformed TLV yields one error and ends
    /// the iteration.
    pub fn iter(&self) -> TlvIter<'a, T> {
        TlvIter {
            list: self.clone(),
            pos: 0,
            done: false,
        }
    }

    /// Encoded size, counting the padding of every item (the caller drops the
    /// last item's padding from a chunk length).
    pub fn encoded_len(&self) -> usize {
        match self {
            TlvList::Wire(b) => pad4(b.len()),
            TlvList::Items(items) => items.iter().map(|i| pad4(4 + i.value_len())).sum(),
        }
    }

    /// Appends the encoded items with padding; returns the padding after the
    /// last item.
    pub fn write(&self, out: &mut Vec<u8>) -> usize {
        match self {
            TlvList::Wire(b) => {
                out.extend_from_slice(b);
                let pad = pad4(b.len()) - b.len();
                out.extend_from_slice(&[0u8; 3][..pad]);
                pad
            }
            TlvList::Items(items) => {
                let mut pad = 0;
                for item in items.iter() {
                    pad = write_tlv(item, out);
                }
                pad
            }
        }
    }

    /// Checks that every item parses.
    pub fn validate(&self) -> Result<(), Error> {
        for item in self.iter() {
            item?;
        }
        Ok(())
    }
}

impl<'a, T: TlvItem<'a> + Clone + PartialEq> PartialEq for TlvList<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        let mut a = self.iter();
        let mut b = other.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x == y => {}
                _ => return false,
            }
        }
    }
}

impl<'a, T: TlvItem<'a> + Clone + Eq> Eq for TlvList<'a, T> {}

/// Iterator over a [`TlvList`].
#[derive(Debug, Clone)]
pub struct TlvIter<'a, T> {
    list: TlvList<'a, T>,
    pos: usize,
    done: bool,
}

impl<'a, T: TlvItem<'a> + Clone> Iterator for TlvIter<'a, T> {
    type Item = Result<T, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.list {
            TlvList::Items(items) => {
                let r = items.get(self.pos).cloned().map(Ok);
                self.pos += 1;
                r
            }
            TlvList::Wire(b) => {
                let rest = b.get(self.pos..).unwrap_or(&[]);
                if rest.is_empty() {
                    self.done = true;
                    return None;
                }
                let parsed = parse_tlv(rest);
                match parsed {
                    Ok((kind, value, used)) => {
                        self.pos += used;
                        let r = T::parse(kind, value);
                        if r.is_err() {
                            self.done = true;
                        }
                        Some(r)
                    }
                    Err(e) => {
                        self.done = true;
                        Some(Err(e))
                    }
                }
            }
        }
    }
}

/// Splits one TLV off the front of `b`: (type, value, bytes consumed incl.
/// padding, which may be absent at the very end).
pub(crate) fn parse_tlv(b: &[u8]) -> Result<(u16, &[u8], usize), Error> {
    let [t0, t1, l0, l1, ..] = *b else {
        return Err(Error::InvalidParamLength {
            param_type: b.first().map(|&x| u16::from(x) << 8).unwrap_or_default(),
        });
    };
    let kind = u16::from_be_bytes([t0, t1]);
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < 4 || len > b.len() {
        return Err(Error::InvalidParamLength { param_type: kind });
    }
    let value = &b[4..len];
    Ok((kind, value, pad4(len).min(b.len())))
}
