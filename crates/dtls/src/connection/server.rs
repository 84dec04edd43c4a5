//! Server handshake steps (RFC 6347 §4.2.4 flights 2, 4 and 6), including
//! the stateless HelloVerifyRequest cookie exchange (§4.2.1).

use super::*;

/// Server: waiting for a (cookie-bearing) ClientHello.
#[derive(Debug)]
pub struct ExpectClientHello;

/// Server: waiting for the client's Certificate.
#[derive(Debug)]
pub struct ExpectClientCertificate {
    pub(super) neg: Negotiated,
    pub(super) kx: KeyExchange,
}

/// Server: waiting for ClientKeyExchange.
#[derive(Debug)]
pub struct ExpectClientKeyExchange {
    pub(super) neg: Negotiated,
    pub(super) kx: KeyExchange,
    pub(super) peer_key: Option<PeerKey>,
}

/// Server: waiting for CertificateVerify.
#[derive(Debug)]
pub struct ExpectCertificateVerify {
    pub(super) neg: Negotiated,
    pub(super) peer_key: PeerKey,
}

/// Server: waiting for the client's Finished.
#[derive(Debug)]
pub struct ExpectClientFinished {
    pub(super) neg: Negotiated,
}

impl Connection {
    /// The stateless cookie: HMAC-SHA256 over the hello's random, session id and suites.
    pub(super) fn expected_cookie(&self, ch: &ClientHello<'_>) -> Vec<u8> {
        crypto::hmac_sha256(
            &self.cookie_secret,
            &[&ch.random, ch.session_id, ch.cipher_suites],
        )
    }

    /// Flight 2 (HelloVerifyRequest, stateless) or flight 4 (ServerHello .. ServerHelloDone).
    pub(super) fn on_client_hello(
        &mut self,
        now: Instant,
        s: ExpectClientHello,
        msg: &Message,
    ) -> Result<State> {
        let ch = ClientHello::parse(&msg.body)?;
        let exts = ch.extensions();
        // A 1.3-capable client lists 1.2 in supported_versions (RFC 9147 §5.3); a
        // legacy one puts it in client_version.
        let offers_1_2 = if exts.supported_versions.is_some() {
            exts.versions().any(|v| v == ProtocolVersion::DTLS1_2.0)
        } else {
            ch.client_version.at_least(ProtocolVersion::DTLS1_2)
        };
        if !ch.client_version.is_dtls() || !offers_1_2 {
            return Err(protocol(
                AlertDescription::ProtocolVersion,
                "client does not offer DTLS 1.2",
            ));
        }
        if self.config.hello_verify_cookie {
            let expected = self.expected_cookie(&ch);
            if !crypto::ct_eq(&expected, ch.cookie) {
                // RFC 6347 §4.2.1: stateless; reuse the ClientHello's record sequence number.
                let mut body = Vec::new();
                HelloVerifyRequest {
                    server_version: ProtocolVersion::DTLS1_0,
                    cookie: &expected,
                }
                .emit(&mut body);
                let mut payload = Vec::with_capacity(body.len() + HANDSHAKE_HEADER_LEN);
                emit_message(
                    &mut payload,
                    HandshakeType::HelloVerifyRequest,
                    msg.message_seq,
                    &body,
                );
                let mut out = Vec::with_capacity(payload.len() + RECORD_HEADER_LEN);
                write_header(
                    &mut out,
                    ContentType::Handshake,
                    ProtocolVersion::DTLS1_0,
                    0,
                    self.last_peer_record_seq0,
                    payload.len() as u16,
                );
                out.extend_from_slice(&payload);
                self.transmits.push_back(out);
                self.write_seq[0] = self.write_seq[0].max(self.last_peer_record_seq0 + 1);
                // Stay stateless: a retransmitted first ClientHello gets another HelloVerifyRequest.
                self.reassembler = Reassembler::floating(0);
                return Ok(State::ExpectClientHello(s));
            }
        }
        let cfg = Arc::clone(&self.config);
        let suite = cfg
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.is_ecdsa())
            .find(|s| ch.cipher_suites().any(|c| c == s.id()))
            .ok_or(protocol(
                AlertDescription::HandshakeFailure,
                "no cipher suite in common",
            ))?;
        let group = if exts.supported_groups.is_some() {
            cfg.groups
                .iter()
                .copied()
                .find(|g| exts.groups().any(|x| x == g.id()))
        } else {
            Some(NamedGroup::Secp256r1)
        }
        .ok_or(protocol(
            AlertDescription::HandshakeFailure,
            "no group in common",
        ))?;
        if exts.signature_algorithms.is_some()
            && !exts
                .signature_schemes()
                .any(|x| x == scheme::ECDSA_SECP256R1_SHA256)
        {
            return Err(protocol(
                AlertDescription::HandshakeFailure,
                "client does not accept ECDSA P-256 signatures",
            ));
        }
        if !ch.compression_methods.contains(&0) {
            return Err(protocol(
                AlertDescription::IllegalParameter,
                "null compression not offered",
            ));
        }
        if cfg.require_extended_master_secret && !exts.extended_master_secret {
            return Err(protocol(
                AlertDescription::HandshakeFailure,
                "extended master secret required",
            ));
        }
        if exts.renegotiation_info.is_some_and(|r| !r.is_empty()) {
            return Err(protocol(
                AlertDescription::HandshakeFailure,
                "renegotiation_info not empty",
            ));
        }
        let secure_reneg = exts.renegotiation_info.is_some()
            || ch
                .cipher_suites()
                .any(|c| c == EMPTY_RENEGOTIATION_INFO_SCSV);
        let srtp = cfg
            .srtp_profiles
            .iter()
            .copied()
            .find(|p| exts.srtp_profiles().any(|x| x == p.id()));
        let neg = Negotiated {
            suite,
            extended_master_secret: exts.extended_master_secret,
            srtp,
        };
        self.negotiated = Some(neg);
        self.client_random = ch.random;
        let mut random = [0u8; 32];
        self.rng
            .as_mut()
            .ok_or(Error::InvalidState("no randomness left"))?
            .fill_bytes(&mut random);
        self.server_random = random;
        self.reassembler.set_strict();
        self.next_send_seq = msg.message_seq;
        // Continue after the record sequence numbers our HelloVerifyRequest reused.
        self.write_seq[0] = self.write_seq[0].max(self.last_peer_record_seq0);
        self.peer_flight_end = Some(msg.message_seq);
        self.transcript.clear();
        self.add_to_transcript(msg);

        // Flight 4: ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone.
        self.flight.clear();
        let mut exts_out = Vec::new();
        {
            let mut w = ExtensionWriter::new(&mut exts_out);
            if neg.extended_master_secret {
                w.raw(ext::EXTENDED_MASTER_SECRET, &[]);
            }
            if secure_reneg {
                w.raw(ext::RENEGOTIATION_INFO, &[0]);
            }
            if let Some(p) = srtp {
                w.use_srtp(&[p.id()]);
            }
            if exts.ec_point_formats.is_some() {
                w.raw(ext::EC_POINT_FORMATS, &[1, 0]);
            }
            w.finish();
        }
        let sh = ServerHello {
            server_version: ProtocolVersion::DTLS1_2,
            random: self.server_random,
            session_id: &[],
            cipher_suite: suite.id(),
            compression_method: 0,
            extensions: exts_out.get(2..),
        };
        let mut body = Vec::new();
        sh.emit(&mut body);
        self.push_handshake(0, HandshakeType::ServerHello, &body);

        body.clear();
        CertificateMsg {
            certificates: vec![cfg.certificate.der()],
        }
        .emit(&mut body);
        self.push_handshake(0, HandshakeType::Certificate, &body);

        let kx = KeyExchange::generate(group)?;
        let mut params = Vec::new();
        ServerKeyExchange::emit_params(&mut params, group.id(), kx.public());
        let mut signed = Vec::with_capacity(64 + params.len());
        signed.extend_from_slice(&self.client_random);
        signed.extend_from_slice(&self.server_random);
        signed.extend_from_slice(&params);
        let sig = cfg.certificate.sign(&signed)?;
        body.clear();
        ServerKeyExchange {
            named_group: group.id(),
            public: kx.public(),
            signature_scheme: scheme::ECDSA_SECP256R1_SHA256,
            signature: &sig,
            params: &params,
        }
        .emit(&mut body);
        self.push_handshake(0, HandshakeType::ServerKeyExchange, &body);

        if cfg.require_client_certificate {
            let mut algs = Vec::new();
            for s in scheme::SUPPORTED {
                algs.extend_from_slice(&s.to_be_bytes());
            }
            body.clear();
            // ecdsa_sign(64), rsa_sign(1)
            CertificateRequest {
                certificate_types: &[64, 1],
                signature_algorithms: &algs,
                certificate_authorities: &[],
            }
            .emit(&mut body);
            self.push_handshake(0, HandshakeType::CertificateRequest, &body);
        }
        self.push_handshake(0, HandshakeType::ServerHelloDone, &[]);
        self.send_flight(now, true);
        Ok(State::ExpectClientCertificate(ExpectClientCertificate {
            neg,
            kx,
        }))
    }

    /// The client's Certificate, checked against the expected fingerprints.
    pub(super) fn on_client_certificate(
        &mut self,
        s: ExpectClientCertificate,
        msg: &Message,
    ) -> Result<State> {
        let peer_key = self.verify_peer_certificate(msg)?;
        if peer_key.is_none() && self.config.require_client_certificate {
            return Err(protocol(
                AlertDescription::HandshakeFailure,
                "client sent no certificate",
            ));
        }
        self.add_to_transcript(msg);
        Ok(State::ExpectClientKeyExchange(ExpectClientKeyExchange {
            neg: s.neg,
            kx: s.kx,
            peer_key,
        }))
    }

    /// ClientKeyExchange: ECDHE, then the (extended) master secret and epoch-1 keys.
    pub(super) fn on_client_key_exchange(
        &mut self,
        s: ExpectClientKeyExchange,
        msg: &Message,
    ) -> Result<State> {
        let cke = ClientKeyExchange::parse(&msg.body)?;
        let premaster = s.kx.complete(cke.public)?;
        self.add_to_transcript(msg);
        self.derive_keys(s.neg, &premaster)?;
        Ok(match s.peer_key {
            Some(peer_key) => State::ExpectCertificateVerify(ExpectCertificateVerify {
                neg: s.neg,
                peer_key,
            }),
            None => State::ExpectClientFinished(ExpectClientFinished { neg: s.neg }),
        })
    }

    /// CertificateVerify: the client's signature over the transcript so far.
    pub(super) fn on_certificate_verify(
        &mut self,
        s: ExpectCertificateVerify,
        msg: &Message,
    ) -> Result<State> {
        let cv = CertificateVerify::parse(&msg.body)?;
        if !scheme::SUPPORTED.contains(&cv.signature_scheme) {
            return Err(protocol(
                AlertDescription::IllegalParameter,
                "signature scheme not offered",
            ));
        }
        s.peer_key
            .verify(cv.signature_scheme, &self.transcript, cv.signature)?;
        self.add_to_transcript(msg);
        Ok(State::ExpectClientFinished(ExpectClientFinished {
            neg: s.neg,
        }))
    }

    /// Flight 6: ChangeCipherSpec, Finished; resent only when flight 5 is (§4.2.4).
    pub(super) fn on_client_finished(
        &mut self,
        s: ExpectClientFinished,
        msg: &Message,
    ) -> Result<State> {
        self.accept_finished(s.neg, b"client finished", msg)?;
        self.peer_flight_end = Some(msg.message_seq);
        self.flight.clear();
        self.flight.push(FlightItem::ChangeCipherSpec);
        let verify = self.verify_data(s.neg, b"server finished");
        self.push_handshake(1, HandshakeType::Finished, &verify);
        // The last flight is not timed; it is resent when the client's is (§4.2.4).
        self.transmit_flight();
        self.connected();
        Ok(State::Connected)
    }
}
