//! Hello extensions (RFC 5246 §7.4.1.4) used by WebRTC's DTLS.

use crate::codec::{end_len, put_u16, start_len, Reader};
use crate::error::{Error, Result};

/// supported_groups (RFC 8422 §5.1.1).
pub const SUPPORTED_GROUPS: u16 = 10;
/// ec_point_formats (RFC 8422 §5.1.2).
pub const EC_POINT_FORMATS: u16 = 11;
/// signature_algorithms (RFC 5246 §7.4.1.4.1).
pub const SIGNATURE_ALGORITHMS: u16 = 13;
/// use_srtp (RFC 5764 §4.1.1).
pub const USE_SRTP: u16 = 14;
/// extended_master_secret (RFC 7627 §5.1).
pub const EXTENDED_MASTER_SECRET: u16 = 23;
/// supported_versions (RFC 8446 §4.2.1, DTLS 1.3 offers).
pub const SUPPORTED_VERSIONS: u16 = 43;
/// key_share (RFC 8446 §4.2.8, DTLS 1.3 offers).
pub const KEY_SHARE: u16 = 51;
/// renegotiation_info (RFC 5746 §3.2).
pub const RENEGOTIATION_INFO: u16 = 0xff01;

/// Most extensions accepted in one hello.
pub const MAX_EXTENSIONS: usize = 64;

/// The extensions of a hello that this implementation understands; others are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions<'a> {
    /// supported_groups: raw NamedGroup pairs.
    pub supported_groups: Option<&'a [u8]>,
    /// ec_point_formats: raw list.
    pub ec_point_formats: Option<&'a [u8]>,
    /// signature_algorithms: raw SignatureScheme pairs.
    pub signature_algorithms: Option<&'a [u8]>,
    /// use_srtp: raw profile pairs and MKI.
    pub use_srtp: Option<(&'a [u8], &'a [u8])>,
    /// extended_master_secret present.
    pub extended_master_secret: bool,
    /// renegotiation_info: renegotiated_connection bytes.
    pub renegotiation_info: Option<&'a [u8]>,
    /// supported_versions (ClientHello form): raw version pairs.
    pub supported_versions: Option<&'a [u8]>,
    /// key_share present (a DTLS 1.3 offer).
    pub key_share: Option<&'a [u8]>,
    /// Number of extensions, known or not.
    pub count: usize,
}

/// Iterates over a raw list of big-endian u16 values.
pub fn u16_list(raw: &[u8]) -> impl Iterator<Item = u16> + '_ {
    raw.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
}

impl<'a> Extensions<'a> {
    /// Parses an extensions block (without its two-byte length).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "extensions");
        let mut out = Extensions::default();
        let mut seen: Vec<u16> = Vec::new();
        while !r.is_empty() {
            let ty = r.u16()?;
            let data = r.vec16()?;
            if seen.len() >= MAX_EXTENSIONS {
                return Err(Error::TooLarge("extensions"));
            }
            if seen.contains(&ty) {
                return Err(Error::Malformed("duplicate extension"));
            }
            seen.push(ty);
            let mut d = Reader::new(data, "extension");
            match ty {
                SUPPORTED_GROUPS => {
                    let l = d.vec16()?;
                    if l.len() % 2 != 0 {
                        return Err(Error::Malformed("supported_groups"));
                    }
                    d.finish()?;
                    out.supported_groups = Some(l);
                }
                EC_POINT_FORMATS => {
                    let l = d.vec8()?;
                    d.finish()?;
                    out.ec_point_formats = Some(l);
                }
                SIGNATURE_ALGORITHMS => {
                    let l = d.vec16()?;
                    if l.len() % 2 != 0 {
                        return Err(Error::Malformed("signature_algorithms"));
                    }
                    d.finish()?;
                    out.signature_algorithms = Some(l);
                }
                USE_SRTP => {
                    let l = d.vec16()?;
                    if l.len() % 2 != 0 {
                        return Err(Error::Malformed("use_srtp"));
                    }
                    let mki = d.vec8()?;
                    d.finish()?;
                    out.use_srtp = Some((l, mki));
                }
                EXTENDED_MASTER_SECRET => {
                    d.finish()?;
                    out.extended_master_secret = true;
                }
                RENEGOTIATION_INFO => {
                    let l = d.vec8()?;
                    d.finish()?;
                    out.renegotiation_info = Some(l);
                }
                SUPPORTED_VERSIONS => {
                    // ClientHello form: a list; ServerHello form: one version.
                    if data.len() == 2 {
                        out.supported_versions = Some(data);
                    } else {
                        let l = d.vec8()?;
                        if l.len() % 2 != 0 {
                            return Err(Error::Malformed("supported_versions"));
                        }
                        d.finish()?;
                        out.supported_versions = Some(l);
                    }
                }
                KEY_SHARE => out.key_share = Some(data),
                _ => {}
            }
        }
        out.count = seen.len();
        Ok(out)
    }

    /// The supported groups offered.
    pub fn groups(&self) -> impl Iterator<Item = u16> + 'a {
        u16_list(self.supported_groups.unwrap_or(&[]))
    }

    /// The signature schemes offered.
    pub fn signature_schemes(&self) -> impl Iterator<Item = u16> + 'a {
        u16_list(self.signature_algorithms.unwrap_or(&[]))
    }

    /// The SRTP protection profiles offered.
    pub fn srtp_profiles(&self) -> impl Iterator<Item = u16> + 'a {
        u16_list(self.use_srtp.map(|(p, _)| p).unwrap_or(&[]))
    }

    /// The versions in supported_versions.
    pub fn versions(&self) -> impl Iterator<Item = u16> + 'a {
        u16_list(self.supported_versions.unwrap_or(&[]))
    }
}

/// Writes an extensions block (with its length) through a closure of pushes.
#[derive(Debug)]
pub struct ExtensionWriter<'o> {
    out: &'o mut Vec<u8>,
    at: usize,
}

impl<'o> ExtensionWriter<'o> {
    /// Starts an extensions block.
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        let at = start_len(out, 2);
        ExtensionWriter { out, at }
    }

    /// Appends one extension with raw `data`.
    pub fn raw(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        put_u16(self.out, ty);
        put_u16(self.out, data.len() as u16);
        self.out.extend_from_slice(data);
        self
    }

    /// Appends an extension whose data is a u16 list with a two-byte length.
    pub fn u16_list(&mut self, ty: u16, values: &[u16]) -> &mut Self {
        put_u16(self.out, ty);
        put_u16(self.out, (2 + 2 * values.len()) as u16);
        put_u16(self.out, (2 * values.len()) as u16);
        for v in values {
            put_u16(self.out, *v);
        }
        self
    }

    /// Appends use_srtp with `profiles` and an empty MKI.
    pub fn use_srtp(&mut self, profiles: &[u16]) -> &mut Self {
        put_u16(self.out, USE_SRTP);
        put_u16(self.out, (3 + 2 * profiles.len()) as u16);
        put_u16(self.out, (2 * profiles.len()) as u16);
        for v in profiles {
            put_u16(self.out, *v);
        }
        self.out.push(0);
        self
    }

    /// Finishes the block, filling in its length.
    pub fn finish(self) {
        end_len(self.out, self.at, 2);
    }
}
