//! Building the m-sections of a description.

use fulmar_rtp::extension::uri;
use fulmar_sdp::builder::{MediaBuilder, SessionBuilder};
use fulmar_sdp::{Direction, Setup};

use super::{SdpType, SessionDescription};
use crate::negotiation::{self, answer_direction};
use crate::{CodecParams, Error, MediaKind, PeerConnection, TrackInfo};

/// The proto of the RTP sections we offer (RFC 8829 §5.1.2).
pub(crate) const DEFAULT_RTP_PROTO: &str = "UDP/TLS/RTP/SAVPF";
/// The proto of the data-channel section we offer (RFC 8841 §4.1).
pub(crate) const DEFAULT_DATA_PROTO: &str = "UDP/DTLS/SCTP";

pub(crate) enum Section {
    Rejected {
        kind: String,
        proto: String,
        mid: String,
    },
    Data {
        mid: String,
        setup: Setup,
        proto: String,
    },
    Rtp {
        kind: MediaKind,
        proto: String,
        mid: String,
        setup: Setup,
        direction: Direction,
        codecs: Vec<CodecParams>,
        extensions: Vec<(u16, String)>,
        track: Option<TrackInfo>,
        /// Simulcast layers we receive (`a=rid:<id> recv`, `a=simulcast:recv`).
        rids: Vec<String>,
    },
}

fn direction_receives(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::RecvOnly)
}

impl Section {
    pub(crate) fn rejected(m: &fulmar_sdp::MediaDescription, mid: String) -> Result<Self, Error> {
        Ok(Section::Rejected {
            kind: m.kind().to_owned(),
            proto: m.proto().to_owned(),
            mid,
        })
    }
}

impl PeerConnection {
    pub(crate) fn media_section(
        &mut self,
        i: usize,
        offered: Option<&fulmar_sdp::MediaDescription>,
        setup: Setup,
    ) -> Result<Section, Error> {
        let Some(t) = self.media.transceivers.get(i).cloned() else {
            return Err(Error::InvalidState("transceiver"));
        };
        let mid = t.mid.clone().unwrap_or_default();
        // An answer repeats the offer's proto (RFC 3264 §6, RFC 9429 §5.3.1).
        let proto = offered.map_or(DEFAULT_RTP_PROTO, |m| m.proto()).to_owned();
        if t.stopped {
            return Ok(Section::Rejected {
                kind: t.kind.as_str().to_owned(),
                proto,
                mid,
            });
        }
        let mut rids: Vec<String> = Vec::new();
        let (direction, codecs, extensions) = match offered {
            Some(m) => {
                let remote = negotiation::remote_codecs(m);
                let codecs = negotiation::negotiate_codecs(&remote, &t.codecs);
                let ext = negotiation::negotiate_extensions(m, &t.extensions);
                // Simulcast the peer sends (RFC 8853 §5.3): we receive every
                // offered layer, told apart by the rid header extension.
                let rid_ext = ext.iter().any(|(_, u)| u == uri::RID);
                if let (Some(sc), true) = (m.simulcast(), rid_ext) {
                    if let Some(send) = sc.send {
                        for alt in send.streams().take(8) {
                            for r in alt {
                                let ok = m.rids().any(|x| {
                                    x.id == r.id
                                        && x.direction == fulmar_sdp::attributes::RidDirection::Send
                                });
                                if ok && !rids.iter().any(|x| x == r.id) {
                                    rids.push(r.id.to_owned());
                                }
                            }
                        }
                    }
                }
                let dir = answer_direction(
                    self.jsep
                        .remote_desc
                        .as_ref()
                        .map_or(Direction::SendRecv, |d| d.sdp.direction_for(m)),
                    t.direction,
                );
                (dir, codecs, ext)
            }
            None => (t.direction, t.codecs.clone(), t.extensions.clone()),
        };
        if codecs.is_empty() {
            return Ok(Section::Rejected {
                kind: t.kind.as_str().to_owned(),
                proto,
                mid,
            });
        }
        Ok(Section::Rtp {
            kind: t.kind,
            proto,
            mid,
            setup,
            direction,
            codecs,
            extensions,
            track: t
                .track
                .clone()
                .filter(|_| matches!(direction, Direction::SendRecv | Direction::SendOnly)),
            rids: rids
                .into_iter()
                .filter(|_| direction_receives(direction))
                .collect(),
        })
    }

    /// The data-channel section over `proto` (an answer repeats the
    /// offer's, RFC 3264 §6).
    pub(crate) fn data_section(&self, setup: Setup, proto: &str) -> Section {
        Section::Data {
            mid: self.data.section.mid().unwrap_or_default().to_owned(),
            setup,
            proto: proto.to_owned(),
        }
    }

    pub(crate) fn build_session(
        &mut self,
        sections: Vec<Section>,
        kind: SdpType,
    ) -> Result<SessionDescription, Error> {
        let ice = self
            .ice
            .agent
            .as_ref()
            .ok_or(Error::InvalidState("ICE agent"))?;
        let creds = ice.local_credentials().clone();
        let fp = self.certificate.fingerprint().to_sdp();
        let (hash, digest) = fp
            .split_once(' ')
            .ok_or(Error::InvalidDescription("fingerprint"))?;
        let cname = format!("fulmar{:08x}", self.jsep.session_id as u32);
        let ssrc_lines: Vec<(u32, String)> = sections
            .iter()
            .filter_map(|s| match s {
                Section::Rtp { track: Some(t), .. } => {
                    Some((t.ssrc, format!("{} {}", t.stream_id, t.track_id)))
                }
                _ => None,
            })
            .collect();
        // Values copied from a remote offer (codec parameters, extension
        // URIs, mids) that our writer refuses reject their section instead
        // of failing the whole answer.
        let sections: Vec<Section> = sections
            .into_iter()
            .map(|s| match s {
                Section::Rtp {
                    kind,
                    ref proto,
                    ref mid,
                    direction,
                    ref codecs,
                    ref extensions,
                    ..
                } => {
                    let probe = negotiation::with_codecs(
                        MediaBuilder::new(kind.as_str(), proto),
                        codecs,
                        extensions,
                    )
                    .mid(mid)
                    .direction(direction)
                    .build();
                    match probe {
                        Ok(_) => s,
                        Err(_) => Section::Rejected {
                            kind: kind.as_str().to_owned(),
                            proto: proto.clone(),
                            mid: mid.clone(),
                        },
                    }
                }
                s => s,
            })
            .collect();
        let mut built = Vec::new();
        let mut bundle: Vec<String> = Vec::new();
        let mut streams: Vec<String> = Vec::new();
        for s in &sections {
            let m = match s {
                Section::Rejected { kind, proto, mid } => {
                    let mut b = MediaBuilder::new(kind, proto).port(0);
                    if !mid.is_empty() {
                        b = b.mid(mid);
                    }
                    // Any format the proto allows (RFC 3264 §6): a payload
                    // type for RTP, the data-channel name for SCTP, and a
                    // token for a proto we do not know.
                    b = if fulmar_sdp::is_sctp_proto(proto) {
                        b.format("webrtc-datachannel")
                    } else {
                        b.format("0")
                    };
                    b.build()?
                }
                Section::Data { mid, setup, proto } => {
                    bundle.push(mid.clone());
                    MediaBuilder::new("application", proto)
                        .format("webrtc-datachannel")
                        .ice_credentials(&creds.ufrag, &creds.pwd)
                        .ice_option("trickle")
                        .fingerprint(hash, digest)
                        .setup(*setup)
                        .mid(mid)
                        .sctp_port(self.config.sctp.local_port)
                        .max_message_size(self.config.max_message_size)
                        .build()?
                }
                Section::Rtp {
                    kind,
                    proto,
                    mid,
                    setup,
                    direction,
                    codecs,
                    extensions,
                    track,
                    rids,
                } => {
                    bundle.push(mid.clone());
                    let mut b = MediaBuilder::new(kind.as_str(), proto)
                        .ice_credentials(&creds.ufrag, &creds.pwd)
                        .ice_option("trickle")
                        .fingerprint(hash, digest)
                        .setup(*setup)
                        .mid(mid);
                    b = negotiation::with_codecs(b.direction(*direction), codecs, extensions);
                    if let Some(t) = track {
                        if !streams.contains(&t.stream_id) {
                            streams.push(t.stream_id.clone());
                        }
                        b = b.msid(&t.stream_id, Some(&t.track_id));
                    }
                    b = b.rtcp_mux().rtcp_rsize();
                    let simulcast = format!("recv {}", rids.join(";"));
                    if !rids.is_empty() {
                        for r in rids {
                            b = b.rid(r, fulmar_sdp::attributes::RidDirection::Recv, None);
                        }
                        b = b.simulcast(&simulcast);
                    }
                    if let Some(t) = track {
                        let msid = ssrc_lines
                            .iter()
                            .find(|(s, _)| *s == t.ssrc)
                            .map(|(_, v)| v.as_str());
                        // RTX rides on its own SSRC, grouped with the
                        // primary (RFC 4588 §8.3, RFC 5576 §4.2).
                        let rtx = t
                            .rtx_ssrc
                            .filter(|_| codecs.iter().any(CodecParams::is_rtx));
                        if let Some(r) = rtx {
                            b = b.ssrc_group("FID", &[t.ssrc, r]);
                        }
                        for ssrc in std::iter::once(t.ssrc).chain(rtx) {
                            b = b.ssrc(ssrc, "cname", Some(&cname));
                            if let Some(v) = msid {
                                b = b.ssrc(ssrc, "msid", Some(v));
                            }
                        }
                    }
                    b.build()?
                }
            };
            built.push(m);
        }
        let mids: Vec<&str> = bundle.iter().map(String::as_str).collect();
        let stream_refs: Vec<&str> = streams.iter().map(String::as_str).collect();
        let mut sb = SessionBuilder::new(self.jsep.session_id, self.jsep.session_version)
            .bundle(&mids)
            .extmap_allow_mixed(true)
            .msid_semantic(Some(("WMS", &stream_refs)));
        for m in built {
            sb = sb.media(m);
        }
        let mut sdp = sb.build()?;
        self.add_local_candidates(&mut sdp);
        Ok(SessionDescription { kind, sdp })
    }
}
