//! TURN attributes (RFC 8656 §18).

use core::time::Duration;

use super::text::{decode_error_code, encode_error_code};
use super::{exact, invalid, put, Attribute, AttributeType};
use crate::{Error, TransactionId};

/// CHANNEL-NUMBER: a channel number 0x4000..=0x4FFF and 16 RFFU bits (RFC 8656 §18.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelNumber(pub u16);

impl<'a> Attribute<'a> for ChannelNumber {
    const TYPE: AttributeType = AttributeType::CHANNEL_NUMBER;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let v: [u8; 4] = exact(Self::TYPE, value)?;
        Ok(ChannelNumber(u16::from_be_bytes([v[0], v[1]])))
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        let n = self.0.to_be_bytes();
        put(out, &[n[0], n[1], 0, 0])
    }
}

/// LIFETIME: seconds until the allocation expires (RFC 8656 §18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifetime(pub u32);

impl Lifetime {
    /// The lifetime as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

impl<'a> Attribute<'a> for Lifetime {
    const TYPE: AttributeType = AttributeType::LIFETIME;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        Ok(Lifetime(u32::from_be_bytes(exact(Self::TYPE, value)?)))
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &self.0.to_be_bytes())
    }
}

/// DATA: application data relayed in Send and Data indications (RFC 8656 §18.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Data<'a>(pub &'a [u8]);

impl<'a> Attribute<'a> for Data<'a> {
    const TYPE: AttributeType = AttributeType::DATA;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        Ok(Data(value))
    }
    fn value_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, self.0)
    }
}

/// An address family as carried by TURN's family attributes (RFC 8656 §18.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4 (0x01).
    Ipv4,
    /// IPv6 (0x02).
    Ipv6,
}

impl AddressFamily {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            AddressFamily::Ipv4 => 1,
            AddressFamily::Ipv6 => 2,
        }
    }

    /// From a wire value.
    pub const fn from_u8(v: u8) -> Option<AddressFamily> {
        match v {
            1 => Some(AddressFamily::Ipv4),
            2 => Some(AddressFamily::Ipv6),
            _ => None,
        }
    }
}

fn decode_family(ty: AttributeType, v: &[u8]) -> Result<AddressFamily, Error> {
    let v: [u8; 4] = exact(ty, v)?;
    AddressFamily::from_u8(v[0]).ok_or(invalid(ty, "unknown address family"))
}

/// REQUESTED-ADDRESS-FAMILY: the family of the relayed address asked for (RFC 8656 §18.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestedAddressFamily(pub AddressFamily);

impl<'a> Attribute<'a> for RequestedAddressFamily {
    const TYPE: AttributeType = AttributeType::REQUESTED_ADDRESS_FAMILY;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        decode_family(Self::TYPE, value).map(RequestedAddressFamily)
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &[self.0.to_u8(), 0, 0, 0])
    }
}

/// ADDITIONAL-ADDRESS-FAMILY: ask for a second (IPv6) relayed address (RFC 8656 §18.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdditionalAddressFamily(pub AddressFamily);

impl<'a> Attribute<'a> for AdditionalAddressFamily {
    const TYPE: AttributeType = AttributeType::ADDITIONAL_ADDRESS_FAMILY;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        decode_family(Self::TYPE, value).map(AdditionalAddressFamily)
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &[self.0.to_u8(), 0, 0, 0])
    }
}

/// EVEN-PORT: ask for an even relayed port, and with `reserve` the next one
/// too (the R bit; RFC 8656 §18.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EvenPort {
    /// The R bit: reserve the next-higher port.
    pub reserve: bool,
}

impl<'a> Attribute<'a> for EvenPort {
    const TYPE: AttributeType = AttributeType::EVEN_PORT;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let [b]: [u8; 1] = exact(Self::TYPE, value)?;
        Ok(EvenPort {
            reserve: b & 0x80 != 0,
        })
    }
    fn value_len(&self) -> usize {
        1
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &[if self.reserve { 0x80 } else { 0 }])
    }
}

/// REQUESTED-TRANSPORT: the IP protocol of the allocation, 17 for UDP (RFC 8656 §18.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestedTransport(pub u8);

impl RequestedTransport {
    /// UDP (protocol 17).
    pub const UDP: RequestedTransport = RequestedTransport(17);
    /// TCP (protocol 6, RFC 6062).
    pub const TCP: RequestedTransport = RequestedTransport(6);
}

impl<'a> Attribute<'a> for RequestedTransport {
    const TYPE: AttributeType = AttributeType::REQUESTED_TRANSPORT;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let v: [u8; 4] = exact(Self::TYPE, value)?;
        Ok(RequestedTransport(v[0]))
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &[self.0, 0, 0, 0])
    }
}

/// DONT-FRAGMENT: set the DF bit on relayed packets (RFC 8656 §18.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DontFragment;

impl<'a> Attribute<'a> for DontFragment {
    const TYPE: AttributeType = AttributeType::DONT_FRAGMENT;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        if value.is_empty() {
            Ok(DontFragment)
        } else {
            Err(invalid(Self::TYPE, "must be empty"))
        }
    }
    fn value_len(&self) -> usize {
        0
    }
    fn encode(&self, _: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        Ok(())
    }
}

/// RESERVATION-TOKEN: an 8-byte token naming a reserved relayed port (RFC 8656 §18.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservationToken(pub [u8; 8]);

impl<'a> Attribute<'a> for ReservationToken {
    const TYPE: AttributeType = AttributeType::RESERVATION_TOKEN;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        exact(Self::TYPE, value).map(ReservationToken)
    }
    fn value_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &self.0)
    }
}

/// ADDRESS-ERROR-CODE: why one family of a dual allocation failed (RFC 8656 §18.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressErrorCode<'a> {
    /// The family that failed.
    pub family: AddressFamily,
    /// The error code, 300..=699.
    pub code: u16,
    /// The reason phrase.
    pub reason: &'a str,
}

impl<'a> Attribute<'a> for AddressErrorCode<'a> {
    const TYPE: AttributeType = AttributeType::ADDRESS_ERROR_CODE;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let (code, reason) = decode_error_code(Self::TYPE, value)?;
        let family = AddressFamily::from_u8(value[0])
            .ok_or(invalid(Self::TYPE, "unknown address family"))?;
        Ok(AddressErrorCode {
            family,
            code,
            reason,
        })
    }
    fn value_len(&self) -> usize {
        4 + self.reason.len()
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        encode_error_code(self.code, self.reason, out)?;
        out[0] = self.family.to_u8();
        Ok(())
    }
}

/// ICMP: an ICMP error the relay received for the peer (RFC 8656 §18.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmp {
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// Error data (e.g. the MTU for "fragmentation needed").
    pub error_data: u32,
}

impl<'a> Attribute<'a> for Icmp {
    const TYPE: AttributeType = AttributeType::ICMP;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let v: [u8; 8] = exact(Self::TYPE, value)?;
        Ok(Icmp {
            icmp_type: v[2],
            code: v[3],
            error_data: u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
        })
    }
    fn value_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        let d = self.error_data.to_be_bytes();
        put(
            out,
            &[0, 0, self.icmp_type, self.code, d[0], d[1], d[2], d[3]],
        )
    }
}
