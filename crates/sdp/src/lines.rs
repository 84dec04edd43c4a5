//! Typed views of the non-attribute lines: `o=`, `c=`, `b=`, `t=` and `m=`
//! (RFC 8866 §5).

use core::fmt;

use crate::util::{fields, next_field, parse_u16, parse_u64, payload_types, split_once_byte, word};
use crate::SyntaxError;

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 §5.2). JSEP (RFC 9429 §5.2.1) writes `o=- <64-bit id> <version> IN IP4 127.0.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// `<username>`, `-` when there is none.
    pub username: &'a str,
    /// `<sess-id>`; RFC 9429 §5.2.1 requires it to fit in 63 bits, so a `u64` holds any valid one.
    pub session_id: u64,
    /// `<sess-version>`, incremented by JSEP on every new offer or answer that changes it.
    pub session_version: u64,
    /// `<nettype>`, `IN`.
    pub nettype: &'a str,
    /// `<addrtype>`, `IP4` or `IP6`.
    pub addrtype: &'a str,
    /// `<unicast-address>`.
    pub unicast_address: &'a str,
}

impl<'a> Origin<'a> {
    /// Parses the value of an `o=` line.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let mut it = fields(value);
        let username = next_field(&mut it, "username")?;
        let session_id = parse_u64(next_field(&mut it, "sess-id")?, "sess-id")?;
        let session_version = parse_u64(next_field(&mut it, "sess-version")?, "sess-version")?;
        let nettype = next_field(&mut it, "nettype")?;
        let addrtype = next_field(&mut it, "addrtype")?;
        let unicast_address = next_field(&mut it, "unicast-address")?;
        if it.next().is_some() {
            return Err(SyntaxError::TrailingData);
        }
        Ok(Origin {
            username,
            session_id,
            session_version,
            nettype,
            addrtype,
            unicast_address,
        })
    }
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.unicast_address
        )
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// `<nettype>`, `IN`.
    pub nettype: &'a str,
    /// `<addrtype>`, `IP4` or `IP6`.
    pub addrtype: &'a str,
    /// `<connection-address>`, possibly with `/ttl` and `/count` suffixes for multicast.
    pub address: &'a str,
}

impl<'a> Connection<'a> {
    /// The address JSEP puts in every media section (RFC 9429 §5.2.1): `IN IP4 0.0.0.0`.
    pub const JSEP_DEFAULT: Connection<'static> = Connection {
        nettype: "IN",
        addrtype: "IP4",
        address: "0.0.0.0",
    };

    /// Parses the value of a `c=` line.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let mut it = fields(value);
        let nettype = next_field(&mut it, "nettype")?;
        let addrtype = next_field(&mut it, "addrtype")?;
        let address = next_field(&mut it, "connection-address")?;
        if it.next().is_some() {
            return Err(SyntaxError::TrailingData);
        }
        Ok(Connection {
            nettype,
            addrtype,
            address,
        })
    }
}

impl fmt::Display for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.nettype, self.addrtype, self.address)
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8), e.g. `b=AS:2000` or `b=TIAS:2000000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// `<bwtype>` (`CT`, `AS`, `TIAS`, ...).
    pub bwtype: &'a str,
    /// `<bandwidth>`, in kilobits per second for `CT`/`AS`, bits per second for `TIAS`.
    pub bandwidth: u64,
}

impl<'a> Bandwidth<'a> {
    /// Parses the value of a `b=` line.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (bwtype, bw) = value
            .split_once(':')
            .ok_or(SyntaxError::MissingField("bandwidth"))?;
        Ok(Bandwidth {
            bwtype: word(bwtype, "bwtype")?,
            bandwidth: parse_u64(bw, "bandwidth")?,
        })
    }
}

impl fmt::Display for Bandwidth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bwtype, self.bandwidth)
    }
}

/// `t=<start-time> <stop-time>` (RFC 8866 §5.9); JSEP always writes `t=0 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `<start-time>` (NTP seconds; 0 for unbounded).
    pub start_time: u64,
    /// `<stop-time>` (NTP seconds; 0 for unbounded).
    pub stop_time: u64,
}

impl Timing {
    /// Parses the value of a `t=` line.
    pub fn parse(value: &str) -> Result<Self, SyntaxError> {
        let mut it = fields(value);
        let start_time = parse_u64(next_field(&mut it, "start-time")?, "start-time")?;
        let stop_time = parse_u64(next_field(&mut it, "stop-time")?, "stop-time")?;
        if it.next().is_some() {
            return Err(SyntaxError::TrailingData);
        }
        Ok(Timing {
            start_time,
            stop_time,
        })
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.start_time, self.stop_time)
    }
}

/// True for an RTP profile (`RTP/AVP`, `UDP/TLS/RTP/SAVPF`, `TCP/RTP/AVPF`,
/// ...): one `/`-separated field of `<proto>` is exactly `RTP` (RFC 8866
/// §5.14). A mangled proto such as `UDP/TLS/SCTPRTP/SAVPF` is neither RTP
/// nor SCTP.
pub fn is_rtp_proto(proto: &str) -> bool {
    proto.split('/').any(|field| field == "RTP")
}

/// True for SCTP over DTLS: `UDP/DTLS/SCTP` or `TCP/DTLS/SCTP` (RFC 8841
/// §4.1), or the legacy `DTLS/SCTP`.
pub fn is_sctp_proto(proto: &str) -> bool {
    matches!(proto, "UDP/DTLS/SCTP" | "TCP/DTLS/SCTP" | "DTLS/SCTP")
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 §5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLine<'a> {
    /// `<media>`: `audio`, `video`, `application`, ...
    pub media: &'a str,
    /// `<port>`; 0 marks a rejected or disabled section (RFC 9429 §5.2.2), 9 is
    /// the JSEP placeholder (RFC 9429 §5.2.1).
    pub port: u16,
    /// The optional `/<number of ports>`.
    pub number_of_ports: Option<u16>,
    /// `<proto>`, e.g. `UDP/TLS/RTP/SAVPF` or `UDP/DTLS/SCTP`.
    pub proto: &'a str,
    /// The `<fmt>` list as written (space separated); see [`MediaLine::formats`].
    pub format_list: &'a str,
}

impl<'a> MediaLine<'a> {
    /// Parses the value of an `m=` line. For RTP profiles every format must be a
    /// payload type in 0..=127.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (media, rest) = crate::util::split_field(value);
        let media = word(media, "media")?;
        let (port, rest) = crate::util::split_field(rest);
        let (port, number_of_ports) = match split_once_byte(port, b'/') {
            Some((p, n)) => (p, Some(parse_u16(n, "number of ports")?)),
            None => (port, None),
        };
        let port = parse_u16(port, "port")?;
        let (proto, format_list) = crate::util::split_field(rest);
        let proto = word(proto, "proto")?;
        let line = MediaLine {
            media,
            port,
            number_of_ports,
            proto,
            format_list,
        };
        if line.is_rtp() {
            for pt in payload_types(format_list) {
                pt?;
            }
        }
        Ok(line)
    }

    /// True for RTP profiles ([`is_rtp_proto`]), whose formats are payload types.
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(self.proto)
    }

    /// True for SCTP over DTLS ([`is_sctp_proto`]).
    pub fn is_sctp(&self) -> bool {
        is_sctp_proto(self.proto)
    }

    /// The `<fmt>` tokens.
    pub fn formats(&self) -> impl Iterator<Item = &'a str> {
        fields(self.format_list)
    }
}

impl fmt::Display for MediaLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.media, self.port)?;
        if let Some(n) = self.number_of_ports {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in self.formats() {
            write!(f, " {fmt}")?;
        }
        Ok(())
    }
}
