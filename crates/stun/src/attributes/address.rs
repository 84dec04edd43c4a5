//! Address attributes: MAPPED-ADDRESS, XOR-MAPPED-ADDRESS (RFC 8489 §14.1,
//! §14.2), ALTERNATE-SERVER (§14.15), XOR-PEER-ADDRESS and
//! XOR-RELAYED-ADDRESS (RFC 8656 §18.3, §18.5).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{invalid, Attribute, AttributeType};
use crate::{Error, TransactionId, MAGIC_COOKIE};

const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// Decode the family/port/address layout, XORed with the cookie and
/// transaction ID when `xor` is set (RFC 8489 §14.2).
fn decode_addr(
    ty: AttributeType,
    v: &[u8],
    tid: &TransactionId,
    xor: bool,
) -> Result<SocketAddr, Error> {
    if v.len() < 4 {
        return Err(invalid(ty, "shorter than 4 bytes"));
    }
    let family = v[1];
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(&tid.0);
    if xor {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match family {
        FAMILY_IPV4 => {
            let mut a: [u8; 4] = v[4..]
                .try_into()
                .map_err(|_| invalid(ty, "IPv4 address must be 4 bytes"))?;
            if xor {
                a.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        FAMILY_IPV6 => {
            let mut a: [u8; 16] = v[4..]
                .try_into()
                .map_err(|_| invalid(ty, "IPv6 address must be 16 bytes"))?;
            if xor {
                a.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return Err(invalid(ty, "unknown address family")),
    };
    Ok(SocketAddr::new(ip, port))
}

fn addr_len(a: &SocketAddr) -> usize {
    match a {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

fn encode_addr(
    a: &SocketAddr,
    out: &mut [u8],
    tid: &TransactionId,
    xor: bool,
) -> Result<(), Error> {
    if out.len() != addr_len(a) {
        return Err(Error::InvalidValue("encoded length mismatch"));
    }
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(&tid.0);
    let mut port = a.port();
    if xor {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    out[0] = 0;
    out[2..4].copy_from_slice(&port.to_be_bytes());
    match a.ip() {
        IpAddr::V4(ip) => {
            out[1] = FAMILY_IPV4;
            out[4..8].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out[1] = FAMILY_IPV6;
            out[4..20].copy_from_slice(&ip.octets());
        }
    }
    if xor {
        out[4..].iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
    }
    Ok(())
}

macro_rules! address_attribute {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $xor:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub SocketAddr);

        impl<'a> Attribute<'a> for $name {
            const TYPE: AttributeType = AttributeType::$ty;
            fn decode(value: &'a [u8], tid: &TransactionId) -> Result<Self, Error> {
                decode_addr(Self::TYPE, value, tid, $xor).map($name)
            }
            fn value_len(&self) -> usize {
                addr_len(&self.0)
            }
            fn encode(&self, out: &mut [u8], tid: &TransactionId) -> Result<(), Error> {
                encode_addr(&self.0, out, tid, $xor)
            }
        }

        impl From<SocketAddr> for $name {
            fn from(a: SocketAddr) -> Self {
                $name(a)
            }
        }
    };
}

address_attribute!(
    /// MAPPED-ADDRESS: the reflexive address, in clear (RFC 8489 §14.1; legacy).
    MappedAddress, MAPPED_ADDRESS, false
);
address_attribute!(
    /// XOR-MAPPED-ADDRESS: the reflexive transport address, XOR-obfuscated (RFC 8489 §14.2).
    XorMappedAddress, XOR_MAPPED_ADDRESS, true
);
address_attribute!(
    /// ALTERNATE-SERVER: another server the client should try (RFC 8489 §14.15).
    AlternateServer, ALTERNATE_SERVER, false
);
address_attribute!(
    /// XOR-PEER-ADDRESS: a peer's address as seen from the TURN server (RFC 8656 §18.3).
    XorPeerAddress, XOR_PEER_ADDRESS, true
);
address_attribute!(
    /// XOR-RELAYED-ADDRESS: the relayed transport address of an allocation (RFC 8656 §18.5).
    XorRelayedAddress, XOR_RELAYED_ADDRESS, true
);
