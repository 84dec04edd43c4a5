//! Requests from clients: dispatch, long-term and time-limited
//! authentication (RFC 8489 §9.2, RFC 8656 §5), challenges, error and
//! success responses.

use super::*;

impl Server {
    pub(super) fn handle_request(&mut self, now: Instant, ft: FiveTuple, msg: &Message<'_>) {
        let method = msg.method();
        if method == Method::BINDING {
            self.stats.binding_requests += 1;
            self.respond(ft, msg, Class::SuccessResponse, None, |b| {
                b.add(&XorMappedAddress(ft.client));
            });
            return;
        }
        if !matches!(
            method,
            Method::ALLOCATE | Method::REFRESH | Method::CREATE_PERMISSION | Method::CHANNEL_BIND
        ) {
            self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
            return;
        }
        let Some((key, algorithm, username)) = self.authenticate(now, ft, msg) else {
            return;
        };
        let mut unknown = [AttributeType(0); MAX_UNKNOWN];
        let mut n = 0;
        for t in msg.unknown_comprehension_required() {
            if n < MAX_UNKNOWN {
                unknown[n] = t;
                n += 1;
            }
        }
        if n > 0 {
            self.error_with(ft, msg, ErrorCode::UNKNOWN_ATTRIBUTE, Some(&key), |b| {
                b.add(&UnknownAttributes::new(&unknown[..n]));
            });
            return;
        }
        match method {
            Method::ALLOCATE => self.allocate(now, ft, msg, key, algorithm, username),
            Method::REFRESH => self.refresh(now, ft, msg, &key),
            Method::CREATE_PERMISSION => self.create_permission(now, ft, msg, &key),
            _ => self.channel_bind(now, ft, msg, &key),
        }
    }

    /// Long-term credential check (RFC 8489 §9.2.4, RFC 8656 §5). Sends the
    /// error response itself and returns `None` on failure; a request without
    /// credentials gets a 401 and leaves no state.
    pub(super) fn authenticate(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
    ) -> Option<(IntegrityKey, PasswordAlgorithmId, String)> {
        if !msg.has_message_integrity() && !msg.has_message_integrity_sha256() {
            self.stats.challenges += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        }
        let (Ok(user), Ok(realm), Ok(nonce)) = (
            msg.get::<Username>(),
            msg.get::<Realm>(),
            msg.get::<Nonce>(),
        ) else {
            self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
            return None;
        };
        if user.0.len() > MAX_USERNAME || user.0.is_empty() {
            self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
            return None;
        }
        if realm.0 != self.config.realm {
            self.stats.auth_failures += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        }
        if self.nonces.check(nonce.0, ft.client, self.now_secs(now)) == NonceCheck::Stale {
            self.stats.stale_nonces += 1;
            self.challenge(now, ft, msg, ErrorCode::STALE_NONCE);
            return None;
        }
        // PASSWORD-ALGORITHM must be one we offered, and PASSWORD-ALGORITHMS
        // must repeat our list unchanged (no downgrade, RFC 8489 §9.2.4).
        let algorithm = match msg.get::<PasswordAlgorithm>() {
            Ok(a) => {
                let list_ok = self.config.offer_sha256
                    && msg
                        .get::<PasswordAlgorithms>()
                        .is_ok_and(|l| l.iter().map(|x| x.algorithm).eq(OFFERED));
                if !list_ok || !OFFERED.contains(&a.algorithm) || !a.parameters.is_empty() {
                    self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
                    return None;
                }
                a.algorithm
            }
            Err(_) => PasswordAlgorithmId::MD5,
        };
        // Requests on an existing allocation must use its user name (RFC 8656 §5).
        let key = match self.allocations.get(&ft) {
            Some(a) if a.username.as_ref() != user.0 => {
                self.stats.auth_failures += 1;
                self.error(ft, msg, ErrorCode::WRONG_CREDENTIALS, None);
                return None;
            }
            Some(a) if a.algorithm == algorithm => Some(a.key.clone()),
            _ => self.user_key(now, user.0, algorithm),
        };
        let Some(key) = key else {
            self.stats.auth_failures += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        };
        if msg.verify_integrity(&key).is_err() {
            self.stats.auth_failures += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        }
        Some((key, algorithm, user.0.to_owned()))
    }

    pub(super) fn user_key(
        &self,
        now: Instant,
        username: &str,
        algorithm: PasswordAlgorithmId,
    ) -> Option<IntegrityKey> {
        if let Some((md5, sha256)) = self.user_keys.get(username) {
            return Some(if algorithm == PasswordAlgorithmId::SHA256 {
                sha256.clone()
            } else {
                md5.clone()
            });
        }
        let secret = self.config.auth_secret.as_deref()?;
        let expiry = time_limited_expiry(username)?;
        if expiry < self.unix_now(now) {
            return None;
        }
        let password = time_limited_password(secret, username);
        Some(IntegrityKey::long_term(
            username,
            &self.config.realm,
            &password,
            algorithm,
        ))
    }

    /// A 401 or 438 with REALM, a fresh NONCE and, when offered, PASSWORD-ALGORITHMS.
    pub(super) fn challenge(&mut self, now: Instant, ft: FiveTuple, msg: &Message<'_>, code: u16) {
        let expiry = self.now_secs(now).saturating_add(
            u32::try_from(self.config.nonce_lifetime.as_secs()).unwrap_or(u32::MAX),
        );
        let nonce = self.nonces.make(expiry, ft.client);
        let realm = self.config.realm.clone();
        let offer = self.config.offer_sha256;
        let algs = [
            PasswordAlgorithm::new(OFFERED[0]),
            PasswordAlgorithm::new(OFFERED[1]),
        ];
        self.error_with(ft, msg, code, None, |b| {
            b.add(&Realm(&realm)).add(&Nonce(&nonce));
            if offer {
                b.add(&PasswordAlgorithms::new(&algs));
            }
        });
    }

    pub(super) fn error(&mut self, ft: FiveTuple, msg: &Message<'_>, code: u16, key: Signer<'_>) {
        self.error_with(ft, msg, code, key, |_| {});
    }

    pub(super) fn error_with(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        code: u16,
        key: Signer<'_>,
        extra: impl FnOnce(&mut MessageBuilder<'_>),
    ) {
        self.stats.error_responses += 1;
        self.respond(ft, msg, Class::ErrorResponse, key, |b| {
            b.add(&ErrorCode::with_default_reason(code));
            extra(b);
        });
    }

    pub(super) fn respond(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        class: Class,
        key: Signer<'_>,
        body: impl FnOnce(&mut MessageBuilder<'_>),
    ) {
        let mut buf = [0u8; 1024];
        let mut b = MessageBuilder::new(&mut buf, class, msg.method(), msg.transaction_id());
        body(&mut b);
        if let Some(s) = &self.config.software {
            b.add(&Software(s));
        }
        if let Some(k) = key {
            b.add_message_integrity(k);
        }
        b.add_fingerprint();
        if let Ok(bytes) = b.finish() {
            self.transmits.push_back(ServerTransmit {
                five_tuple: ft,
                payload: bytes.to_vec(),
            });
        }
    }
}
