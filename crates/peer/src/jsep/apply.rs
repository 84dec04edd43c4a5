//! Applying descriptions (RFC 9429 §5.5, §5.10).

use std::time::Instant;

use fulmar_dtls::{Fingerprint, Role};
use fulmar_ice::IceRole;
use fulmar_sdp::{Direction, SessionDescription as Sdp, Setup};

use super::{SdpType, SessionDescription, DEFAULT_REMOTE_MAX_MESSAGE_SIZE};
use crate::channels::DataSection;
use crate::{negotiation, Error, PeerConnection, SignalingState, Transceiver};

impl PeerConnection {
    /// Applies our own offer or answer (RFC 9429 §5.5).
    pub fn set_local_description(
        &mut self,
        now: Instant,
        desc: SessionDescription,
    ) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        match (desc.kind, self.jsep.signaling) {
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveLocalOffer) => {
                if self.jsep.signaling == SignalingState::Stable && self.jsep.snapshot.is_none() {
                    self.jsep.snapshot = Some(Box::new(self.take_snapshot()));
                }
                self.set_signaling(SignalingState::HaveLocalOffer);
            }
            (SdpType::Answer, SignalingState::HaveRemoteOffer) => {
                // Our answer decides the DTLS role (RFC 8842 §5.3).
                let setup = desc.sdp.media().first().and_then(|m| desc.sdp.setup_for(m));
                if self.transport.dtls.is_none() {
                    self.transport.dtls_role = Some(match setup {
                        Some(Setup::Passive) => Role::Server,
                        _ => Role::Client,
                    });
                }
                self.apply_negotiated(&desc.sdp);
                self.jsep.snapshot = None;
                self.set_signaling(SignalingState::Stable);
            }
            _ => return Err(Error::InvalidState("set_local_description")),
        }
        self.jsep.session_version += 1;
        let answered = desc.kind == SdpType::Answer;
        let mut desc = desc;
        desc.sdp.shrink_to_fit();
        self.jsep.local_desc = Some(desc);
        self.now = Some(now);
        if answered {
            self.configure_media();
        }
        self.maybe_start_dtls(now);
        self.pump(now);
        Ok(())
    }

    /// Applies the peer's offer or answer (RFC 9429 §5.10): ICE credentials,
    /// candidates (non-trickle), fingerprints, `a=setup`, SCTP port and
    /// max-message-size; creates transceivers for new remote m-lines.
    pub fn set_remote_description(
        &mut self,
        now: Instant,
        desc: SessionDescription,
    ) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let next = match (desc.kind, self.jsep.signaling) {
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveRemoteOffer) => {
                SignalingState::HaveRemoteOffer
            }
            (SdpType::Answer, SignalingState::HaveLocalOffer) => SignalingState::Stable,
            _ => return Err(Error::InvalidState("set_remote_description")),
        };
        if self.jsep.signaling == SignalingState::Stable && desc.kind == SdpType::Offer {
            self.jsep.snapshot = Some(Box::new(self.take_snapshot()));
        }
        let sdp = &desc.sdp;
        // JSEP needs a unique a=mid on every used m-line (RFC 9429 §5.2.1).
        // A mid is an RFC 8866 token (RFC 8843 §16.2); we keep them short.
        let token = |mid: &str| {
            !mid.is_empty()
                && mid.len() <= 64
                && mid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b))
        };
        let mut mids = std::collections::HashSet::new();
        for m in sdp.media() {
            // An answer repeats each m-line's media and proto (RFC 3264 §6).
            let proto_ok = m.proto().split('/').all(token);
            if !token(m.kind()) || !proto_ok {
                return Err(Error::InvalidDescription(
                    "m-line media or proto is not a token",
                ));
            }
            if m.port() != 0 && m.is_rtp() && negotiation::has_duplicate_payload_type(m) {
                return Err(Error::InvalidDescription("duplicate payload type"));
            }
            match m.mid() {
                Some(mid) if token(mid) && mids.insert(mid) => {}
                None if m.port() == 0 => {}
                _ => return Err(Error::InvalidDescription("m-line without a unique a=mid")),
            }
        }
        // max-bundle: the first non-rejected section carries the transport.
        let transport = sdp
            .media()
            .iter()
            .find(|m| m.port() != 0)
            .ok_or(Error::InvalidDescription("no usable m-line"))?;
        let ufrag = sdp
            .ice_ufrag_for(transport)
            .ok_or(Error::InvalidDescription("no ice-ufrag"))?;
        let pwd = sdp
            .ice_pwd_for(transport)
            .ok_or(Error::InvalidDescription("no ice-pwd"))?;
        let fps: Vec<Fingerprint> = sdp
            .fingerprints_for(transport)
            .iter()
            .filter_map(|f| {
                let algorithm = fulmar_dtls::HashAlgorithm::from_sdp_name(f.hash_function)?;
                let digest = f.bytes().collect::<Result<Vec<u8>, _>>().ok()?;
                Fingerprint::new(algorithm, digest).ok()
            })
            .collect();
        if fps.is_empty() {
            return Err(Error::InvalidDescription("no usable a=fingerprint"));
        }
        let remote_setup = sdp.setup_for(transport);
        if self.transport.dtls.is_some() {
            // Roles of a running association never change (RFC 8842 §5.5).
        } else if desc.kind == SdpType::Answer {
            self.transport.dtls_role = Some(match remote_setup {
                Some(Setup::Active) => Role::Server,
                Some(Setup::Passive) => Role::Client,
                _ => {
                    return Err(Error::InvalidDescription(
                        "answer a=setup must be active or passive",
                    ))
                }
            });
        } else if remote_setup == Some(Setup::Active) {
            self.transport.dtls_role = Some(Role::Server);
        } else if remote_setup == Some(Setup::Passive) {
            self.transport.dtls_role = Some(Role::Client);
        }
        // Data section and transceivers.
        let mut data_seen = false;
        for m in sdp.media() {
            if m.is_data_channel() && m.port() != 0 && !std::mem::replace(&mut data_seen, true) {
                self.jsep.remote.sctp_port = Some(m.sctp_port().unwrap_or(5000));
                self.jsep.remote.max_message_size = match m.max_message_size() {
                    Some(0) => usize::MAX,
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    None => DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
                };
                if let (SdpType::Offer, Some(mid)) = (desc.kind, m.mid()) {
                    self.data.section = DataSection::Mid(mid.to_owned());
                }
            } else if let (Some(kind), SdpType::Offer) = (negotiation::rtp_kind(m), desc.kind) {
                let mid = m.mid().map(str::to_owned);
                if !self.media.transceivers.iter().any(|t| t.mid == mid) && m.port() != 0 {
                    let reuse = self
                        .media
                        .transceivers
                        .iter()
                        .position(|t| t.mid.is_none() && t.kind == kind && !t.stopped);
                    match reuse {
                        Some(i) => self.media.transceivers[i].mid = mid,
                        None => {
                            let mut t = Transceiver::new(kind, Direction::RecvOnly);
                            t.mid = mid;
                            self.media.transceivers.push(t);
                        }
                    }
                }
            }
        }
        self.ensure_ice(IceRole::Controlled);
        let restarted = self
            .jsep
            .remote
            .ice_creds
            .as_ref()
            .is_some_and(|(u, p)| u != ufrag || p != pwd);
        if restarted && desc.kind == SdpType::Offer {
            // The peer restarted ICE: so do we (RFC 8445 §9).
            self.restart_ice_agent();
        }
        let ice = self
            .ice
            .agent
            .as_mut()
            .ok_or(Error::InvalidState("set_remote_description"))?;
        ice.set_remote_lite(sdp.ice_lite());
        ice.set_remote_credentials(now, ufrag, pwd)?;
        self.jsep.remote.ice_creds = Some((ufrag.to_owned(), pwd.to_owned()));
        let mut end = false;
        let mut seen = std::collections::HashSet::new();
        for m in sdp.media() {
            for c in m.candidates() {
                // Component 2 is RTCP without rtcp-mux, which BUNDLE excludes;
                // unusable candidates (e.g. TCP) are ignored, not fatal.
                if c.component == 1 && seen.insert(c.clone()) {
                    let _ = ice.add_remote_candidate(now, c);
                }
            }
            end |= m.end_of_candidates();
        }
        if end {
            ice.end_of_remote_candidates(now);
        }
        self.jsep.remote.fingerprints = fps;
        if desc.kind == SdpType::Answer {
            self.apply_negotiated(sdp);
        }
        let mut desc = desc;
        desc.sdp.shrink_to_fit();
        self.jsep.remote_desc = Some(desc);
        if next == SignalingState::Stable {
            self.jsep.snapshot = None;
            self.now = Some(now);
            self.configure_media();
        }
        self.set_signaling(next);
        self.maybe_start_dtls(now);
        self.drain_ice(now);
        self.pump(now);
        Ok(())
    }

    /// Records negotiated directions, codecs and extensions from the answer.
    fn apply_negotiated(&mut self, answer: &Sdp) {
        let local_is_offerer = self.jsep.signaling == SignalingState::HaveLocalOffer;
        for m in answer.media() {
            let Some(mid) = m.mid() else { continue };
            let Some(t) = self
                .media
                .transceivers
                .iter_mut()
                .find(|t| t.mid.as_deref() == Some(mid))
            else {
                continue;
            };
            if m.port() == 0 {
                t.stopped = true;
                t.current_direction = None;
                continue;
            }
            let dir = answer.direction_for(m);
            t.current_direction = Some(if local_is_offerer { dir.reverse() } else { dir });
            let codecs = negotiation::remote_codecs(m);
            if !codecs.is_empty() {
                t.codecs = codecs;
            }
            t.extensions = m.extmaps().map(|e| (e.id, e.uri.to_owned())).collect();
        }
    }
}
