//! CreatePermission and ChannelBind (RFC 8656 §9, §11): the peer policy
//! and the limits on permissions and channels.

use super::*;

impl Server {
    /// Checks common to CreatePermission and ChannelBind for one peer:
    /// family (443) and policy (403). Sends the error and returns false.
    pub(super) fn peer_allowed(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
        relayed: RelayedAddresses,
        peer: SocketAddr,
    ) -> bool {
        if relayed.for_peer(peer).is_none() {
            self.error(ft, msg, ErrorCode::PEER_ADDRESS_FAMILY_MISMATCH, Some(key));
            return false;
        }
        if !self.config.peer_policy.permits(peer.ip()) {
            self.stats.peer_denied += 1;
            self.error(ft, msg, ErrorCode::FORBIDDEN, Some(key));
            return false;
        }
        true
    }

    /// CreatePermission (RFC 8656 §9.2): all XOR-PEER-ADDRESS or none.
    pub(super) fn create_permission(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
    ) {
        let Some(relayed) = self.allocations.get(&ft).map(|a| a.relayed) else {
            return self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, Some(key));
        };
        let tid = msg.transaction_id();
        let mut peers = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_PEERS_PER_REQUEST];
        let mut n = 0;
        for attr in msg.attributes() {
            if attr.attribute_type != AttributeType::XOR_PEER_ADDRESS {
                continue;
            }
            let Ok(p) = XorPeerAddress::decode(attr.value, &tid) else {
                return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
            };
            if n == MAX_PEERS_PER_REQUEST {
                return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
            }
            if !self.peer_allowed(ft, msg, key, relayed, p.0) {
                return;
            }
            peers[n] = p.0.ip();
            n += 1;
        }
        if n == 0 {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        }
        let max = self.config.max_permissions;
        let Some(a) = self.allocations.get_mut(&ft) else {
            return;
        };
        let new = peers[..n]
            .iter()
            .filter(|ip| !a.permissions.contains_key(ip))
            .count();
        if a.permissions.len() + new > max {
            a.permissions.retain(|_, t| *t > now);
            if a.permissions.len() + new > max {
                return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
            }
        }
        for ip in &peers[..n] {
            if a.permissions
                .insert(*ip, now + PERMISSION_LIFETIME)
                .is_none()
            {
                self.stats.permissions_created += 1;
            }
        }
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |_| {});
    }

    /// ChannelBind (RFC 8656 §11.2).
    pub(super) fn channel_bind(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
    ) {
        let Some(relayed) = self.allocations.get(&ft).map(|a| a.relayed) else {
            return self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, Some(key));
        };
        let (Ok(ChannelNumber(number)), Ok(XorPeerAddress(peer))) =
            (msg.get::<ChannelNumber>(), msg.get::<XorPeerAddress>())
        else {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        };
        if !ChannelRange::Rfc5766.contains(number) {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        }
        if !self.peer_allowed(ft, msg, key, relayed, peer) {
            return;
        }
        let (max_ch, max_perm) = (self.config.max_channels, self.config.max_permissions);
        let Some(a) = self.allocations.get_mut(&ft) else {
            return;
        };
        // A number or a peer stays tied to its partner until the binding
        // has been expired for five minutes.
        let number_conflict = a.channels.get(&number).is_some_and(|b| b.peer != peer);
        let peer_conflict = a.peer_channels.get(&peer).is_some_and(|&n| n != number);
        if number_conflict || peer_conflict {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        }
        let is_new = !a.channels.contains_key(&number);
        if is_new && a.channels.len() >= max_ch {
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
        }
        if !a.permissions.contains_key(&peer.ip()) && a.permissions.len() >= max_perm {
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
        }
        a.channels.insert(
            number,
            ChannelBinding {
                peer,
                expires: now + CHANNEL_LIFETIME,
            },
        );
        a.peer_channels.insert(peer, number);
        if a.permissions
            .insert(peer.ip(), now + PERMISSION_LIFETIME)
            .is_none()
        {
            self.stats.permissions_created += 1;
        }
        if is_new {
            self.stats.channels_bound += 1;
        }
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |_| {});
    }
}
