//! ICE server URLs as `RTCIceServer.urls` gives them: `stun:` and `stuns:`
//! (RFC 7064 §3.1), `turn:` and `turns:` (RFC 7065 §3.1). Parsing only: a
//! host name is kept as written, for the caller to resolve.

use std::fmt;
use std::net::IpAddr;

use crate::Error;

/// The scheme of an ICE server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlScheme {
    /// `stun:` (RFC 7064).
    Stun,
    /// `stuns:`: STUN over TLS (RFC 7064).
    Stuns,
    /// `turn:` (RFC 7065).
    Turn,
    /// `turns:`: TURN over TLS, or DTLS with `transport=udp` (RFC 7065).
    Turns,
}

impl UrlScheme {
    /// True for the secure schemes (`stuns:`, `turns:`).
    pub const fn is_secure(self) -> bool {
        matches!(self, UrlScheme::Stuns | UrlScheme::Turns)
    }

    /// True for `turn:` and `turns:`.
    pub const fn is_turn(self) -> bool {
        matches!(self, UrlScheme::Turn | UrlScheme::Turns)
    }

    /// The default port: 3478, or 5349 for the secure schemes.
    pub const fn default_port(self) -> u16 {
        if self.is_secure() {
            5349
        } else {
            3478
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            UrlScheme::Stun => "stun",
            UrlScheme::Stuns => "stuns",
            UrlScheme::Turn => "turn",
            UrlScheme::Turns => "turns",
        }
    }
}

/// The transport a URL names: UDP, or TCP (under TLS for the secure
/// schemes, so `turns:` with UDP is DTLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlTransport {
    /// UDP (DTLS for `turns:`).
    Udp,
    /// TCP (TLS for `stuns:` and `turns:`).
    Tcp,
}

/// A parsed ICE server URL.
///
/// ```
/// use fulmar_turn::{IceServerUrl, UrlScheme, UrlTransport};
/// let u = IceServerUrl::parse("turn:[2001:db8::1]:3479?transport=tcp")?;
/// assert_eq!((u.scheme, u.port, u.transport), (UrlScheme::Turn, 3479, UrlTransport::Tcp));
/// assert_eq!(u.ip(), Some(std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])));
/// let u = IceServerUrl::parse("turns:turn.example.org")?;
/// assert_eq!((u.host.as_str(), u.port, u.transport), ("turn.example.org", 5349, UrlTransport::Tcp));
/// # Ok::<(), fulmar_turn::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IceServerUrl {
    /// `stun`, `stuns`, `turn` or `turns`.
    pub scheme: UrlScheme,
    /// The host: an IP address (an IPv6 one without its brackets) or a name.
    pub host: String,
    /// The port, or the scheme's default.
    pub port: u16,
    /// The transport: `?transport=` for TURN (default UDP for `turn:`, TCP
    /// for `turns:`); UDP for `stun:` and TCP for `stuns:`, which take no
    /// query.
    pub transport: UrlTransport,
}

impl IceServerUrl {
    /// Parses `scheme:host[:port][?transport=udp|tcp]` (the query for TURN
    /// only). Scheme and transport names are case-insensitive.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let (scheme, rest) = url.split_once(':').ok_or(Error::InvalidUrl("no scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => UrlScheme::Stun,
            "stuns" => UrlScheme::Stuns,
            "turn" => UrlScheme::Turn,
            "turns" => UrlScheme::Turns,
            _ => {
                return Err(Error::InvalidUrl(
                    "scheme is not stun, stuns, turn or turns",
                ))
            }
        };
        let (hostport, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let transport = match (
            scheme.is_turn(),
            query.map(str::to_ascii_lowercase).as_deref(),
        ) {
            // RFC 7065 §3: `turns:` without a query is TLS over TCP.
            (_, None) if scheme.is_secure() => UrlTransport::Tcp,
            (_, None) => UrlTransport::Udp,
            (true, Some("transport=udp")) => UrlTransport::Udp,
            (true, Some("transport=tcp")) => UrlTransport::Tcp,
            (true, Some(_)) => return Err(Error::InvalidUrl("transport must be udp or tcp")),
            (false, Some(_)) => return Err(Error::InvalidUrl("stun: URLs take no query")),
        };
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or(Error::InvalidUrl("unclosed ["))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(Error::InvalidUrl("not an IPv6 address in brackets"));
            }
            match p {
                "" => (h, None),
                p => (
                    h,
                    Some(p.strip_prefix(':').ok_or(Error::InvalidUrl("bad port"))?),
                ),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let valid_name = |h: &str| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b))
        };
        if host.is_empty() || host.len() > 253 || !(host.contains(':') || valid_name(host)) {
            return Err(Error::InvalidUrl("bad host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| Error::InvalidUrl("bad port"))?,
            None => scheme.default_port(),
        };
        Ok(IceServerUrl {
            scheme,
            host: host.to_owned(),
            port,
            transport,
        })
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for IceServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme.as_str())?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        write!(f, ":{}", self.port)?;
        if self.scheme.is_turn() {
            let t = match self.transport {
                UrlTransport::Udp => "udp",
                UrlTransport::Tcp => "tcp",
            };
            write!(f, "?transport={t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_every_scheme() {
        let u = IceServerUrl::parse("stun:127.0.0.1").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.transport),
            (UrlScheme::Stun, 3478, UrlTransport::Udp)
        );
        let u = IceServerUrl::parse("stuns:[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5349));
        assert_eq!(u.transport, UrlTransport::Tcp);
        let u = IceServerUrl::parse("TURN:localhost:3479?Transport=TCP").unwrap();
        assert_eq!(
            (u.scheme, u.transport),
            (UrlScheme::Turn, UrlTransport::Tcp)
        );
        assert_eq!((u.host.as_str(), u.port), ("localhost", 3479));
        assert_eq!(u.ip(), None);
        let u = IceServerUrl::parse("turns:127.0.0.1").unwrap();
        assert_eq!((u.transport, u.port), (UrlTransport::Tcp, 5349));
        let u = IceServerUrl::parse("turns:127.0.0.1?transport=udp").unwrap();
        assert_eq!(
            (u.scheme, u.transport),
            (UrlScheme::Turns, UrlTransport::Udp)
        );
        for bad in [
            "",
            "http://x",
            "stun:",
            "stun:127.0.0.1?transport=udp",
            "turn:127.0.0.1?transport=sctp",
            "turn:127.0.0.1?transport=tcp&x=1",
            "turn:127.0.0.1:99999",
            "turn::3478",
            "turn:[::1",
            "turn:[::1]x",
            "turn:[nothex]",
            "turn:a b",
            "turn:host:port",
        ] {
            assert!(IceServerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "stun:127.0.0.1:3478",
            "stuns:example.org:5349",
            "turn:[2001:db8::1]:3479?transport=udp",
            "turns:example.org:443?transport=tcp",
        ] {
            let u = IceServerUrl::parse(s).unwrap();
            assert_eq!(u.to_string(), s);
            assert_eq!(IceServerUrl::parse(&u.to_string()).unwrap(), u);
        }
    }
}
