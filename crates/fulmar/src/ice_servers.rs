//! ICE servers given the way the web gives them (W3C `RTCIceServer`):
//! `stun:`, `turn:` and `turns:` URLs (RFC 7064, RFC 7065) with optional
//! credentials, resolved by the driver when a connection starts.
//!
//! A STUN server's addresses (the first of each family a name resolves to)
//! go to the core's [`fulmar_peer::Config::stun_servers`]: ICE sends a
//! Binding request from every host candidate of the same family and
//! trickles each server-reflexive candidate as its answer comes; redundant
//! ones (the same address from the same base, RFC 8445 §5.1.3) are dropped.
//! A STUN server that never answers ends its transaction after 7
//! transmissions (RTO 500 ms doubling to 2 s: about 11.5 s), so gathering
//! always completes. A TURN URL becomes a [`TurnServer`] as with
//! [`crate::turn_server_from_url`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fulmar_peer::TurnServer;
use fulmar_turn::{IceServerUrl, UrlScheme};

use crate::relay::turn_server_for;
use crate::{Config, Error, TurnConfigError};

/// Bound of resolving one ICE server's host name.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most URLs taken from the whole list (as a browser bounds them).
pub const MAX_ICE_SERVER_URLS: usize = 32;

/// An ICE server as `RTCIceServer` gives it: one or more URLs of the same
/// server, and the long-term credentials its `turn:`/`turns:` URLs need.
///
/// ```
/// use fulmar::{Config, IceServer};
/// let config = Config::default().with_ice_servers(vec![
///     IceServer::new(["stun:127.0.0.1:3478"]),
///     IceServer::new(["turn:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=tcp"])
///         .with_credentials("user", "secret"),
/// ]);
/// assert_eq!(config.ice_servers.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IceServer {
    /// `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` or
    /// `turns:host[:port]`; a host is an IP address or a name.
    pub urls: Vec<String>,
    /// The TURN user name (`turn:`/`turns:` need it).
    pub username: Option<String>,
    /// The TURN password.
    pub credential: Option<String>,
}

impl IceServer {
    /// A server reached by `urls`, without credentials.
    pub fn new<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> Self {
        IceServer {
            urls: urls.into_iter().map(Into::into).collect(),
            username: None,
            credential: None,
        }
    }

    /// The same, with TURN credentials.
    pub fn with_credentials(mut self, username: &str, credential: &str) -> Self {
        self.username = Some(username.to_owned());
        self.credential = Some(credential.to_owned());
        self
    }
}

/// Why an ICE server of [`Config::ice_servers`] was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IceServerError {
    /// The URL does not follow RFC 7064 / RFC 7065.
    #[error("{url}: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        source: fulmar_turn::Error,
    },
    /// `stuns:` (STUN over TLS): not supported.
    #[error("{0}: stuns: (STUN over TLS) is not supported; use stun:")]
    StunsNotSupported(String),
    /// A `turn:`/`turns:` URL without username and credential.
    #[error("{0}: a TURN server needs a username and a credential")]
    MissingCredentials(String),
    /// The host name did not resolve (or not within the bound).
    #[error("{url}: cannot resolve host: {reason}")]
    Unresolved {
        /// The URL as given.
        url: String,
        /// The resolver's error, or the timeout.
        reason: String,
    },
    /// A STUN server asked for this host's public address gave no answer
    /// ([`public_address_from_stun`]).
    #[error("{0}: no answer from the STUN server")]
    NoAnswer(String),
    /// More than [`MAX_ICE_SERVER_URLS`] URLs in all.
    #[error("more than {MAX_ICE_SERVER_URLS} ICE server URLs")]
    TooMany,
    /// A TURN URL the driver cannot use (`turns:` over UDP, say).
    #[error(transparent)]
    Turn(#[from] TurnConfigError),
}

/// Waits between the Binding requests of [`public_address_from_stun`]
/// (RFC 8489 §6.2.1 doubling from 500 ms): about 7.5 s in all.
const DISCOVERY_WAITS: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// This host's public address as a STUN server (`stun:host[:port]`) sees
/// it: the address to give [`Config::with_public_address`] when a 1:1 NAT
/// is in front of the host (a cloud VM) and nobody wrote it down. Sends
/// Binding requests from an ephemeral port of the server's family
/// (retransmitted, at most about 7.5 s in all) and returns the
/// XOR-MAPPED-ADDRESS of the first answer. Needs a tokio runtime.
///
/// ```no_run
/// # async fn f() -> Result<(), fulmar::Error> {
/// let public = fulmar::public_address_from_stun("stun:stun.example.org").await?;
/// let config = fulmar::Config::default().with_public_address(public);
/// # Ok(()) }
/// ```
pub async fn public_address_from_stun(url: &str) -> Result<IpAddr, Error> {
    use fulmar_stun::attributes::XorMappedAddress;
    use fulmar_stun::{Class, Message, MessageBuilder, Method, TransactionId};

    let parsed = IceServerUrl::parse(url.trim()).map_err(|source| IceServerError::Url {
        url: url.to_owned(),
        source,
    })?;
    match parsed.scheme {
        UrlScheme::Stun => {}
        UrlScheme::Stuns => return Err(IceServerError::StunsNotSupported(url.to_owned()).into()),
        UrlScheme::Turn | UrlScheme::Turns => {
            return Err(IceServerError::Url {
                url: url.to_owned(),
                source: fulmar_turn::Error::InvalidUrl("not a stun: URL"),
            }
            .into())
        }
    }
    let server = *lookup(url, &parsed)
        .await?
        .first()
        .ok_or_else(|| IceServerError::NoAnswer(url.to_owned()))?;
    let any: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(any).await?;
    let tid = TransactionId::random(&mut rand::rngs::OsRng);
    let mut req = [0u8; 64];
    let mut b = MessageBuilder::new(&mut req, Class::Request, Method::BINDING, tid);
    b.add_fingerprint();
    let req = b
        .finish()
        .map_err(|_| IceServerError::NoAnswer(url.to_owned()))?
        .to_vec();
    let mut buf = vec![0u8; 1500];
    for wait in DISCOVERY_WAITS {
        // A send error (no route yet) counts as a lost request.
        let _ = socket.send_to(&req, server).await;
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok((n, from))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            let Some(data) = buf.get(..n) else { continue };
            let Ok(m) = Message::parse(data) else {
                continue;
            };
            if from != server || m.transaction_id() != tid || m.class() != Class::SuccessResponse {
                continue;
            }
            if let Ok(XorMappedAddress(mapped)) = m.get::<XorMappedAddress>() {
                return Ok(unmapped(mapped.ip()));
            }
        }
    }
    Err(IceServerError::NoAnswer(url.to_owned()).into())
}

/// Resolves `config.ice_servers` into the core's STUN and TURN servers.
pub(crate) async fn resolve(mut config: Config) -> Result<Config, Error> {
    let servers = std::mem::take(&mut config.ice_servers);
    let urls: usize = servers.iter().map(|s| s.urls.len()).sum();
    if urls > MAX_ICE_SERVER_URLS {
        return Err(IceServerError::TooMany.into());
    }
    for server in &servers {
        for url in &server.urls {
            let parsed = IceServerUrl::parse(url.trim()).map_err(|source| IceServerError::Url {
                url: url.clone(),
                source,
            })?;
            match parsed.scheme {
                UrlScheme::Stuns => {
                    return Err(IceServerError::StunsNotSupported(url.clone()).into())
                }
                UrlScheme::Stun => {
                    for addr in lookup(url, &parsed).await? {
                        if !config.peer.stun_servers.contains(&addr) {
                            config.peer.stun_servers.push(addr);
                        }
                    }
                }
                UrlScheme::Turn | UrlScheme::Turns => {
                    let (Some(user), Some(pass)) = (&server.username, &server.credential) else {
                        return Err(IceServerError::MissingCredentials(url.clone()).into());
                    };
                    let addrs = lookup(url, &parsed).await?;
                    let Some(addr) = addrs.first() else { continue };
                    let t: TurnServer = turn_server_for(url, &parsed, *addr, user, pass)
                        .map_err(IceServerError::Turn)?;
                    if !config.peer.turn_servers.contains(&t) {
                        config.peer.turn_servers.push(t);
                    }
                }
            }
        }
    }
    config.ice_servers = servers;
    Ok(config)
}

/// The URL's address: its IP, or the first address of each family its
/// name resolves to (bounded by [`RESOLVE_TIMEOUT`]).
async fn lookup(url: &str, parsed: &IceServerUrl) -> Result<Vec<SocketAddr>, IceServerError> {
    if let Some(ip) = parsed.ip() {
        return Ok(vec![SocketAddr::new(ip, parsed.port)]);
    }
    let unresolved = |reason: String| IceServerError::Unresolved {
        url: url.to_owned(),
        reason,
    };
    let found = tokio::time::timeout(
        RESOLVE_TIMEOUT,
        tokio::net::lookup_host((parsed.host.as_str(), parsed.port)),
    )
    .await
    .map_err(|_| unresolved(format!("no answer within {RESOLVE_TIMEOUT:?}")))?
    .map_err(|e| unresolved(e.to_string()))?;
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in found {
        let a = SocketAddr::new(unmapped(a.ip()), a.port());
        if !out.iter().any(|o| o.is_ipv4() == a.is_ipv4()) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(unresolved("no address".to_owned()));
    }
    Ok(out)
}

/// An IPv4-mapped IPv6 address as IPv4.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
