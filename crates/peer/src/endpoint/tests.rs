use std::net::SocketAddr;

use fulmar_stun::attributes::Username;
use fulmar_stun::{Class, MessageBuilder, Method, TransactionId};

use super::{stun_request_ufrag, Endpoint, EndpointError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn message(
    class: Class,
    user: Option<&str>,
    buf: &mut [u8],
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut b = MessageBuilder::new(buf, class, Method::BINDING, TransactionId([7; 12]));
    if let Some(u) = user {
        b.add(&Username(u));
    }
    b.add_fingerprint();
    Ok(b.finish()?.len())
}

fn addr(s: &str) -> Result<SocketAddr, std::net::AddrParseError> {
    s.parse()
}

/// A Binding request as the remote agent sends it (`local:remote`).
fn check(ufrag: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut buf = [0u8; 128];
    let n = message(Class::Request, Some(&format!("{ufrag}:theirs")), &mut buf)?;
    Ok(buf[..n].to_vec())
}

const DTLS: &[u8] = &[22, 254, 253, 0, 0];

#[test]
fn ufrag_of_a_binding_request() -> TestResult {
    let mut buf = [0u8; 128];
    let n = message(Class::Request, Some("srvU:cliU"), &mut buf)?;
    assert_eq!(stun_request_ufrag(&buf[..n]), Some("srvU"));
    // RFC 8445 §7.2.2: `local:remote`; a USERNAME without a colon is
    // still a (bad) ufrag that simply matches nothing.
    let n = message(Class::Request, Some("nocolon"), &mut buf)?;
    assert_eq!(stun_request_ufrag(&buf[..n]), Some("nocolon"));
    Ok(())
}

#[test]
fn no_ufrag_from_anything_else() -> TestResult {
    let mut buf = [0u8; 128];
    let n = message(Class::SuccessResponse, Some("a:b"), &mut buf)?;
    assert_eq!(
        stun_request_ufrag(&buf[..n]),
        None,
        "responses route by address"
    );
    let n = message(Class::Indication, Some("a:b"), &mut buf)?;
    assert_eq!(stun_request_ufrag(&buf[..n]), None);
    let n = message(Class::Request, None, &mut buf)?;
    assert_eq!(stun_request_ufrag(&buf[..n]), None, "no USERNAME");
    let n = message(Class::Request, Some("a:b"), &mut buf)?;
    for cut in 0..n {
        // Truncated: never a panic; nothing once the USERNAME is cut.
        let _ = stun_request_ufrag(&buf[..cut]);
    }
    assert_eq!(stun_request_ufrag(&buf[..20]), None);
    assert_eq!(stun_request_ufrag(&[]), None);
    assert_eq!(stun_request_ufrag(&[23, 254, 253, 0, 1]), None, "DTLS");
    assert_eq!(
        stun_request_ufrag(&[0x40, 0, 0, 4, 1, 2, 3, 4]),
        None,
        "ChannelData"
    );
    Ok(())
}

/// RFC 8445 §7.2.2: a check is routed by the ufrag it names, and its
/// sender's address then carries the rest (DTLS, SRTP) to the same
/// connection.
#[test]
fn checks_route_by_ufrag_and_teach_the_sender() -> TestResult {
    let mut ep = Endpoint::new();
    let (a, b) = (ep.add_connection()?, ep.add_connection()?);
    ep.set_local_ufrag(a, "aaaa")?;
    ep.set_local_ufrag(b, "bbbb")?;
    let (pa, pb) = (addr("192.0.2.1:1000")?, addr("192.0.2.2:2000")?);
    assert_eq!(ep.handle_receive(pa, DTLS), None, "not learnt yet");
    assert_eq!(ep.handle_receive(pa, &check("aaaa")?), Some(a));
    assert_eq!(ep.handle_receive(pb, &check("bbbb")?), Some(b));
    assert_eq!(ep.handle_receive(pa, DTLS), Some(a));
    assert_eq!(ep.handle_receive(pb, DTLS), Some(b));
    // A check naming another ufrag from a known address moves it (the
    // peer's new connection reuses its port).
    assert_eq!(ep.handle_receive(pa, &check("bbbb")?), Some(b));
    assert_eq!(ep.handle_receive(pa, DTLS), Some(b));
    assert_eq!(ep.unrouted_datagrams(), 1);
    Ok(())
}

#[test]
fn an_ice_restart_moves_the_ufrag() -> TestResult {
    let mut ep = Endpoint::new();
    let a = ep.add_connection()?;
    let b = ep.add_connection()?;
    ep.set_local_ufrag(a, "old1")?;
    ep.set_local_ufrag(a, "new1")?;
    let p = addr("192.0.2.1:1000")?;
    assert_eq!(ep.handle_receive(p, &check("old1")?), None);
    assert_eq!(ep.handle_receive(p, &check("new1")?), Some(a));
    // Another connection cannot take it over.
    assert_eq!(
        ep.set_local_ufrag(b, "new1"),
        Err(EndpointError::UfragTaken)
    );
    ep.set_local_ufrag(b, "old1")?;
    assert_eq!(ep.handle_receive(p, &check("old1")?), Some(b));
    Ok(())
}

/// What a connection sends as STUN (checks, requests to a STUN server)
/// routes the answers from there back to it; other datagrams teach nothing.
#[test]
fn sent_stun_teaches_the_destination() -> TestResult {
    let mut ep = Endpoint::new();
    let a = ep.add_connection()?;
    let (stun, other) = (addr("198.51.100.1:3478")?, addr("198.51.100.2:9")?);
    ep.handle_transmit(a, stun, &check("zzzz")?);
    ep.handle_transmit(a, other, DTLS);
    let mut answer = [0u8; 128];
    let n = message(Class::SuccessResponse, None, &mut answer)?;
    assert_eq!(ep.handle_receive(stun, &answer[..n]), Some(a));
    assert_eq!(ep.handle_receive(other, DTLS), None);
    Ok(())
}

/// A UDP TURN server's datagrams go to the connection whose relay
/// allocated there; one connection per server (RFC 8656 §2, the 5-tuple).
#[test]
fn relay_servers_route_to_their_connection() -> TestResult {
    let mut ep = Endpoint::new();
    let (a, b) = (ep.add_connection()?, ep.add_connection()?);
    let (s1, s2) = (addr("203.0.113.1:3478")?, addr("203.0.113.2:3478")?);
    ep.add_relay_server(a, s1)?;
    ep.add_relay_server(a, s1)?;
    assert_eq!(
        ep.add_relay_server(b, s1),
        Err(EndpointError::RelayServerTaken(s1))
    );
    ep.add_relay_server(b, s2)?;
    let channel_data = [0x40, 0, 0, 2, 1, 2];
    assert_eq!(ep.handle_receive(s1, &channel_data), Some(a));
    assert_eq!(ep.handle_receive(s2, &channel_data), Some(b));
    // A Send indication to the server teaches nothing: the server is routed.
    ep.handle_transmit(b, s1, &check("x")?);
    assert_eq!(ep.handle_receive(s1, DTLS), Some(a));
    // Even a check naming b's ufrag from a's server stays a's.
    ep.set_local_ufrag(b, "bbbb")?;
    assert_eq!(ep.handle_receive(s1, &check("bbbb")?), Some(a));
    ep.remove_connection(a);
    assert_eq!(ep.handle_receive(s1, &channel_data), None);
    ep.add_relay_server(b, s1)?;
    assert_eq!(ep.handle_receive(s1, &channel_data), Some(b));
    Ok(())
}

#[test]
fn removed_connections_are_forgotten() -> TestResult {
    let mut ep = Endpoint::new();
    let a = ep.add_connection()?;
    ep.set_local_ufrag(a, "aaaa")?;
    let p = addr("192.0.2.1:1000")?;
    assert_eq!(ep.handle_receive(p, &check("aaaa")?), Some(a));
    ep.remove_connection(a);
    assert_eq!(ep.connection_count(), 0);
    assert_eq!(ep.learnt_addresses(), 0);
    assert_eq!(ep.handle_receive(p, DTLS), None);
    assert_eq!(ep.handle_receive(p, &check("aaaa")?), None);
    assert_eq!(
        ep.set_local_ufrag(a, "aaaa"),
        Err(EndpointError::UnknownConnection)
    );
    assert_eq!(
        ep.add_relay_server(a, p),
        Err(EndpointError::UnknownConnection)
    );
    // Handles are not reused.
    assert_ne!(ep.add_connection()?, a);
    Ok(())
}

/// Nothing from the network grows the tables beyond their bound: learnt
/// addresses stop at it (known ones still move), connections too.
#[test]
fn tables_are_bounded() -> TestResult {
    let mut ep = Endpoint::with_max_routes(4);
    let a = ep.add_connection()?;
    ep.set_local_ufrag(a, "aaaa")?;
    for port in 1..=100 {
        let p = SocketAddr::from(([192, 0, 2, 1], port));
        assert_eq!(ep.handle_receive(p, &check("aaaa")?), Some(a));
    }
    assert_eq!(ep.learnt_addresses(), 4);
    assert_eq!(ep.handle_receive(addr("192.0.2.1:1")?, DTLS), Some(a));
    assert_eq!(ep.handle_receive(addr("192.0.2.1:100")?, DTLS), None);
    for _ in 1..4 {
        ep.add_connection()?;
    }
    assert_eq!(ep.add_connection(), Err(EndpointError::TooManyConnections));
    Ok(())
}

#[test]
fn unknown_datagrams_are_dropped_and_counted() -> TestResult {
    let mut ep = Endpoint::new();
    let a = ep.add_connection()?;
    ep.set_local_ufrag(a, "aaaa")?;
    let p = addr("192.0.2.1:1000")?;
    assert_eq!(ep.handle_receive(p, &check("nobody")?), None);
    assert_eq!(ep.handle_receive(p, &[]), None);
    assert_eq!(ep.handle_receive(p, &[0xff; 40]), None);
    assert_eq!(
        ep.handle_receive(p, &check("aaaa")?[..30]),
        None,
        "cut short"
    );
    assert_eq!(ep.unrouted_datagrams(), 4);
    assert_eq!(ep.learnt_addresses(), 0);
    Ok(())
}
