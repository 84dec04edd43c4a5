//! Association setup (RFC 9260 §5): INIT, INIT-ACK with the State Cookie,
//! COOKIE-ECHO and COOKIE-ACK, collisions (§5.2) and the feature
//! parameters negotiated on the way.

use std::time::Instant;

use crate::chunk::{chunk_type, Chunk, Init};
use crate::error::Error;
use crate::list::TlvList;
use crate::param::{cause_code, ErrorCause, Param, UnknownParamAction};

use super::cookie::{CookieFields, COOKIE_LEN};
use super::recv::Receiver;
use super::transmit::ControlChunk;
use super::{Association, Event, State};

/// Error Detection Method Identifier for DTLS (RFC 9653 §7).
const EDMID_DTLS: u32 = 1;

/// State cookie, feature bits and unrecognized parameters to report.
type ScannedParams<'a> = (Option<&'a [u8]>, u8, Vec<u8>);

impl Association {
    /// Starts the association actively by sending INIT (RFC 9260 §5.1). In
    /// WebRTC both ends do this; the INIT collision is resolved by §5.2.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != State::Closed {
            return Err(Error::InvalidState);
        }
        self.queue_init();
        self.state = State::CookieWait;
        self.t1 = Some(now + self.config.rto_initial);
        self.t1_count = 0;
        Ok(())
    }

    pub(super) fn queue_init(&mut self) {
        let exts = [chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG];
        let mut params = vec![
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&exts),
        ];
        if self.config.zero_checksum {
            params.push(Param::ZeroChecksumAcceptable(EDMID_DTLS));
        }
        let mut bytes = Vec::with_capacity(64);
        Chunk::Init(Init {
            initiate_tag: self.my_vtag,
            a_rwnd: self.config.receive_window as u32,
            num_outbound_streams: self.config.num_streams,
            num_inbound_streams: self.config.num_streams,
            initial_tsn: self.my_initial_tsn,
            params: TlvList::Items(&params),
        })
        .emit(&mut bytes);
        self.control.push_back(ControlChunk {
            bytes,
            vtag: Some(0),
        });
    }

    /// Scans INIT/INIT-ACK parameters; returns (state cookie, features,
    /// unrecognized parameters to report) or None when malformed.
    fn scan_params<'a>(params: &TlvList<'a, Param<'a>>) -> Option<ScannedParams<'a>> {
        let mut cookie = None;
        let mut features = 0u8;
        let mut report = Vec::new();
        for p in params.iter() {
            match p.ok()? {
                Param::StateCookie(c) => cookie = Some(c),
                Param::ForwardTsnSupported => features |= 1,
                Param::SupportedExtensions(exts) => {
                    if exts.contains(&chunk_type::FORWARD_TSN) {
                        features |= 1;
                    }
                    if exts.contains(&chunk_type::RE_CONFIG) {
                        features |= 2;
                    }
                }
                Param::ZeroChecksumAcceptable(EDMID_DTLS) => features |= 4,
                Param::Unknown { kind, value } => {
                    let action = UnknownParamAction::of(kind);
                    if matches!(
                        action,
                        UnknownParamAction::StopAndReport | UnknownParamAction::SkipAndReport
                    ) && report.len() < 512
                    {
                        let inner = Param::Unknown {
                            kind,
                            value: &value[..value.len().min(128)],
                        };
                        let mut tlv = Vec::new();
                        crate::list::write_tlv(&inner, &mut tlv);
                        report.extend_from_slice(&tlv);
                    }
                    if matches!(
                        action,
                        UnknownParamAction::Stop | UnknownParamAction::StopAndReport
                    ) {
                        break;
                    }
                }
                _ => {}
            }
        }
        Some((cookie, features, report))
    }

    pub(super) fn on_init(&mut self, now: Instant, init: &Init<'_>) {
        if init.initiate_tag == 0 || init.num_outbound_streams == 0 || init.num_inbound_streams == 0
        {
            return;
        }
        let Some((_, features, report)) = Self::scan_params(&init.params) else {
            return;
        };
        if matches!(self.state, State::ShutdownAckSent) {
            return;
        }
        let ms = self.ms_since_epoch(now);
        let cookie = CookieFields {
            my_vtag: self.my_vtag,
            peer_vtag: init.initiate_tag,
            my_initial_tsn: self.my_initial_tsn,
            peer_initial_tsn: init.initial_tsn,
            peer_a_rwnd: init.a_rwnd,
            peer_outbound_streams: init.num_outbound_streams,
            peer_inbound_streams: init.num_inbound_streams,
            peer_features: features,
            created_ms: ms,
        }
        .sign(&self.cookie_key);
        let exts = [chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG];
        let mut params = vec![
            Param::StateCookie(&cookie),
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&exts),
        ];
        if self.config.zero_checksum {
            params.push(Param::ZeroChecksumAcceptable(EDMID_DTLS));
        }
        // Unrecognized parameters are reported inside one Unrecognized
        // Parameter each (RFC 9260 §3.3.3).
        let mut rest = &report[..];
        while let Ok((_, _, used)) = crate::list::parse_tlv(rest) {
            params.push(Param::UnrecognizedParameter(&rest[..used]));
            rest = &rest[used..];
        }
        let mut bytes = Vec::with_capacity(128);
        Chunk::InitAck(Init {
            initiate_tag: self.my_vtag,
            a_rwnd: self.config.receive_window as u32,
            num_outbound_streams: self.config.num_streams,
            num_inbound_streams: self.config.num_streams,
            initial_tsn: self.my_initial_tsn,
            params: TlvList::Items(&params),
        })
        .emit(&mut bytes);
        self.control.push_back(ControlChunk {
            bytes,
            vtag: Some(init.initiate_tag),
        });
    }

    pub(super) fn on_init_ack(&mut self, now: Instant, init: &Init<'_>) {
        if self.state != State::CookieWait || init.initiate_tag == 0 {
            return;
        }
        let Some((Some(cookie), features, report)) = Self::scan_params(&init.params) else {
            return;
        };
        if cookie.len() > 4096 {
            return;
        }
        self.set_peer(
            init.initiate_tag,
            init.initial_tsn,
            init.a_rwnd,
            init.num_outbound_streams,
            init.num_inbound_streams,
            features,
        );
        self.cookie_echo = Some(cookie.to_vec());
        self.queue_chunk(&Chunk::CookieEcho { cookie });
        if !report.is_empty() {
            // RFC 9260 §5.1: unrecognized INIT-ACK parameters go in an ERROR
            // bundled with the COOKIE-ECHO.
            let mut causes = Vec::new();
            let mut rest = &report[..];
            while let Ok((_, _, used)) = crate::list::parse_tlv(rest) {
                causes.push(ErrorCause {
                    code: cause_code::UNRECOGNIZED_PARAMETERS,
                    info: &rest[..used],
                });
                rest = &rest[used..];
            }
            self.queue_chunk(&Chunk::Error {
                causes: TlvList::Items(&causes),
            });
        }
        self.state = State::CookieEchoed;
        self.t1 = Some(now + self.config.rto_initial);
        self.t1_count = 0;
    }

    fn set_peer(
        &mut self,
        vtag: u32,
        initial_tsn: u32,
        a_rwnd: u32,
        os: u16,
        mis: u16,
        features: u8,
    ) {
        self.peer_vtag = vtag;
        self.peer_forward_tsn = features & 1 != 0;
        self.peer_reconfig = features & 2 != 0;
        self.peer_zero_checksum = features & 4 != 0 && self.config.zero_checksum;
        self.inbound_streams = os.min(self.config.num_streams);
        self.sender.outbound_streams = mis.min(self.config.num_streams);
        self.sender.set_peer_rwnd(a_rwnd);
        self.receiver = Some(Receiver::new(initial_tsn, self.config.receive_window));
        self.peer_next_req_seq = initial_tsn;
    }

    pub(super) fn on_cookie_echo(&mut self, now: Instant, cookie: &[u8]) {
        let Some(f) = CookieFields::verify(&self.cookie_key, cookie) else {
            return;
        };
        if f.my_vtag != self.my_vtag {
            return;
        }
        let now_ms = self.ms_since_epoch(now);
        if now_ms.saturating_sub(f.created_ms) > self.config.cookie_lifetime.as_millis() as u64 {
            // RFC 9260 §5.2.6: report a Stale Cookie Error with the staleness
            // in microseconds, tagged for the sender of the cookie.
            if !self.is_established() {
                let stale_us = now_ms.saturating_sub(f.created_ms).saturating_mul(1000);
                let info = u32::try_from(stale_us).unwrap_or(u32::MAX).to_be_bytes();
                let causes = [ErrorCause {
                    code: cause_code::STALE_COOKIE,
                    info: &info,
                }];
                let mut bytes = Vec::new();
                Chunk::Error {
                    causes: TlvList::Items(&causes),
                }
                .emit(&mut bytes);
                self.control.push_back(ControlChunk {
                    bytes,
                    vtag: Some(f.peer_vtag),
                });
            }
            return;
        }
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed => {
                // RFC 9260 §5.2.4 case B (collision) or a fresh association.
                if self.state != State::CookieEchoed
                    || self.peer_vtag != f.peer_vtag
                    || self.receiver.is_none()
                {
                    self.set_peer(
                        f.peer_vtag,
                        f.peer_initial_tsn,
                        f.peer_a_rwnd,
                        f.peer_outbound_streams,
                        f.peer_inbound_streams,
                        f.peer_features,
                    );
                }
                self.queue_chunk(&Chunk::CookieAck);
                self.establish_done(now);
            }
            _ => {
                // Case D: a duplicate COOKIE-ECHO; acknowledge it again.
                if f.peer_vtag == self.peer_vtag {
                    self.queue_chunk(&Chunk::CookieAck);
                }
            }
        }
    }

    fn ms_since_epoch(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    pub(super) fn establish_done(&mut self, now: Instant) {
        self.state = State::Established;
        self.t1 = None;
        self.cookie_echo = None;
        self.control.retain(|c| c.vtag != Some(0));
        self.hb_next = self.config.heartbeat_interval.map(|i| now + i);
        self.events.push_back(Event::Connected);
    }
}

#[allow(dead_code)]
const _: () = assert!(COOKIE_LEN < 128);
