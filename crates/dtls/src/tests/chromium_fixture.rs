//! Chromium 156's real first flight: a DTLS-1.3-offering ClientHello of 1413
//! bytes fragmented over two datagrams (see shared/INTEROP.md).

use std::sync::Arc;
use std::time::Instant;

use crate::handshake::{
    fragments, ClientHello, HandshakeFragment, HandshakeType, HelloVerifyRequest, ServerHello,
};
use crate::reassembly::{Inserted, Reassembler};
use crate::record::{ContentType, ProtocolVersion, Records};
use crate::{Certificate, Config, Connection, Event};
use rand::rngs::StdRng;
use rand::SeedableRng;

const D1: &[u8] = include_bytes!("../../tests/fixtures/chromium156-dtls-clienthello-datagram1.bin");
const D2: &[u8] = include_bytes!("../../tests/fixtures/chromium156-dtls-clienthello-datagram2.bin");

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn reassemble(datagrams: &[&[u8]]) -> TestResult<Vec<u8>> {
    let mut r = Reassembler::floating(0);
    let mut frags = 0;
    for d in datagrams {
        for rec in Records::new(d) {
            let rec = rec?;
            assert_eq!(rec.content_type, ContentType::Handshake);
            assert_eq!(rec.epoch, 0);
            for f in fragments(rec.fragment) {
                let f = f?;
                assert_eq!(f.msg_type, HandshakeType::ClientHello);
                assert_eq!(r.insert(&f)?, Inserted::Buffered);
                frags += 1;
            }
        }
    }
    assert!(frags >= 2, "the ClientHello is fragmented");
    let m = r.pop().ok_or("whole ClientHello")?;
    assert_eq!(m.msg_type, HandshakeType::ClientHello);
    Ok(m.body)
}

#[test]
fn chromium_client_hello_reassembles_in_either_order() -> TestResult {
    let body = reassemble(&[D1, D2])?;
    assert_eq!(body.len(), 1413);
    assert_eq!(reassemble(&[D2, D1])?, body);
    // Duplicated datagrams change nothing.
    assert_eq!(reassemble(&[D2, D1, D2, D1])?, body);
    Ok(())
}

#[test]
fn chromium_client_hello_fields() -> TestResult {
    let body = reassemble(&[D1, D2])?;
    let ch = ClientHello::parse(&body)?;
    assert_eq!(ch.client_version, ProtocolVersion::DTLS1_2);
    assert!(ch.cookie.is_empty());
    let suites: Vec<u16> = ch.cipher_suites().collect();
    for s in [0x1301, 0xc02b, 0xc02f, 0xcca9, 0xcca8] {
        assert!(suites.contains(&s), "suite {s:04x}");
    }
    let ext = ch.extensions();
    let versions: Vec<u16> = ext.versions().collect();
    assert_eq!(versions, vec![0xfefc, 0xfefd], "DTLS 1.3 first, then 1.2");
    let groups: Vec<u16> = ext.groups().collect();
    assert_eq!(&groups[..4], &[0x11ec, 0x001d, 0x0017, 0x0018]);
    assert!(ext.key_share.ok_or("key_share extension")?.len() > 1039);
    assert!(ext.extended_master_secret);
    assert!(ext.srtp_profiles().any(|p| p == 0x0007));
    // Re-emitting the view gives back the same bytes.
    let mut out = Vec::new();
    ch.emit(&mut out);
    assert_eq!(out, body);
    Ok(())
}

fn server(cookie: bool) -> TestResult<Connection> {
    // Chromium's certificate is unknown here; the server's answer is what is tested.
    let mut cfg = Config::new(Arc::new(Certificate::generate()?), vec![]);
    cfg.insecure_accept_any_peer_certificate = true;
    cfg.hello_verify_cookie = cookie;
    // WebRTC's SRTP profiles (fulmar-srtp's preference order).
    cfg.srtp_profiles = vec![0x0007, 0x0008, 0x0001, 0x0002];
    Ok(Connection::server(Arc::new(cfg), StdRng::seed_from_u64(1)))
}

fn handshake_messages(datagrams: &[Vec<u8>]) -> TestResult<Vec<(HandshakeType, Vec<u8>)>> {
    let mut r = Reassembler::floating(0);
    let mut out = Vec::new();
    for d in datagrams {
        assert!(d.len() <= 1200);
        for rec in Records::new(d) {
            let rec = rec?;
            for f in fragments(rec.fragment) {
                let f: HandshakeFragment<'_> = f?;
                r.insert(&f)?;
                while let Some(m) = r.pop() {
                    r.set_strict();
                    out.push((m.msg_type, m.body));
                }
            }
        }
    }
    Ok(out)
}

#[test]
fn server_answers_chromium_with_hello_verify_request() -> TestResult {
    let mut s = server(true)?;
    let now = Instant::now();
    s.handle_receive(now, &mut D1.to_vec());
    s.handle_receive(now, &mut D2.to_vec());
    let mut buf = Vec::new();
    let sent: Vec<Vec<u8>> =
        core::iter::from_fn(|| s.poll_transmit(now, &mut buf).map(|_| buf.clone())).collect();
    assert_eq!(sent.len(), 1);
    let msgs = handshake_messages(&sent)?;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, HandshakeType::HelloVerifyRequest);
    let hvr = HelloVerifyRequest::parse(&msgs[0].1)?;
    assert_eq!(hvr.server_version, ProtocolVersion::DTLS1_0);
    assert!(!hvr.cookie.is_empty());
    assert!(s.poll_event().is_none());
    Ok(())
}

#[test]
fn server_answers_chromium_with_dtls12_server_hello_flight() -> TestResult {
    let mut s = server(false)?;
    let now = Instant::now();
    s.handle_receive(now, &mut D1.to_vec());
    s.handle_receive(now, &mut D2.to_vec());
    let mut buf = Vec::new();
    let sent: Vec<Vec<u8>> =
        core::iter::from_fn(|| s.poll_transmit(now, &mut buf).map(|_| buf.clone())).collect();
    let types: Vec<HandshakeType> = handshake_messages(&sent)?.iter().map(|m| m.0).collect();
    assert_eq!(
        types,
        vec![
            HandshakeType::ServerHello,
            HandshakeType::Certificate,
            HandshakeType::ServerKeyExchange,
            HandshakeType::CertificateRequest,
            HandshakeType::ServerHelloDone,
        ]
    );
    let msgs = handshake_messages(&sent)?;
    let sh = ServerHello::parse(&msgs[0].1)?;
    assert_eq!(sh.server_version, ProtocolVersion::DTLS1_2);
    assert_eq!(sh.cipher_suite, 0xc02b);
    let ext = sh.extensions();
    assert!(
        ext.supported_versions.is_none(),
        "a 1.2 ServerHello carries no supported_versions"
    );
    assert!(ext.extended_master_secret);
    assert_eq!(ext.srtp_profiles().collect::<Vec<_>>(), vec![0x0007]);
    // The server expects the client's Certificate next, and has a retransmission timer.
    assert!(s.poll_timeout().is_some());
    assert!(!matches!(s.poll_event(), Some(Event::Failed(_))));
    Ok(())
}
