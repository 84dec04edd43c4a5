//! RTCP packets (RFC 3550 §6, RFC 4585 §6, RFC 5104 §4, RFC 3611,
//! draft-holmer-rmcat-transport-wide-cc-extensions-01) and compound packets,
//! including reduced-size RTCP (RFC 5506).
//!
//! Parsing is zero-copy: [`CompoundIter`] walks a compound packet and yields
//! [`RtcpPacket`] views; each view's lengths are validated when it is
//! yielded. Building goes through the owned [`RtcpRepr`] and
//! [`write_compound`], which write into caller buffers.

mod bye_app;
mod feedback;
mod report;
mod sdes;
mod twcc;
mod xr;

pub use bye_app::{App, AppRepr, Bye, ByeRepr};
pub use feedback::{
    Fir, FirEntry, FirRepr, Nack, NackPair, NackRepr, Pli, PliRepr, Remb, RembRepr,
};
pub use report::{ReceiverReport, ReceiverReportRepr, ReportBlock, SenderReport, SenderReportRepr};
pub use sdes::{Sdes, SdesChunk, SdesChunkRepr, SdesItem, SdesItemType, SdesRepr};
pub use twcc::{TransportCc, TransportCcRepr, TwccPacket, TwccPacketIter, TwccStatus};
pub use xr::{DlrrSubBlock, ExtendedReport, XrBlock, XrBlockRepr, XrRepr};

use crate::wire::{u16_at, u8_at};
use crate::{Error, Result};

/// Length of the common RTCP header.
pub const HEADER_LEN: usize = 4;

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2).
pub mod packet_type {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585).
    pub const PSFB: u8 = 206;
    /// Extended report (RFC 3611).
    pub const XR: u8 = 207;
}

/// One RTCP packet inside a compound packet, as a typed zero-copy view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// Sender report (RFC 3550 §6.4.1).
    SenderReport(SenderReport<'a>),
    /// Receiver report (RFC 3550 §6.4.2).
    ReceiverReport(ReceiverReport<'a>),
    /// Source description (RFC 3550 §6.5).
    Sdes(Sdes<'a>),
    /// Goodbye (RFC 3550 §6.6).
    Bye(Bye<'a>),
    /// Application-defined (RFC 3550 §6.7).
    App(App<'a>),
    /// Generic NACK (RFC 4585 §6.2.1).
    Nack(Nack<'a>),
    /// Transport-wide congestion control feedback.
    TransportCc(TransportCc<'a>),
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli(Pli),
    /// Full intra request (RFC 5104 §4.3.1).
    Fir(Fir<'a>),
    /// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb).
    Remb(Remb<'a>),
    /// Extended report (RFC 3611).
    ExtendedReport(ExtendedReport<'a>),
    /// A packet type or feedback format this crate does not interpret.
    Unknown {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count / FMT field.
        count: u8,
        /// Body after the 4-byte header, padding removed.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    /// Parses one RTCP packet from its 4-byte header (`count`, `pt`) and body.
    pub fn parse(packet_type: u8, count: u8, body: &'a [u8]) -> Result<Self> {
        Ok(match packet_type {
            packet_type::SR => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            packet_type::RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            packet_type::SDES => RtcpPacket::Sdes(Sdes::parse(count, body)?),
            packet_type::BYE => RtcpPacket::Bye(Bye::parse(count, body)?),
            packet_type::APP => RtcpPacket::App(App::parse(count, body)?),
            packet_type::RTPFB => match count {
                1 => RtcpPacket::Nack(Nack::parse(body)?),
                15 => RtcpPacket::TransportCc(TransportCc::parse(body)?),
                _ => RtcpPacket::Unknown {
                    packet_type,
                    count,
                    body,
                },
            },
            packet_type::PSFB => match count {
                1 => RtcpPacket::Pli(Pli::parse(body)?),
                4 => RtcpPacket::Fir(Fir::parse(body)?),
                15 if body.get(8..12) == Some(b"REMB") => RtcpPacket::Remb(Remb::parse(body)?),
                _ => RtcpPacket::Unknown {
                    packet_type,
                    count,
                    body,
                },
            },
            packet_type::XR => RtcpPacket::ExtendedReport(ExtendedReport::parse(body)?),
            _ => RtcpPacket::Unknown {
                packet_type,
                count,
                body,
            },
        })
    }

    /// The packet type (PT) of this packet.
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => packet_type::SR,
            RtcpPacket::ReceiverReport(_) => packet_type::RR,
            RtcpPacket::Sdes(_) => packet_type::SDES,
            RtcpPacket::Bye(_) => packet_type::BYE,
            RtcpPacket::App(_) => packet_type::APP,
            RtcpPacket::Nack(_) | RtcpPacket::TransportCc(_) => packet_type::RTPFB,
            RtcpPacket::Pli(_) | RtcpPacket::Fir(_) | RtcpPacket::Remb(_) => packet_type::PSFB,
            RtcpPacket::ExtendedReport(_) => packet_type::XR,
            RtcpPacket::Unknown { packet_type, .. } => *packet_type,
        }
    }
}

/// Iterator over the packets of a compound (or reduced-size) RTCP packet.
///
/// Yields each packet's view; on the first malformed packet it yields that
/// error and stops. Never panics, never loops: every step consumes at least
/// the 4-byte header.
#[derive(Debug, Clone)]
pub struct CompoundIter<'a> {
    rest: &'a [u8],
}

impl<'a> CompoundIter<'a> {
    /// Iterates the packets in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        CompoundIter { rest: buf }
    }

    /// Splits the next packet: returns (count, packet type, body without padding).
    fn split_next(&mut self) -> Result<(u8, u8, &'a [u8])> {
        let b = self.rest;
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated("RTCP header"));
        }
        let v = u8_at(b, 0) >> 6;
        if v != 2 {
            return Err(Error::BadVersion(v));
        }
        let len = (usize::from(u16_at(b, 2)) + 1) * 4;
        let Some(pkt) = b.get(..len) else {
            return Err(Error::Truncated("RTCP packet"));
        };
        self.rest = &b[len..];
        let mut body = &pkt[HEADER_LEN..];
        if u8_at(b, 0) & 0x20 != 0 {
            // RFC 3550 §6.4.1: the last octet counts the padding, itself included.
            let pad = usize::from(*pkt.last().unwrap_or(&0));
            if pad == 0 || pad > body.len() {
                return Err(Error::BadPadding);
            }
            body = &body[..body.len() - pad];
        }
        Ok((u8_at(b, 0) & 0x1f, u8_at(b, 1), body))
    }
}

impl<'a> Iterator for CompoundIter<'a> {
    type Item = Result<RtcpPacket<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self
            .split_next()
            .and_then(|(count, pt, body)| RtcpPacket::parse(pt, count, body));
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// Checks the compound-packet rules of RFC 3550 §6.1 and Appendix A.2:
/// every packet is well formed, the first is an SR or RR, and the first is
/// not padded when others follow.
/// With `allow_reduced_size` (RFC 5506 §3), any packet may come first.
pub fn check_compound(buf: &[u8], allow_reduced_size: bool) -> Result<()> {
    if buf.is_empty() {
        return Err(Error::Truncated("RTCP compound packet"));
    }
    let mut it = CompoundIter::new(buf);
    let mut first = true;
    while !it.rest.is_empty() {
        let padded = u8_at(it.rest, 0) & 0x20 != 0;
        let (count, pt, body) = it.split_next()?;
        RtcpPacket::parse(pt, count, body)?;
        if first && !allow_reduced_size && pt != packet_type::SR && pt != packet_type::RR {
            return Err(Error::Malformed("compound RTCP must start with SR or RR"));
        }
        if first && padded && !it.rest.is_empty() {
            return Err(Error::Malformed(
                "padding on the first of several RTCP packets",
            ));
        }
        first = false;
    }
    Ok(())
}

/// Writes the common header (`V=2`, no padding) for a packet of `total` bytes.
pub(crate) fn write_header(buf: &mut [u8], count: u8, pt: u8, total: usize) -> Result<()> {
    crate::wire::need(buf, total)?;
    if total % 4 != 0 || total < HEADER_LEN {
        return Err(Error::InvalidInput("RTCP length not a multiple of 4"));
    }
    let words =
        u16::try_from(total / 4 - 1).map_err(|_| Error::InvalidInput("RTCP packet too long"))?;
    if count > 31 {
        return Err(Error::InvalidInput("RTCP count above 31"));
    }
    buf[0] = 0x80 | count;
    buf[1] = pt;
    buf[2..4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

/// An owned RTCP packet, for building and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpRepr {
    /// Sender report.
    SenderReport(SenderReportRepr),
    /// Receiver report.
    ReceiverReport(ReceiverReportRepr),
    /// Source description.
    Sdes(SdesRepr),
    /// Goodbye.
    Bye(ByeRepr),
    /// Application-defined.
    App(AppRepr),
    /// Generic NACK.
    Nack(NackRepr),
    /// Transport-wide congestion control feedback.
    TransportCc(TransportCcRepr),
    /// Picture loss indication.
    Pli(PliRepr),
    /// Full intra request.
    Fir(FirRepr),
    /// Receiver estimated maximum bitrate.
    Remb(RembRepr),
    /// Extended report.
    ExtendedReport(XrRepr),
}

impl RtcpRepr {
    /// Converts a parsed view into its owned meaning (`None` for `Unknown`).
    pub fn parse(packet: &RtcpPacket<'_>) -> Option<Self> {
        Some(match packet {
            RtcpPacket::SenderReport(p) => RtcpRepr::SenderReport(p.to_repr()),
            RtcpPacket::ReceiverReport(p) => RtcpRepr::ReceiverReport(p.to_repr()),
            RtcpPacket::Sdes(p) => RtcpRepr::Sdes(p.to_repr()),
            RtcpPacket::Bye(p) => RtcpRepr::Bye(p.to_repr()),
            RtcpPacket::App(p) => RtcpRepr::App(p.to_repr()),
            RtcpPacket::Nack(p) => RtcpRepr::Nack(p.to_repr()),
            RtcpPacket::TransportCc(p) => RtcpRepr::TransportCc(p.to_repr()),
            RtcpPacket::Pli(p) => RtcpRepr::Pli(p.to_repr()),
            RtcpPacket::Fir(p) => RtcpRepr::Fir(p.to_repr()),
            RtcpPacket::Remb(p) => RtcpRepr::Remb(p.to_repr()),
            RtcpPacket::ExtendedReport(p) => RtcpRepr::ExtendedReport(p.to_repr()),
            RtcpPacket::Unknown { .. } => return None,
        })
    }

    /// Bytes [`RtcpRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            RtcpRepr::SenderReport(r) => r.buffer_len(),
            RtcpRepr::ReceiverReport(r) => r.buffer_len(),
            RtcpRepr::Sdes(r) => r.buffer_len(),
            RtcpRepr::Bye(r) => r.buffer_len(),
            RtcpRepr::App(r) => r.buffer_len(),
            RtcpRepr::Nack(r) => r.buffer_len(),
            RtcpRepr::TransportCc(r) => r.buffer_len(),
            RtcpRepr::Pli(r) => r.buffer_len(),
            RtcpRepr::Fir(r) => r.buffer_len(),
            RtcpRepr::Remb(r) => r.buffer_len(),
            RtcpRepr::ExtendedReport(r) => r.buffer_len(),
        }
    }

    /// Writes the packet into `buf`, returning its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            RtcpRepr::SenderReport(r) => r.emit(buf),
            RtcpRepr::ReceiverReport(r) => r.emit(buf),
            RtcpRepr::Sdes(r) => r.emit(buf),
            RtcpRepr::Bye(r) => r.emit(buf),
            RtcpRepr::App(r) => r.emit(buf),
            RtcpRepr::Nack(r) => r.emit(buf),
            RtcpRepr::TransportCc(r) => r.emit(buf),
            RtcpRepr::Pli(r) => r.emit(buf),
            RtcpRepr::Fir(r) => r.emit(buf),
            RtcpRepr::Remb(r) => r.emit(buf),
            RtcpRepr::ExtendedReport(r) => r.emit(buf),
        }
    }
}

/// Writes packets one after the other as a compound packet; returns the length.
pub fn write_compound(packets: &[RtcpRepr], buf: &mut [u8]) -> Result<usize> {
    let mut off = 0;
    for p in packets {
        let dst = buf
            .get_mut(off..)
            .ok_or(Error::BufferTooSmall { needed: off })?;
        off += p.emit(dst).map_err(|e| match e {
            Error::BufferTooSmall { needed } => Error::BufferTooSmall {
                needed: off + needed,
            },
            e => e,
        })?;
    }
    Ok(off)
}
