//! What the server sends: ChannelData and Data indications from peers,
//! responses, challenges and nonces (RFC 8489 §9.2), and what each success
//! or failure does to the allocation.

use super::*;

impl Client {
    /// Handle a datagram (or a stream frame) from `source`. Data from peers
    /// comes back borrowed from `datagram`.
    pub fn handle_receive<'a>(
        &mut self,
        now: Instant,
        source: SocketAddr,
        datagram: &'a [u8],
    ) -> Received<'a> {
        if source != self.config.server {
            return Received::NotFromServer;
        }
        match classify(datagram) {
            PacketKind::ChannelData => self.handle_channel_data(datagram),
            PacketKind::Stun => match Message::parse(datagram) {
                Ok(msg) => self.handle_message(now, &msg),
                Err(_) => {
                    self.stats.dropped += 1;
                    Received::Consumed
                }
            },
            _ => {
                self.stats.dropped += 1;
                Received::Consumed
            }
        }
    }

    pub(super) fn handle_channel_data<'a>(&mut self, datagram: &'a [u8]) -> Received<'a> {
        let Ok(cd) = ChannelData::parse(datagram) else {
            self.stats.dropped += 1;
            return Received::Consumed;
        };
        match self.channels.get(&cd.channel_number()) {
            Some(c) if self.state == ClientState::Allocated => {
                self.stats.peer_data_received += 1;
                Received::PeerData {
                    peer: c.peer,
                    data: cd.data(),
                }
            }
            _ => {
                self.stats.dropped += 1;
                Received::Consumed
            }
        }
    }

    pub(super) fn handle_message<'a>(&mut self, now: Instant, msg: &Message<'a>) -> Received<'a> {
        match msg.class() {
            Class::Indication if msg.method() == Method::DATA => {
                // RFC 8656 §10.4: XOR-PEER-ADDRESS and DATA must both be there.
                let (Ok(peer), Ok(data)) = (msg.get::<XorPeerAddress>(), msg.get::<Data>()) else {
                    self.stats.dropped += 1;
                    return Received::Consumed;
                };
                if self.state != ClientState::Allocated
                    || !self.permissions.contains_key(&peer.0.ip())
                {
                    self.stats.dropped += 1;
                    return Received::Consumed;
                }
                self.stats.peer_data_received += 1;
                Received::PeerData {
                    peer: peer.0,
                    data: data.0,
                }
            }
            Class::SuccessResponse | Class::ErrorResponse => {
                self.handle_response(now, msg);
                Received::Consumed
            }
            _ => {
                self.stats.dropped += 1;
                Received::Consumed
            }
        }
    }

    pub(super) fn handle_response(&mut self, now: Instant, msg: &Message<'_>) {
        let tid = msg.transaction_id();
        let Some(idx) = self.pending.iter().position(|p| p.transaction_id == tid) else {
            self.stats.dropped += 1;
            return;
        };
        // Responses to authenticated requests are checked when they carry
        // integrity (RFC 8489 §9.2.5); forged ones are ignored and the
        // transaction goes on.
        if msg.class() == Class::SuccessResponse
            && (msg.has_message_integrity() || msg.has_message_integrity_sha256())
        {
            if let Some(auth) = &self.auth {
                if msg.verify_integrity(&auth.key).is_err() {
                    self.stats.dropped += 1;
                    return;
                }
            }
        }
        let p = self.pending.swap_remove(idx);
        if msg.class() == Class::SuccessResponse {
            self.on_success(now, p.request, msg);
            return;
        }
        let code = msg.get::<ErrorCode>().map(|e| e.code).ok();
        match code {
            Some(ErrorCode::UNAUTHENTICATED)
                if !p.authenticated && p.retries < MAX_AUTH_RETRIES && self.take_challenge(msg) =>
            {
                let _ = self.start(now, p.request, p.retries + 1);
            }
            Some(ErrorCode::STALE_NONCE) if p.retries < MAX_AUTH_RETRIES => {
                if self.take_nonce(msg) {
                    let _ = self.start(now, p.request, p.retries + 1);
                } else {
                    self.on_failure(p.request, code);
                }
            }
            _ => self.on_failure(p.request, code),
        }
    }

    /// Learn realm, nonce and password algorithm from a 401 (RFC 8489 §9.2.4).
    pub(super) fn take_challenge(&mut self, msg: &Message<'_>) -> bool {
        let (Ok(realm), Ok(nonce)) = (msg.get::<Realm>(), msg.get::<Nonce>()) else {
            return false;
        };
        if realm.0.len() > MAX_AUTH_TEXT || nonce.0.len() > MAX_AUTH_TEXT {
            return false;
        }
        let offers = nonce
            .security_features()
            .is_some_and(|f| f.contains(SecurityFeatures::PASSWORD_ALGORITHMS));
        let (algorithms, algorithm) = match msg.get::<PasswordAlgorithms>() {
            Ok(list) if offers => {
                let alg = if list.contains(PasswordAlgorithmId::SHA256) {
                    PasswordAlgorithmId::SHA256
                } else if list.contains(PasswordAlgorithmId::MD5) {
                    PasswordAlgorithmId::MD5
                } else {
                    return false;
                };
                let raw = msg
                    .raw(fulmar_stun::AttributeType::PASSWORD_ALGORITHMS)
                    .unwrap_or_default();
                (Some(raw.to_vec()), alg)
            }
            _ => (None, PasswordAlgorithmId::MD5),
        };
        let key = IntegrityKey::long_term(
            &self.config.username,
            realm.0,
            &self.config.password,
            algorithm,
        );
        self.auth = Some(Auth {
            realm: realm.0.to_owned(),
            nonce: nonce.0.to_owned(),
            key,
            algorithms,
            algorithm,
        });
        true
    }

    /// Take a new nonce from a 438 (RFC 8656 §7.4, RFC 8489 §9.2.5).
    pub(super) fn take_nonce(&mut self, msg: &Message<'_>) -> bool {
        let Ok(nonce) = msg.get::<Nonce>() else {
            return false;
        };
        if nonce.0.len() > MAX_AUTH_TEXT {
            return false;
        }
        match &mut self.auth {
            Some(a) => {
                if let Ok(realm) = msg.get::<Realm>() {
                    if realm.0 != a.realm {
                        return false;
                    }
                }
                a.nonce = nonce.0.to_owned();
                true
            }
            None => self.take_challenge(msg),
        }
    }

    pub(super) fn on_success(&mut self, now: Instant, request: Request, msg: &Message<'_>) {
        match request {
            Request::Allocate => {
                if self.state != ClientState::Allocating {
                    return;
                }
                // One XOR-RELAYED-ADDRESS, or two for a dual allocation.
                let tid = msg.transaction_id();
                let mut relayed_addrs = msg
                    .attributes()
                    .filter(|a| a.attribute_type == XorRelayedAddress::TYPE)
                    .filter_map(|a| XorRelayedAddress::decode(a.value, &tid).ok())
                    .map(|a| a.0);
                let first = relayed_addrs.next();
                let second = relayed_addrs
                    .next()
                    .filter(|b| first.is_some_and(|a| a.is_ipv4() != b.is_ipv4()));
                let (Some(relayed), Ok(mapped)) = (first, msg.get::<XorMappedAddress>()) else {
                    self.state = ClientState::Closed;
                    self.events
                        .push_back(ClientEvent::AllocationFailed { code: None });
                    return;
                };
                let lifetime = msg
                    .get::<Lifetime>()
                    .map(|l| l.duration())
                    .unwrap_or(Duration::from_secs(600));
                self.state = ClientState::Allocated;
                // IPv4 first, as `relayed`.
                let (relayed, additional) = match second {
                    Some(b) if b.is_ipv4() => (b, Some(relayed)),
                    _ => (relayed, second),
                };
                self.relayed = Some(relayed);
                self.additional_relayed = additional;
                self.mapped = Some(mapped.0);
                self.expires_at = Some(now + lifetime);
                self.refresh_at = Some(refresh_time(now, lifetime));
                self.events.push_back(ClientEvent::Allocated {
                    relayed,
                    additional_relayed: additional,
                    mapped: mapped.0,
                    lifetime,
                });
            }
            Request::Refresh { lifetime: 0 } => self.finish_closed(true),
            Request::Refresh { .. } => {
                if self.state != ClientState::Allocated {
                    return;
                }
                let lifetime = msg
                    .get::<Lifetime>()
                    .map(|l| l.duration())
                    .unwrap_or(Duration::from_secs(600));
                if lifetime.is_zero() {
                    self.finish_closed(false);
                    return;
                }
                self.expires_at = Some(now + lifetime);
                self.refresh_at = Some(refresh_time(now, lifetime));
                self.events.push_back(ClientEvent::Refreshed { lifetime });
            }
            Request::CreatePermission { peer } => {
                if let Some(p) = self.permissions.get_mut(&peer) {
                    p.refresh_at = now + PERMISSION_REFRESH;
                    if !p.installed {
                        p.installed = true;
                        self.events
                            .push_back(ClientEvent::PermissionCreated { peer });
                    }
                }
            }
            Request::ChannelBind { peer, channel } => {
                if let Some(c) = self.channels.get_mut(&channel) {
                    c.refresh_at = now + CHANNEL_REFRESH;
                    if !c.bound {
                        c.bound = true;
                        self.events
                            .push_back(ClientEvent::ChannelBound { peer, channel });
                    }
                }
                // A channel binding installs or refreshes the permission too (§11.2).
                if self.permissions.len() < MAX_PERMISSIONS
                    || self.permissions.contains_key(&peer.ip())
                {
                    let p = self.permissions.entry(peer.ip()).or_insert(Permission {
                        installed: false,
                        refresh_at: now + PERMISSION_REFRESH,
                    });
                    if !p.installed {
                        p.installed = true;
                        p.refresh_at = now + PERMISSION_REFRESH;
                    }
                }
            }
        }
    }

    pub(super) fn on_failure(&mut self, request: Request, code: Option<u16>) {
        match request {
            Request::Allocate => {
                if self.state == ClientState::Allocating {
                    self.state = ClientState::Closed;
                    self.pending.clear();
                    self.events
                        .push_back(ClientEvent::AllocationFailed { code });
                }
            }
            Request::Refresh { lifetime: 0 } => self.finish_closed(true),
            Request::Refresh { .. } => {
                // 437: the allocation is gone. Other errors: keep it until it
                // expires, retrying at the next refresh time.
                if code == Some(ErrorCode::ALLOCATION_MISMATCH) {
                    self.finish_closed(false);
                }
            }
            Request::CreatePermission { peer } => {
                if let Some(p) = self.permissions.get(&peer) {
                    if !p.installed {
                        self.permissions.remove(&peer);
                    }
                }
                self.events
                    .push_back(ClientEvent::PermissionFailed { peer, code });
            }
            Request::ChannelBind { peer, channel } => {
                if self.channels.get(&channel).is_some_and(|c| !c.bound) {
                    self.channels.remove(&channel);
                    self.peer_channels.remove(&peer);
                }
                self.events
                    .push_back(ClientEvent::ChannelBindFailed { peer, code });
            }
        }
    }
}
