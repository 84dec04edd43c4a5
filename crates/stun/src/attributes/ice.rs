//! ICE attributes (RFC 8445 §7.1, §16.1) and Chromium's GOOG-NETWORK-INFO.

use super::{exact, invalid, put, Attribute, AttributeType};
use crate::{Error, TransactionId};

/// PRIORITY: the priority a peer-reflexive candidate learned from this check
/// would get (RFC 8445 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Priority(pub u32);

impl<'a> Attribute<'a> for Priority {
    const TYPE: AttributeType = AttributeType::PRIORITY;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        Ok(Priority(u32::from_be_bytes(exact(Self::TYPE, value)?)))
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &self.0.to_be_bytes())
    }
}

/// USE-CANDIDATE: the controlling agent nominates this pair (RFC 8445 §7.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UseCandidate;

impl<'a> Attribute<'a> for UseCandidate {
    const TYPE: AttributeType = AttributeType::USE_CANDIDATE;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        if value.is_empty() {
            Ok(UseCandidate)
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

/// ICE-CONTROLLED: the sender is in the controlled role; the value is its
/// tie-breaker (RFC 8445 §7.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IceControlled(pub u64);

impl<'a> Attribute<'a> for IceControlled {
    const TYPE: AttributeType = AttributeType::ICE_CONTROLLED;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        Ok(IceControlled(u64::from_be_bytes(exact(Self::TYPE, value)?)))
    }
    fn value_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &self.0.to_be_bytes())
    }
}

/// ICE-CONTROLLING: the sender is in the controlling role; the value is its
/// tie-breaker (RFC 8445 §7.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IceControlling(pub u64);

impl<'a> Attribute<'a> for IceControlling {
    const TYPE: AttributeType = AttributeType::ICE_CONTROLLING;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        Ok(IceControlling(u64::from_be_bytes(exact(
            Self::TYPE,
            value,
        )?)))
    }
    fn value_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        put(out, &self.0.to_be_bytes())
    }
}

/// GOOG-NETWORK-INFO (0xC057, comprehension-optional): Chromium's network id
/// and network cost, sent on its connectivity checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GoogNetworkInfo {
    /// The network id.
    pub network_id: u16,
    /// The network cost (e.g. 10 for Ethernet, 999 for cellular).
    pub network_cost: u16,
}

impl<'a> Attribute<'a> for GoogNetworkInfo {
    const TYPE: AttributeType = AttributeType::GOOG_NETWORK_INFO;
    fn decode(value: &'a [u8], _: &TransactionId) -> Result<Self, Error> {
        let v: [u8; 4] = exact(Self::TYPE, value)?;
        Ok(GoogNetworkInfo {
            network_id: u16::from_be_bytes([v[0], v[1]]),
            network_cost: u16::from_be_bytes([v[2], v[3]]),
        })
    }
    fn value_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _: &TransactionId) -> Result<(), Error> {
        let mut v = [0u8; 4];
        v[..2].copy_from_slice(&self.network_id.to_be_bytes());
        v[2..].copy_from_slice(&self.network_cost.to_be_bytes());
        put(out, &v)
    }
}
