//! Client handshake steps (RFC 6347 §4.2.4 flights 1, 3 and 5): each state
//! type owns what is valid at that point.

use std::sync::Arc;
use std::time::Instant;

use crate::alert::AlertDescription;
use crate::cert::PeerKey;
use crate::crypto::{scheme, CipherSuite, KeyExchange, NamedGroup};
use crate::error::{Error, Result};
use crate::extensions::{self as ext, ExtensionWriter};
use crate::handshake::{
    CertificateMsg, CertificateRequest, CertificateVerify, ClientHello, ClientKeyExchange,
    HandshakeType, HelloVerifyRequest, Random, ServerHello, ServerKeyExchange,
};
use crate::reassembly::Message;
use crate::record::ProtocolVersion;

use super::state::{Handshake, MasterSecret, Negotiated, Randoms, State, Transcript};
use super::{Connection, EMPTY_RENEGOTIATION_INFO_SCSV};

fn protocol(alert: AlertDescription, reason: &'static str) -> Error {
    Error::protocol(alert, reason)
}

/// Client: flight 1 (or 3, with the cookie) sent, waiting for ServerHello
/// or HelloVerifyRequest.
#[derive(Debug)]
pub(super) struct ExpectServerHello {
    random: Random,
    /// The ClientHello we sent.
    transcript: Transcript,
}

impl ExpectServerHello {
    pub(super) fn new(random: Random) -> Self {
        ExpectServerHello {
            random,
            transcript: Transcript::default(),
        }
    }
}

/// Client: waiting for the server's Certificate.
#[derive(Debug)]
pub(super) struct ExpectServerCertificate {
    pub(super) hs: Handshake,
}

/// Client: waiting for ServerKeyExchange.
#[derive(Debug)]
pub(super) struct ExpectServerKeyExchange {
    pub(super) hs: Handshake,
    peer_key: PeerKey,
    peer_certificate: Vec<u8>,
}

/// Client: waiting for CertificateRequest or ServerHelloDone.
#[derive(Debug)]
pub(super) struct ExpectServerHelloDone {
    pub(super) hs: Handshake,
    group: NamedGroup,
    server_public: Vec<u8>,
    pub(super) certificate_requested: bool,
    peer_certificate: Vec<u8>,
}

/// Client: flight 5 sent, waiting for the server's Finished.
#[derive(Debug)]
pub(super) struct ExpectServerFinished {
    pub(super) hs: Handshake,
    master: MasterSecret,
    peer_certificate: Vec<u8>,
}

impl Connection {
    /// Flight 1, or flight 3 carrying the `cookie`: the ClientHello (RFC
    /// 6347 §4.2.1), added to the state's transcript.
    pub(super) fn send_client_hello(
        &mut self,
        now: Instant,
        mut s: ExpectServerHello,
        cookie: &[u8],
    ) -> ExpectServerHello {
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
                w.use_srtp(&cfg.srtp_profiles);
            }
            w.raw(ext::EXTENDED_MASTER_SECRET, &[]);
            w.finish();
        }
        let ch = ClientHello {
            client_version: ProtocolVersion::DTLS1_2,
            random: s.random,
            session_id: &[],
            cookie,
            cipher_suites: &suites,
            compression_methods: &[0],
            extensions: exts.get(2..),
        };
        let mut body = Vec::new();
        ch.emit(&mut body);
        self.flights.start();
        self.flights
            .push(&mut s.transcript, 0, HandshakeType::ClientHello, &body);
        self.send_flight(now, true);
        s
    }

    /// HelloVerifyRequest: retry the ClientHello with the cookie.
    pub(super) fn on_hello_verify_request(
        &mut self,
        now: Instant,
        mut s: ExpectServerHello,
        msg: &Message,
    ) -> Result<State> {
        let hvr = HelloVerifyRequest::parse(&msg.body)?;
        if !hvr.server_version.is_dtls() {
            return Err(protocol(
                AlertDescription::ProtocolVersion,
                "HelloVerifyRequest version",
            ));
        }
        // RFC 6347 §4.2.6: the first ClientHello and the HelloVerifyRequest are not hashed.
        s.transcript.clear();
        let s = self.send_client_hello(now, s, hvr.cookie);
        Ok(State::ExpectServerHello(s))
    }

    /// ServerHello: check version, suite, EMS, renegotiation_info and use_srtp.
    pub(super) fn on_server_hello(
        &mut self,
        mut s: ExpectServerHello,
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
        let srtp_profile = match exts.use_srtp {
            None => None,
            Some((profiles, _mki)) => {
                let mut it = ext::u16_list(profiles);
                let (Some(p), None) = (it.next(), it.next()) else {
                    return Err(protocol(
                        AlertDescription::IllegalParameter,
                        "use_srtp must select one profile",
                    ));
                };
                if !self.config.srtp_profiles.contains(&p) {
                    return Err(protocol(
                        AlertDescription::IllegalParameter,
                        "SRTP profile not offered",
                    ));
                }
                Some(p)
            }
        };
        self.flights.reassembler.set_strict();
        s.transcript.add(msg);
        let hs = Handshake {
            randoms: Randoms {
                client: s.random,
                server: sh.random,
            },
            transcript: s.transcript,
            neg: Negotiated {
                suite,
                extended_master_secret: exts.extended_master_secret,
                srtp_profile,
            },
        };
        Ok(State::ExpectServerCertificate(ExpectServerCertificate {
            hs,
        }))
    }

    pub(super) fn on_server_certificate(
        &mut self,
        mut s: ExpectServerCertificate,
        msg: &Message,
    ) -> Result<State> {
        let (peer_key, peer_certificate) = self.verify_peer_certificate(msg)?.ok_or(protocol(
            AlertDescription::HandshakeFailure,
            "server sent no certificate",
        ))?;
        s.hs.transcript.add(msg);
        Ok(State::ExpectServerKeyExchange(ExpectServerKeyExchange {
            hs: s.hs,
            peer_key,
            peer_certificate,
        }))
    }

    /// ServerKeyExchange: verify the signature over both randoms and the ECDHE params.
    pub(super) fn on_server_key_exchange(
        &mut self,
        mut s: ExpectServerKeyExchange,
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
        signed.extend_from_slice(&s.hs.randoms.client_first());
        signed.extend_from_slice(ske.params);
        s.peer_key
            .verify(ske.signature_scheme, &signed, ske.signature)?;
        let server_public = ske.public.to_vec();
        s.hs.transcript.add(msg);
        Ok(State::ExpectServerHelloDone(ExpectServerHelloDone {
            hs: s.hs,
            group,
            server_public,
            certificate_requested: false,
            peer_certificate: s.peer_certificate,
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
        s.hs.transcript.add(msg);
        s.certificate_requested = true;
        Ok(State::ExpectServerHelloDone(s))
    }

    /// Flight 5: [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished.
    pub(super) fn on_server_hello_done(
        &mut self,
        now: Instant,
        mut s: ExpectServerHelloDone,
        msg: &Message,
    ) -> Result<State> {
        if !msg.body.is_empty() {
            return Err(protocol(
                AlertDescription::DecodeError,
                "ServerHelloDone not empty",
            ));
        }
        s.hs.transcript.add(msg);
        self.flights.peer_flight_end = Some(msg.message_seq);
        self.flights.start();
        let transcript = &mut s.hs.transcript;
        if s.certificate_requested {
            let cert = Arc::clone(&self.config.certificate);
            let mut body = Vec::new();
            CertificateMsg {
                certificates: vec![cert.der()],
            }
            .emit(&mut body);
            self.flights
                .push(transcript, 0, HandshakeType::Certificate, &body);
        }
        let kx = KeyExchange::generate(s.group)?;
        let mut body = Vec::new();
        ClientKeyExchange {
            public: kx.public(),
        }
        .emit(&mut body);
        let premaster = kx.complete(&s.server_public)?;
        self.flights
            .push(transcript, 0, HandshakeType::ClientKeyExchange, &body);
        let (master, keys) = s.hs.derive_keys(&premaster)?;
        self.records.install(self.role, keys);
        if s.certificate_requested {
            let sig = self.config.certificate.sign(s.hs.transcript.bytes())?;
            let mut body = Vec::new();
            CertificateVerify {
                signature_scheme: scheme::ECDSA_SECP256R1_SHA256,
                signature: &sig,
            }
            .emit(&mut body);
            self.flights.push(
                &mut s.hs.transcript,
                0,
                HandshakeType::CertificateVerify,
                &body,
            );
        }
        self.flights.push_change_cipher_spec();
        #[allow(unused_mut)]
        let mut verify = s.hs.verify_data(&master, b"client finished");
        #[cfg(test)]
        if self.corrupt_finished {
            verify[0] ^= 1;
        }
        self.flights
            .push(&mut s.hs.transcript, 1, HandshakeType::Finished, &verify);
        self.send_flight(now, true);
        Ok(State::ExpectServerFinished(ExpectServerFinished {
            hs: s.hs,
            master,
            peer_certificate: s.peer_certificate,
        }))
    }

    /// The server's Finished completes the handshake.
    pub(super) fn on_server_finished(
        &mut self,
        mut s: ExpectServerFinished,
        msg: &Message,
    ) -> Result<State> {
        s.hs.accept_finished(&s.master, b"server finished", msg)?;
        self.connected();
        Ok(State::Connected(
            s.hs.into_session(s.master, Some(s.peer_certificate)),
        ))
    }

    /// Checks the leaf against the expected fingerprints and extracts its
    /// key; `None` when the peer sent no certificate.
    pub(super) fn verify_peer_certificate(
        &mut self,
        msg: &Message,
    ) -> Result<Option<(PeerKey, Vec<u8>)>> {
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
        self.events.push_back(super::Event::PeerCertificateVerified(
            crate::cert::Fingerprint::of(crate::crypto::HashAlgorithm::Sha256, leaf),
        ));
        Ok(Some((key, leaf.to_vec())))
    }
}
