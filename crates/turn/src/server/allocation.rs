//! Allocate and Refresh (RFC 8656 §7, §8): lifetimes, relayed addresses,
//! quotas.

use super::*;

impl Server {
    /// The lifetime granted to an Allocate or Refresh: at most what a
    /// LIFETIME attribute can say (u32 seconds), so that `now + lifetime`
    /// cannot overflow whatever the configured lifetimes are, and the
    /// expiry kept is the one the response announces.
    pub(super) fn granted_lifetime(&self, msg: &Message<'_>) -> Duration {
        let lifetime = match msg.get::<Lifetime>() {
            Ok(l) if l.duration() > self.config.default_lifetime => {
                l.duration().min(self.config.max_lifetime)
            }
            _ => self.config.default_lifetime,
        };
        lifetime.min(Duration::from_secs(u64::from(u32::MAX)))
    }

    /// Allocate (RFC 8656 §7.2).
    pub(super) fn allocate(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: IntegrityKey,
        algorithm: PasswordAlgorithmId,
        username: String,
    ) {
        let k = Some(&key);
        if let Some(a) = self.allocations.get(&ft) {
            if a.allocate_tid == msg.transaction_id() {
                // A retransmitted Allocate: answer as before.
                let (relayed, lifetime, family_error) = (a.relayed, a.lifetime, a.family_error);
                self.allocate_success(ft, msg, &key, relayed, lifetime, family_error);
            } else {
                self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, k);
            }
            return;
        }
        match msg.get::<RequestedTransport>() {
            Ok(t) if t == RequestedTransport::UDP => {}
            Ok(_) => return self.error(ft, msg, ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL, k),
            Err(_) => return self.error(ft, msg, ErrorCode::BAD_REQUEST, k),
        }
        let even = msg.get::<EvenPort>().ok();
        if even.is_some_and(|e| e.reserve) || msg.has(ReservationToken::TYPE) {
            // Port reservations are not offered.
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, k);
        }
        // Address families (RFC 8656 §7.2 steps 7–9): REQUESTED-ADDRESS-FAMILY
        // picks the one family (IPv4 when absent); ADDITIONAL-ADDRESS-FAMILY
        // IPv6 asks for an IPv6 address beside the IPv4 one; both at once,
        // an undecodable value or an additional IPv4 are bad requests.
        let requested = msg.get::<RequestedAddressFamily>();
        let additional = msg.get::<AdditionalAddressFamily>();
        let has_requested = msg.has(RequestedAddressFamily::TYPE);
        let has_additional = msg.has(AdditionalAddressFamily::TYPE);
        if (has_requested && requested.is_err())
            || (has_additional && additional != Ok(AdditionalAddressFamily(AddressFamily::Ipv6)))
            || (has_requested && has_additional)
        {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, k);
        }
        let ipv6 = requested.is_ok_and(|f| f.0 == AddressFamily::Ipv6);
        if !self.config.supports_family(ipv6) {
            return self.error(ft, msg, ErrorCode::ADDRESS_FAMILY_NOT_SUPPORTED, k);
        }
        if self.allocations.len() >= self.config.max_allocations {
            self.stats.quota_rejections += 1;
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, k);
        }
        let count = self.per_user.get(username.as_str()).copied().unwrap_or(0);
        if count >= self.config.max_allocations_per_user {
            self.stats.quota_rejections += 1;
            return self.error(ft, msg, ErrorCode::ALLOCATION_QUOTA_REACHED, k);
        }
        let Some(first) = self.allocator.allocate(ipv6, even.is_some()) else {
            self.stats.quota_rejections += 1;
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, k);
        };
        let mut relayed = RelayedAddresses::default();
        relayed.set(first);
        // A dual allocation whose IPv6 half cannot be had still succeeds with
        // IPv4 and says why in ADDRESS-ERROR-CODE (RFC 8656 §7.2 step 9, §18.12).
        let mut family_error = None;
        if has_additional {
            if !self.config.supports_family(true) {
                family_error = Some(ErrorCode::ADDRESS_FAMILY_NOT_SUPPORTED);
            } else if let Some(second) = self.allocator.allocate(true, false) {
                relayed.set(second);
            } else {
                family_error = Some(ErrorCode::INSUFFICIENT_CAPACITY);
            }
        }
        let lifetime = self.granted_lifetime(msg);
        let username: Box<str> = username.into();
        *self.per_user.entry(username.clone()).or_insert(0) += 1;
        self.allocations.insert(
            ft,
            Allocation {
                relayed,
                family_error,
                username: username.clone(),
                key: key.clone(),
                algorithm,
                allocate_tid: msg.transaction_id(),
                lifetime,
                expires: now + lifetime,
                permissions: HashMap::new(),
                channels: HashMap::new(),
                peer_channels: HashMap::new(),
                bucket: TokenBucket {
                    tokens: self.config.bandwidth_limit.unwrap_or(0),
                    last: now,
                },
            },
        );
        for a in relayed.iter() {
            self.by_relayed.insert(a, ft);
        }
        self.stats.allocations_created += 1;
        self.events.push_back(ServerEvent::AllocationCreated {
            five_tuple: ft,
            relayed,
            username: username.into(),
        });
        self.allocate_success(ft, msg, &key, relayed, lifetime, family_error);
        self.schedule_sweep(now);
    }

    pub(super) fn allocate_success(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
        relayed: RelayedAddresses,
        lifetime: Duration,
        family_error: Option<u16>,
    ) {
        let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |b| {
            for a in relayed.iter() {
                b.add(&XorRelayedAddress(a));
            }
            if let Some(code) = family_error {
                b.add(&AddressErrorCode {
                    family: AddressFamily::Ipv6,
                    code,
                    reason: ErrorCode::with_default_reason(code).reason,
                });
            }
            b.add(&Lifetime(secs)).add(&XorMappedAddress(ft.client));
        });
    }

    /// Refresh (RFC 8656 §8.2); LIFETIME 0 deletes the allocation.
    ///
    /// A REQUESTED-ADDRESS-FAMILY that names no family of the allocation
    /// gets a 443 (RFC 8656 §8.2); one that does refreshes (or deletes) the
    /// whole allocation.
    pub(super) fn refresh(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
    ) {
        let Some(relayed) = self.allocations.get(&ft).map(|a| a.relayed) else {
            return self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, Some(key));
        };
        if msg.has(RequestedAddressFamily::TYPE) {
            let has_family = match msg.get::<RequestedAddressFamily>() {
                Ok(RequestedAddressFamily(AddressFamily::Ipv4)) => relayed.ipv4.is_some(),
                Ok(RequestedAddressFamily(AddressFamily::Ipv6)) => relayed.ipv6.is_some(),
                Err(_) => return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key)),
            };
            if !has_family {
                return self.error(ft, msg, ErrorCode::PEER_ADDRESS_FAMILY_MISMATCH, Some(key));
            }
        }
        let zero = msg.get::<Lifetime>().is_ok_and(|l| l.0 == 0);
        let lifetime = if zero {
            self.delete(ft, false);
            Duration::ZERO
        } else {
            let l = self.granted_lifetime(msg);
            if let Some(a) = self.allocations.get_mut(&ft) {
                a.expires = now + l;
                a.lifetime = l;
            }
            l
        };
        let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |b| {
            b.add(&Lifetime(secs));
        });
    }
}
