//! Record input (RFC 6347 §4.1): records parsed and opened in place in the
//! caller's datagram, the anti-replay window, epoch-1 records that come
//! before their keys, alerts, and handshake fragments handed to the
//! reassembler and then, whole, to the current state.

use std::time::Instant;

use crate::alert::{Alert, AlertDescription, AlertLevel};
use crate::error::{Error, Failure, Result};
use crate::handshake::{self, HandshakeType};
use crate::reassembly::{Inserted, Message};
use crate::record::{ContentType, Record, RecordFields, MAX_PLAINTEXT, RECORD_HEADER_LEN};

use super::state::State;
use super::{Connection, Event};

/// Records of the next epoch buffered before its keys are known.
const MAX_EARLY_RECORDS: usize = 8;

/// Where a record being handled lies.
#[derive(Clone, Copy)]
enum Origin {
    /// In the caller's datagram, at this offset.
    Datagram(usize),
    /// In our own buffer of early records.
    Early,
}

impl Connection {
    /// Feeds one received datagram. Its records are parsed and decrypted
    /// where they lie, so its contents are unspecified afterwards except
    /// for the application data, handed out as ranges of it by
    /// [`Self::poll_application_data`].
    pub fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.received.clear();
        self.received_next = 0;
        if self.state.is_terminal() {
            return;
        }
        let mut resent = false;
        let mut at = 0;
        while let Some(rest) = datagram.get_mut(at..).filter(|r| !r.is_empty()) {
            let Ok((rec, _)) = Record::parse(rest) else {
                self.stats.dropped_records += 1;
                break;
            };
            let (fields, wire_len) = (RecordFields::of(&rec), rec.wire_len());
            let Some(record) = rest.get_mut(..wire_len) else {
                break;
            };
            self.handle_record(now, &fields, record, Origin::Datagram(at), &mut resent);
            if self.state.is_terminal() {
                return;
            }
            at += wire_len;
        }
        self.finish_datagram(now, &mut resent);
    }

    /// After the records of a datagram: records of epoch 1 that arrived
    /// before its keys, then handshake buffers no longer needed.
    fn finish_datagram(&mut self, now: Instant, resent: &mut bool) {
        while self.records.read_cipher.is_some() && !self.records.early.is_empty() {
            let mut raw = self.records.early.remove(0);
            if let Ok((rec, _)) = Record::parse(&raw) {
                let (fields, wire_len) = (RecordFields::of(&rec), rec.wire_len());
                if let Some(record) = raw.get_mut(..wire_len) {
                    self.handle_record(now, &fields, record, Origin::Early, resent);
                }
            }
            if self.state.is_terminal() {
                return;
            }
        }
        if self.is_connected() {
            self.release_handshake_buffers();
        }
    }

    /// Frees buffers that only the handshake needed, once they are idle.
    /// Cheap when there is nothing to free (called per datagram).
    fn release_handshake_buffers(&mut self) {
        if self.records.early.is_empty() && self.records.early.capacity() != 0 {
            self.records.early = Vec::new();
        }
        if self.transmits.is_empty() && self.transmits.capacity() != 0 {
            self.transmits = Default::default();
        }
        self.flights.release_if_idle();
    }

    /// One record (header and fragment), `fields` its parsed header.
    fn handle_record(
        &mut self,
        now: Instant,
        fields: &RecordFields,
        record: &mut [u8],
        origin: Origin,
        resent: &mut bool,
    ) {
        let Some(fragment) = record.get_mut(RECORD_HEADER_LEN..) else {
            return;
        };
        let plaintext: &[u8] = match fields.epoch {
            0 => {
                // Epoch 0 is unauthenticated: a forged record must not be able
                // to move a replay window, so duplicates are left to the
                // handshake layer (message_seq) instead.
                self.flights.last_peer_record_seq0 = fields.sequence_number;
                fragment
            }
            1 => {
                let Some(cipher) = &self.records.read_cipher else {
                    self.keep_early_record(record);
                    return;
                };
                if !self.records.replay.check(fields.sequence_number) {
                    self.stats.dropped_records += 1;
                    return;
                }
                match cipher.open_in_place(fields, fragment) {
                    Ok(p) if p.len() <= MAX_PLAINTEXT => {
                        self.records.replay.update(fields.sequence_number);
                        p
                    }
                    // RFC 6347 §4.1.2.7: bad MAC → silently discard.
                    _ => {
                        self.stats.dropped_records += 1;
                        return;
                    }
                }
            }
            _ => {
                self.stats.dropped_records += 1;
                return;
            }
        };
        if plaintext.len() > MAX_PLAINTEXT {
            self.stats.dropped_records += 1;
            return;
        }
        let result = match fields.content_type {
            ContentType::ApplicationData => {
                self.accept_application_data(fields.epoch, origin, plaintext.len());
                Ok(())
            }
            ContentType::Handshake => {
                self.handle_handshake_record(now, fields.epoch, plaintext, resent)
            }
            ContentType::ChangeCipherSpec => {
                if plaintext != [1] {
                    self.stats.dropped_records += 1;
                }
                Ok(())
            }
            ContentType::Alert => {
                self.handle_alert(fields.epoch, plaintext);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.fail_with(e);
        }
    }

    /// Keeps a record of epoch 1 that came before its keys (a reordered
    /// Finished), a few at most.
    fn keep_early_record(&mut self, record: &[u8]) {
        if !self.is_connected() && self.records.early.len() < MAX_EARLY_RECORDS {
            self.records.early.push(record.to_vec());
        } else {
            self.stats.dropped_records += 1;
        }
    }

    /// An authenticated application_data record of `len` plaintext bytes,
    /// opened at the start of its fragment.
    fn accept_application_data(&mut self, epoch: u16, origin: Origin, len: usize) {
        let Origin::Datagram(at) = origin else {
            // Data sent before our keys existed cannot come from a peer
            // that follows the handshake; it is not kept.
            self.stats.dropped_records += 1;
            return;
        };
        if epoch != 1 || !self.is_connected() {
            self.stats.dropped_records += 1;
            return;
        }
        if self.flights.has_flight() {
            // Authenticated data of the new epoch proves the peer has our
            // last flight (RFC 6347 §4.2.4).
            self.flights.acknowledged();
        }
        let start = at + RECORD_HEADER_LEN;
        self.received.push(start..start + len);
    }

    fn handle_alert(&mut self, epoch: u16, plaintext: &[u8]) {
        let Ok(alert) = Alert::parse(plaintext) else {
            self.stats.dropped_records += 1;
            return;
        };
        // Once connected, unauthenticated epoch-0 alerts could be forged.
        if epoch == 0 && self.is_connected() {
            self.stats.dropped_records += 1;
            return;
        }
        if alert.description == AlertDescription::CloseNotify {
            self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
            self.state = State::Closed;
            self.flights.stop_timer();
            self.events.push_back(Event::Closed);
        } else if alert.level == AlertLevel::Fatal {
            let failure = Failure::AlertReceived(alert.description);
            self.flights.stop_timer();
            self.events.push_back(Event::Failed(failure.clone()));
            self.state = State::Failed(failure);
        }
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
            match self.flights.reassembler.insert(&frag) {
                Ok(Inserted::Buffered) => {}
                Ok(Inserted::Old) => {
                    // RFC 6347 §4.2.4: the peer retransmitted its last flight, so ours was lost.
                    if Some(frag.message_seq) == self.flights.peer_flight_end
                        && !*resent
                        && self.flights.has_flight()
                    {
                        *resent = true;
                        self.stats.retransmissions += 1;
                        self.transmit_flight();
                    }
                }
                Ok(Inserted::TooFarAhead) | Err(_) => self.stats.dropped_records += 1,
            }
        }
        while let Some(msg) = self.flights.reassembler.pop() {
            self.process(now, msg)?;
            if self.state.is_terminal() {
                break;
            }
        }
        Ok(())
    }

    /// Consumes the current state with one whole handshake message.
    fn process(&mut self, now: Instant, msg: Message) -> Result<()> {
        let placeholder = State::Failed(Failure::from_error(Error::InvalidState("in transition")));
        let state = core::mem::replace(&mut self.state, placeholder);
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
                self.on_client_key_exchange(s.without_certificate(), &msg)
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
            (State::Connected(session), _) => {
                // RFC 5746: renegotiation is refused with a warning.
                self.send_alert(AlertLevel::Warning, AlertDescription::NoRenegotiation);
                Ok(State::Connected(session))
            }
            (_, _) => Err(Error::protocol(
                AlertDescription::UnexpectedMessage,
                "unexpected handshake message",
            )),
        }?;
        self.state = next;
        Ok(())
    }
}
