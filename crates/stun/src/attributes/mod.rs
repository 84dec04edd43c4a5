//! STUN attributes: the type registry and one typed view per attribute of
//! RFC 8489, RFC 8445 (ICE) and RFC 8656 (TURN).
//!
//! Each typed attribute implements [`Attribute`]: it decodes from the value
//! bytes of a received attribute (borrowing them where it can) and encodes
//! into the value area of a message being built.

use core::fmt;

use crate::{Error, TransactionId};

mod address;
mod auth;
mod ice;
mod text;
mod turn;

pub use address::{
    AlternateServer, MappedAddress, XorMappedAddress, XorPeerAddress, XorRelayedAddress,
};
pub use auth::{
    Fingerprint, MessageIntegrity, MessageIntegritySha256, PasswordAlgorithm, PasswordAlgorithmId,
    PasswordAlgorithms, PasswordAlgorithmsIter, Userhash,
};
pub use ice::{GoogNetworkInfo, IceControlled, IceControlling, Priority, UseCandidate};
pub use text::{
    AlternateDomain, ErrorCode, Nonce, Realm, SecurityFeatures, Software, UnknownAttributes,
    UnknownAttributesIter, Username,
};
pub use turn::{
    AdditionalAddressFamily, AddressErrorCode, AddressFamily, ChannelNumber, Data, DontFragment,
    EvenPort, Icmp, Lifetime, RequestedAddressFamily, RequestedTransport, ReservationToken,
};

/// A 16-bit attribute type (RFC 8489 §18.3 and the registries it names).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AttributeType(pub u16);

impl AttributeType {
    // RFC 8489 comprehension-required.
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    pub const MAPPED_ADDRESS: AttributeType = AttributeType(0x0001);
    /// USERNAME (RFC 8489 §14.3).
    pub const USERNAME: AttributeType = AttributeType(0x0006);
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5).
    pub const MESSAGE_INTEGRITY: AttributeType = AttributeType(0x0008);
    /// ERROR-CODE (RFC 8489 §14.8).
    pub const ERROR_CODE: AttributeType = AttributeType(0x0009);
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    pub const UNKNOWN_ATTRIBUTES: AttributeType = AttributeType(0x000A);
    /// REALM (RFC 8489 §14.9).
    pub const REALM: AttributeType = AttributeType(0x0014);
    /// NONCE (RFC 8489 §14.10).
    pub const NONCE: AttributeType = AttributeType(0x0015);
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    pub const MESSAGE_INTEGRITY_SHA256: AttributeType = AttributeType(0x001C);
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    pub const PASSWORD_ALGORITHM: AttributeType = AttributeType(0x001D);
    /// USERHASH (RFC 8489 §14.4).
    pub const USERHASH: AttributeType = AttributeType(0x001E);
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    pub const XOR_MAPPED_ADDRESS: AttributeType = AttributeType(0x0020);
    // RFC 8489 comprehension-optional.
    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    pub const PASSWORD_ALGORITHMS: AttributeType = AttributeType(0x8002);
    /// ALTERNATE-DOMAIN (RFC 8489 §14.16).
    pub const ALTERNATE_DOMAIN: AttributeType = AttributeType(0x8003);
    /// SOFTWARE (RFC 8489 §14.14).
    pub const SOFTWARE: AttributeType = AttributeType(0x8022);
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    pub const ALTERNATE_SERVER: AttributeType = AttributeType(0x8023);
    /// FINGERPRINT (RFC 8489 §14.7).
    pub const FINGERPRINT: AttributeType = AttributeType(0x8028);
    // ICE (RFC 8445 §16.1).
    /// PRIORITY (RFC 8445 §7.1.1).
    pub const PRIORITY: AttributeType = AttributeType(0x0024);
    /// USE-CANDIDATE (RFC 8445 §7.1.2).
    pub const USE_CANDIDATE: AttributeType = AttributeType(0x0025);
    /// ICE-CONTROLLED (RFC 8445 §7.1.3).
    pub const ICE_CONTROLLED: AttributeType = AttributeType(0x8029);
    /// ICE-CONTROLLING (RFC 8445 §7.1.3).
    pub const ICE_CONTROLLING: AttributeType = AttributeType(0x802A);
    // TURN (RFC 8656 §18).
    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    pub const CHANNEL_NUMBER: AttributeType = AttributeType(0x000C);
    /// LIFETIME (RFC 8656 §18.2).
    pub const LIFETIME: AttributeType = AttributeType(0x000D);
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3).
    pub const XOR_PEER_ADDRESS: AttributeType = AttributeType(0x0012);
    /// DATA (RFC 8656 §18.4).
    pub const DATA: AttributeType = AttributeType(0x0013);
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5).
    pub const XOR_RELAYED_ADDRESS: AttributeType = AttributeType(0x0016);
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6).
    pub const REQUESTED_ADDRESS_FAMILY: AttributeType = AttributeType(0x0017);
    /// EVEN-PORT (RFC 8656 §18.7).
    pub const EVEN_PORT: AttributeType = AttributeType(0x0018);
    /// REQUESTED-TRANSPORT (RFC 8656 §18.8).
    pub const REQUESTED_TRANSPORT: AttributeType = AttributeType(0x0019);
    /// DONT-FRAGMENT (RFC 8656 §18.9).
    pub const DONT_FRAGMENT: AttributeType = AttributeType(0x001A);
    /// RESERVATION-TOKEN (RFC 8656 §18.10).
    pub const RESERVATION_TOKEN: AttributeType = AttributeType(0x0022);
    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11).
    pub const ADDITIONAL_ADDRESS_FAMILY: AttributeType = AttributeType(0x8000);
    /// ADDRESS-ERROR-CODE (RFC 8656 §18.12).
    pub const ADDRESS_ERROR_CODE: AttributeType = AttributeType(0x8001);
    /// ICMP (RFC 8656 §18.13).
    pub const ICMP: AttributeType = AttributeType(0x8004);
    // Vendor attributes browsers send (comprehension-optional).
    /// GOOG-NETWORK-INFO (Chromium: network id and cost).
    pub const GOOG_NETWORK_INFO: AttributeType = AttributeType(0xC057);
    /// GOOG-LAST-ICE-CHECK-RECEIVED (Chromium).
    pub const GOOG_LAST_ICE_CHECK_RECEIVED: AttributeType = AttributeType(0xC058);
    /// GOOG-MISC-INFO (Chromium).
    pub const GOOG_MISC_INFO: AttributeType = AttributeType(0xC059);

    /// Comprehension-required types are 0x0000..=0x7FFF (RFC 8489 §14): an
    /// agent that does not understand one must reject the message.
    pub const fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// True if this crate has a typed view for the attribute (every attribute
    /// of RFC 8489, RFC 8445 and RFC 8656 plus GOOG-NETWORK-INFO).
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// The RFC name of a known attribute type.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0001 => "MAPPED-ADDRESS",
            0x0006 => "USERNAME",
            0x0008 => "MESSAGE-INTEGRITY",
            0x0009 => "ERROR-CODE",
            0x000A => "UNKNOWN-ATTRIBUTES",
            0x000C => "CHANNEL-NUMBER",
            0x000D => "LIFETIME",
            0x0012 => "XOR-PEER-ADDRESS",
            0x0013 => "DATA",
            0x0014 => "REALM",
            0x0015 => "NONCE",
            0x0016 => "XOR-RELAYED-ADDRESS",
            0x0017 => "REQUESTED-ADDRESS-FAMILY",
            0x0018 => "EVEN-PORT",
            0x0019 => "REQUESTED-TRANSPORT",
            0x001A => "DONT-FRAGMENT",
            0x001C => "MESSAGE-INTEGRITY-SHA256",
            0x001D => "PASSWORD-ALGORITHM",
            0x001E => "USERHASH",
            0x0020 => "XOR-MAPPED-ADDRESS",
            0x0022 => "RESERVATION-TOKEN",
            0x0024 => "PRIORITY",
            0x0025 => "USE-CANDIDATE",
            0x8000 => "ADDITIONAL-ADDRESS-FAMILY",
            0x8001 => "ADDRESS-ERROR-CODE",
            0x8002 => "PASSWORD-ALGORITHMS",
            0x8003 => "ALTERNATE-DOMAIN",
            0x8004 => "ICMP",
            0x8022 => "SOFTWARE",
            0x8023 => "ALTERNATE-SERVER",
            0x8028 => "FINGERPRINT",
            0x8029 => "ICE-CONTROLLED",
            0x802A => "ICE-CONTROLLING",
            0xC057 => "GOOG-NETWORK-INFO",
            _ => return None,
        })
    }
}

impl fmt::Debug for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

/// A typed STUN attribute: decoded from a received value and encoded into a
/// message being built. `'a` is the lifetime of the bytes it borrows.
pub trait Attribute<'a>: Sized {
    /// The attribute type number.
    const TYPE: AttributeType;

    /// Decode from the attribute value (without header or padding). The
    /// transaction ID is needed by the XOR-encoded addresses.
    fn decode(value: &'a [u8], transaction_id: &TransactionId) -> Result<Self, Error>;

    /// Length of the encoded value in bytes (without header or padding).
    fn value_len(&self) -> usize;

    /// Encode the value into `out`, which is exactly [`Attribute::value_len`] bytes long.
    fn encode(&self, out: &mut [u8], transaction_id: &TransactionId) -> Result<(), Error>;
}

/// An attribute as found in a message: its type and its raw value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The attribute type.
    pub attribute_type: AttributeType,
    /// The value, without padding.
    pub value: &'a [u8],
}

/// A malformed-attribute error for `A`.
pub(crate) fn invalid(attribute: AttributeType, reason: &'static str) -> Error {
    Error::InvalidAttribute { attribute, reason }
}

/// Read a fixed-size array from a value of exactly that length.
pub(crate) fn exact<const N: usize>(
    attribute: AttributeType,
    value: &[u8],
) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(value).map_err(|_| invalid(attribute, "wrong length"))
}

/// Copy `src` into `out` when the lengths agree (they always do when called
/// through the builder).
pub(crate) fn put(out: &mut [u8], src: &[u8]) -> Result<(), Error> {
    if out.len() != src.len() {
        return Err(Error::InvalidValue("encoded length mismatch"));
    }
    out.copy_from_slice(src);
    Ok(())
}
