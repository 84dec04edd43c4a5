//! SCTP chunks (RFC 9260 §3.3, RFC 3758 §3.2, RFC 6525 §3.1): borrowed views
//! that parse in place, and `emit` to append a chunk to a caller's buffer.

use crate::error::Error;
use crate::list::{pad4, List, TlvItem, TlvList};
use crate::param::{ErrorCause, GapAckBlock, Param, ReconfigParam, StreamSsn};

/// Chunk type codes.
pub mod chunk_type {
    /// Payload Data.
    pub const DATA: u8 = 0;
    /// Initiation.
    pub const INIT: u8 = 1;
    /// Initiation Acknowledgement.
    pub const INIT_ACK: u8 = 2;
    /// Selective Acknowledgement.
    pub const SACK: u8 = 3;
    /// Heartbeat Request.
    pub const HEARTBEAT: u8 = 4;
    /// Heartbeat Acknowledgement.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// Abort.
    pub const ABORT: u8 = 6;
    /// Shutdown.
    pub const SHUTDOWN: u8 = 7;
    /// Shutdown Acknowledgement.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// Operation Error.
    pub const ERROR: u8 = 9;
    /// State Cookie.
    pub const COOKIE_ECHO: u8 = 10;
    /// Cookie Acknowledgement.
    pub const COOKIE_ACK: u8 = 11;
    /// Shutdown Complete.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
    /// Re-configuration (RFC 6525).
    pub const RE_CONFIG: u8 = 130;
    /// Forward Cumulative TSN (RFC 3758).
    pub const FORWARD_TSN: u8 = 192;
}

/// DATA chunk flag: Immediate (RFC 7053).
pub const DATA_FLAG_I: u8 = 0x08;
/// DATA chunk flag: Unordered.
pub const DATA_FLAG_U: u8 = 0x04;
/// DATA chunk flag: Beginning fragment.
pub const DATA_FLAG_B: u8 = 0x02;
/// DATA chunk flag: Ending fragment.
pub const DATA_FLAG_E: u8 = 0x01;

/// What a receiver does with a chunk type it does not recognize, from the two
/// high bits of the type (RFC 9260 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownChunkAction {
    /// 00: stop processing the packet and discard it.
    Stop,
    /// 01: stop, discard, and report in an ERROR (Unrecognized Chunk Type).
    StopAndReport,
    /// 10: skip this chunk and continue.
    Skip,
    /// 11: skip, continue, and report.
    SkipAndReport,
}

impl UnknownChunkAction {
    /// The action for a chunk type.
    pub fn of(chunk_type: u8) -> Self {
        match chunk_type >> 6 {
            0 => Self::Stop,
            1 => Self::StopAndReport,
            2 => Self::Skip,
            _ => Self::SkipAndReport,
        }
    }
}

/// DATA chunk (RFC 9260 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data<'a> {
    /// Flags (I, U, B, E).
    pub flags: u8,
    /// Transmission Sequence Number.
    pub tsn: u32,
    /// Stream Identifier.
    pub stream: u16,
    /// Stream Sequence Number.
    pub ssn: u16,
    /// Payload Protocol Identifier.
    pub ppid: u32,
    /// User data (never empty).
    pub payload: &'a [u8],
}

impl<'a> Data<'a> {
    /// The DATA chunk with `flags` and value `v` (the bytes after the chunk
    /// header), if `v` holds the fixed fields and some user data.
    #[inline]
    pub(crate) fn from_value(flags: u8, v: &'a [u8]) -> Option<Self> {
        let [t0, t1, t2, t3, s0, s1, q0, q1, p0, p1, p2, p3, ref payload @ ..] = *v else {
            return None;
        };
        if payload.is_empty() {
            return None;
        }
        Some(Data {
            flags,
            tsn: u32::from_be_bytes([t0, t1, t2, t3]),
            stream: u16::from_be_bytes([s0, s1]),
            ssn: u16::from_be_bytes([q0, q1]),
            ppid: u32::from_be_bytes([p0, p1, p2, p3]),
            payload,
        })
    }

    /// Unordered flag.
    pub fn unordered(&self) -> bool {
        self.flags & DATA_FLAG_U != 0
    }
    /// Beginning-fragment flag.
    pub fn beginning(&self) -> bool {
        self.flags & DATA_FLAG_B != 0
    }
    /// Ending-fragment flag.
    pub fn ending(&self) -> bool {
        self.flags & DATA_FLAG_E != 0
    }
    /// Immediate flag (RFC 7053): the receiver should SACK at once.
    pub fn immediate(&self) -> bool {
        self.flags & DATA_FLAG_I != 0
    }
}

/// INIT or INIT-ACK chunk (RFC 9260 §3.3.2, §3.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init<'a> {
    /// Initiate Tag (never zero).
    pub initiate_tag: u32,
    /// Advertised Receiver Window Credit.
    pub a_rwnd: u32,
    /// Number of Outbound Streams.
    pub num_outbound_streams: u16,
    /// Number of Inbound Streams.
    pub num_inbound_streams: u16,
    /// Initial TSN.
    pub initial_tsn: u32,
    /// Optional/variable-length parameters.
    pub params: TlvList<'a, Param<'a>>,
}

/// SACK chunk (RFC 9260 §3.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sack<'a> {
    /// Cumulative TSN Ack.
    pub cumulative_tsn_ack: u32,
    /// Advertised Receiver Window Credit.
    pub a_rwnd: u32,
    /// Gap Ack Blocks.
    pub gap_blocks: List<'a, GapAckBlock>,
    /// Duplicate TSNs.
    pub duplicate_tsns: List<'a, u32>,
}

impl<'a> Sack<'a> {
    /// The SACK chunk with value `v` (the bytes after the chunk header), if
    /// its length matches the numbers of gap blocks and duplicates.
    #[inline]
    pub(crate) fn from_value(v: &'a [u8]) -> Option<Self> {
        let [c0, c1, c2, c3, w0, w1, w2, w3, g0, g1, d0, d1, ref lists @ ..] = *v else {
            return None;
        };
        let gaps = 4 * usize::from(u16::from_be_bytes([g0, g1]));
        let dups = 4 * usize::from(u16::from_be_bytes([d0, d1]));
        if lists.len() != gaps + dups {
            return None;
        }
        let (gap_blocks, duplicate_tsns) = lists.split_at(gaps);
        Some(Sack {
            cumulative_tsn_ack: u32::from_be_bytes([c0, c1, c2, c3]),
            a_rwnd: u32::from_be_bytes([w0, w1, w2, w3]),
            gap_blocks: List::Wire(gap_blocks),
            duplicate_tsns: List::Wire(duplicate_tsns),
        })
    }
}

/// FORWARD-TSN chunk (RFC 3758 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardTsn<'a> {
    /// New Cumulative TSN.
    pub new_cumulative_tsn: u32,
    /// Streams and the SSN to skip to.
    pub streams: List<'a, StreamSsn>,
}

/// A chunk of an unknown type, kept opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownChunk<'a> {
    /// Chunk type.
    pub chunk_type: u8,
    /// Chunk flags.
    pub flags: u8,
    /// Chunk value.
    pub value: &'a [u8],
    /// The whole chunk, header included, without padding (for error reports).
    pub raw: &'a [u8],
}

impl UnknownChunk<'_> {
    /// What RFC 9260 §3.2 says to do with it.
    pub fn action(&self) -> UnknownChunkAction {
        UnknownChunkAction::of(self.chunk_type)
    }
}

/// One SCTP chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chunk<'a> {
    /// DATA.
    Data(Data<'a>),
    /// INIT.
    Init(Init<'a>),
    /// INIT-ACK.
    InitAck(Init<'a>),
    /// SACK.
    Sack(Sack<'a>),
    /// HEARTBEAT with its Heartbeat Information (opaque to the peer).
    Heartbeat {
        /// Sender-specific Heartbeat Information.
        info: &'a [u8],
    },
    /// HEARTBEAT-ACK echoing the Heartbeat Information.
    HeartbeatAck {
        /// Heartbeat Information copied from the HEARTBEAT.
        info: &'a [u8],
    },
    /// ABORT.
    Abort {
        /// T bit: the verification tag is reflected.
        t: bool,
        /// Error causes.
        causes: TlvList<'a, ErrorCause<'a>>,
    },
    /// SHUTDOWN.
    Shutdown {
        /// Cumulative TSN Ack.
        cumulative_tsn_ack: u32,
    },
    /// SHUTDOWN-ACK.
    ShutdownAck,
    /// ERROR (Operation Error).
    Error {
        /// Error causes.
        causes: TlvList<'a, ErrorCause<'a>>,
    },
    /// COOKIE-ECHO.
    CookieEcho {
        /// The State Cookie from INIT-ACK.
        cookie: &'a [u8],
    },
    /// COOKIE-ACK.
    CookieAck,
    /// SHUTDOWN-COMPLETE.
    ShutdownComplete {
        /// T bit: the verification tag is reflected.
        t: bool,
    },
    /// FORWARD-TSN.
    ForwardTsn(ForwardTsn<'a>),
    /// RE-CONFIG with one or two parameters.
    ReConfig {
        /// Re-configuration parameters.
        params: TlvList<'a, ReconfigParam<'a>>,
    },
    /// Any chunk this crate does not interpret.
    Unknown(UnknownChunk<'a>),
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl<'a> Chunk<'a> {
    /// Parses the chunk at the front of `buf`; returns it and the number of
    /// bytes consumed including padding (which may be missing at the end).
    pub fn parse(buf: &'a [u8]) -> Result<(Chunk<'a>, usize), Error> {
        use chunk_type::*;
        let [ty, flags, l0, l1, ..] = *buf else {
            return Err(Error::ChunkTruncated {
                needed: 4,
                available: buf.len(),
            });
        };
        let length = u16::from_be_bytes([l0, l1]);
        let len = usize::from(length);
        if len < 4 {
            return Err(Error::InvalidChunkLength {
                chunk_type: ty,
                length,
            });
        }
        if len > buf.len() {
            return Err(Error::ChunkTruncated {
                needed: len,
                available: buf.len(),
            });
        }
        let v = &buf[4..len];
        let bad_len = Error::InvalidChunkLength {
            chunk_type: ty,
            length,
        };
        let need = |n: usize| {
            if v.len() < n {
                Err(bad_len.clone())
            } else {
                Ok(())
            }
        };
        let exact = |n: usize| {
            if v.len() != n {
                Err(bad_len.clone())
            } else {
                Ok(())
            }
        };
        let chunk = match ty {
            DATA => {
                need(12)?;
                Chunk::Data(Data::from_value(flags, v).ok_or(Error::EmptyData)?)
            }
            INIT | INIT_ACK => {
                need(16)?;
                let init = Init {
                    initiate_tag: be32(v, 0),
                    a_rwnd: be32(v, 4),
                    num_outbound_streams: be16(v, 8),
                    num_inbound_streams: be16(v, 10),
                    initial_tsn: be32(v, 12),
                    params: TlvList::Wire(&v[16..]),
                };
                if ty == INIT {
                    Chunk::Init(init)
                } else {
                    Chunk::InitAck(init)
                }
            }
            SACK => Chunk::Sack(Sack::from_value(v).ok_or(bad_len)?),
            HEARTBEAT | HEARTBEAT_ACK => {
                let (kind, info, _) = crate::list::parse_tlv(v)?;
                if kind != crate::param::param_type::HEARTBEAT_INFO {
                    return Err(Error::InvalidField("HEARTBEAT without Heartbeat Info"));
                }
                if ty == HEARTBEAT {
                    Chunk::Heartbeat { info }
                } else {
                    Chunk::HeartbeatAck { info }
                }
            }
            ABORT => Chunk::Abort {
                t: flags & 1 != 0,
                causes: TlvList::Wire(v),
            },
            SHUTDOWN => {
                exact(4)?;
                Chunk::Shutdown {
                    cumulative_tsn_ack: be32(v, 0),
                }
            }
            SHUTDOWN_ACK => {
                exact(0)?;
                Chunk::ShutdownAck
            }
            ERROR => Chunk::Error {
                causes: TlvList::Wire(v),
            },
            COOKIE_ECHO => Chunk::CookieEcho { cookie: v },
            COOKIE_ACK => {
                exact(0)?;
                Chunk::CookieAck
            }
            SHUTDOWN_COMPLETE => {
                exact(0)?;
                Chunk::ShutdownComplete { t: flags & 1 != 0 }
            }
            FORWARD_TSN => {
                need(4)?;
                if v.len() % 4 != 0 {
                    return Err(bad_len);
                }
                Chunk::ForwardTsn(ForwardTsn {
                    new_cumulative_tsn: be32(v, 0),
                    streams: List::Wire(&v[4..]),
                })
            }
            RE_CONFIG => {
                need(4)?;
                Chunk::ReConfig {
                    params: TlvList::Wire(v),
                }
            }
            _ => Chunk::Unknown(UnknownChunk {
                chunk_type: ty,
                flags,
                value: v,
                raw: &buf[..len],
            }),
        };
        Ok((chunk, pad4(len).min(buf.len())))
    }

    /// The chunk type code.
    pub fn chunk_type(&self) -> u8 {
        use chunk_type::*;
        match self {
            Chunk::Data(_) => DATA,
            Chunk::Init(_) => INIT,
            Chunk::InitAck(_) => INIT_ACK,
            Chunk::Sack(_) => SACK,
            Chunk::Heartbeat { .. } => HEARTBEAT,
            Chunk::HeartbeatAck { .. } => HEARTBEAT_ACK,
            Chunk::Abort { .. } => ABORT,
            Chunk::Shutdown { .. } => SHUTDOWN,
            Chunk::ShutdownAck => SHUTDOWN_ACK,
            Chunk::Error { .. } => ERROR,
            Chunk::CookieEcho { .. } => COOKIE_ECHO,
            Chunk::CookieAck => COOKIE_ACK,
            Chunk::ShutdownComplete { .. } => SHUTDOWN_COMPLETE,
            Chunk::ForwardTsn(_) => FORWARD_TSN,
            Chunk::ReConfig { .. } => RE_CONFIG,
            Chunk::Unknown(u) => u.chunk_type,
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Chunk::Data(d) => d.flags,
            Chunk::Abort { t, .. } | Chunk::ShutdownComplete { t } => u8::from(*t),
            Chunk::Unknown(u) => u.flags,
            _ => 0,
        }
    }

    /// Encoded length including the trailing padding.
    pub fn encoded_len(&self) -> usize {
        pad4(
            4 + match self {
                Chunk::Data(d) => 12 + d.payload.len(),
                Chunk::Init(i) | Chunk::InitAck(i) => 16 + i.params.encoded_len(),
                Chunk::Sack(s) => 12 + s.gap_blocks.encoded_len() + s.duplicate_tsns.encoded_len(),
                Chunk::Heartbeat { info } | Chunk::HeartbeatAck { info } => 4 + info.len(),
                Chunk::Abort { causes, .. } | Chunk::Error { causes } => causes.encoded_len(),
                Chunk::Shutdown { .. } => 4,
                Chunk::ShutdownAck | Chunk::CookieAck | Chunk::ShutdownComplete { .. } => 0,
                Chunk::CookieEcho { cookie } => cookie.len(),
                Chunk::ForwardTsn(f) => 4 + f.streams.encoded_len(),
                Chunk::ReConfig { params } => params.encoded_len(),
                Chunk::Unknown(u) => u.value.len(),
            },
        )
    }

    /// Appends the chunk, with padding, to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.chunk_type(), self.flags(), 0, 0]);
        // Padding of a final TLV that the chunk length must not count
        // (RFC 9260 §3.2: "except the last parameter in the chunk").
        let mut tail_pad = 0;
        match self {
            Chunk::Data(d) => {
                out.extend_from_slice(&d.tsn.to_be_bytes());
                out.extend_from_slice(&d.stream.to_be_bytes());
                out.extend_from_slice(&d.ssn.to_be_bytes());
                out.extend_from_slice(&d.ppid.to_be_bytes());
                out.extend_from_slice(d.payload);
            }
            Chunk::Init(i) | Chunk::InitAck(i) => {
                out.extend_from_slice(&i.initiate_tag.to_be_bytes());
                out.extend_from_slice(&i.a_rwnd.to_be_bytes());
                out.extend_from_slice(&i.num_outbound_streams.to_be_bytes());
                out.extend_from_slice(&i.num_inbound_streams.to_be_bytes());
                out.extend_from_slice(&i.initial_tsn.to_be_bytes());
                tail_pad = i.params.write(out);
            }
            Chunk::Sack(s) => {
                out.extend_from_slice(&s.cumulative_tsn_ack.to_be_bytes());
                out.extend_from_slice(&s.a_rwnd.to_be_bytes());
                out.extend_from_slice(&(s.gap_blocks.len() as u16).to_be_bytes());
                out.extend_from_slice(&(s.duplicate_tsns.len() as u16).to_be_bytes());
                s.gap_blocks.write(out);
                s.duplicate_tsns.write(out);
            }
            Chunk::Heartbeat { info } | Chunk::HeartbeatAck { info } => {
                out.extend_from_slice(&crate::param::param_type::HEARTBEAT_INFO.to_be_bytes());
                out.extend_from_slice(&((4 + info.len()) as u16).to_be_bytes());
                out.extend_from_slice(info);
            }
            Chunk::Abort { causes, .. } | Chunk::Error { causes } => {
                tail_pad = causes.write(out);
            }
            Chunk::Shutdown { cumulative_tsn_ack } => {
                out.extend_from_slice(&cumulative_tsn_ack.to_be_bytes())
            }
            Chunk::ShutdownAck | Chunk::CookieAck | Chunk::ShutdownComplete { .. } => {}
            Chunk::CookieEcho { cookie } => out.extend_from_slice(cookie),
            Chunk::ForwardTsn(f) => {
                out.extend_from_slice(&f.new_cumulative_tsn.to_be_bytes());
                f.streams.write(out);
            }
            Chunk::ReConfig { params } => tail_pad = params.write(out),
            Chunk::Unknown(u) => out.extend_from_slice(u.value),
        }
        let len = out.len() - start - tail_pad;
        let len16 = u16::try_from(len).unwrap_or(u16::MAX);
        out[start + 2..start + 4].copy_from_slice(&len16.to_be_bytes());
        let padded = pad4(out.len() - start);
        out.resize(start + padded, 0);
    }
}

/// Writes a DATA chunk header and payload directly (the hot path), with
/// padding.
pub fn emit_data(
    out: &mut Vec<u8>,
    flags: u8,
    tsn: u32,
    stream: u16,
    ssn: u16,
    ppid: u32,
    payload: &[u8],
) {
    let len = 16 + payload.len();
    out.reserve(pad4(len));
    out.push(chunk_type::DATA);
    out.push(flags);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&tsn.to_be_bytes());
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(&ssn.to_be_bytes());
    out.extend_from_slice(&ppid.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&[0u8; 3][..pad4(len) - len]);
}

/// Length of the TLV list's items that parse; helper for tests and tooling.
pub fn count_params<'a, T: TlvItem<'a> + Clone>(list: &TlvList<'a, T>) -> Result<usize, Error> {
    let mut n = 0;
    for p in list.iter() {
        p?;
        n += 1;
    }
    Ok(n)
}
