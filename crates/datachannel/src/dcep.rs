//! The Data Channel Establishment Protocol messages (RFC 8832 §5).

use crate::Error;

/// DATA_CHANNEL_ACK message type.
pub const MESSAGE_TYPE_ACK: u8 = 0x02;
/// DATA_CHANNEL_OPEN message type.
pub const MESSAGE_TYPE_OPEN: u8 = 0x03;

/// Channel Type field of DATA_CHANNEL_OPEN (RFC 8832 §5.1).
pub mod channel_type {
    /// Reliable, ordered.
    pub const RELIABLE: u8 = 0x00;
    /// Reliable, unordered.
    pub const RELIABLE_UNORDERED: u8 = 0x80;
    /// Partially reliable by retransmissions, ordered.
    pub const PARTIAL_RELIABLE_REXMIT: u8 = 0x01;
    /// Partially reliable by retransmissions, unordered.
    pub const PARTIAL_RELIABLE_REXMIT_UNORDERED: u8 = 0x81;
    /// Partially reliable by lifetime, ordered.
    pub const PARTIAL_RELIABLE_TIMED: u8 = 0x02;
    /// Partially reliable by lifetime, unordered.
    pub const PARTIAL_RELIABLE_TIMED_UNORDERED: u8 = 0x82;
}

/// How reliably a channel delivers (RFC 8831 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Every message arrives.
    #[default]
    Reliable,
    /// A message is abandoned after this many retransmissions.
    MaxRetransmits(u32),
    /// A message is abandoned after this many milliseconds.
    MaxLifetimeMs(u32),
}

/// DATA_CHANNEL_OPEN (RFC 8832 §5.1), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open<'a> {
    /// Whether messages are delivered in order.
    pub ordered: bool,
    /// Reliability.
    pub reliability: Reliability,
    /// Priority (RFC 8832 §5.1: higher is more important).
    pub priority: u16,
    /// Label (UTF-8 in practice; kept as bytes).
    pub label: &'a [u8],
    /// Sub-protocol.
    pub protocol: &'a [u8],
}

impl Open<'_> {
    /// The Channel Type byte.
    pub fn channel_type(&self) -> u8 {
        let base = match self.reliability {
            Reliability::Reliable => channel_type::RELIABLE,
            Reliability::MaxRetransmits(_) => channel_type::PARTIAL_RELIABLE_REXMIT,
            Reliability::MaxLifetimeMs(_) => channel_type::PARTIAL_RELIABLE_TIMED,
        };
        if self.ordered {
            base
        } else {
            base | 0x80
        }
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        12 + self.label.len() + self.protocol.len()
    }
}

/// A DCEP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DcepMessage<'a> {
    /// DATA_CHANNEL_OPEN.
    Open(Open<'a>),
    /// DATA_CHANNEL_ACK.
    Ack,
}

impl<'a> DcepMessage<'a> {
    /// Parses a DCEP message (the payload of a PPID 50 SCTP message).
    pub fn parse(b: &'a [u8]) -> Result<Self, Error> {
        match b.first() {
            Some(&MESSAGE_TYPE_ACK) => Ok(DcepMessage::Ack),
            Some(&MESSAGE_TYPE_OPEN) => {
                if b.len() < 12 {
                    return Err(Error::Malformed("DATA_CHANNEL_OPEN shorter than 12 bytes"));
                }
                let ct = b[1];
                let priority = u16::from_be_bytes([b[2], b[3]]);
                let param = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let label_len = usize::from(u16::from_be_bytes([b[8], b[9]]));
                let proto_len = usize::from(u16::from_be_bytes([b[10], b[11]]));
                if b.len() < 12 + label_len + proto_len {
                    return Err(Error::Malformed(
                        "DATA_CHANNEL_OPEN label or protocol past the end",
                    ));
                }
                let reliability = match ct & 0x7F {
                    0x00 => Reliability::Reliable,
                    0x01 => Reliability::MaxRetransmits(param),
                    0x02 => Reliability::MaxLifetimeMs(param),
                    _ => return Err(Error::Malformed("unknown channel type")),
                };
                Ok(DcepMessage::Open(Open {
                    ordered: ct & 0x80 == 0,
                    reliability,
                    priority,
                    label: &b[12..12 + label_len],
                    protocol: &b[12 + label_len..12 + label_len + proto_len],
                }))
            }
            Some(_) => Err(Error::Malformed("unknown DCEP message type")),
            None => Err(Error::Malformed("empty DCEP message")),
        }
    }

    /// Appends the encoded message. Labels and protocols longer than 65535
    /// bytes are refused.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DcepMessage::Ack => out.push(MESSAGE_TYPE_ACK),
            DcepMessage::Open(o) => {
                let ll = u16::try_from(o.label.len()).map_err(|_| Error::LabelTooLong)?;
                let pl = u16::try_from(o.protocol.len()).map_err(|_| Error::LabelTooLong)?;
                let param = match o.reliability {
                    Reliability::Reliable => 0,
                    Reliability::MaxRetransmits(n) | Reliability::MaxLifetimeMs(n) => n,
                };
                out.push(MESSAGE_TYPE_OPEN);
                out.push(o.channel_type());
                out.extend_from_slice(&o.priority.to_be_bytes());
                out.extend_from_slice(&param.to_be_bytes());
                out.extend_from_slice(&ll.to_be_bytes());
                out.extend_from_slice(&pl.to_be_bytes());
                out.extend_from_slice(o.label);
                out.extend_from_slice(o.protocol);
            }
        }
        Ok(())
    }
}
