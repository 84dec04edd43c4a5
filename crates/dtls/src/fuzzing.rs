//! **Fuzzing hooks, not part of the supported API.** They reach the crate's
//! private parsers (record framing, handshake fragments and messages, the
//! reassembler, alerts and certificate keys), which the public API only
//! meets behind a connection.

use crate::alert::Alert;
use crate::cert::PeerKey;
use crate::handshake::{self, HandshakeType};
use crate::reassembly::Reassembler;
use crate::record::Records;

/// Parses `data` as a datagram of plaintext records: every handshake
/// fragment goes through a reassembler and every whole message through its
/// parser (a ClientHello must re-emit to the same bytes); every fragment is
/// also parsed as an alert, and `data` as a peer certificate. Panics only on
/// a bug.
pub fn parse_datagram(data: &[u8]) {
    let mut reassembler = Reassembler::floating(0);
    for record in Records::new(data) {
        let Ok(record) = record else { break };
        assert!(record.wire_len() <= data.len());
        for frag in handshake::fragments(record.fragment) {
            let Ok(frag) = frag else { break };
            let _ = reassembler.insert(&frag);
            while let Some(m) = reassembler.pop() {
                reassembler.set_strict();
                parse_message(m.msg_type, &m.body);
            }
        }
        let _ = Alert::parse(record.fragment);
    }
    let _ = PeerKey::from_certificate(data);
}

fn parse_message(msg_type: HandshakeType, body: &[u8]) {
    match msg_type {
        HandshakeType::ClientHello => {
            if let Ok(ch) = handshake::ClientHello::parse(body) {
                let e = ch.extensions();
                let _ = (
                    e.groups().count(),
                    e.versions().count(),
                    e.srtp_profiles().count(),
                );
                let mut out = Vec::new();
                ch.emit(&mut out);
                assert_eq!(out, body, "a ClientHello re-emits to its bytes");
            }
        }
        HandshakeType::ServerHello => {
            let _ = handshake::ServerHello::parse(body).map(|s| s.extensions());
        }
        HandshakeType::HelloVerifyRequest => {
            let _ = handshake::HelloVerifyRequest::parse(body);
        }
        HandshakeType::Certificate => {
            let _ = handshake::CertificateMsg::parse(body);
        }
        HandshakeType::ServerKeyExchange => {
            let _ = handshake::ServerKeyExchange::parse(body);
        }
        HandshakeType::CertificateRequest => {
            let _ = handshake::CertificateRequest::parse(body);
        }
        HandshakeType::ClientKeyExchange => {
            let _ = handshake::ClientKeyExchange::parse(body);
        }
        HandshakeType::CertificateVerify => {
            let _ = handshake::CertificateVerify::parse(body);
        }
        _ => {}
    }
}
