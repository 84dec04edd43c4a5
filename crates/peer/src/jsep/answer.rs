//! Answers (RFC 9429 §5.3).

use fulmar_dtls::Role;
use fulmar_sdp::Setup;

use super::section::Section;
use super::{SdpType, SessionDescription};
use crate::{Error, PeerConnection, SignalingState};

impl PeerConnection {
    /// Creates an answer to the applied remote offer (RFC 9429 §5.3): the same
    /// m-lines in order, `a=setup:active` (we become the DTLS client),
    /// negotiated codecs, directions and extensions, unsupported sections
    /// rejected with port 0.
    pub fn create_answer(&mut self) -> Result<SessionDescription, Error> {
        if self.jsep.signaling != SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState("create_answer"));
        }
        let remote = self
            .jsep
            .remote_desc
            .clone()
            .ok_or(Error::InvalidState("create_answer"))?;
        let setup = match self.transport.dtls_role {
            Some(Role::Server) => Setup::Passive,
            _ => Setup::Active,
        };
        let mut sections = Vec::new();
        for m in remote.sdp.media() {
            let mid = m.mid().unwrap_or_default().to_owned();
            let idx = self
                .media
                .transceivers
                .iter()
                .position(|t| t.mid.as_deref() == Some(&mid));
            // One SCTP association: the data section the offer applied
            // (its first); any other is rejected (RFC 8841 §5).
            if m.port() != 0 && m.is_data_channel() && m.mid() == self.data.section.mid() {
                sections.push(self.data_section(setup, m.proto()));
            } else if let (Some(i), true) = (idx, m.port() != 0 && m.is_rtp()) {
                sections.push(self.media_section(i, Some(m), setup)?);
            } else {
                sections.push(Section::rejected(m, mid)?);
            }
        }
        self.build_session(sections, SdpType::Answer)
    }
}
