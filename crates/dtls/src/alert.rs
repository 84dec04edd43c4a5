//! Alert protocol (RFC 5246 §7.2).

use crate::error::{Error, Result};

/// Alert level (RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    /// warning(1)
    Warning,
    /// fatal(2)
    Fatal,
}

macro_rules! alert_descriptions {
    ($($name:ident = $v:expr),* $(,)?) => {
        /// Alert description (RFC 5246 §7.2, RFC 8446 §6).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum AlertDescription {
            $(#[doc = concat!(stringify!($name), " (", stringify!($v), ")")] $name,)*
            /// A value this implementation does not know.
            Unknown(u8),
        }
        impl AlertDescription {
            /// The wire value.
            pub fn to_u8(self) -> u8 {
                match self { $(AlertDescription::$name => $v,)* AlertDescription::Unknown(v) => v }
            }
            /// From the wire value.
            pub fn from_u8(v: u8) -> Self {
                match v { $($v => AlertDescription::$name,)* v => AlertDescription::Unknown(v) }
            }
        }
    };
}

alert_descriptions! {
    CloseNotify = 0,
    UnexpectedMessage = 10,
    BadRecordMac = 20,
    RecordOverflow = 22,
    HandshakeFailure = 40,
    BadCertificate = 42,
    UnsupportedCertificate = 43,
    CertificateExpired = 45,
    CertificateUnknown = 46,
    IllegalParameter = 47,
    DecodeError = 50,
    DecryptError = 51,
    ProtocolVersion = 70,
    InsufficientSecurity = 71,
    InternalError = 80,
    InappropriateFallback = 86,
    UserCanceled = 90,
    NoRenegotiation = 100,
    UnsupportedExtension = 110,
}

/// A two-byte alert message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// Warning or fatal.
    pub level: AlertLevel,
    /// What happened.
    pub description: AlertDescription,
}

impl Alert {
    /// Parses an alert record's fragment.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        match buf {
            [l, d] => {
                let level = match l {
                    1 => AlertLevel::Warning,
                    2 => AlertLevel::Fatal,
                    _ => return Err(Error::Malformed("alert level")),
                };
                Ok(Alert {
                    level,
                    description: AlertDescription::from_u8(*d),
                })
            }
            _ => Err(Error::Malformed("alert")),
        }
    }

    /// The two wire bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        let l = match self.level {
            AlertLevel::Warning => 1,
            AlertLevel::Fatal => 2,
        };
        [l, self.description.to_u8()]
    }
}
