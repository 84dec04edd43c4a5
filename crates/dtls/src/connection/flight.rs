//! Record output: the record layer's write side (epochs, sequence numbers,
//! protection) and read keys, the current flight packed into datagrams of
//! at most the MTU (RFC 6347 §4.2.3), and its retransmission timer (RFC
//! 6347 §4.2.4).

use std::time::{Duration, Instant};

use crate::alert::{Alert, AlertDescription, AlertLevel};
use crate::config::Config;
use crate::crypto::RecordCipher;
use crate::error::{Error, Result};
use crate::handshake::{emit_message, HandshakeFragment, HandshakeType, HANDSHAKE_HEADER_LEN};
use crate::reassembly::Reassembler;
use crate::record::{
    write_header, ContentType, ProtocolVersion, MAX_PLAINTEXT, MAX_SEQUENCE, RECORD_HEADER_LEN,
};
use crate::replay::ReplayWindow;

use super::state::{KeyBlock, Transcript};
use super::{Connection, Role};

/// Smallest MTU accepted.
const MIN_MTU: usize = 256;

/// One piece of a flight.
#[derive(Debug, Clone)]
enum FlightItem {
    /// A whole handshake message (header included) in `epoch`.
    Handshake { epoch: u16, msg: Vec<u8> },
    /// ChangeCipherSpec (always epoch 0).
    ChangeCipherSpec,
}

/// Handshake message sequencing, our current flight and its timer.
#[derive(Debug)]
pub(super) struct Flights {
    /// The peer's handshake fragments, released whole and in order.
    pub(super) reassembler: Reassembler,
    /// message_seq of our next handshake message.
    pub(super) next_send_seq: u16,
    /// message_seq of the last message of the peer's last flight: receiving
    /// it again means our answer was lost (RFC 6347 §4.2.4).
    pub(super) peer_flight_end: Option<u16>,
    /// The sequence number of the peer's latest epoch-0 record, which a
    /// HelloVerifyRequest reuses (RFC 6347 §4.2.1).
    pub(super) last_peer_record_seq0: u64,
    items: Vec<FlightItem>,
    rto: Duration,
    deadline: Option<Instant>,
    retransmissions: u32,
}

/// What an expired timer asks for.
pub(super) enum Timeout {
    /// Not expired (or no timer).
    NotYet,
    /// Resend the flight.
    Retransmit,
    /// Retransmissions are spent.
    GiveUp,
}

impl Flights {
    pub(super) fn new(config: &Config) -> Self {
        Flights {
            reassembler: Reassembler::floating(0),
            next_send_seq: 0,
            peer_flight_end: None,
            last_peer_record_seq0: 0,
            items: Vec::new(),
            rto: config.initial_retransmit_timeout,
            deadline: None,
            retransmissions: 0,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub(super) fn stop_timer(&mut self) {
        self.deadline = None;
    }

    /// Whether a flight is kept for retransmission.
    pub(super) fn has_flight(&self) -> bool {
        !self.items.is_empty()
    }

    /// The peer has our flight (or will never need it again): free it.
    pub(super) fn acknowledged(&mut self) {
        if self.items.capacity() != 0 {
            self.items = Vec::new();
        }
    }

    /// Starts a new flight.
    pub(super) fn start(&mut self) {
        self.items.clear();
    }

    /// Adds a handshake message to the flight and to `transcript`.
    pub(super) fn push(
        &mut self,
        transcript: &mut Transcript,
        epoch: u16,
        ty: HandshakeType,
        body: &[u8],
    ) {
        let mut msg = Vec::with_capacity(body.len() + HANDSHAKE_HEADER_LEN);
        emit_message(&mut msg, ty, self.next_send_seq, body);
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        transcript.add_raw(&msg);
        self.items.push(FlightItem::Handshake { epoch, msg });
    }

    /// Adds ChangeCipherSpec to the flight.
    pub(super) fn push_change_cipher_spec(&mut self) {
        self.items.push(FlightItem::ChangeCipherSpec);
    }

    /// A new flight went out: arm its timer (RFC 6347 §4.2.4.1), unless it
    /// is the last flight, which is only resent when the peer's is.
    fn arm(&mut self, now: Instant, config: &Config, timed: bool) {
        self.retransmissions = 0;
        self.rto = config.initial_retransmit_timeout;
        self.deadline = timed.then(|| now + self.rto);
    }

    pub(super) fn on_timeout(&mut self, now: Instant, config: &Config) -> Timeout {
        let Some(deadline) = self.deadline else {
            return Timeout::NotYet;
        };
        if now < deadline {
            return Timeout::NotYet;
        }
        if self.retransmissions >= config.max_retransmissions {
            self.deadline = None;
            return Timeout::GiveUp;
        }
        self.retransmissions += 1;
        self.rto = (self.rto * 2).min(config.max_retransmit_timeout);
        self.deadline = Some(now + self.rto);
        Timeout::Retransmit
    }

    /// Frees what only the handshake needed once it is idle (cheap when
    /// there is nothing to free; called per datagram once connected).
    pub(super) fn release_if_idle(&mut self) {
        self.reassembler.release_if_idle();
    }
}

/// The record layer: epochs, sequence numbers, protection of both
/// directions, the anti-replay window, and epoch-1 records that came
/// before their keys.
#[derive(Debug, Default)]
pub(super) struct RecordLayer {
    write_epoch: u16,
    write_seq: [u64; 2],
    write_cipher: Option<RecordCipher>,
    pub(super) read_cipher: Option<RecordCipher>,
    /// Anti-replay window of epoch 1 (RFC 6347 §4.1.2.6).
    pub(super) replay: ReplayWindow,
    /// Records of epoch 1 buffered before its keys are known.
    pub(super) early: Vec<Vec<u8>>,
}

impl RecordLayer {
    /// Installs the epoch-1 keys of `role`.
    pub(super) fn install(&mut self, role: Role, keys: KeyBlock) {
        let (w, r) = match role {
            Role::Client => (keys.client_write, keys.server_write),
            Role::Server => (keys.server_write, keys.client_write),
        };
        self.write_cipher = Some(w);
        self.read_cipher = Some(r);
    }

    /// Once connected, alerts go out in epoch 1.
    pub(super) fn start_writing_epoch1(&mut self) {
        self.write_epoch = 1;
    }

    /// The epoch alerts are sent in.
    fn alert_epoch(&self) -> u16 {
        if self.write_epoch == 1 && self.write_cipher.is_some() {
            1
        } else {
            0
        }
    }

    /// Bytes protection adds to a record of `epoch` (explicit nonce, tag).
    fn protection_overhead(&self, epoch: u16) -> usize {
        match (epoch, &self.write_cipher) {
            (0, _) | (_, None) => 0,
            (_, Some(c)) => c.suite().overhead(),
        }
    }

    /// Room before application data sealed in place.
    pub(super) fn prefix_len(&self) -> Option<usize> {
        self.write_cipher
            .as_ref()
            .map(RecordCipher::record_prefix_len)
    }

    /// Takes the next record sequence number of `epoch`.
    fn next_seq(&mut self, epoch: u16) -> Result<u64> {
        let idx = usize::from(epoch.min(1));
        let seq = self.write_seq[idx];
        if seq > MAX_SEQUENCE {
            return Err(Error::InvalidState("record sequence numbers exhausted"));
        }
        self.write_seq[idx] += 1;
        Ok(seq)
    }

    /// A HelloVerifyRequest reused the peer's record sequence number
    /// `seq`; ours continue after it (RFC 6347 §4.2.1).
    pub(super) fn skip_epoch0_to(&mut self, seq: u64) {
        self.write_seq[0] = self.write_seq[0].max(seq);
    }

    /// Appends one record in `epoch` (protected for epoch 1) to `out`.
    pub(super) fn write(
        &mut self,
        out: &mut Vec<u8>,
        epoch: u16,
        ct: ContentType,
        payload: &[u8],
    ) -> Result<()> {
        let seq = self.next_seq(epoch)?;
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

    /// Seals the application data after the room at the start of `buf`.
    pub(super) fn seal_in_place(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let seq = self.next_seq(1)?;
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
}

impl Connection {
    /// The flight is complete: send it and arm its timer when `timed`.
    pub(super) fn send_flight(&mut self, now: Instant, timed: bool) {
        self.flights.arm(now, &self.config, timed);
        self.transmit_flight();
    }

    /// Packs the current flight into datagrams of at most `mtu` bytes,
    /// fragmenting handshake messages as needed (RFC 6347 §4.2.3).
    pub(super) fn transmit_flight(&mut self) {
        let mtu = self.config.mtu.clamp(MIN_MTU, MAX_PLAINTEXT);
        let items = core::mem::take(&mut self.flights.items);
        let mut dgram = Vec::with_capacity(mtu);
        let mut payload = Vec::with_capacity(mtu);
        for item in &items {
            match item {
                FlightItem::ChangeCipherSpec => {
                    if dgram.len() + RECORD_HEADER_LEN + 1 > mtu {
                        self.transmits.push_back(core::mem::take(&mut dgram));
                    }
                    let _ = self
                        .records
                        .write(&mut dgram, 0, ContentType::ChangeCipherSpec, &[1]);
                }
                FlightItem::Handshake { epoch, msg } => {
                    self.transmit_message(mtu, *epoch, msg, &mut dgram, &mut payload);
                }
            }
        }
        if !dgram.is_empty() {
            self.transmits.push_back(dgram);
        }
        self.flights.items = items;
    }

    /// Adds one handshake message to the datagram being packed, in as many
    /// fragments as the MTU asks for.
    fn transmit_message(
        &mut self,
        mtu: usize,
        epoch: u16,
        msg: &[u8],
        dgram: &mut Vec<u8>,
        payload: &mut Vec<u8>,
    ) {
        let overhead = self.records.protection_overhead(epoch);
        let Ok((frag, _)) = HandshakeFragment::parse(msg) else {
            return;
        };
        let total = frag.body.len();
        let mut offset = 0usize;
        loop {
            let fixed = RECORD_HEADER_LEN + overhead + HANDSHAKE_HEADER_LEN;
            let space = mtu.saturating_sub(dgram.len() + fixed);
            let want = (total - offset).min(64);
            if space < want.max(1) && !dgram.is_empty() {
                self.transmits.push_back(core::mem::take(dgram));
                continue;
            }
            let n = (total - offset).min(space.max(1));
            payload.clear();
            HandshakeFragment {
                fragment_offset: offset as u32,
                body: &frag.body[offset..offset + n],
                ..frag
            }
            .emit(payload);
            let _ = self
                .records
                .write(dgram, epoch, ContentType::Handshake, payload);
            offset += n;
            if offset >= total {
                break;
            }
        }
    }

    /// Queues an alert in the current write epoch.
    pub(super) fn send_alert(&mut self, level: AlertLevel, description: AlertDescription) {
        let alert = Alert { level, description }.to_bytes();
        let epoch = self.records.alert_epoch();
        let mut out = Vec::with_capacity(64);
        if self
            .records
            .write(&mut out, epoch, ContentType::Alert, &alert)
            .is_ok()
        {
            self.transmits.push_back(out);
        }
    }
}
