//! Handshake states and the data they own: each step of the handshake is a
//! type holding only what is valid at that point (the randoms, the
//! transcript, the negotiated parameters, the ECDHE key, the master
//! secret), and [`State::Connected`] keeps the [`Session`] the exporter
//! needs. The connection itself holds no handshake secret.

use crate::crypto::{self, CipherSuite, HashAlgorithm, RecordCipher};
use crate::error::{Error, Failure, Result};
use crate::handshake::{emit_message, Random};
use crate::reassembly::Message;

use super::client::{
    ExpectServerCertificate, ExpectServerFinished, ExpectServerHello, ExpectServerHelloDone,
    ExpectServerKeyExchange,
};
use super::server::{
    ExpectCertificateVerify, ExpectClientCertificate, ExpectClientFinished, ExpectClientHello,
    ExpectClientKeyExchange,
};

/// Handshake progress; each variant owns what is valid at that step.
#[derive(Debug)]
pub(super) enum State {
    /// Client, flight 1 or 3 sent.
    ExpectServerHello(ExpectServerHello),
    /// Client.
    ExpectServerCertificate(ExpectServerCertificate),
    /// Client.
    ExpectServerKeyExchange(ExpectServerKeyExchange),
    /// Client.
    ExpectServerHelloDone(ExpectServerHelloDone),
    /// Client, flight 5 sent.
    ExpectServerFinished(ExpectServerFinished),
    /// Server.
    ExpectClientHello(ExpectClientHello),
    /// Server, flight 4 sent.
    ExpectClientCertificate(ExpectClientCertificate),
    /// Server.
    ExpectClientKeyExchange(ExpectClientKeyExchange),
    /// Server.
    ExpectCertificateVerify(ExpectCertificateVerify),
    /// Server.
    ExpectClientFinished(ExpectClientFinished),
    /// Handshake complete.
    Connected(Session),
    /// Closed by close_notify.
    Closed,
    /// Failed; the failure says who misbehaved.
    Failed(Failure),
}

impl State {
    /// Whether nothing more is received or sent.
    pub(super) fn is_terminal(&self) -> bool {
        matches!(self, State::Closed | State::Failed(_))
    }

    /// The parameters the hellos agreed on, once they have.
    pub(super) fn negotiated(&self) -> Option<&Negotiated> {
        Some(match self {
            State::ExpectServerCertificate(s) => &s.hs.neg,
            State::ExpectServerKeyExchange(s) => &s.hs.neg,
            State::ExpectServerHelloDone(s) => &s.hs.neg,
            State::ExpectServerFinished(s) => &s.hs.neg,
            State::ExpectClientCertificate(s) => &s.hs.neg,
            State::ExpectClientKeyExchange(s) => &s.hs.neg,
            State::ExpectCertificateVerify(s) => &s.hs.neg,
            State::ExpectClientFinished(s) => &s.hs.neg,
            State::Connected(s) => &s.neg,
            _ => return None,
        })
    }
}

/// Parameters negotiated in the hellos.
#[derive(Debug, Clone, Copy)]
pub(super) struct Negotiated {
    pub(super) suite: CipherSuite,
    pub(super) extended_master_secret: bool,
    /// The DTLS-SRTP protection profile id agreed (RFC 5764 §4.1.2), if any.
    pub(super) srtp_profile: Option<u16>,
}

/// The hellos' randoms (RFC 5246 §7.4.1.2).
#[derive(Debug, Clone, Copy)]
pub(super) struct Randoms {
    pub(super) client: Random,
    pub(super) server: Random,
}

impl Randoms {
    /// `client_random + server_random`: the seed of the master secret, the
    /// ServerKeyExchange signature and the exporter.
    pub(super) fn client_first(&self) -> [u8; 64] {
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(&self.client);
        seed[32..].copy_from_slice(&self.server);
        seed
    }

    /// `server_random + client_random`: the seed of the key block.
    fn server_first(&self) -> [u8; 64] {
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(&self.server);
        seed[32..].copy_from_slice(&self.client);
        seed
    }
}

/// The handshake messages so far, whole and unfragmented, as hashed for
/// CertificateVerify, the extended master secret and Finished (RFC 6347
/// §4.2.6).
#[derive(Debug, Default)]
pub(super) struct Transcript(Vec<u8>);

impl Transcript {
    /// Adds a received message.
    pub(super) fn add(&mut self, msg: &Message) {
        emit_message(&mut self.0, msg.msg_type, msg.message_seq, &msg.body);
    }

    /// Adds a message we sent, already in its whole form.
    pub(super) fn add_raw(&mut self, msg: &[u8]) {
        self.0.extend_from_slice(msg);
    }

    /// The bytes hashed so far.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Forgets everything (RFC 6347 §4.2.6: the first ClientHello and the
    /// HelloVerifyRequest are not hashed).
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    fn hash(&self, hash: HashAlgorithm) -> Vec<u8> {
        hash.hash(&self.0)
    }
}

/// The master secret (RFC 5246 §8.1).
pub(super) struct MasterSecret([u8; 48]);

impl core::fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MasterSecret(..)")
    }
}

/// The epoch-1 record protection of both directions.
pub(super) struct KeyBlock {
    pub(super) client_write: RecordCipher,
    pub(super) server_write: RecordCipher,
}

/// What every step after the hellos carries: the randoms, the transcript
/// and the negotiated parameters.
#[derive(Debug)]
pub(super) struct Handshake {
    pub(super) randoms: Randoms,
    pub(super) transcript: Transcript,
    pub(super) neg: Negotiated,
}

impl Handshake {
    /// The master secret (RFC 5246 §8.1, or RFC 7627 §4 over the session
    /// hash) and the key block (RFC 5246 §6.3) from the premaster secret.
    pub(super) fn derive_keys(&self, premaster: &[u8]) -> Result<(MasterSecret, KeyBlock)> {
        let (suite, hash) = (self.neg.suite, self.neg.suite.hash());
        let mut master = [0u8; 48];
        if self.neg.extended_master_secret {
            let session_hash = self.transcript.hash(hash);
            let label = b"extended master secret";
            crypto::prf(hash, premaster, label, &session_hash, &mut master);
        } else {
            let seed = self.randoms.client_first();
            crypto::prf(hash, premaster, b"master secret", &seed, &mut master);
        }
        let (k, iv) = (suite.key_len(), suite.fixed_iv_len());
        let mut block = vec![0u8; 2 * (k + iv)];
        let seed = self.randoms.server_first();
        crypto::prf(hash, &master, b"key expansion", &seed, &mut block);
        let (ck, rest) = block.split_at(k);
        let (sk, rest) = rest.split_at(k);
        let (civ, siv) = rest.split_at(iv);
        let keys = KeyBlock {
            client_write: RecordCipher::new(suite, ck, civ)?,
            server_write: RecordCipher::new(suite, sk, siv)?,
        };
        Ok((MasterSecret(master), keys))
    }

    /// Finished's verify_data over the transcript so far (RFC 5246 §7.4.9).
    pub(super) fn verify_data(&self, master: &MasterSecret, label: &[u8]) -> [u8; 12] {
        let hash = self.transcript.hash(self.neg.suite.hash());
        let mut out = [0u8; 12];
        crypto::prf(self.neg.suite.hash(), &master.0, label, &hash, &mut out);
        out
    }

    /// Checks the peer's Finished against our own verify_data in constant
    /// time, then adds it to the transcript.
    pub(super) fn accept_finished(
        &mut self,
        master: &MasterSecret,
        label: &[u8],
        msg: &Message,
    ) -> Result<()> {
        let expected = self.verify_data(master, label);
        if !crypto::ct_eq(&expected, &msg.body) {
            return Err(Error::protocol(
                crate::alert::AlertDescription::DecryptError,
                "Finished verify_data mismatch",
            ));
        }
        self.transcript.add(msg);
        Ok(())
    }

    /// What the connection keeps once the handshake completed.
    pub(super) fn into_session(
        self,
        master: MasterSecret,
        peer_certificate: Option<Vec<u8>>,
    ) -> Session {
        Session {
            neg: self.neg,
            randoms: self.randoms,
            master,
            peer_certificate,
        }
    }
}

/// An established connection's parameters and secrets: the exporter's
/// inputs (RFC 5705 §4) and what the accessors report.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) neg: Negotiated,
    randoms: Randoms,
    master: MasterSecret,
    pub(super) peer_certificate: Option<Vec<u8>>,
}

/// Largest keying material the exporter hands out.
const MAX_EXPORT: usize = 16 * 1024;

impl Session {
    /// Keying material exporter (RFC 5705 §4) filling `out`.
    pub(super) fn export(
        &self,
        label: &[u8],
        context: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<()> {
        if out.len() > MAX_EXPORT {
            return Err(Error::TooLarge("exported keying material"));
        }
        let mut seed = Vec::with_capacity(64 + 2 + context.map_or(0, <[u8]>::len));
        seed.extend_from_slice(&self.randoms.client_first());
        if let Some(c) = context {
            let n = u16::try_from(c.len()).map_err(|_| Error::TooLarge("exporter context"))?;
            seed.extend_from_slice(&n.to_be_bytes());
            seed.extend_from_slice(c);
        }
        crypto::prf(self.neg.suite.hash(), &self.master.0, label, &seed, out);
        Ok(())
    }
}
