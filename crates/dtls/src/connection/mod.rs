//! The sans-IO DTLS 1.2 connection (RFC 6347): one type for both roles,
//! driven by the stack's one I/O contract (ARCHITECTURE.md, "The sans-IO
//! convention"), DTLS being a byte pipe:
//!
//! - `handle_receive(now, &mut [u8])` parses the datagram and decrypts its
//!   records where they lie; the plaintext of each application_data record
//!   is then a range of the caller's buffer, drained with
//!   `poll_application_data`;
//! - `poll_transmit(now, &mut Vec<u8>) -> Option<usize>` writes the next
//!   handshake or alert datagram into the caller's buffer;
//! - `poll_event()`, `poll_timeout()` and `handle_timeout(now)`;
//! - application data is sealed in place into the caller's buffer
//!   (`seal_application_data_in_place`) or appended to it
//!   (`seal_application_data`).
//!
//! The seams: `state` holds the handshake states and the data each owns,
//! `client` and `server` the two roles' flights, `receive` the record
//! input, `flight` the record output, flights and the retransmission timer.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use rand_core::RngCore;

use crate::alert::{AlertDescription, AlertLevel};
use crate::cert::Fingerprint;
use crate::config::Config;
use crate::crypto::CipherSuite;
use crate::error::{Error, Failure, Result};
use crate::record::{ContentType, MAX_PLAINTEXT};

mod client;
mod flight;
mod receive;
mod server;
mod state;
#[cfg(test)]
mod tests;

use flight::{Flights, RecordLayer};
use state::State;

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;

/// Which end of the handshake this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// What the application learns from the connection (its data comes through
/// [`Connection::poll_application_data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's certificate matched an expected fingerprint (its SHA-256 given).
    PeerCertificateVerified(Fingerprint),
    /// The handshake completed; application data may flow.
    Connected,
    /// The peer sent close_notify.
    Closed,
    /// The connection failed; the failure names who misbehaved.
    Failed(Failure),
}

/// Counters of what was dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records dropped as malformed, unauthenticated, replayed or unexpected.
    pub dropped_records: u64,
    /// Flight retransmissions sent.
    pub retransmissions: u64,
}

/// A DTLS 1.2 connection, client or server.
pub struct Connection {
    role: Role,
    config: Arc<Config>,
    /// The handshake step, owning its randoms, transcript and secrets.
    state: State,
    /// Handshake message sequencing, the current flight and its timer.
    flights: Flights,
    /// Epochs, sequence numbers, record protection, anti-replay.
    records: RecordLayer,
    /// Handshake and alert datagrams waiting for `poll_transmit`.
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    /// Plaintext of the application_data records of the last datagram
    /// received, as ranges of it (a reused allocation)...
    received: Vec<Range<usize>>,
    /// ...and the next of them to hand out.
    received_next: usize,
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

impl Connection {
    fn new(role: Role, config: Arc<Config>, state: State) -> Self {
        Connection {
            role,
            state,
            flights: Flights::new(&config),
            records: RecordLayer::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            received: Vec::new(),
            received_next: 0,
            stats: Stats::default(),
            #[cfg(test)]
            corrupt_finished: false,
            config,
        }
    }

    /// A client; its first flight (ClientHello) is ready to `poll_transmit`
    /// at once. `rng` gives the client random and is dropped.
    pub fn client(
        config: Arc<Config>,
        now: Instant,
        mut rng: impl RngCore + Send + 'static,
    ) -> Self {
        let mut random = [0u8; 32];
        rng.fill_bytes(&mut random);
        let hello = client::ExpectServerHello::new(random);
        let mut c = Connection::new(Role::Client, config, State::Closed);
        let hello = c.send_client_hello(now, hello, &[]);
        c.state = State::ExpectServerHello(hello);
        c
    }

    /// A server waiting for a ClientHello; `rng` gives the cookie secret
    /// and the server random, and is dropped once the ClientHello came.
    pub fn server(config: Arc<Config>, rng: impl RngCore + Send + 'static) -> Self {
        let state = State::ExpectClientHello(server::ExpectClientHello::new(Box::new(rng)));
        Connection::new(Role::Server, config, state)
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the handshake completed and the connection is open.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// Why the connection failed, once it has.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.state {
            State::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// Drop and retransmission counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The negotiated cipher suite, once known.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.state.negotiated().map(|n| n.suite)
    }

    /// The IANA id of the DTLS-SRTP protection profile agreed (RFC 5764
    /// §4.1.2), once known, if use_srtp was agreed.
    pub fn srtp_profile(&self) -> Option<u16> {
        self.state.negotiated().and_then(|n| n.srtp_profile)
    }

    /// Whether the extended master secret (RFC 7627) is in use.
    pub fn extended_master_secret(&self) -> bool {
        self.state
            .negotiated()
            .is_some_and(|n| n.extended_master_secret)
    }

    /// The peer's DER certificate, once connected (it was verified).
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        match &self.state {
            State::Connected(s) => s.peer_certificate.as_deref(),
            _ => None,
        }
    }

    /// Keying material exporter (RFC 5705 §4), available once connected:
    /// fills `out` (at most 16 KiB) from `label` and the optional `context`.
    /// DTLS-SRTP keys come from it (RFC 5764 §4.2), split by fulmar-srtp.
    pub fn export_keying_material(
        &self,
        label: &[u8],
        context: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<()> {
        let State::Connected(session) = &self.state else {
            return Err(Error::InvalidState(
                "exporter before the handshake completed",
            ));
        };
        session.export(label, context, out)
    }

    /// Writes the next handshake or alert datagram into `buf` (replacing
    /// its contents) and returns its length.
    #[inline]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        buf.clear();
        let d = self.transmits.pop_front()?;
        buf.extend_from_slice(&d);
        Some(d.len())
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next application_data plaintext of the datagram last given to
    /// [`Self::handle_receive`], as a range of that buffer, in the order
    /// the records came. Drain it before the next `handle_receive`, which
    /// forgets these ranges. The data of a datagram precedes any
    /// [`Event::Closed`] or [`Event::Failed`] it raised.
    pub fn poll_application_data(&mut self) -> Option<Range<usize>> {
        let r = self.received.get(self.received_next)?.clone();
        self.received_next += 1;
        Some(r)
    }

    /// When [`Connection::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.flights.deadline()
    }

    /// Retransmits the current flight if its timer expired (RFC 6347
    /// §4.2.4); fails with [`Failure::HandshakeTimeout`] once
    /// [`Config::max_retransmissions`] are spent.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.flights.on_timeout(now, &self.config) {
            flight::Timeout::NotYet => {}
            flight::Timeout::Retransmit => {
                self.stats.retransmissions += 1;
                self.transmit_flight();
            }
            flight::Timeout::GiveUp => self.fail(Failure::HandshakeTimeout),
        }
    }

    /// Appends one protected application_data record carrying `data` to
    /// `out` (the caller owns and reuses the buffer; nothing is queued).
    pub fn seal_application_data(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.check_application_data(data.len())?;
        self.records
            .write(out, 1, ContentType::ApplicationData, data)
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
        self.records.prefix_len()
    }

    /// Seals, where it lies, the application data that follows
    /// [`Self::record_prefix_len`] bytes of room at the start of `buf`: the
    /// record header goes into the room and the tag after the data, so the
    /// data is never copied. This is the normal sending path.
    pub fn seal_application_data_in_place(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let prefix = self.record_prefix_len().unwrap_or(0);
        self.check_application_data(buf.len().saturating_sub(prefix))?;
        self.records.seal_in_place(buf)
    }

    /// **Test and fuzzing hook, not part of the supported API.** Appends to
    /// `out` one record of `content_type` (20 to 23: change_cipher_spec,
    /// alert, handshake, application_data) carrying `payload` as is,
    /// sealed with this side's epoch-1 write keys and its next sequence
    /// number, whatever the state and whatever the payload (an alert, a
    /// handshake message after the handshake, a malformed ChangeCipherSpec,
    /// more than a record may carry...). It lets the fuzz targets and tests
    /// reach the peer's handling of authenticated records, which arbitrary
    /// bytes never get past the AEAD to. Fails only when there are no write
    /// keys yet or the record cannot be encoded; `out` is then left as it
    /// was.
    #[doc(hidden)]
    pub fn seal_record_for_fuzzing(
        &mut self,
        content_type: u8,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let content_type =
            ContentType::from_u8(content_type).ok_or(Error::InvalidState("content type"))?;
        if self.records.prefix_len().is_none() {
            return Err(Error::InvalidState("no keys for epoch 1"));
        }
        let start = out.len();
        let sealed = self.records.write(out, 1, content_type, payload);
        if sealed.is_err() {
            out.truncate(start);
        }
        sealed
    }

    /// Sends close_notify (RFC 5246 §7.2.1); the connection is closed afterwards.
    pub fn close(&mut self) {
        if self.state.is_terminal() {
            return;
        }
        self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        self.state = State::Closed;
        self.flights.stop_timer();
    }

    /// The handshake completed: epoch 1 for writing, the session kept,
    /// handshake-only buffers freed.
    fn connected(&mut self) {
        self.flights.stop_timer();
        self.records.start_writing_epoch1();
        self.events.push_back(Event::Connected);
        if self.role == Role::Client {
            // The server's Finished proves it received our last flight; only
            // the sender of the final flight must be able to resend it
            // (RFC 6347 §4.2.4).
            self.flights.acknowledged();
        }
    }

    /// Fails the connection: an alert for what we detected, the failure
    /// kept in the state and reported as an event.
    fn fail(&mut self, failure: Failure) {
        if let Some(alert) = failure.alert_sent() {
            self.send_alert(AlertLevel::Fatal, alert);
        }
        self.flights.stop_timer();
        self.flights.acknowledged();
        self.events.push_back(Event::Failed(failure.clone()));
        self.state = State::Failed(failure);
    }

    /// Fails the connection on an error we detected.
    fn fail_with(&mut self, e: Error) {
        self.fail(Failure::from_error(e));
    }
}
