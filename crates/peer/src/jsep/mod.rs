//! JSEP (RFC 9429): descriptions, the signaling state and rollback.

use fulmar_dtls::{Fingerprint, Role};
use fulmar_sdp::SessionDescription as Sdp;

use crate::channels::DataSection;
use crate::{Error, Event, PeerConnection, SignalingState};

mod answer;
mod apply;
mod offer;
mod section;

/// Offer or answer (RFC 9429 §4.1.8; `pranswer` and `rollback` are not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// A session description with its type, as exchanged over signaling.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDescription {
    /// Offer or answer.
    pub kind: SdpType,
    /// The SDP.
    pub sdp: Sdp,
}

impl SessionDescription {
    /// Parses an offer.
    pub fn offer(text: &str) -> Result<Self, Error> {
        Ok(SessionDescription {
            kind: SdpType::Offer,
            sdp: Sdp::parse(text)?,
        })
    }

    /// Parses an answer.
    pub fn answer(text: &str) -> Result<Self, Error> {
        Ok(SessionDescription {
            kind: SdpType::Answer,
            sdp: Sdp::parse(text)?,
        })
    }
}

/// The stable state an offer can be rolled back to.
pub(crate) struct Snapshot {
    local_desc: Option<SessionDescription>,
    remote_desc: Option<SessionDescription>,
    pub(crate) data_section: DataSection,
    next_mid: u32,
    mids: Vec<Option<String>>,
    dtls_role: Option<Role>,
}

/// Default `a=max-message-size` when the peer writes none (RFC 8841 §6.1).
const DEFAULT_REMOTE_MAX_MESSAGE_SIZE: usize = 65_536;

/// The negotiation: signaling state, descriptions, what a rollback returns
/// to, and what the peer's description said about the transport.
pub(crate) struct Negotiation {
    pub(crate) session_id: u64,
    pub(crate) session_version: u64,
    pub(crate) signaling: SignalingState,
    pub(crate) local_desc: Option<SessionDescription>,
    pub(crate) remote_desc: Option<SessionDescription>,
    /// The stable state while an offer is pending.
    pub(crate) snapshot: Option<Box<Snapshot>>,
    pub(crate) next_mid: u32,
    /// The next offer restarts ICE ([`PeerConnection::restart_ice`]).
    pub(crate) ice_restart: bool,
    pub(crate) remote: RemoteTransport,
}

impl Negotiation {
    pub(crate) fn new(session_id: u64) -> Self {
        Negotiation {
            session_id,
            session_version: 1,
            signaling: SignalingState::Stable,
            local_desc: None,
            remote_desc: None,
            snapshot: None,
            next_mid: 0,
            ice_restart: false,
            remote: RemoteTransport {
                fingerprints: Vec::new(),
                sctp_port: None,
                max_message_size: DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
                ice_creds: None,
            },
        }
    }
}

/// What the peer's description says about the shared transport.
pub(crate) struct RemoteTransport {
    /// Its certificate fingerprints (`a=fingerprint`).
    pub(crate) fingerprints: Vec<Fingerprint>,
    /// Its SCTP port, once a data section was negotiated.
    pub(crate) sctp_port: Option<u16>,
    /// Its `a=max-message-size`.
    pub(crate) max_message_size: usize,
    /// Its ICE ufrag and password.
    pub(crate) ice_creds: Option<(String, String)>,
}

impl PeerConnection {
    /// The applied local description, with every candidate gathered so far
    /// (as `localDescription`).
    pub fn local_description(&self) -> Option<SessionDescription> {
        let mut d = self.jsep.local_desc.clone()?;
        self.add_local_candidates(&mut d.sdp);
        Some(d)
    }

    /// The applied remote description.
    pub fn remote_description(&self) -> Option<&SessionDescription> {
        self.jsep.remote_desc.as_ref()
    }

    /// The signaling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.jsep.signaling
    }

    /// Rolls back a pending offer, ours or the peer's (RFC 9429 §4.1.8.2,
    /// the polite peer's way out of glare): descriptions, mids and the
    /// transceivers the offer created return to the last stable state.
    /// Remote ICE credentials and candidates already handed to the ICE agent
    /// stay (they only matter once the peer's next description arrives).
    pub fn rollback(&mut self) -> Result<(), Error> {
        if !matches!(
            self.jsep.signaling,
            SignalingState::HaveLocalOffer | SignalingState::HaveRemoteOffer
        ) {
            return Err(Error::InvalidState("rollback"));
        }
        let snap = self
            .jsep
            .snapshot
            .take()
            .ok_or(Error::InvalidState("rollback"))?;
        self.jsep.local_desc = snap.local_desc;
        self.jsep.remote_desc = snap.remote_desc;
        self.data.section = snap.data_section;
        self.jsep.next_mid = snap.next_mid;
        self.media.transceivers.truncate(snap.mids.len());
        for (t, mid) in self.media.transceivers.iter_mut().zip(snap.mids) {
            t.mid = mid;
        }
        if self.transport.dtls.is_none() {
            self.transport.dtls_role = snap.dtls_role;
        }
        self.set_signaling(SignalingState::Stable);
        Ok(())
    }

    pub(crate) fn take_snapshot(&self) -> Snapshot {
        Snapshot {
            local_desc: self.jsep.local_desc.clone(),
            remote_desc: self.jsep.remote_desc.clone(),
            data_section: self.data.section.clone(),
            next_mid: self.jsep.next_mid,
            mids: self
                .media
                .transceivers
                .iter()
                .map(|t| t.mid.clone())
                .collect(),
            dtls_role: self.transport.dtls_role,
        }
    }

    pub(crate) fn set_signaling(&mut self, s: SignalingState) {
        if self.jsep.signaling != s {
            self.jsep.signaling = s;
            self.events.push_back(Event::SignalingStateChange(s));
        }
    }
}
