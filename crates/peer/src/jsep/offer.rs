//! Offers (RFC 9429 §5.2).

use fulmar_ice::IceRole;
use fulmar_sdp::Setup;

use super::section::DEFAULT_DATA_PROTO;
use super::{SdpType, SessionDescription};
use crate::channels::DataSection;
use crate::{Error, Event, PeerConnection, SignalingState};

impl PeerConnection {
    /// Creates an offer (RFC 9429 §5.2): one BUNDLE group, `actpass`, every
    /// transceiver plus an `m=application` section once a data channel exists.
    pub fn create_offer(&mut self) -> Result<SessionDescription, Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if self.jsep.signaling == SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState("create_offer"));
        }
        self.ensure_ice(IceRole::Controlling);
        if self.jsep.signaling == SignalingState::Stable {
            // Mids are handed out here; a rollback returns them.
            self.jsep.snapshot = Some(Box::new(self.take_snapshot()));
        }
        if std::mem::take(&mut self.jsep.ice_restart) {
            self.restart_ice_agent();
        }
        // New mids never reuse one in use, ours or the peer's (RFC 9429
        // §5.2.1: mids are unique within the session).
        let mut used: Vec<u32> = self
            .media
            .transceivers
            .iter()
            .filter_map(|t| t.mid.as_deref()?.parse().ok())
            .chain(self.data.section.mid().and_then(|m| m.parse().ok()))
            .collect();
        if let Some(r) = &self.jsep.remote_desc {
            used.extend(
                r.sdp
                    .media()
                    .iter()
                    .filter_map(|m| m.mid()?.parse::<u32>().ok()),
            );
        }
        if let Some(&max) = used.iter().max() {
            self.jsep.next_mid = self.jsep.next_mid.max(max.saturating_add(1));
        }
        for t in &mut self.media.transceivers {
            if t.mid.is_none() {
                t.mid = Some(self.jsep.next_mid.to_string());
                self.jsep.next_mid += 1;
            }
        }
        self.unify_extension_ids();
        if self.data.section == DataSection::Wanted {
            self.data.section = DataSection::Mid(self.jsep.next_mid.to_string());
            self.jsep.next_mid += 1;
        }
        // Offers always say actpass (RFC 9429 §5.2.2); an existing DTLS
        // association keeps its roles whatever the answer says.
        let setup = Setup::ActPass;
        // Sections in mid order.
        let mut order: Vec<(u32, Option<usize>)> = self
            .media
            .transceivers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((t.mid.as_deref()?.parse().ok()?, Some(i))))
            .collect();
        if let Some(m) = self.data.section.mid().and_then(|m| m.parse().ok()) {
            order.push((m, None));
        }
        order.sort_unstable();
        let mut sections = Vec::new();
        for (_, t) in order {
            sections.push(match t {
                Some(i) => self.media_section(i, None, setup)?,
                None => self.data_section(setup, DEFAULT_DATA_PROTO),
            });
        }
        self.build_session(sections, SdpType::Offer)
    }

    /// Asks for an ICE restart (RFC 8445 §9) in the next offer: new
    /// credentials, new checks; the current pair carries data meanwhile.
    pub fn restart_ice(&mut self) {
        self.jsep.ice_restart = true;
        self.events.push_back(Event::NegotiationNeeded);
    }

    /// One id per header-extension URI across the BUNDLE group (RFC 8843
    /// §9.1.2.2, RFC 8285 §5): a section added later takes the ids already
    /// negotiated (ours or the peer's) and free ids for new URIs.
    fn unify_extension_ids(&mut self) {
        let mut map: Vec<(String, u16)> = Vec::new();
        if let Some(r) = &self.jsep.remote_desc {
            for m in r.sdp.media() {
                for e in m.extmaps() {
                    if !map.iter().any(|(u, _)| u == e.uri) && !map.iter().any(|(_, i)| *i == e.id)
                    {
                        map.push((e.uri.to_owned(), e.id));
                    }
                }
            }
        }
        for t in self
            .media
            .transceivers
            .iter()
            .filter(|t| t.current_direction.is_some())
        {
            for (id, uri) in &t.extensions {
                if !map.iter().any(|(u, _)| u == uri) && !map.iter().any(|(_, i)| i == id) {
                    map.push((uri.clone(), *id));
                }
            }
        }
        for t in &mut self.media.transceivers {
            for (id, uri) in t.extensions.iter_mut() {
                if let Some((_, m)) = map.iter().find(|(u, _)| u == uri) {
                    *id = *m;
                } else if !map.iter().any(|(_, x)| x == id) {
                    // Our own id is free: keep it.
                    map.push((uri.clone(), *id));
                } else if let Some(free) = (1..=14u16).find(|i| !map.iter().any(|(_, x)| x == i)) {
                    map.push((uri.clone(), free));
                    *id = free;
                }
            }
            // An extension that found no id (all 14 taken) is left out.
            t.extensions
                .retain(|(id, uri)| map.iter().any(|(u, i)| u == uri && i == id));
        }
    }
}
