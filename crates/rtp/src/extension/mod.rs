//! RTP header extensions in the one-byte and two-byte forms (RFC 8285 §4).

mod types;
pub mod uri;
pub use types::*;

use crate::{Error, Result};

/// The "defined by profile" value of the one-byte form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// The "defined by profile" value of the two-byte form, upper 12 bits
/// (RFC 8285 §4.3); the low 4 bits are "appbits".
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// One RFC 8285 extension element: a local identifier and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtensionElement<'a> {
    /// Local identifier (1..=14 in the one-byte form, 1..=255 in the two-byte form).
    pub id: u8,
    /// Element data (1..=16 bytes in the one-byte form, 0..=255 in the two-byte form).
    pub data: &'a [u8],
}

/// Which RFC 8285 form a header extension uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionProfile {
    /// One-byte header form (profile 0xBEDE).
    OneByte,
    /// Two-byte header form (profile 0x100X).
    TwoByte,
}

impl ExtensionProfile {
    /// Classifies a "defined by profile" field; `None` if it is neither form.
    pub fn from_field(profile: u16) -> Option<Self> {
        if profile == ONE_BYTE_PROFILE {
            Some(Self::OneByte)
        } else if profile & 0xfff0 == TWO_BYTE_PROFILE {
            Some(Self::TwoByte)
        } else {
            None
        }
    }
    /// The "defined by profile" field written for this form (appbits 0).
    pub fn profile_field(self) -> u16 {
        match self {
            Self::OneByte => ONE_BYTE_PROFILE,
            Self::TwoByte => TWO_BYTE_PROFILE,
        }
    }
    /// The one-byte form when every element fits it, else the two-byte form.
    pub fn choose(elements: &[HeaderExtensionElement<'_>]) -> Self {
        if elements
            .iter()
            .all(|e| (1..=14).contains(&e.id) && (1..=16).contains(&e.data.len()))
        {
            Self::OneByte
        } else {
            Self::TwoByte
        }
    }
}

/// Iterator over the elements of a header extension. Yields an error once
/// and then stops if the data is malformed; never panics.
#[derive(Debug, Clone)]
pub struct ExtensionIter<'a> {
    form: Option<ExtensionProfile>,
    data: &'a [u8],
}

impl<'a> ExtensionIter<'a> {
    /// Iterates `data` according to the profile field `profile`.
    pub fn new(profile: u16, data: &'a [u8]) -> Self {
        ExtensionIter {
            form: ExtensionProfile::from_field(profile),
            data,
        }
    }
    /// An iterator that yields nothing.
    pub fn empty() -> Self {
        ExtensionIter {
            form: None,
            data: &[],
        }
    }
    fn fail(&mut self) -> Option<Result<HeaderExtensionElement<'a>>> {
        self.form = None;
        Some(Err(Error::BadExtension))
    }
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = Result<HeaderExtensionElement<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let form = self.form?;
        loop {
            let (&first, rest) = self.data.split_first()?;
            match form {
                ExtensionProfile::OneByte => {
                    let id = first >> 4;
                    if id == 0 {
                        // Padding octet (RFC 8285 §4.2).
                        self.data = rest;
                        continue;
                    }
                    if id == 15 {
                        // Reserved: stop processing the extension (RFC 8285 §4.2).
                        self.form = None;
                        return None;
                    }
                    let len = usize::from(first & 0x0f) + 1;
                    let Some(data) = rest.get(..len) else {
                        return self.fail();
                    };
                    self.data = &rest[len..];
                    return Some(Ok(HeaderExtensionElement { id, data }));
                }
                ExtensionProfile::TwoByte => {
                    if first == 0 {
                        self.data = rest;
                        continue;
                    }
                    let Some((&len, rest)) = rest.split_first() else {
                        return self.fail();
                    };
                    let len = usize::from(len);
                    let Some(data) = rest.get(..len) else {
                        return self.fail();
                    };
                    self.data = &rest[len..];
                    return Some(Ok(HeaderExtensionElement { id: first, data }));
                }
            }
        }
    }
}

/// Writes RFC 8285 extension elements.
#[derive(Debug)]
pub struct ExtensionWriter;

impl ExtensionWriter {
    /// Bytes the elements take in `form`, before padding to 32 bits.
    pub fn elements_len(form: ExtensionProfile, elements: &[HeaderExtensionElement<'_>]) -> usize {
        let per = match form {
            ExtensionProfile::OneByte => 1,
            ExtensionProfile::TwoByte => 2,
        };
        elements.iter().map(|e| per + e.data.len()).sum()
    }

    /// Writes the elements (without the 4-byte extension header and without
    /// trailing padding) and returns the bytes written.
    pub fn write(
        form: ExtensionProfile,
        elements: &[HeaderExtensionElement<'_>],
        buf: &mut [u8],
    ) -> Result<usize> {
        let total = Self::elements_len(form, elements);
        crate::wire::need(buf, total)?;
        let mut off = 0;
        for e in elements {
            match form {
                ExtensionProfile::OneByte => {
                    if !(1..=14).contains(&e.id) || !(1..=16).contains(&e.data.len()) {
                        return Err(Error::InvalidInput(
                            "element does not fit the one-byte form",
                        ));
                    }
                    buf[off] = (e.id << 4) | (e.data.len() as u8 - 1);
                    off += 1;
                }
                ExtensionProfile::TwoByte => {
                    if e.id == 0 || e.data.len() > 255 {
                        return Err(Error::InvalidInput(
                            "element does not fit the two-byte form",
                        ));
                    }
                    buf[off] = e.id;
                    buf[off + 1] = e.data.len() as u8;
                    off += 2;
                }
            }
            buf[off..off + e.data.len()].copy_from_slice(e.data);
            off += e.data.len();
        }
        Ok(off)
    }
}
