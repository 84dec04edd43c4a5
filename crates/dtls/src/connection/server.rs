//! Server handshake steps (RFC 6347 §4.2.4 flights 2, 4 and 6), including
//! the stateless HelloVerifyRequest cookie exchange (§4.2.1): each state
//! type owns what is valid at that point.

use std::sync::Arc;
use std::time::Instant;

use rand_core::RngCore;

use crate::alert::AlertDescription;
use crate::cert::PeerKey;
use crate::crypto::{self, scheme, KeyExchange, NamedGroup};
use crate::error::{Error, Result};
use crate::extensions::{self as ext, ExtensionWriter};
use crate::handshake::{
    emit_message, CertificateMsg, CertificateRequest, CertificateVerify, ClientHello,
    ClientKeyExchange, HandshakeType, HelloVerifyRequest, ServerHello, ServerKeyExchange,
    HANDSHAKE_HEADER_LEN,
};
use crate::reassembly::{Message, Reassembler};
use crate::record::{write_header, ContentType, ProtocolVersion, RECORD_HEADER_LEN};

use super::state::{Handshake, MasterSecret, Negotiated, Randoms, State, Transcript};
use super::{Connection, EMPTY_RENEGOTIATION_INFO_SCSV};

fn protocol(alert: AlertDescription, reason: &'static str) -> Error {
    Error::protocol(alert, reason)
}

/// Server: waiting for a (cookie-bearing) ClientHello. Owns the randomness
/// for its random and the secret its stateless cookies are keyed with.
pub(super) struct ExpectClientHello {
    rng: Box<dyn RngCore + Send>,
    cookie_secret: [u8; 32],
}

impl core::fmt::Debug for ExpectClientHello {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ExpectClientHello")
    }
}

impl ExpectClientHello {
    pub(super) fn new(mut rng: Box<dyn RngCore + Send>) -> Self {
        let mut cookie_secret = [0u8; 32];
        rng.fill_bytes(&mut cookie_secret);
        ExpectClientHello { rng, cookie_secret }
    }

    /// The stateless cookie: HMAC-SHA256 over the hello's random, session id and suites.
    fn expected_cookie(&self, ch: &ClientHello<'_>) -> Vec<u8> {
        crypto::hmac_sha256(
            &self.cookie_secret,
            &[&ch.random, ch.session_id, ch.cipher_suites],
        )
    }
}

/// Server: flight 4 sent, waiting for the client's Certificate.
#[derive(Debug)]
pub(super) struct ExpectClientCertificate {
    pub(super) hs: Handshake,
    kx: KeyExchange,
}

impl ExpectClientCertificate {
    /// The client skipped its (optional) Certificate.
    pub(super) fn without_certificate(self) -> ExpectClientKeyExchange {
        ExpectClientKeyExchange {
            hs: self.hs,
            kx: self.kx,
            peer: None,
        }
    }
}

/// Server: waiting for ClientKeyExchange.
#[derive(Debug)]
pub(super) struct ExpectClientKeyExchange {
    pub(super) hs: Handshake,
    kx: KeyExchange,
    /// The client's verified key and DER certificate, if it sent one.
    peer: Option<(PeerKey, Vec<u8>)>,
}

/// Server: waiting for CertificateVerify.
#[derive(Debug)]
pub(super) struct ExpectCertificateVerify {
    pub(super) hs: Handshake,
    master: MasterSecret,
    peer_key: PeerKey,
    peer_certificate: Vec<u8>,
}

/// Server: waiting for the client's Finished.
#[derive(Debug)]
pub(super) struct ExpectClientFinished {
    pub(super) hs: Handshake,
    master: MasterSecret,
    peer_certificate: Option<Vec<u8>>,
}

impl Connection {
    /// Flight 2 (HelloVerifyRequest, stateless) or flight 4 (ServerHello .. ServerHelloDone).
    pub(super) fn on_client_hello(
        &mut self,
        now: Instant,
        mut s: ExpectClientHello,
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
            let expected = s.expected_cookie(&ch);
            if !crypto::ct_eq(&expected, ch.cookie) {
                self.send_hello_verify_request(msg.message_seq, &expected);
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
        // RFC 5764 §4.1.1: the first of our profiles that the client offers.
        let srtp_profile = cfg
            .srtp_profiles
            .iter()
            .copied()
            .find(|&p| exts.srtp_profiles().any(|x| x == p));
        let mut server_random = [0u8; 32];
        s.rng.fill_bytes(&mut server_random);
        self.flights.reassembler.set_strict();
        self.flights.next_send_seq = msg.message_seq;
        // Continue after the record sequence numbers our HelloVerifyRequest reused.
        self.records
            .skip_epoch0_to(self.flights.last_peer_record_seq0);
        self.flights.peer_flight_end = Some(msg.message_seq);
        let mut hs = Handshake {
            randoms: Randoms {
                client: ch.random,
                server: server_random,
            },
            transcript: Transcript::default(),
            neg: Negotiated {
                suite,
                extended_master_secret: exts.extended_master_secret,
                srtp_profile,
            },
        };
        hs.transcript.add(msg);

        // Flight 4: ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone.
        self.flights.start();
        let mut exts_out = Vec::new();
        {
            let mut w = ExtensionWriter::new(&mut exts_out);
            if hs.neg.extended_master_secret {
                w.raw(ext::EXTENDED_MASTER_SECRET, &[]);
            }
            if secure_reneg {
                w.raw(ext::RENEGOTIATION_INFO, &[0]);
            }
            if let Some(p) = srtp_profile {
                w.use_srtp(&[p]);
            }
            if exts.ec_point_formats.is_some() {
                w.raw(ext::EC_POINT_FORMATS, &[1, 0]);
            }
            w.finish();
        }
        let sh = ServerHello {
            server_version: ProtocolVersion::DTLS1_2,
            random: server_random,
            session_id: &[],
            cipher_suite: suite.id(),
            compression_method: 0,
            extensions: exts_out.get(2..),
        };
        let t = &mut hs.transcript;
        let mut body = Vec::new();
        sh.emit(&mut body);
        self.flights.push(t, 0, HandshakeType::ServerHello, &body);

        body.clear();
        CertificateMsg {
            certificates: vec![cfg.certificate.der()],
        }
        .emit(&mut body);
        self.flights.push(t, 0, HandshakeType::Certificate, &body);

        let kx = KeyExchange::generate(group)?;
        let mut params = Vec::new();
        ServerKeyExchange::emit_params(&mut params, group.id(), kx.public());
        let mut signed = Vec::with_capacity(64 + params.len());
        signed.extend_from_slice(&hs.randoms.client_first());
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
        let t = &mut hs.transcript;
        self.flights
            .push(t, 0, HandshakeType::ServerKeyExchange, &body);

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
            self.flights
                .push(t, 0, HandshakeType::CertificateRequest, &body);
        }
        self.flights.push(t, 0, HandshakeType::ServerHelloDone, &[]);
        self.send_flight(now, true);
        Ok(State::ExpectClientCertificate(ExpectClientCertificate {
            hs,
            kx,
        }))
    }

    /// Flight 2, stateless (RFC 6347 §4.2.1): a HelloVerifyRequest with
    /// `cookie`, reusing the ClientHello's record sequence number.
    fn send_hello_verify_request(&mut self, message_seq: u16, cookie: &[u8]) {
        let mut body = Vec::new();
        HelloVerifyRequest {
            server_version: ProtocolVersion::DTLS1_0,
            cookie,
        }
        .emit(&mut body);
        let mut payload = Vec::with_capacity(body.len() + HANDSHAKE_HEADER_LEN);
        emit_message(
            &mut payload,
            HandshakeType::HelloVerifyRequest,
            message_seq,
            &body,
        );
        let mut out = Vec::with_capacity(payload.len() + RECORD_HEADER_LEN);
        let seq = self.flights.last_peer_record_seq0;
        write_header(
            &mut out,
            ContentType::Handshake,
            ProtocolVersion::DTLS1_0,
            0,
            seq,
            payload.len() as u16,
        );
        out.extend_from_slice(&payload);
        self.transmits.push_back(out);
        self.records.skip_epoch0_to(seq + 1);
        // Stay stateless: a retransmitted first ClientHello gets another HelloVerifyRequest.
        self.flights.reassembler = Reassembler::floating(0);
    }

    /// The client's Certificate, checked against the expected fingerprints.
    pub(super) fn on_client_certificate(
        &mut self,
        mut s: ExpectClientCertificate,
        msg: &Message,
    ) -> Result<State> {
        let peer = self.verify_peer_certificate(msg)?;
        if peer.is_none() && self.config.require_client_certificate {
            return Err(protocol(
                AlertDescription::HandshakeFailure,
                "client sent no certificate",
            ));
        }
        s.hs.transcript.add(msg);
        Ok(State::ExpectClientKeyExchange(ExpectClientKeyExchange {
            hs: s.hs,
            kx: s.kx,
            peer,
        }))
    }

    /// ClientKeyExchange: ECDHE, then the (extended) master secret and epoch-1 keys.
    pub(super) fn on_client_key_exchange(
        &mut self,
        mut s: ExpectClientKeyExchange,
        msg: &Message,
    ) -> Result<State> {
        let cke = ClientKeyExchange::parse(&msg.body)?;
        let premaster = s.kx.complete(cke.public)?;
        s.hs.transcript.add(msg);
        let (master, keys) = s.hs.derive_keys(&premaster)?;
        self.records.install(self.role, keys);
        Ok(match s.peer {
            Some((peer_key, peer_certificate)) => {
                State::ExpectCertificateVerify(ExpectCertificateVerify {
                    hs: s.hs,
                    master,
                    peer_key,
                    peer_certificate,
                })
            }
            None => State::ExpectClientFinished(ExpectClientFinished {
                hs: s.hs,
                master,
                peer_certificate: None,
            }),
        })
    }

    /// CertificateVerify: the client's signature over the transcript so far.
    pub(super) fn on_certificate_verify(
        &mut self,
        mut s: ExpectCertificateVerify,
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
            .verify(cv.signature_scheme, s.hs.transcript.bytes(), cv.signature)?;
        s.hs.transcript.add(msg);
        Ok(State::ExpectClientFinished(ExpectClientFinished {
            hs: s.hs,
            master: s.master,
            peer_certificate: Some(s.peer_certificate),
        }))
    }

    /// Flight 6: ChangeCipherSpec, Finished; resent only when flight 5 is (§4.2.4).
    pub(super) fn on_client_finished(
        &mut self,
        mut s: ExpectClientFinished,
        msg: &Message,
    ) -> Result<State> {
        s.hs.accept_finished(&s.master, b"client finished", msg)?;
        self.flights.peer_flight_end = Some(msg.message_seq);
        self.flights.start();
        self.flights.push_change_cipher_spec();
        let verify = s.hs.verify_data(&s.master, b"server finished");
        self.flights
            .push(&mut s.hs.transcript, 1, HandshakeType::Finished, &verify);
        // The last flight is not timed; it is resent when the client's is (§4.2.4).
        self.transmit_flight();
        self.connected();
        Ok(State::Connected(
            s.hs.into_session(s.master, s.peer_certificate),
        ))
    }
}
