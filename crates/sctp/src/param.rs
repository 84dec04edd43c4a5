//! Parameters of INIT/INIT-ACK (RFC 9260 §3.3.2), RE-CONFIG (RFC 6525 §4),
//! error causes (RFC 9260 §3.3.10) and the small fixed list items.

use crate::error::Error;
use crate::list::{FixedItem, List, TlvItem};

/// Parameter type codes.
pub mod param_type {
    /// Heartbeat Info (RFC 9260 §3.3.5).
    pub const HEARTBEAT_INFO: u16 = 1;
    /// IPv4 Address.
    pub const IPV4_ADDRESS: u16 = 5;
    /// IPv6 Address.
    pub const IPV6_ADDRESS: u16 = 6;
    /// State Cookie.
    pub const STATE_COOKIE: u16 = 7;
    /// Unrecognized Parameter.
    pub const UNRECOGNIZED_PARAMETER: u16 = 8;
    /// Cookie Preservative.
    pub const COOKIE_PRESERVATIVE: u16 = 9;
    /// Host Name Address (deprecated).
    pub const HOST_NAME_ADDRESS: u16 = 11;
    /// Supported Address Types.
    pub const SUPPORTED_ADDRESS_TYPES: u16 = 12;
    /// Outgoing SSN Reset Request (RFC 6525 §4.1).
    pub const OUTGOING_SSN_RESET_REQUEST: u16 = 13;
    /// Incoming SSN Reset Request (RFC 6525 §4.2).
    pub const INCOMING_SSN_RESET_REQUEST: u16 = 14;
    /// SSN/TSN Reset Request (RFC 6525 §4.3).
    pub const SSN_TSN_RESET_REQUEST: u16 = 15;
    /// Re-configuration Response (RFC 6525 §4.4).
    pub const RECONFIGURATION_RESPONSE: u16 = 16;
    /// Add Outgoing Streams Request (RFC 6525 §4.5).
    pub const ADD_OUTGOING_STREAMS_REQUEST: u16 = 17;
    /// Add Incoming Streams Request (RFC 6525 §4.6).
    pub const ADD_INCOMING_STREAMS_REQUEST: u16 = 18;
    /// ECN Capable (reserved).
    pub const ECN_CAPABLE: u16 = 0x8000;
    /// Zero Checksum Acceptable (RFC 9653 §4).
    pub const ZERO_CHECKSUM_ACCEPTABLE: u16 = 0x8001;
    /// Supported Extensions (RFC 5061 §4.2.7).
    pub const SUPPORTED_EXTENSIONS: u16 = 0x8008;
    /// Forward-TSN-Supported (RFC 3758 §3.1).
    pub const FORWARD_TSN_SUPPORTED: u16 = 0xC000;
}

/// What a receiver does with a parameter it does not recognize, from the two
/// high bits of its type (RFC 9260 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownParamAction {
    /// 00: stop processing this chunk's parameters, do not report.
    Stop,
    /// 01: stop processing and report in an Unrecognized Parameter.
    StopAndReport,
    /// 10: skip this parameter and continue.
    Skip,
    /// 11: skip, continue, and report.
    SkipAndReport,
}

impl UnknownParamAction {
    /// The action for a parameter type.
    pub fn of(param_type: u16) -> Self {
        match param_type >> 14 {
            0 => Self::Stop,
            1 => Self::StopAndReport,
            2 => Self::Skip,
            _ => Self::SkipAndReport,
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// An INIT or INIT-ACK parameter (RFC 9260 §3.3.2, §3.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Param<'a> {
    /// IPv4 Address.
    Ipv4Address([u8; 4]),
    /// IPv6 Address.
    Ipv6Address([u8; 16]),
    /// State Cookie (INIT-ACK only).
    StateCookie(&'a [u8]),
    /// Unrecognized Parameter: the whole offending parameter TLV.
    UnrecognizedParameter(&'a [u8]),
    /// Cookie Preservative: suggested lifespan increment in milliseconds.
    CookiePreservative(u32),
    /// Host Name Address (deprecated; carried opaquely).
    HostNameAddress(&'a [u8]),
    /// Supported Address Types.
    SupportedAddressTypes(List<'a, u16>),
    /// ECN Capable.
    EcnCapable,
    /// Forward-TSN-Supported (RFC 3758 §3.1).
    ForwardTsnSupported,
    /// Supported Extensions: chunk types (RFC 5061 §4.2.7).
    SupportedExtensions(&'a [u8]),
    /// Zero Checksum Acceptable with its Error Detection Method Identifier
    /// (RFC 9653 §4; 1 = DTLS).
    ZeroChecksumAcceptable(u32),
    /// Any other parameter, kept opaque.
    Unknown {
        /// Parameter type.
        kind: u16,
        /// Parameter value.
        value: &'a [u8],
    },
}

impl<'a> TlvItem<'a> for Param<'a> {
    fn parse(kind: u16, v: &'a [u8]) -> Result<Self, Error> {
        use param_type::*;
        let bad = Error::InvalidParamLength { param_type: kind };
        Ok(match kind {
            IPV4_ADDRESS => Param::Ipv4Address(v.try_into().map_err(|_| bad)?),
            IPV6_ADDRESS => Param::Ipv6Address(v.try_into().map_err(|_| bad)?),
            STATE_COOKIE => Param::StateCookie(v),
            UNRECOGNIZED_PARAMETER => Param::UnrecognizedParameter(v),
            COOKIE_PRESERVATIVE if v.len() == 4 => {
                Param::CookiePreservative(be32(v, 0).ok_or(bad)?)
            }
            HOST_NAME_ADDRESS => Param::HostNameAddress(v),
            SUPPORTED_ADDRESS_TYPES if v.len() % 2 == 0 => {
                Param::SupportedAddressTypes(List::Wire(v))
            }
            ECN_CAPABLE if v.is_empty() => Param::EcnCapable,
            FORWARD_TSN_SUPPORTED if v.is_empty() => Param::ForwardTsnSupported,
            SUPPORTED_EXTENSIONS => Param::SupportedExtensions(v),
            ZERO_CHECKSUM_ACCEPTABLE if v.len() == 4 => {
                Param::ZeroChecksumAcceptable(be32(v, 0).ok_or(bad)?)
            }
            COOKIE_PRESERVATIVE
            | SUPPORTED_ADDRESS_TYPES
            | ECN_CAPABLE
            | FORWARD_TSN_SUPPORTED
            | ZERO_CHECKSUM_ACCEPTABLE => return Err(bad),
            _ => Param::Unknown { kind, value: v },
        })
    }

    fn kind(&self) -> u16 {
        use param_type::*;
        match self {
            Param::Ipv4Address(_) => IPV4_ADDRESS,
            Param::Ipv6Address(_) => IPV6_ADDRESS,
            Param::StateCookie(_) => STATE_COOKIE,
            Param::UnrecognizedParameter(_) => UNRECOGNIZED_PARAMETER,
            Param::CookiePreservative(_) => COOKIE_PRESERVATIVE,
            Param::HostNameAddress(_) => HOST_NAME_ADDRESS,
            Param::SupportedAddressTypes(_) => SUPPORTED_ADDRESS_TYPES,
            Param::EcnCapable => ECN_CAPABLE,
            Param::ForwardTsnSupported => FORWARD_TSN_SUPPORTED,
            Param::SupportedExtensions(_) => SUPPORTED_EXTENSIONS,
            Param::ZeroChecksumAcceptable(_) => ZERO_CHECKSUM_ACCEPTABLE,
            Param::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Param::Ipv4Address(_) => 4,
            Param::Ipv6Address(_) => 16,
            Param::StateCookie(v)
            | Param::UnrecognizedParameter(v)
            | Param::HostNameAddress(v)
            | Param::SupportedExtensions(v)
            | Param::Unknown { value: v, .. } => v.len(),
            Param::CookiePreservative(_) | Param::ZeroChecksumAcceptable(_) => 4,
            Param::SupportedAddressTypes(l) => l.encoded_len(),
            Param::EcnCapable | Param::ForwardTsnSupported => 0,
        }
    }

    fn write_value(&self, out: &mut Vec<u8>) {
        match self {
            Param::Ipv4Address(a) => out.extend_from_slice(a),
            Param::Ipv6Address(a) => out.extend_from_slice(a),
            Param::StateCookie(v)
            | Param::UnrecognizedParameter(v)
            | Param::HostNameAddress(v)
            | Param::SupportedExtensions(v)
            | Param::Unknown { value: v, .. } => out.extend_from_slice(v),
            Param::CookiePreservative(x) | Param::ZeroChecksumAcceptable(x) => {
                out.extend_from_slice(&x.to_be_bytes())
            }
            Param::SupportedAddressTypes(l) => l.write(out),
            Param::EcnCapable | Param::ForwardTsnSupported => {}
        }
    }
}

/// Result codes of a Re-configuration Response (RFC 6525 §4.4).
pub mod reconfig_result {
    /// Success - Nothing to do.
    pub const SUCCESS_NOTHING_TO_DO: u32 = 0;
    /// Success - Performed.
    pub const SUCCESS_PERFORMED: u32 = 1;
    /// Denied.
    pub const DENIED: u32 = 2;
    /// Error - Wrong SSN.
    pub const ERROR_WRONG_SSN: u32 = 3;
    /// Error - Request already in progress.
    pub const ERROR_REQUEST_ALREADY_IN_PROGRESS: u32 = 4;
    /// Error - Bad Sequence Number.
    pub const ERROR_BAD_SEQUENCE_NUMBER: u32 = 5;
    /// In progress.
    pub const IN_PROGRESS: u32 = 6;
}

/// A RE-CONFIG parameter (RFC 6525 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconfigParam<'a> {
    /// Outgoing SSN Reset Request (§4.1).
    OutgoingSsnResetRequest {
        /// Re-configuration Request Sequence Number.
        request_seq: u32,
        /// Re-configuration Response Sequence Number.
        response_seq: u32,
        /// Sender's Last Assigned TSN.
        last_tsn: u32,
        /// Streams to reset; empty means all.
        streams: List<'a, u16>,
    },
    /// Incoming SSN Reset Request (§4.2).
    IncomingSsnResetRequest {
        /// Re-configuration Request Sequence Number.
        request_seq: u32,
        /// Streams to reset; empty means all.
        streams: List<'a, u16>,
    },
    /// SSN/TSN Reset Request (§4.3).
    SsnTsnResetRequest {
        /// Re-configuration Request Sequence Number.
        request_seq: u32,
    },
    /// Re-configuration Response (§4.4).
    Response {
        /// Re-configuration Response Sequence Number.
        response_seq: u32,
        /// Result code (see [`reconfig_result`]).
        result: u32,
        /// Sender's and receiver's next TSN (only for SSN/TSN reset).
        next_tsns: Option<(u32, u32)>,
    },
    /// Add Outgoing Streams Request (§4.5).
    AddOutgoingStreams {
        /// Re-configuration Request Sequence Number.
        request_seq: u32,
        /// Number of new streams.
        new_streams: u16,
    },
    /// Add Incoming Streams Request (§4.6).
    AddIncomingStreams {
        /// Re-configuration Request Sequence Number.
        request_seq: u32,
        /// Number of new streams.
        new_streams: u16,
    },
    /// Any other parameter, kept opaque.
    Unknown {
        /// Parameter type.
        kind: u16,
        /// Parameter value.
        value: &'a [u8],
    },
}

impl<'a> TlvItem<'a> for ReconfigParam<'a> {
    fn parse(kind: u16, v: &'a [u8]) -> Result<Self, Error> {
        use param_type::*;
        let bad = Error::InvalidParamLength { param_type: kind };
        let get32 = |at| be32(v, at).ok_or(bad.clone());
        Ok(match kind {
            OUTGOING_SSN_RESET_REQUEST => {
                if v.len() < 12 || v.len() % 2 != 0 {
                    return Err(bad);
                }
                ReconfigParam::OutgoingSsnResetRequest {
                    request_seq: get32(0)?,
                    response_seq: get32(4)?,
                    last_tsn: get32(8)?,
                    streams: List::Wire(&v[12..]),
                }
            }
            INCOMING_SSN_RESET_REQUEST => {
                if v.len() < 4 || v.len() % 2 != 0 {
                    return Err(bad);
                }
                ReconfigParam::IncomingSsnResetRequest {
                    request_seq: get32(0)?,
                    streams: List::Wire(&v[4..]),
                }
            }
            SSN_TSN_RESET_REQUEST if v.len() == 4 => ReconfigParam::SsnTsnResetRequest {
                request_seq: get32(0)?,
            },
            RECONFIGURATION_RESPONSE if v.len() == 8 || v.len() == 16 => ReconfigParam::Response {
                response_seq: get32(0)?,
                result: get32(4)?,
                next_tsns: if v.len() == 16 {
                    Some((get32(8)?, get32(12)?))
                } else {
                    None
                },
            },
            ADD_OUTGOING_STREAMS_REQUEST if v.len() == 8 => ReconfigParam::AddOutgoingStreams {
                request_seq: get32(0)?,
                new_streams: be16(v, 4).ok_or(bad)?,
            },
            ADD_INCOMING_STREAMS_REQUEST if v.len() == 8 => ReconfigParam::AddIncomingStreams {
                request_seq: get32(0)?,
                new_streams: be16(v, 4).ok_or(bad)?,
            },
            SSN_TSN_RESET_REQUEST
            | RECONFIGURATION_RESPONSE
            | ADD_OUTGOING_STREAMS_REQUEST
            | ADD_INCOMING_STREAMS_REQUEST => return Err(bad),
            _ => ReconfigParam::Unknown { kind, value: v },
        })
    }

    fn kind(&self) -> u16 {
        use param_type::*;
        match self {
            ReconfigParam::OutgoingSsnResetRequest { .. } => OUTGOING_SSN_RESET_REQUEST,
            ReconfigParam::IncomingSsnResetRequest { .. } => INCOMING_SSN_RESET_REQUEST,
            ReconfigParam::SsnTsnResetRequest { .. } => SSN_TSN_RESET_REQUEST,
            ReconfigParam::Response { .. } => RECONFIGURATION_RESPONSE,
            ReconfigParam::AddOutgoingStreams { .. } => ADD_OUTGOING_STREAMS_REQUEST,
            ReconfigParam::AddIncomingStreams { .. } => ADD_INCOMING_STREAMS_REQUEST,
            ReconfigParam::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            ReconfigParam::OutgoingSsnResetRequest { streams, .. } => 12 + streams.encoded_len(),
            ReconfigParam::IncomingSsnResetRequest { streams, .. } => 4 + streams.encoded_len(),
            ReconfigParam::SsnTsnResetRequest { .. } => 4,
            ReconfigParam::Response { next_tsns, .. } => {
                if next_tsns.is_some() {
                    16
                } else {
                    8
                }
            }
            ReconfigParam::AddOutgoingStreams { .. } | ReconfigParam::AddIncomingStreams { .. } => {
                8
            }
            ReconfigParam::Unknown { value, .. } => value.len(),
        }
    }

    fn write_value(&self, out: &mut Vec<u8>) {
        match self {
            ReconfigParam::OutgoingSsnResetRequest {
                request_seq,
                response_seq,
                last_tsn,
                streams,
            } => {
                out.extend_from_slice(&request_seq.to_be_bytes());
                out.extend_from_slice(&response_seq.to_be_bytes());
                out.extend_from_slice(&last_tsn.to_be_bytes());
                streams.write(out);
            }
            ReconfigParam::IncomingSsnResetRequest {
                request_seq,
                streams,
            } => {
                out.extend_from_slice(&request_seq.to_be_bytes());
                streams.write(out);
            }
            ReconfigParam::SsnTsnResetRequest { request_seq } => {
                out.extend_from_slice(&request_seq.to_be_bytes())
            }
            ReconfigParam::Response {
                response_seq,
                result,
                next_tsns,
            } => {
                out.extend_from_slice(&response_seq.to_be_bytes());
                out.extend_from_slice(&result.to_be_bytes());
                if let Some((s, r)) = next_tsns {
                    out.extend_from_slice(&s.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            ReconfigParam::AddOutgoingStreams {
                request_seq,
                new_streams,
            }
            | ReconfigParam::AddIncomingStreams {
                request_seq,
                new_streams,
            } => {
                out.extend_from_slice(&request_seq.to_be_bytes());
                out.extend_from_slice(&new_streams.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            ReconfigParam::Unknown { value, .. } => out.extend_from_slice(value),
        }
    }
}

/// Error cause codes (RFC 9260 §3.3.10).
pub mod cause_code {
    /// Invalid Stream Identifier.
    pub const INVALID_STREAM_IDENTIFIER: u16 = 1;
    /// Missing Mandatory Parameter.
    pub const MISSING_MANDATORY_PARAMETER: u16 = 2;
    /// Stale Cookie Error.
    pub const STALE_COOKIE: u16 = 3;
    /// Out of Resource.
    pub const OUT_OF_RESOURCE: u16 = 4;
    /// Unresolvable Address.
    pub const UNRESOLVABLE_ADDRESS: u16 = 5;
    /// Unrecognized Chunk Type.
    pub const UNRECOGNIZED_CHUNK_TYPE: u16 = 6;
    /// Invalid Mandatory Parameter.
    pub const INVALID_MANDATORY_PARAMETER: u16 = 7;
    /// Unrecognized Parameters.
    pub const UNRECOGNIZED_PARAMETERS: u16 = 8;
    /// No User Data.
    pub const NO_USER_DATA: u16 = 9;
    /// Cookie Received While Shutting Down.
    pub const COOKIE_RECEIVED_WHILE_SHUTTING_DOWN: u16 = 10;
    /// Restart of an Association with New Addresses.
    pub const RESTART_WITH_NEW_ADDRESSES: u16 = 11;
    /// User-Initiated Abort.
    pub const USER_INITIATED_ABORT: u16 = 12;
    /// Protocol Violation.
    pub const PROTOCOL_VIOLATION: u16 = 13;
}

/// An error cause in an ABORT or ERROR chunk (RFC 9260 §3.3.10): its code
/// and the cause-specific information, uninterpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCause<'a> {
    /// Cause code (see [`cause_code`]).
    pub code: u16,
    /// Cause-specific information.
    pub info: &'a [u8],
}

impl<'a> TlvItem<'a> for ErrorCause<'a> {
    fn parse(kind: u16, value: &'a [u8]) -> Result<Self, Error> {
        Ok(ErrorCause {
            code: kind,
            info: value,
        })
    }
    fn kind(&self) -> u16 {
        self.code
    }
    fn value_len(&self) -> usize {
        self.info.len()
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.info);
    }
}

/// A Gap Ack Block of a SACK (RFC 9260 §3.3.4): offsets from the Cumulative
/// TSN Ack, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapAckBlock {
    /// Gap Ack Block Start offset.
    pub start: u16,
    /// Gap Ack Block End offset.
    pub end: u16,
}

impl FixedItem for GapAckBlock {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        GapAckBlock {
            start: u16::from_be_bytes([b[0], b[1]]),
            end: u16::from_be_bytes([b[2], b[3]]),
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.start.to_be_bytes());
        out.extend_from_slice(&self.end.to_be_bytes());
    }
}

/// A stream entry of FORWARD-TSN (RFC 3758 §3.2): skip up to this SSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSsn {
    /// Stream identifier.
    pub stream: u16,
    /// Stream Sequence Number.
    pub ssn: u16,
}

impl FixedItem for StreamSsn {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        StreamSsn {
            stream: u16::from_be_bytes([b[0], b[1]]),
            ssn: u16::from_be_bytes([b[2], b[3]]),
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.stream.to_be_bytes());
        out.extend_from_slice(&self.ssn.to_be_bytes());
    }
}
