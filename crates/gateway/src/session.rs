//! The session registry: one Fulmar peer connection per `/offer`, WHIP or
//! WHEP session, found by an unguessable id, ended by `DELETE`, by failure
//! or by a connect timeout.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use fulmar::{Endpoint, PeerConnection, PeerConnectionState, SessionDescription};
use tokio::sync::OnceCell;

use crate::media::{self, TrackTable};
use crate::GatewayConfig;

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionKind {
    /// `POST /offer`: echoes data-channel messages (and media, once the
    /// driver carries it) back to the sender.
    Echo,
    /// WHIP ingest (RFC 9725): the client publishes, the gateway records.
    Whip,
    /// WHEP playback: the gateway plays its clips to the client.
    Whep,
}

impl SessionKind {
    /// The lower-case name used in URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Echo => "echo",
            SessionKind::Whip => "whip",
            SessionKind::Whep => "whep",
        }
    }
}

struct Session {
    kind: SessionKind,
    /// Local tracks by transceiver (echo sessions).
    tracks: TrackTable,
    /// Tracks Fulmar offered, started once the client answers.
    pending: media::Pending,
    pc: PeerConnection,
    etag: String,
    remote_ufrag: Option<String>,
    created: Instant,
    /// The HTTP client's address, when known.
    client: Option<IpAddr>,
}

/// A snapshot of one session for `GET /sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id (last path segment of its resource URL).
    pub id: String,
    /// What the session is for.
    pub kind: SessionKind,
    /// The connection state.
    pub state: PeerConnectionState,
    /// Time since the offer arrived.
    pub age: Duration,
    /// The driver's counters.
    pub stats: fulmar::Stats,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// `max_sessions` are running.
    #[error("too many sessions")]
    Full,
    /// The client already has `max_pending_per_client` sessions that are
    /// not connected.
    #[error("too many unanswered offers from this client")]
    ClientLimit,
    /// The shared media socket could not be bound.
    #[error("media socket: {0}")]
    Media(String),
    /// The offer was refused.
    #[error("offer refused: {0}")]
    Offer(#[from] fulmar::Error),
}

/// Why a trickle `PATCH` was refused (RFC 9725 §4.3).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrickleError {
    /// No such session.
    #[error("no such session")]
    NotFound,
    /// `If-Match` names another entity tag.
    #[error("entity tag does not match")]
    PreconditionFailed,
    /// An ICE restart (new ufrag) was asked for; not supported.
    #[error("ICE restart is not supported")]
    RestartUnsupported,
    /// The body is not an SDP fragment (RFC 8840 §9).
    #[error("bad SDP fragment: {0}")]
    BadFragment(String),
    /// A candidate line was refused.
    #[error("bad candidate: {0}")]
    BadCandidate(String),
}

/// Why a renegotiation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenegotiateError {
    /// No such session.
    #[error("no such session")]
    NotFound,
    /// The offer was refused.
    #[error("offer refused: {0}")]
    Offer(#[from] fulmar::Error),
    /// No video clip is configured to add.
    #[error("no clip configured")]
    NoClip,
}

/// The live sessions and the offers being answered (admitted, holding a
/// place, not yet sessions).
#[derive(Default)]
struct Registry {
    sessions: HashMap<String, Session>,
    /// Offers being answered.
    opening: usize,
    /// Offers being answered, by client address (no entry at zero).
    opening_by: HashMap<IpAddr, usize>,
}

/// The place an admitted offer holds in the registry while it is answered;
/// dropping it gives the place back (whether or not a session came of it).
struct Admission<'a> {
    gateway: &'a Gateway,
    client: Option<IpAddr>,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let mut r = self.gateway.lock();
        r.opening = r.opening.saturating_sub(1);
        if let Some(ip) = self.client {
            if let Some(n) = r.opening_by.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    r.opening_by.remove(&ip);
                }
            }
        }
    }
}

/// The gateway: its configuration, its media socket and the live sessions.
pub struct Gateway {
    config: GatewayConfig,
    registry: Mutex<Registry>,
    /// The shared UDP socket of every session, bound at first use.
    endpoint: OnceCell<Endpoint>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("sessions", &self.session_count())
            .finish()
    }
}

/// 128 random bits in hex: session ids and entity tags.
fn random_token() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

impl Gateway {
    /// A gateway with no sessions.
    pub fn new(config: GatewayConfig) -> Gateway {
        Gateway {
            config,
            registry: Mutex::new(Registry::default()),
            endpoint: OnceCell::new(),
        }
    }

    /// The shared media socket, bound to [`GatewayConfig::media_bind`] at
    /// the first call (needs a tokio runtime).
    pub async fn endpoint(&self) -> Result<&Endpoint, fulmar::Error> {
        self.endpoint
            .get_or_try_init(|| Endpoint::bind(self.config.media_bind))
            .await
    }

    /// The media socket's bound address (binds it if it is not yet): the
    /// one UDP port to open in a firewall.
    pub async fn media_addr(&self) -> Result<SocketAddr, fulmar::Error> {
        Ok(self.endpoint().await?.local_addr())
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every critical section leaves the registry consistent.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Sessions not connected yet plus offers being answered, from `client`.
    pub fn pending_count(&self, client: IpAddr) -> usize {
        let r = self.lock();
        Self::pending_in(&r, client)
    }

    fn pending_in(r: &Registry, client: IpAddr) -> usize {
        let sessions = r
            .sessions
            .values()
            .filter(|s| s.client == Some(client) && s.pc.state() != PeerConnectionState::Connected)
            .count();
        sessions + r.opening_by.get(&client).copied().unwrap_or(0)
    }

    /// Takes a place for an offer from `client`, or says why there is none
    /// (checked and taken under one lock, so concurrent offers cannot all
    /// pass the check).
    fn admit(&self, client: Option<IpAddr>) -> Result<Admission<'_>, OpenError> {
        let mut r = self.lock();
        if r.sessions.len() + r.opening >= self.config.max_sessions {
            return Err(OpenError::Full);
        }
        if let Some(ip) = client {
            if Self::pending_in(&r, ip) >= self.config.max_pending_per_client {
                return Err(OpenError::ClientLimit);
            }
            *r.opening_by.entry(ip).or_insert(0) += 1;
        }
        r.opening += 1;
        Ok(Admission {
            gateway: self,
            client,
        })
    }

    /// Answers `offer_sdp` with a new session of `kind`; returns its id, the
    /// answer (with every candidate) and its entity tag.
    pub async fn open(
        &self,
        kind: SessionKind,
        offer_sdp: &str,
    ) -> Result<(String, String, String), OpenError> {
        self.open_from(kind, offer_sdp, None).await
    }

    /// [`Gateway::open`] for an offer from `client` (the HTTP peer's
    /// address), which [`GatewayConfig::max_pending_per_client`] limits.
    /// A refused offer leaves no state behind.
    pub async fn open_from(
        &self,
        kind: SessionKind,
        offer_sdp: &str,
        client: Option<IpAddr>,
    ) -> Result<(String, String, String), OpenError> {
        let admission = self.admit(client)?;
        let endpoint = self
            .endpoint()
            .await
            .map_err(|e| OpenError::Media(e.to_string()))?;
        let pc = PeerConnection::new_on(endpoint, self.config.peer.clone()).await?;
        let offer = SessionDescription::offer(offer_sdp).map_err(fulmar::Error::from)?;
        let remote_ufrag = offer.sdp.first_ice_ufrag().map(str::to_owned);
        pc.set_remote_description(offer).await?;
        let (id, etag) = (random_token(), random_token());
        // Local tracks go in before the answer so that it is sendrecv/sendonly.
        let tracks = TrackTable::default();
        let whep = match kind {
            SessionKind::Echo => {
                media::prepare_echo(&pc, &tracks).await;
                Vec::new()
            }
            SessionKind::Whep => {
                media::prepare_whep(&pc, self.config.video.as_ref(), self.config.audio.as_ref())
                    .await
            }
            SessionKind::Whip => Vec::new(),
        };
        let answer = pc.create_answer().await?.sdp.to_string();
        match kind {
            SessionKind::Echo => {
                echo_data_channels(pc.clone());
                media::spawn_echo(pc.clone(), tracks.clone());
            }
            SessionKind::Whep => media::spawn_whep(pc.clone(), whep),
            SessionKind::Whip => {
                media::spawn_whip(pc.clone(), self.config.record_dir.clone(), id.clone());
            }
        }
        let session = Session {
            kind,
            tracks,
            pending: media::Pending::default(),
            pc: pc.clone(),
            etag: etag.clone(),
            remote_ufrag,
            created: Instant::now(),
            client,
        };
        // The admission's place becomes the session's (one lock: the
        // count never exceeds the capacity).
        self.lock().sessions.insert(id.clone(), session);
        drop(admission);
        Ok((id, answer, etag))
    }

    /// Ends session `id` of `kind`; false if there is none.
    pub async fn close(&self, kind: SessionKind, id: &str) -> bool {
        let removed = {
            let mut r = self.lock();
            match r.sessions.get(id) {
                Some(s) if s.kind == kind => r.sessions.remove(id),
                _ => None,
            }
        };
        match removed {
            Some(s) => {
                s.pc.close().await;
                true
            }
            None => false,
        }
    }

    /// Applies a trickle-ICE SDP fragment (RFC 8840) to session `id`.
    /// `if_match` is the request's `If-Match` value, if any.
    pub async fn trickle(
        &self,
        kind: SessionKind,
        id: &str,
        if_match: Option<&str>,
        fragment: &str,
    ) -> Result<(), TrickleError> {
        let fragment = fulmar::sdp::SessionDescription::parse_fragment(fragment)
            .map_err(|e| TrickleError::BadFragment(e.to_string()))?;
        let pc = {
            let r = self.lock();
            let s = r
                .sessions
                .get(id)
                .filter(|s| s.kind == kind)
                .ok_or(TrickleError::NotFound)?;
            if let Some(tag) = if_match {
                let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
                if tag != "*" && tag != s.etag {
                    return Err(TrickleError::PreconditionFailed);
                }
            }
            if let Some(ufrag) = fragment.first_ice_ufrag() {
                if s.remote_ufrag.as_deref() != Some(ufrag) {
                    return Err(TrickleError::RestartUnsupported);
                }
            }
            s.pc.clone()
        };
        // RFC 8840 §9 puts candidates in the m= sections; some clients send
        // bare `a=candidate` lines, which land at the session level.
        let bad = |e: fulmar::Error| TrickleError::BadCandidate(e.to_string());
        for value in fragment.attribute_values("candidate") {
            let candidate = fulmar::sdp::Candidate::parse(value)
                .map_err(|e| TrickleError::BadCandidate(e.to_string()))?;
            pc.add_remote_candidate(candidate).await.map_err(bad)?;
        }
        let mut end = fragment.has_attribute("end-of-candidates");
        for m in fragment.media() {
            for candidate in m.candidates() {
                pc.add_remote_candidate(candidate).await.map_err(bad)?;
            }
            end |= m.end_of_candidates();
        }
        if end {
            pc.end_of_remote_candidates().await.map_err(bad)?;
        }
        Ok(())
    }

    /// Applies a new offer from the client of session `id` (renegotiation:
    /// tracks added or stopped) and returns the answer.
    pub async fn renegotiate(
        &self,
        kind: SessionKind,
        id: &str,
        offer_sdp: &str,
    ) -> Result<String, RenegotiateError> {
        let (pc, tracks, _) = self.handles(kind, id)?;
        let offer = SessionDescription::offer(offer_sdp).map_err(fulmar::Error::from)?;
        pc.set_remote_description(offer).await?;
        if kind == SessionKind::Echo {
            // Tracks the client added since are echoed too.
            media::prepare_echo(&pc, &tracks).await;
        }
        Ok(pc.create_answer().await?.sdp.to_string())
    }

    /// The connection and track tables of session `id` of `kind`.
    fn handles(
        &self,
        kind: SessionKind,
        id: &str,
    ) -> Result<(PeerConnection, TrackTable, media::Pending), RenegotiateError> {
        self.lock()
            .sessions
            .get(id)
            .filter(|s| s.kind == kind)
            .map(|s| (s.pc.clone(), s.tracks.clone(), s.pending.clone()))
            .ok_or(RenegotiateError::NotFound)
    }

    /// Fulmar-initiated renegotiation of echo session `id`: adds a local
    /// video track that will play the configured clip and returns Fulmar's
    /// new offer; the client answers with [`Gateway::apply_answer`].
    pub async fn offer_clip_track(&self, id: &str) -> Result<String, RenegotiateError> {
        let (pc, _, pending) = self.handles(SessionKind::Echo, id)?;
        let clip = self.config.video.clone().ok_or(RenegotiateError::NoClip)?;
        let track = pc
            .add_track(fulmar::MediaKind::Video, "fulmar-clip", "clip")
            .await;
        pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((Arc::new(track), clip));
        Ok(pc.create_offer().await?.sdp.to_string())
    }

    /// Applies the client's answer to Fulmar's offer on echo session `id`
    /// and starts the tracks that offer added.
    pub async fn apply_answer(&self, id: &str, answer_sdp: &str) -> Result<(), RenegotiateError> {
        let (pc, _, pending) = self.handles(SessionKind::Echo, id)?;
        let answer = SessionDescription::answer(answer_sdp).map_err(fulmar::Error::from)?;
        pc.set_remote_description(answer).await?;
        let tracks = std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
        media::spawn_whep(pc, tracks);
        Ok(())
    }

    /// The entity tag of session `id`.
    pub fn etag(&self, kind: SessionKind, id: &str) -> Option<String> {
        self.lock()
            .sessions
            .get(id)
            .filter(|s| s.kind == kind)
            .map(|s| s.etag.clone())
    }

    /// A snapshot of every session.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let now = Instant::now();
        let mut list: Vec<SessionInfo> = self
            .lock()
            .sessions
            .iter()
            .map(|(id, s)| SessionInfo {
                id: id.clone(),
                kind: s.kind,
                state: s.pc.state(),
                age: now.saturating_duration_since(s.created),
                stats: s.pc.stats(),
            })
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.age));
        list
    }

    /// Ends sessions that failed, closed, or did not connect within the
    /// configured timeout; returns how many.
    pub async fn reap(&self, now: Instant) -> usize {
        let dead: Vec<Session> = {
            let mut r = self.lock();
            let ids: Vec<String> = r
                .sessions
                .iter()
                .filter(|(_, s)| match s.pc.state() {
                    PeerConnectionState::Failed(_) | PeerConnectionState::Closed => true,
                    PeerConnectionState::Connected => false,
                    _ => now.saturating_duration_since(s.created) > self.config.connect_timeout,
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| r.sessions.remove(id)).collect()
        };
        for s in &dead {
            // The operator's one clue to a session that failed (ICE, DTLS
            // or SCTP, and who misbehaved).
            if let Some(f) = s.pc.state().failure() {
                eprintln!("fulmar-gateway: {} session failed: {f}", s.kind.as_str());
            }
            s.pc.close().await;
        }
        dead.len()
    }

    /// Runs [`Gateway::reap`] every second while the gateway lives.
    pub fn spawn_reaper(self: &Arc<Self>) {
        let weak: Weak<Gateway> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(gateway) = weak.upgrade() else {
                    return;
                };
                gateway.reap(Instant::now()).await;
            }
        });
    }

    /// Ends every session.
    pub async fn close_all(&self) {
        let all: Vec<Session> = self.lock().sessions.drain().map(|(_, s)| s).collect();
        for s in all {
            s.pc.close().await;
        }
    }

    /// The sessions as a JSON array (for `GET /sessions`).
    pub fn sessions_json(&self) -> String {
        let sessions = self.sessions();
        let list: Vec<SessionJson<'_>> = sessions.iter().map(SessionJson::from).collect();
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// One session as `GET /sessions` lists it.
#[derive(serde::Serialize)]
struct SessionJson<'a> {
    id: &'a str,
    kind: &'static str,
    /// The state's name (`Failed` for any failure)...
    state: String,
    /// ...and, once failed, why.
    failure: Option<String>,
    age_ms: u128,
    packets_sent: u64,
    bytes_sent: u64,
    packets_received: u64,
    bytes_received: u64,
    rtp_packets_received: u64,
    messages_sent: u64,
    messages_received: u64,
    /// Milliseconds, to the microsecond; `null` before the first sample.
    rtt_ms: Option<f64>,
}

impl<'a> From<&'a SessionInfo> for SessionJson<'a> {
    fn from(s: &'a SessionInfo) -> Self {
        let st = &s.stats;
        SessionJson {
            id: &s.id,
            kind: s.kind.as_str(),
            state: match &s.state {
                PeerConnectionState::Failed(_) => "Failed".to_owned(),
                state => format!("{state:?}"),
            },
            failure: s.state.failure().map(ToString::to_string),
            age_ms: s.age.as_millis(),
            packets_sent: st.packets_sent,
            bytes_sent: st.bytes_sent,
            packets_received: st.packets_received,
            bytes_received: st.bytes_received,
            rtp_packets_received: st.rtp_packets_received,
            messages_sent: st.messages_sent,
            messages_received: st.messages_received,
            rtt_ms: st.rtt.map(|r| r.as_micros() as f64 / 1000.0),
        }
    }
}

/// Spawns a task that echoes every message of every data channel the
/// remote peer opens, on the channel it came from, until the connection ends.
pub fn echo_data_channels(pc: PeerConnection) {
    tokio::spawn(async move {
        while let Some(dc) = pc.accept_data_channel().await {
            tokio::spawn(async move {
                while let Some(msg) = dc.recv().await {
                    if dc.send_msg(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_bit_hex_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
