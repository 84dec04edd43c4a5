//! The sans-IO DTLS 1.2 connection (RFC 6347): one type for both roles,
//! driven with `handle_receive` / `handle_timeout` and drained with
//! `poll_transmit` / `poll_event` / `poll_timeout`.
//!
//! Each handshake step is its own state type holding only what is valid at
//! that point (see [`State`]); `process` consumes the current state and a
//! message and returns the next state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::RngCore;

use crate::alert::{Alert, AlertDescription, AlertLevel};
use crate::cert::{Fingerprint, PeerKey};
use crate::config::Config;
use crate::crypto::{
    self, scheme, CipherSuite, HashAlgorithm, KeyExchange, NamedGroup, RecordCipher,
};
use crate::error::{Error, Result};
use crate::extensions::{self as ext, ExtensionWriter};
use crate::handshake::{
    self, emit_message, CertificateMsg, CertificateRequest, CertificateVerify, ClientHello,
    ClientKeyExchange, HandshakeFragment, HandshakeType, HelloVerifyRequest, Random, ServerHello,
    ServerKeyExchange, HANDSHAKE_HEADER_LEN,
};
use crate::reassembly::{Inserted, Message, Reassembler};
use crate::record::{
    write_header, ContentType, ProtocolVersion, Record, RecordFields, Records, MAX_CIPHERTEXT,
    MAX_PLAINTEXT, MAX_SEQUENCE, RECORD_HEADER_LEN,
};
use crate::replay::ReplayWindow;
use crate::srtp::{SrtpKeyingMaterial, SrtpProfile, EXPORTER_LABEL};

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
/// Records of the next epoch buffered before its keys are known.
const MAX_EARLY_RECORDS: usize = 8;
/// Undelivered events kept before application data is dropped.
const MAX_EVENTS: usize = 1024;
/// Smallest MTU accepted.
const MIN_MTU: usize = 256;

/// Which end of the handshake this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// What the application learns from the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's certificate matched an expected fingerprint (its SHA-256 given).
    PeerCertificateVerified(Fingerprint),
    /// The handshake completed; application data may flow.
    Connected,
    /// Application data from the peer.
    ApplicationData(Vec<u8>),
    /// The peer sent close_notify.
    Closed,
    /// The connection failed (an alert was sent or received, or it timed out).
    Failed(Error),
}

/// Counters of what was dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records dropped as malformed, unauthenticated, replayed or unexpected.
    pub dropped_records: u64,
    /// Flight retransmissions sent.
    pub retransmissions: u64,
}

/// Parameters negotiated in the hellos.
#[derive(Debug, Clone, Copy)]
struct Negotiated {
    suite: CipherSuite,
    extended_master_secret: bool,
    srtp: Option<SrtpProfile>,
}

mod client;
mod server;

pub use client::{
    ExpectServerCertificate, ExpectServerFinished, ExpectServerHello, ExpectServerHelloDone,
    ExpectServerKeyExchange,
};
pub use server::{
    ExpectCertificateVerify, ExpectClientCertificate, ExpectClientFinished, ExpectClientHello,
    ExpectClientKeyExchange,
};

/// Handshake progress; each variant holds only what is valid at that step.
#[derive(Debug)]
pub enum State {
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
    Connected,
    /// Closed by close_notify.
    Closed,
    /// Failed with a fatal error.
    Failed,
}

#[derive(Debug, Clone)]
enum FlightItem {
    /// A whole handshake message (header included) in `epoch`.
    Handshake { epoch: u16, msg: Vec<u8> },
    /// ChangeCipherSpec (always epoch 0).
    ChangeCipherSpec,
}

/// A DTLS 1.2 connection, client or server.
pub struct Connection {
    role: Role,
    config: Arc<Config>,
    /// Needed until the hellos are sent; dropped once connected.
    rng: Option<Box<dyn RngCore + Send>>,
    state: State,
    // Handshake bookkeeping.
    transcript: Vec<u8>,
    reassembler: Reassembler,
    next_send_seq: u16,
    client_random: Random,
    server_random: Random,
    cookie: Vec<u8>,
    cookie_secret: [u8; 32],
    peer_flight_end: Option<u16>,
    last_peer_record_seq0: u64,
    master_secret: Option<[u8; 48]>,
    negotiated: Option<Negotiated>,
    peer_certificate: Option<Vec<u8>>,
    // Record layer.
    write_epoch: u16,
    write_seq: [u64; 2],
    write_cipher: Option<RecordCipher>,
    read_cipher: Option<RecordCipher>,
    /// Anti-replay window of epoch 1 (RFC 6347 §4.1.2.6).
    replay: ReplayWindow,
    early_records: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    /// A buffer handed back through [`Connection::recycle`], for the next
    /// application data record.
    spare_plaintext: Vec<u8>,
    // Flights and timers.
    flight: Vec<FlightItem>,
    rto: Duration,
    deadline: Option<Instant>,
    retransmissions: u32,
    // Output.
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    stats: Stats,
    /// Test hook: send a Finished with wrong verify_data.
    #[cfg(test)]
    corrupt_finished: bool,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn protocol(alert: AlertDescription, reason: &'static str) -> Error {
    Error::protocol(alert, reason)
}

impl Connection {
    fn new(
        role: Role,
        config: Arc<Config>,
        mut rng: Box<dyn RngCore + Send>,
        state: State,
    ) -> Self {
        let mut cookie_secret = [0u8; 32];
        rng.fill_bytes(&mut cookie_secret);
        let rto = config.initial_retransmit_timeout;
        Connection {
            role,
            rng: Some(rng),
            state,
            transcript: Vec::new(),
            reassembler: Reassembler::floating(0),
            next_send_seq: 0,
            client_random: [0; 32],
            server_random: [0; 32],
            cookie: Vec::new(),
            cookie_secret,
            peer_flight_end: None,
            last_peer_record_seq0: 0,
            master_secret: None,
            negotiated: None,
            peer_certificate: None,
            write_epoch: 0,
            write_seq: [0; 2],
            write_cipher: None,
            read_cipher: None,
            replay: ReplayWindow::new(),
            early_records: Vec::new(),
            scratch: Vec::new(),
            spare_plaintext: Vec::new(),
            flight: Vec::new(),
            rto,
            deadline: None,
            retransmissions: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            #[cfg(test)]
            corrupt_finished: false,
            config,
        }
    }

    /// A client; its first flight (ClientHello) is ready to `poll_transmit` at once.
    pub fn client(config: Arc<Config>, now: Instant, rng: impl RngCore + Send + 'static) -> Self {
        let mut c = Connection::new(
            Role::Client,
            config,
            Box::new(rng),
            State::ExpectServerHello(ExpectServerHello),
        );
        let mut random = [0u8; 32];
        if let Some(rng) = c.rng.as_mut() {
            rng.fill_bytes(&mut random);
        }
        // The client needs no more randomness after its ClientHello random.
        c.rng = None;
        c.client_random = random;
        c.send_client_hello(now);
        c
    }

    /// A server waiting for a ClientHello.
    pub fn server(config: Arc<Config>, rng: impl RngCore + Send + 'static) -> Self {
        Connection::new(
            Role::Server,
            config,
            Box::new(rng),
            State::ExpectClientHello(ExpectClientHello),
        )
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current handshake state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether the handshake completed and the connection is open.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected)
    }

    /// Drop and retransmission counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The negotiated cipher suite, once known.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.negotiated.map(|n| n.suite)
    }

    /// The negotiated SRTP protection profile, if use_srtp was agreed.
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        self.negotiated.and_then(|n| n.srtp)
    }

    /// Whether the extended master secret (RFC 7627) is in use.
    pub fn extended_master_secret(&self) -> bool {
        self.negotiated.is_some_and(|n| n.extended_master_secret)
    }

    /// The peer's DER certificate, once received and verified.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.peer_certificate.as_deref()
    }

    /// Keying material exporter (RFC 5705 §4), available once connected.
    pub fn export_keying_material(
        &self,
        label: &[u8],
        context: Option<&[u8]>,
        len: usize,
    ) -> Result<Vec<u8>> {
        let (Some(master), Some(neg), State::Connected) =
            (&self.master_secret, self.negotiated, &self.state)
        else {
            return Err(Error::InvalidState(
                "exporter before the handshake completed",
            ));
        };
        if len > 16 * 1024 {
            return Err(Error::TooLarge("exported keying material"));
        }
        let mut seed = Vec::with_capacity(64 + 2 + context.map_or(0, |c| c.len()));
        seed.extend_from_slice(&self.client_random);
        seed.extend_from_slice(&self.server_random);
        if let Some(c) = context {
            let n = u16::try_from(c.len()).map_err(|_| Error::TooLarge("exporter context"))?;
            seed.extend_from_slice(&n.to_be_bytes());
            seed.extend_from_slice(c);
        }
        let mut out = vec![0u8; len];
        crypto::prf(neg.suite.hash(), master, label, &seed, &mut out);
        Ok(out)
    }

    /// The SRTP master keys and salts (RFC 5764 §4.2), once connected with use_srtp.
    pub fn srtp_keying_material(&self) -> Result<SrtpKeyingMaterial> {
        let profile = self
            .srtp_profile()
            .ok_or(Error::InvalidState("no SRTP profile negotiated"))?;
        let m = self.export_keying_material(EXPORTER_LABEL, None, profile.keying_material_len())?;
        SrtpKeyingMaterial::split(profile, &m).ok_or(Error::InvalidState("keying material length"))
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Connection::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Retransmits the current flight if its timer expired (RFC 6347 §4.2.4).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.retransmissions >= self.config.max_retransmissions {
            self.deadline = None;
            self.fail(Error::HandshakeTimeout, false);
            return;
        }
        self.retransmissions += 1;
        self.stats.retransmissions += 1;
        self.rto = (self.rto * 2).min(self.config.max_retransmit_timeout);
        self.transmit_flight();
        self.deadline = Some(now + self.rto);
    }

    /// Encrypts `data` as one application_data record into a queued datagram.
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        let mut out = Vec::with_capacity(data.len() + 64);
        self.seal_application_data(data, &mut out)?;
        self.transmits.push_back(out);
        Ok(())
    }

    /// Appends one protected application_data record carrying `data` to `out`
    /// (the allocation-free path: the caller owns and reuses the buffer).
    pub fn seal_application_data(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.check_application_data(data.len())?;
        self.write_record(out, 1, ContentType::ApplicationData, data)
    }

    /// Whether `len` bytes of application data may be sealed now.
    fn check_application_data(&self, len: usize) -> Result<()> {
        if !self.is_connected() {
            return Err(Error::InvalidState(
                "application data before the handshake completed",
            ));
        }
        if len > MAX_PLAINTEXT {
            return Err(Error::TooLarge("application data"));
        }
        Ok(())
    }

    /// Room to leave before application data that
    /// [`Self::seal_application_data_in_place`] seals (`None` before the
    /// keys exist).
    pub fn record_prefix_len(&self) -> Option<usize> {
        self.write_cipher
            .as_ref()
            .map(RecordCipher::record_prefix_len)
    }

    /// Seals, where it lies, the application data that follows
    /// [`Self::record_prefix_len`] bytes of room at the start of `buf`: the
    /// record header goes into the room and the tag after the data, so the
    /// data is never copied.
    pub fn seal_application_data_in_place(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let prefix = self.record_prefix_len().unwrap_or(0);
        self.check_application_data(buf.len().saturating_sub(prefix))?;
        let seq = self.next_write_seq(1)?;
        let cipher = self
            .write_cipher
            .as_ref()
            .ok_or(Error::InvalidState("no keys for epoch 1"))?;
        cipher.seal_in_place(
            buf,
            0,
            ContentType::ApplicationData,
            ProtocolVersion::DTLS1_2,
            1,
            seq,
        )
    }

    /// **Test and fuzzing hook, not part of the supported API.** Appends to
    /// `out` one record of `content_type` (20 to 23: change_cipher_spec,
    /// alert, handshake, application_data) carrying `payload` as is, sealed
    /// with this side's epoch-1 write keys and its next sequence number,
    /// whatever the state and whatever the payload (an alert, a handshake
    /// message after the handshake, a malformed ChangeCipherSpec, more than
    /// a record may carry...). It lets the fuzz targets and tests reach the
    /// peer's handling of authenticated records, which arbitrary bytes never
    /// get past the AEAD to. Fails only when there are no write keys yet or
    /// the record cannot be encoded; `out` is then left as it was.
    #[doc(hidden)]
    pub fn seal_record_for_fuzzing(
        &mut self,
        content_type: u8,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let content_type =
            ContentType::from_u8(content_type).ok_or(Error::InvalidState("content type"))?;
        if self.write_cipher.is_none() {
            return Err(Error::InvalidState("no keys for epoch 1"));
        }
        let start = out.len();
        let sealed = self.write_record(out, 1, content_type, payload);
        if sealed.is_err() {
            out.truncate(start);
        }
        sealed
    }

    /// Sends close_notify (RFC 5246 §7.2.1); the connection is closed afterwards.
    pub fn close(&mut self) {
        if matches!(self.state, State::Closed | State::Failed) {
            return;
        }
        self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        self.state = State::Closed;
        self.deadline = None;
    }

    /// Feeds one received datagram.
    pub fn handle_receive(&mut self, now: Instant, datagram: &[u8]) {
        if matches!(self.state, State::Closed | State::Failed) {
            return;
        }
        let mut resent = false;
        for rec in Records::new(datagram) {
            let Ok(rec) = rec else {
                self.stats.dropped_records += 1;
                break;
            };
            self.handle_record(now, &rec, &mut resent);
            if matches!(self.state, State::Closed | State::Failed) {
                return;
            }
        }
        self.finish_datagram(now, &mut resent);
    }

    /// Feeds one received datagram that may be decrypted where it lies (its
    /// contents are unspecified afterwards): the plaintext of each
    /// application_data record goes to `on_data` as soon as it is opened,
    /// with no copy and no buffer of its own, instead of becoming an
    /// [`Event::ApplicationData`]. Everything else is handled as by
    /// [`Self::handle_receive`], and data arriving while other events wait
    /// to be polled is queued behind them, so the order of events holds.
    pub fn handle_receive_in_place(
        &mut self,
        now: Instant,
        datagram: &mut [u8],
        mut on_data: impl FnMut(&[u8]),
    ) {
        if matches!(self.state, State::Closed | State::Failed) {
            return;
        }
        let mut resent = false;
        let mut rest = datagram;
        while !rest.is_empty() {
            let Ok((rec, _)) = Record::parse(rest) else {
                self.stats.dropped_records += 1;
                break;
            };
            let wire_len = rec.wire_len();
            if self.opens_data_in_place(&rec) {
                let fields = RecordFields::of(&rec);
                let Some((record, after)) = rest.split_at_mut_checked(wire_len) else {
                    break;
                };
                if let Some(fragment) = record.get_mut(RECORD_HEADER_LEN..) {
                    self.open_data_in_place(&fields, fragment, &mut on_data);
                }
                rest = after;
                continue;
            }
            self.handle_record(now, &rec, &mut resent);
            if matches!(self.state, State::Closed | State::Failed) {
                return;
            }
            rest = rest.get_mut(wire_len..).unwrap_or_default();
        }
        self.finish_datagram(now, &mut resent);
    }

    /// Whether `rec` is application data that [`Self::open_data_in_place`]
    /// may hand over at once.
    fn opens_data_in_place(&self, rec: &Record<'_>) -> bool {
        rec.epoch == 1
            && rec.content_type == ContentType::ApplicationData
            && self.is_connected()
            && self.read_cipher.is_some()
            && self.events.is_empty()
    }

    /// Opens an application_data record of epoch 1 in place and hands its
    /// plaintext to `on_data`; a replay or a bad MAC is dropped silently
    /// (RFC 6347 §4.1.2.6, §4.1.2.7).
    fn open_data_in_place(
        &mut self,
        rec: &RecordFields,
        fragment: &mut [u8],
        on_data: &mut impl FnMut(&[u8]),
    ) {
        let Some(cipher) = &self.read_cipher else {
            return;
        };
        if !self.replay.check(rec.sequence_number) {
            self.stats.dropped_records += 1;
            return;
        }
        match cipher.open_in_place(rec, fragment) {
            Ok(plain) if plain.len() <= MAX_PLAINTEXT => {
                self.accept_data_record(rec.sequence_number);
                on_data(plain);
            }
            _ => self.stats.dropped_records += 1,
        }
    }

    /// Bookkeeping for an authenticated application_data record of epoch 1.
    fn accept_data_record(&mut self, sequence_number: u64) {
        self.replay.update(sequence_number);
        if !self.flight.is_empty() {
            // Authenticated data of the new epoch proves the peer has our
            // last flight (RFC 6347 §4.2.4).
            self.flight = Vec::new();
        }
    }

    /// After the records of a datagram: records of epoch 1 that arrived
    /// before its keys, then handshake buffers no longer needed.
    fn finish_datagram(&mut self, now: Instant, resent: &mut bool) {
        while self.read_cipher.is_some() && !self.early_records.is_empty() {
            let raw = self.early_records.remove(0);
            if let Ok((rec, _)) = Record::parse(&raw) {
                self.handle_record(now, &rec, resent);
            }
            if matches!(self.state, State::Closed | State::Failed) {
                return;
            }
        }
        if self.is_connected() {
            self.release_handshake_buffers();
        }
    }

    fn handle_record(&mut self, now: Instant, rec: &Record<'_>, resent: &mut bool) {
        let epoch = rec.epoch;
        let mut scratch = core::mem::take(&mut self.scratch);
        let plaintext: &[u8] = match epoch {
            0 => {
                // Epoch 0 is unauthenticated: a forged record must not be able
                // to move a replay window, so duplicates are left to the
                // handshake layer (message_seq) instead.
                self.last_peer_record_seq0 = rec.sequence_number;
                rec.fragment
            }
            1 => {
                let Some(cipher) = &self.read_cipher else {
                    if !self.is_connected() && self.early_records.len() < MAX_EARLY_RECORDS {
                        let mut raw = rec.header.to_vec();
                        raw.extend_from_slice(rec.fragment);
                        self.early_records.push(raw);
                    } else {
                        self.stats.dropped_records += 1;
                    }
                    self.scratch = scratch;
                    return;
                };
                if !self.replay.check(rec.sequence_number) {
                    self.stats.dropped_records += 1;
                    self.scratch = scratch;
                    return;
                }
                if rec.content_type == ContentType::ApplicationData && self.is_connected() {
                    // The data path: decrypt straight into the event's buffer.
                    self.scratch = scratch;
                    let buf = core::mem::take(&mut self.spare_plaintext);
                    match cipher.open_into_vec(rec, buf) {
                        Ok(p) if p.len() <= MAX_PLAINTEXT => {
                            self.accept_data_record(rec.sequence_number);
                            if self.events.len() < MAX_EVENTS {
                                self.events.push_back(Event::ApplicationData(p));
                            }
                        }
                        // RFC 6347 §4.1.2.7: bad MAC → silently discard.
                        _ => self.stats.dropped_records += 1,
                    }
                    return;
                }
                match cipher.open(rec, &mut scratch) {
                    Ok(p) => {
                        self.replay.update(rec.sequence_number);
                        p
                    }
                    Err(_) => {
                        // RFC 6347 §4.1.2.7: bad MAC → silently discard.
                        self.stats.dropped_records += 1;
                        self.scratch = scratch;
                        return;
                    }
                }
            }
            _ => {
                self.stats.dropped_records += 1;
                self.scratch = scratch;
                return;
            }
        };
        if plaintext.len() > MAX_PLAINTEXT {
            self.stats.dropped_records += 1;
            self.scratch = scratch;
            return;
        }
        let result = match rec.content_type {
            ContentType::Handshake => self.handle_handshake_record(now, epoch, plaintext, resent),
            ContentType::ChangeCipherSpec => {
                if plaintext != [1] {
                    self.stats.dropped_records += 1;
                }
                Ok(())
            }
            ContentType::Alert => self.handle_alert(epoch, plaintext),
            ContentType::ApplicationData => {
                if epoch == 1 && self.is_connected() {
                    if self.events.len() < MAX_EVENTS {
                        self.events
                            .push_back(Event::ApplicationData(plaintext.to_vec()));
                    }
                } else {
                    self.stats.dropped_records += 1;
                }
                Ok(())
            }
        };
        self.scratch = scratch;
        if let Err(e) = result {
            self.fail(e, true);
        }
    }

    fn handle_alert(&mut self, epoch: u16, plaintext: &[u8]) -> Result<()> {
        let Ok(alert) = Alert::parse(plaintext) else {
            self.stats.dropped_records += 1;
            return Ok(());
        };
        // Once connected, unauthenticated epoch-0 alerts could be forged.
        if epoch == 0 && self.is_connected() {
            self.stats.dropped_records += 1;
            return Ok(());
        }
        if alert.description == AlertDescription::CloseNotify {
            self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
            self.state = State::Closed;
            self.deadline = None;
            self.events.push_back(Event::Closed);
        } else if alert.level == AlertLevel::Fatal {
            self.state = State::Failed;
            self.deadline = None;
            self.events
                .push_back(Event::Failed(Error::AlertReceived(alert.description)));
        }
        Ok(())
    }

    fn handle_handshake_record(
        &mut self,
        now: Instant,
        epoch: u16,
        plaintext: &[u8],
        resent: &mut bool,
    ) -> Result<()> {
        for frag in handshake::fragments(plaintext) {
            let Ok(frag) = frag else {
                self.stats.dropped_records += 1;
                return Ok(());
            };
            // In DTLS 1.2 only Finished is protected; anything else in epoch 1,
            // or a Finished in epoch 0, is dropped.
            if (frag.msg_type == HandshakeType::Finished) != (epoch == 1) {
                self.stats.dropped_records += 1;
                continue;
            }
            match self.reassembler.insert(&frag) {
                Ok(Inserted::Buffered) => {}
                Ok(Inserted::Old) => {
                    // RFC 6347 §4.2.4: the peer retransmitted its last flight, so ours was lost.
                    if Some(frag.message_seq) == self.peer_flight_end
                        && !*resent
                        && !self.flight.is_empty()
                    {
                        *resent = true;
                        self.stats.retransmissions += 1;
                        self.transmit_flight();
                    }
                }
                Ok(Inserted::TooFarAhead) | Err(_) => self.stats.dropped_records += 1,
            }
        }
        while let Some(msg) = self.reassembler.pop() {
            self.process(now, msg)?;
            if matches!(self.state, State::Closed | State::Failed) {
                break;
            }
        }
        Ok(())
    }

    /// Consumes the current state with one whole handshake message.
    fn process(&mut self, now: Instant, msg: Message) -> Result<()> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let next = match (state, msg.msg_type) {
            (State::ExpectServerHello(s), HandshakeType::HelloVerifyRequest) => {
                self.on_hello_verify_request(now, s, &msg)
            }
            (State::ExpectServerHello(s), HandshakeType::ServerHello) => {
                self.on_server_hello(s, &msg)
            }
            (State::ExpectServerCertificate(s), HandshakeType::Certificate) => {
                self.on_server_certificate(s, &msg)
            }
            (State::ExpectServerKeyExchange(s), HandshakeType::ServerKeyExchange) => {
                self.on_server_key_exchange(s, &msg)
            }
            (State::ExpectServerHelloDone(s), HandshakeType::CertificateRequest)
                if !s.certificate_requested =>
            {
                self.on_certificate_request(s, &msg)
            }
            (State::ExpectServerHelloDone(s), HandshakeType::ServerHelloDone) => {
                self.on_server_hello_done(now, s, &msg)
            }
            (State::ExpectServerFinished(s), HandshakeType::Finished) => {
                self.on_server_finished(s, &msg)
            }
            (State::ExpectClientHello(s), HandshakeType::ClientHello) => {
                self.on_client_hello(now, s, &msg)
            }
            (State::ExpectClientCertificate(s), HandshakeType::Certificate) => {
                self.on_client_certificate(s, &msg)
            }
            (State::ExpectClientCertificate(s), HandshakeType::ClientKeyExchange)
                if !self.config.require_client_certificate =>
            {
                self.on_client_key_exchange(
                    ExpectClientKeyExchange {
                        neg: s.neg,
                        kx: s.kx,
                        peer_key: None,
                    },
                    &msg,
                )
            }
            (State::ExpectClientKeyExchange(s), HandshakeType::ClientKeyExchange) => {
                self.on_client_key_exchange(s, &msg)
            }
            (State::ExpectCertificateVerify(s), HandshakeType::CertificateVerify) => {
                self.on_certificate_verify(s, &msg)
            }
            (State::ExpectClientFinished(s), HandshakeType::Finished) => {
                self.on_client_finished(s, &msg)
            }
            (State::Connected, _) => {
                // RFC 5746: renegotiation is refused with a warning.
                self.send_alert(AlertLevel::Warning, AlertDescription::NoRenegotiation);
                Ok(State::Connected)
            }
            (_, _) => Err(protocol(
                AlertDescription::UnexpectedMessage,
                "unexpected handshake message",
            )),
        }?;
        self.state = next;
        Ok(())
    }

    // ---- shared machinery (client steps in client.rs, server steps in server.rs) ----

    fn connected(&mut self) {
        self.deadline = None;
        self.write_epoch = 1;
        self.events.push_back(Event::Connected);
        // Handshake-only state is not needed any more.
        self.transcript = Vec::new();
        self.cookie = Vec::new();
        self.rng = None;
        if self.role == Role::Client {
            // The server's Finished proves it received our last flight; only
            // the sender of the final flight must be able to resend it
            // (RFC 6347 §4.2.4).
            self.flight = Vec::new();
        }
    }

    /// Hands back the buffer of an [`Event::ApplicationData`] the caller is
    /// done with: the next record is decrypted into it, so a receiver that
    /// recycles allocates nothing per record.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > self.spare_plaintext.capacity() && buf.capacity() <= MAX_CIPHERTEXT {
            buf.clear();
            self.spare_plaintext = buf;
        }
    }

    /// Returns the buffers of drained output queues to the allocator (for a
    /// connection that has been quiet a while; the data path reuses them
    /// otherwise).
    pub fn release_idle_buffers(&mut self) {
        self.spare_plaintext = Vec::new();
        if self.transmits.is_empty() {
            self.transmits = VecDeque::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// Frees buffers that only the handshake needed, once they are idle.
    /// Cheap when there is nothing to free (called per datagram).
    fn release_handshake_buffers(&mut self) {
        if self.early_records.is_empty() && self.early_records.capacity() != 0 {
            self.early_records = Vec::new();
        }
        if self.scratch.capacity() != 0 {
            self.scratch = Vec::new();
        }
        self.reassembler.release_if_idle();
    }

    fn add_to_transcript(&mut self, msg: &Message) {
        emit_message(
            &mut self.transcript,
            msg.msg_type,
            msg.message_seq,
            &msg.body,
        );
    }

    fn verify_data(&self, neg: Negotiated, label: &[u8]) -> Vec<u8> {
        let hash = neg.suite.hash().hash(&self.transcript);
        let mut out = vec![0u8; 12];
        if let Some(master) = &self.master_secret {
            crypto::prf(neg.suite.hash(), master, label, &hash, &mut out);
        }
        out
    }

    /// Checks the peer's Finished against our own verify_data (RFC 5246 §7.4.9)
    /// in constant time, then adds it to the transcript.
    fn accept_finished(&mut self, neg: Negotiated, label: &[u8], msg: &Message) -> Result<()> {
        let expected = self.verify_data(neg, label);
        if !crypto::ct_eq(&expected, &msg.body) {
            return Err(protocol(
                AlertDescription::DecryptError,
                "Finished verify_data mismatch",
            ));
        }
        self.add_to_transcript(msg);
        Ok(())
    }

    /// Master secret (RFC 5246 §8.1 / RFC 7627 §4) and the key block (RFC 5246 §6.3).
    fn derive_keys(&mut self, neg: Negotiated, premaster: &[u8]) -> Result<()> {
        let hash = neg.suite.hash();
        let mut master = [0u8; 48];
        if neg.extended_master_secret {
            let session_hash = hash.hash(&self.transcript);
            crypto::prf(
                hash,
                premaster,
                b"extended master secret",
                &session_hash,
                &mut master,
            );
        } else {
            let mut seed = self.client_random.to_vec();
            seed.extend_from_slice(&self.server_random);
            crypto::prf(hash, premaster, b"master secret", &seed, &mut master);
        }
        let (k, iv) = (neg.suite.key_len(), neg.suite.fixed_iv_len());
        let mut block = vec![0u8; 2 * (k + iv)];
        let mut seed = self.server_random.to_vec();
        seed.extend_from_slice(&self.client_random);
        crypto::prf(hash, &master, b"key expansion", &seed, &mut block);
        let (ck, rest) = block.split_at(k);
        let (sk, rest) = rest.split_at(k);
        let (civ, siv) = rest.split_at(iv);
        let client = RecordCipher::new(neg.suite, ck, civ)?;
        let server = RecordCipher::new(neg.suite, sk, siv)?;
        let (w, r) = match self.role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        self.write_cipher = Some(w);
        self.read_cipher = Some(r);
        self.master_secret = Some(master);
        Ok(())
    }

    fn push_handshake(&mut self, epoch: u16, ty: HandshakeType, body: &[u8]) {
        let mut msg = Vec::with_capacity(body.len() + HANDSHAKE_HEADER_LEN);
        emit_message(&mut msg, ty, self.next_send_seq, body);
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        self.transcript.extend_from_slice(&msg);
        self.flight.push(FlightItem::Handshake { epoch, msg });
    }

    fn send_flight(&mut self, now: Instant, timed: bool) {
        self.retransmissions = 0;
        self.rto = self.config.initial_retransmit_timeout;
        self.transmit_flight();
        self.deadline = if timed { Some(now + self.rto) } else { None };
    }

    /// Packs the current flight into datagrams of at most `mtu` bytes,
    /// fragmenting handshake messages as needed (RFC 6347 §4.2.3).
    fn transmit_flight(&mut self) {
        let mtu = self.config.mtu.clamp(MIN_MTU, MAX_PLAINTEXT);
        let flight = core::mem::take(&mut self.flight);
        let mut dgram = Vec::with_capacity(mtu);
        let mut payload = Vec::with_capacity(mtu);
        for item in &flight {
            match item {
                FlightItem::ChangeCipherSpec => {
                    if dgram.len() + RECORD_HEADER_LEN + 1 > mtu {
                        self.transmits.push_back(core::mem::take(&mut dgram));
                    }
                    let _ = self.write_record(&mut dgram, 0, ContentType::ChangeCipherSpec, &[1]);
                }
                FlightItem::Handshake { epoch, msg } => {
                    let overhead = if *epoch == 0 {
                        0
                    } else {
                        self.write_cipher
                            .as_ref()
                            .map_or(0, |c| c.suite().overhead())
                    };
                    let Ok((frag, _)) = HandshakeFragment::parse(msg) else {
                        continue;
                    };
                    let total = frag.body.len();
                    let mut offset = 0usize;
                    loop {
                        let fixed = RECORD_HEADER_LEN + overhead + HANDSHAKE_HEADER_LEN;
                        let space = mtu.saturating_sub(dgram.len() + fixed);
                        let want = (total - offset).min(64);
                        if space < want.max(1) && !dgram.is_empty() {
                            self.transmits.push_back(core::mem::take(&mut dgram));
                            continue;
                        }
                        let n = (total - offset).min(space.max(1));
                        payload.clear();
                        HandshakeFragment {
                            fragment_offset: offset as u32,
                            body: &frag.body[offset..offset + n],
                            ..frag
                        }
                        .emit(&mut payload);
                        let _ =
                            self.write_record(&mut dgram, *epoch, ContentType::Handshake, &payload);
                        offset += n;
                        if offset >= total {
                            break;
                        }
                    }
                }
            }
        }
        if !dgram.is_empty() {
            self.transmits.push_back(dgram);
        }
        self.flight = flight;
    }

    /// Appends one record in `epoch` (protected for epoch 1) to `out`.
    /// Takes the next record sequence number of `epoch`.
    fn next_write_seq(&mut self, epoch: u16) -> Result<u64> {
        let idx = usize::from(epoch.min(1));
        let seq = self.write_seq[idx];
        if seq > MAX_SEQUENCE {
            return Err(Error::InvalidState("record sequence numbers exhausted"));
        }
        self.write_seq[idx] += 1;
        Ok(seq)
    }

    fn write_record(
        &mut self,
        out: &mut Vec<u8>,
        epoch: u16,
        ct: ContentType,
        payload: &[u8],
    ) -> Result<()> {
        let seq = self.next_write_seq(epoch)?;
        let version = ProtocolVersion::DTLS1_2;
        if epoch == 0 {
            let len = u16::try_from(payload.len()).map_err(|_| Error::TooLarge("record"))?;
            write_header(out, ct, version, 0, seq, len);
            out.extend_from_slice(payload);
            Ok(())
        } else {
            let cipher = self
                .write_cipher
                .as_ref()
                .ok_or(Error::InvalidState("no keys for epoch 1"))?;
            cipher.seal(out, ct, version, epoch, seq, payload)
        }
    }

    fn send_alert(&mut self, level: AlertLevel, description: AlertDescription) {
        let alert = Alert { level, description }.to_bytes();
        let epoch = if self.write_epoch == 1 && self.write_cipher.is_some() {
            1
        } else {
            0
        };
        let mut out = Vec::with_capacity(64);
        if self
            .write_record(&mut out, epoch, ContentType::Alert, &alert)
            .is_ok()
        {
            self.transmits.push_back(out);
        }
    }

    fn fail(&mut self, e: Error, send_alert: bool) {
        if send_alert {
            if let Some(a) = e.alert() {
                self.send_alert(AlertLevel::Fatal, a);
            }
        }
        self.state = State::Failed;
        self.deadline = None;
        self.flight.clear();
        self.events.push_back(Event::Failed(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Certificate;

    fn pair() -> (Connection, Connection, Instant) {
        let (a, b) = (
            Arc::new(Certificate::generate().unwrap()),
            Arc::new(Certificate::generate().unwrap()),
        );
        let cc = Config::new(a.clone(), vec![b.fingerprint()]);
        let sc = Config::new(b, vec![a.fingerprint()]);
        let now = Instant::now();
        let c = Connection::client(Arc::new(cc), now, rand_core::OsRng);
        let s = Connection::server(Arc::new(sc), rand_core::OsRng);
        (c, s, now)
    }

    fn exchange(c: &mut Connection, s: &mut Connection, now: Instant) {
        for _ in 0..8 {
            while let Some(d) = c.poll_transmit() {
                s.handle_receive(now, &d);
            }
            while let Some(d) = s.poll_transmit() {
                c.handle_receive(now, &d);
            }
        }
    }

    #[test]
    fn tampered_finished_fails_with_decrypt_error() {
        let (mut c, mut s, now) = pair();
        c.corrupt_finished = true;
        exchange(&mut c, &mut s, now);
        assert!(matches!(s.state(), State::Failed));
        let se: Vec<Event> = core::iter::from_fn(|| s.poll_event()).collect();
        assert!(se.contains(&Event::Failed(Error::Protocol {
            alert: AlertDescription::DecryptError,
            reason: "Finished verify_data mismatch"
        })));
        let ce: Vec<Event> = core::iter::from_fn(|| c.poll_event()).collect();
        assert!(ce.contains(&Event::Failed(Error::AlertReceived(
            AlertDescription::DecryptError
        ))));
    }

    #[test]
    fn handshake_state_is_freed_once_connected() {
        let (mut c, mut s, mut now) = pair();
        // Lose the server's flight 6 so that the client retransmits flight 5.
        for _ in 0..8 {
            while let Some(d) = c.poll_transmit() {
                s.handle_receive(now, &d);
            }
            while let Some(d) = s.poll_transmit() {
                if !s.is_connected() {
                    c.handle_receive(now, &d);
                }
            }
        }
        assert!(s.is_connected() && !c.is_connected());
        let mut resend = || {
            now = c.poll_timeout().unwrap();
            c.handle_timeout(now);
            core::iter::from_fn(|| c.poll_transmit()).collect::<Vec<_>>()
        };
        let (first, second) = (resend(), resend());
        assert!(!first.is_empty() && !second.is_empty());
        // The server keeps its last flight and resends it when the client's
        // last flight comes again (RFC 6347 §4.2.4)...
        assert!(!s.flight.is_empty());
        for d in &first {
            s.handle_receive(now, d);
        }
        let flight6: Vec<_> = core::iter::from_fn(|| s.poll_transmit()).collect();
        assert!(!flight6.is_empty(), "flight 6 resent");
        for d in &flight6 {
            c.handle_receive(now, d);
        }
        assert!(c.is_connected());
        for conn in [&c, &s] {
            assert_eq!(conn.transcript.capacity(), 0);
            assert_eq!(conn.cookie.capacity(), 0);
            assert_eq!(conn.scratch.capacity(), 0);
            assert_eq!(conn.early_records.capacity(), 0);
            assert!(conn.rng.is_none());
        }
        assert!(c.flight.is_empty(), "the client's flight was acknowledged");
        // ...until application data of epoch 1 proves it arrived.
        c.send(b"hello").unwrap();
        while let Some(d) = c.poll_transmit() {
            s.handle_receive(now, &d);
        }
        assert_eq!(s.flight.capacity(), 0);
        let got: Vec<Event> = core::iter::from_fn(|| s.poll_event()).collect();
        assert!(got.contains(&Event::ApplicationData(b"hello".to_vec())));
        for d in &second {
            s.handle_receive(now, d);
        }
        assert!(s.poll_transmit().is_none(), "nothing left to resend");
        assert!(s.is_connected());
    }

    #[test]
    fn untampered_pair_connects() {
        let (mut c, mut s, now) = pair();
        exchange(&mut c, &mut s, now);
        assert!(c.is_connected() && s.is_connected());
    }
}
