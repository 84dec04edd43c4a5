// Body of the `dtls_record` fuzz target: DTLS record framing, handshake
// fragments, every handshake message parser and the reassembler.

fn run(data: &[u8]) {
    use fulmar_dtls::handshake::{self, HandshakeType};
    let mut reassembler = fulmar_dtls::reassembly::Reassembler::floating(0);
    for record in fulmar_dtls::record::Records::new(data) {
        let Ok(record) = record else { break };
        assert!(record.wire_len() <= data.len());
        for frag in handshake::fragments(record.fragment) {
            let Ok(frag) = frag else { break };
            let _ = reassembler.insert(&frag);
            while let Some(m) = reassembler.pop() {
                reassembler.set_strict();
                let body = &m.body[..];
                match m.msg_type {
                    HandshakeType::ClientHello => {
                        if let Ok(ch) = handshake::ClientHello::parse(body) {
                            let e = ch.extensions();
                            let _ = (e.groups().count(), e.versions().count(), e.srtp_profiles().count());
                            let mut out = Vec::new();
                            ch.emit(&mut out);
                            assert_eq!(out, body);
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
        }
        let _ = fulmar_dtls::Alert::parse(record.fragment);
    }
    let _ = fulmar_dtls::cert::PeerKey::from_certificate(data);
}
