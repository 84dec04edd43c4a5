//! Client handshake steps (RFC 6347 §4.2.4 flights 1, 3 and 5): each state
//! type holds only what is valid at that point.

use super::*;

/// Client: waiting for ServerHello (or HelloVerifyRequest).
#[derive(Debug)]
pub struct ExpectServerHello;

/// Client: waiting for the server's Certificate.
#[derive(Debug)]
pub struct ExpectServerCertificate {
    pub(super) neg: Negotiated,
}

/// Client: waiting for ServerKeyExchange.
#[derive(Debug)]
pub struct ExpectServerKeyExchange {
    pub(super) neg: Negotiated,
    pub(super) peer_key: PeerKey,
}

/// Client: waiting for CertificateRequest or ServerHelloDone.
#[derive(Debug)]
pub struct ExpectServerHelloDone {
    pub(super) neg: Negotiated,
    pub(super) group: NamedGroup,
    pub(super) server_public: Vec<u8>,
    pub(super) certificate_requested: bool,
}

/// Client: flight 5 sent, waiting for the server's Finished.
#[derive(Debug)]
pub struct ExpectServerFinished {
    pub(super) neg: Negotiated,
}

impl Connection {
    /// Flight 1, or flight 3 carrying the cookie: the ClientHello (RFC 6347 §4.2.1).
    pub(super) fn send_client_hello(&mut self, now: Instant) {
        let cfg = Arc::clone(&self.config);
        let mut suites = Vec::new();
        for s in &cfg.cipher_suites {
            suites.extend_from_slice(&s.id().to_be_bytes());
        }
        suites.extend_from_slice(&EMPTY_RENEGOTIATION_INFO_SCSV.to_be_bytes());
        let mut exts = Vec::new();
        {
            let mut w = ExtensionWriter::new(&mut exts);
            let groups: Vec<u16> = cfg.groups.iter().map(|g| g.id()).collect();
            w.u16_list(ext::SUPPORTED_GROUPS, &groups);
            w.raw(ext::EC_POINT_FORMATS, &[1, 0]);
            w.u16_list(ext::SIGNATURE_ALGORITHMS, &scheme::SUPPORTED);
            if !cfg.srtp_profiles.is_empty() {
                let p: Vec<u16> = cfg.srtp_profiles.iter().map(|p| p.id()).collect();
                w.use_srtp(&p);
            }
            w.raw(ext::EXTENDED_MASTER_SECRET, &[]);
            w.finish();
        }
        let ch = ClientHello {
            client_version: ProtocolVersion::DTLS1_2,
            random: self.client_random,
            session_id: &[],
            cookie: &self.cookie,
            cipher_suites: &suites,
            compression_methods: &[0],
            extensions: exts.get(2..),
        };
        let mut body = Vec::new();
        ch.emit(&mut body);
        self.flight.clear();
        self.push_handshake(0, HandshakeType::ClientHello, &body);
        self.send_flight(now, true);
    }

    /// HelloVerifyRequest: retry the ClientHello with the cookie.
    pub(super) fn on_hello_verify_request(
        &mut self,
        now: Instant,
        _s: ExpectServerHello,
        msg: &Message,
    ) -> Result<State> {
        let hvr = HelloVerifyRequest::parse(&msg.body)?;
        if !hvr.server_version.is_dtls() {
            return Err(protocol(
                AlertDescription::ProtocolVersion,
                "HelloVerifyRequest version",
            ));
        }
        self.cookie = hvr.cookie.to_vec();
        // RFC 6347 §4.2.6: the first ClientHello and the HelloVerifyRequest are not hashed.
        self.transcript.clear();
        self.send_client_hello(now);
        Ok(State::ExpectServerHello(ExpectServerHello))
    }

    /// ServerHello: check version, suite, EMS, renegotiation_info and use_srtp.
    pub(super) fn on_server_hello(
        &mut self,
        _s: ExpectServerHello,
        msg: &Message,
    ) -> Result<State> {
        let sh = ServerHello::parse(&msg.body)?;
        if sh.server_version != ProtocolVersion::DTLS1_2 {
            return Err(protocol(
                AlertDescription::ProtocolVersion,
                "server chose a version other than DTLS 1.2",
            ));
        }
        let suite = CipherSuite::from_id(sh.cipher_suite)
            .filter(|s| self.config.cipher_suites.contains(s))
            .ok_or(protocol(
                AlertDescription::IllegalParameter,
                "server chose a cipher suite we did not offer",
            ))?;
        if sh.compression_method != 0 {
            return Err(protocol(AlertDescription::IllegalParameter, "compression"));
        }
        let exts = sh.extensions();
        if self.config.require_extended_master_secret && !exts.extended_master_secret {
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
        let srtp = match exts.use_srtp {
            None => None,
            Some((profiles, _mki)) => {
                let mut it = ext::u16_list(profiles);
                let (Some(p), None) = (it.next(), it.next()) else {
                    return Err(protocol(
                        AlertDescription::IllegalParameter,
                        "use_srtp must select one profile",
                    ));
                };
                let p = SrtpProfile::from_id(p)
                    .filter(|p| self.config.srtp_profiles.contains(p))
                    .ok_or(protocol(
                        AlertDescription::IllegalParameter,
                        "SRTP profile not offered",
                    ))?;
                Some(p)
            }
        };
        self.server_random = sh.random;
        self.reassembler.set_strict();
        let neg = Negotiated {
            suite,
            extended_master_secret: exts.extended_master_secret,
            srtp,
        };
        self.negotiated = Some(neg);
        self.add_to_transcript(msg);
        Ok(State::ExpectServerCertificate(ExpectServerCertificate {
            neg,
        }))
    }

    /// Checks the leaf against the expected fingerprints and extracts its key.
    pub(super) fn verify_peer_certificate(&mut self, msg: &Message) -> Result<Option<PeerKey>> {
        let cm = CertificateMsg::parse(&msg.body)?;
        let Some(leaf) = cm.certificates.first() else {
            return Ok(None);
        };
        let cfg = &self.config;
        if !cfg.insecure_accept_any_peer_certificate
            && !cfg.expected_fingerprints.iter().any(|f| f.matches(leaf))
        {
            return Err(Error::FingerprintMismatch);
        }
        let key = PeerKey::from_certificate(leaf)?;
        self.peer_certificate = Some(leaf.to_vec());
        self.events
            .push_back(Event::PeerCertificateVerified(Fingerprint::of(
                HashAlgorithm::Sha256,
                leaf,
            )));
        Ok(Some(key))
    }

    pub(super) fn on_server_certificate(
        &mut self,
        s: ExpectServerCertificate,
        msg: &Message,
    ) -> Result<State> {
        let peer_key = self.verify_peer_certificate(msg)?.ok_or(protocol(
            AlertDescription::HandshakeFailure,
            "server sent no certificate",
        ))?;
        self.add_to_transcript(msg);
        Ok(State::ExpectServerKeyExchange(ExpectServerKeyExchange {
            neg: s.neg,
            peer_key,
        }))
    }

    /// ServerKeyExchange: verify the signature over both randoms and the ECDHE params.
    pub(super) fn on_server_key_exchange(
        &mut self,
        s: ExpectServerKeyExchange,
        msg: &Message,
    ) -> Result<State> {
        let ske = ServerKeyExchange::parse(&msg.body)?;
        let group = NamedGroup::from_id(ske.named_group)
            .filter(|g| self.config.groups.contains(g))
            .ok_or(protocol(
                AlertDescription::IllegalParameter,
                "server chose a group we did not offer",
            ))?;
        if !scheme::SUPPORTED.contains(&ske.signature_scheme) {
            return Err(protocol(
                AlertDescription::IllegalParameter,
                "signature scheme not offered",
            ));
        }
        let mut signed = Vec::with_capacity(64 + ske.params.len());
        signed.extend_from_slice(&self.client_random);
        signed.extend_from_slice(&self.server_random);
        signed.extend_from_slice(ske.params);
        s.peer_key
            .verify(ske.signature_scheme, &signed, ske.signature)?;
        let server_public = ske.public.to_vec();
        self.add_to_transcript(msg);
        Ok(State::ExpectServerHelloDone(ExpectServerHelloDone {
            neg: s.neg,
            group,
            server_public,
            certificate_requested: false,
        }))
    }

    pub(super) fn on_certificate_request(
        &mut self,
        mut s: ExpectServerHelloDone,
        msg: &Message,
    ) -> Result<State> {
        let cr = CertificateRequest::parse(&msg.body)?;
        if !ext::u16_list(cr.signature_algorithms).any(|x| x == scheme::ECDSA_SECP256R1_SHA256) {
            return Err(protocol(
                AlertDescription::HandshakeFailure,
                "server does not accept ECDSA P-256 signatures",
            ));
        }
        self.add_to_transcript(msg);
        s.certificate_requested = true;
        Ok(State::ExpectServerHelloDone(s))
    }

    /// Flight 5: [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished.
    pub(super) fn on_server_hello_done(
        &mut self,
        now: Instant,
        s: ExpectServerHelloDone,
        msg: &Message,
    ) -> Result<State> {
        if !msg.body.is_empty() {
            return Err(protocol(
                AlertDescription::DecodeError,
                "ServerHelloDone not empty",
            ));
        }
        self.add_to_transcript(msg);
        self.peer_flight_end = Some(msg.message_seq);
        self.flight.clear();
        if s.certificate_requested {
            let cert = Arc::clone(&self.config.certificate);
            let mut body = Vec::new();
            CertificateMsg {
                certificates: vec![cert.der()],
            }
            .emit(&mut body);
            self.push_handshake(0, HandshakeType::Certificate, &body);
        }
        let kx = KeyExchange::generate(s.group)?;
        let mut body = Vec::new();
        ClientKeyExchange {
            public: kx.public(),
        }
        .emit(&mut body);
        let premaster = kx.complete(&s.server_public)?;
        self.push_handshake(0, HandshakeType::ClientKeyExchange, &body);
        self.derive_keys(s.neg, &premaster)?;
        if s.certificate_requested {
            let sig = self.config.certificate.sign(&self.transcript)?;
            let mut body = Vec::new();
            CertificateVerify {
                signature_scheme: scheme::ECDSA_SECP256R1_SHA256,
                signature: &sig,
            }
            .emit(&mut body);
            self.push_handshake(0, HandshakeType::CertificateVerify, &body);
        }
        self.flight.push(FlightItem::ChangeCipherSpec);
        #[allow(unused_mut)]
        let mut verify = self.verify_data(s.neg, b"client finished");
        #[cfg(test)]
        if self.corrupt_finished {
            verify[0] ^= 1;
        }
        self.push_handshake(1, HandshakeType::Finished, &verify);
        self.send_flight(now, true);
        Ok(State::ExpectServerFinished(ExpectServerFinished {
            neg: s.neg,
        }))
    }

    /// The server's Finished completes the handshake.
    pub(super) fn on_server_finished(
        &mut self,
        s: ExpectServerFinished,
        msg: &Message,
    ) -> Result<State> {
        self.accept_finished(s.neg, b"server finished", msg)?;
        self.connected();
        Ok(State::Connected)
    }
}
