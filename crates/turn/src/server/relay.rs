//! The data path: client datagrams and stream frames (Send indications,
//! ChannelData) relayed to peers, and peer datagrams relayed back (RFC 8656
//! §11, §12).

use super::*;

impl Server {
    /// Handle a datagram (or stream frame) from a client. When it is data for
    /// a peer (a Send indication or ChannelData the allocation may relay), the
    /// data is returned borrowed, to be sent from `relayed` to `peer`;
    /// responses are queued for [`Server::poll_transmit`]. Malformed input is
    /// dropped and counted.
    pub fn handle_client<'a>(
        &mut self,
        now: Instant,
        five_tuple: FiveTuple,
        datagram: &'a [u8],
    ) -> Option<RelayToPeer<'a>> {
        match classify_in(datagram, ChannelRange::Rfc5766) {
            PacketKind::ChannelData => self.client_channel_data(now, five_tuple, datagram),
            PacketKind::Stun => {
                let Ok(msg) = Message::parse(datagram) else {
                    self.stats.malformed += 1;
                    return None;
                };
                if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
                    self.stats.malformed += 1;
                    return None;
                }
                match msg.class() {
                    Class::Request => {
                        self.stats.requests += 1;
                        if self.transmits.len() >= MAX_QUEUED {
                            return None;
                        }
                        self.handle_request(now, five_tuple, &msg);
                        None
                    }
                    Class::Indication if msg.method() == Method::SEND => {
                        self.send_indication(now, five_tuple, &msg)
                    }
                    _ => {
                        self.stats.malformed += 1;
                        None
                    }
                }
            }
            _ => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    pub(super) fn client_channel_data<'a>(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        datagram: &'a [u8],
    ) -> Option<RelayToPeer<'a>> {
        let Ok(cd) = ChannelData::parse_in(datagram, ChannelRange::Rfc5766) else {
            self.stats.malformed += 1;
            return None;
        };
        let Some(a) = self.allocations.get_mut(&ft).filter(|a| a.expires > now) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let Some(binding) = a
            .channels
            .get(&cd.channel_number())
            .filter(|b| b.expires > now)
        else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let peer = binding.peer;
        let relayed = a.relayed.for_peer(peer)?;
        if !take_tokens(
            &mut a.bucket,
            self.config.bandwidth_limit,
            cd.data().len(),
            now,
        ) {
            self.stats.dropped_bandwidth += 1;
            return None;
        }
        self.stats.packets_to_peer += 1;
        self.stats.bytes_to_peer += cd.data().len() as u64;
        Some(RelayToPeer {
            relayed,
            peer,
            data: cd.data(),
        })
    }

    /// A Send indication (RFC 8656 §10.2).
    pub(super) fn send_indication<'a>(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'a>,
    ) -> Option<RelayToPeer<'a>> {
        let (Ok(peer), Ok(data)) = (msg.get::<XorPeerAddress>(), msg.get::<Data>()) else {
            self.stats.malformed += 1;
            return None;
        };
        let Some(a) = self.allocations.get_mut(&ft).filter(|a| a.expires > now) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let relayed = a.relayed.for_peer(peer.0);
        let Some(relayed) =
            relayed.filter(|_| a.permissions.get(&peer.0.ip()).is_some_and(|&t| t > now))
        else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        if !take_tokens(
            &mut a.bucket,
            self.config.bandwidth_limit,
            data.0.len(),
            now,
        ) {
            self.stats.dropped_bandwidth += 1;
            return None;
        }
        self.stats.packets_to_peer += 1;
        self.stats.bytes_to_peer += data.0.len() as u64;
        Some(RelayToPeer {
            relayed,
            peer: peer.0,
            data: data.0,
        })
    }

    /// Handle `data` arriving from `peer` on relayed address `relayed`: write
    /// what goes to the client into `out` (ChannelData when a channel is
    /// bound, else a Data indication; RFC 8656 §10.3, §12.6) and return the
    /// client's 5-tuple and the length, or `None` when the data is dropped
    /// (no permission, over the bandwidth limit, `out` too small). Needs
    /// about `data.len() + 48` bytes of `out`.
    pub fn handle_peer(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
        out: &mut [u8],
    ) -> Option<(FiveTuple, usize)> {
        let Some(&ft) = self.by_relayed.get(&relayed) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let Some(a) = self.allocations.get_mut(&ft).filter(|a| a.expires > now) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        if a.permissions.get(&peer.ip()).is_none_or(|&t| t <= now) {
            self.stats.dropped_no_permission += 1;
            return None;
        }
        if !take_tokens(&mut a.bucket, self.config.bandwidth_limit, data.len(), now) {
            self.stats.dropped_bandwidth += 1;
            return None;
        }
        let channel = a
            .peer_channels
            .get(&peer)
            .filter(|n| a.channels.get(n).is_some_and(|b| b.expires > now));
        let len = match channel {
            Some(&n) => ChannelData::new_in(n, data, ChannelRange::Rfc5766)
                .and_then(|cd| cd.encode(out, ft.protocol.is_stream()))
                .ok(),
            None => {
                if data.len() > usize::from(u16::MAX) - 64 {
                    None
                } else {
                    let tid = TransactionId::random(&mut *self.rng);
                    let mut b = MessageBuilder::new(out, Class::Indication, Method::DATA, tid);
                    b.add(&XorPeerAddress(peer)).add(&Data(data));
                    b.finish().map(|m| m.len()).ok()
                }
            }
        };
        let Some(len) = len else {
            self.stats.malformed += 1;
            return None;
        };
        self.stats.packets_to_client += 1;
        self.stats.bytes_to_client += data.len() as u64;
        Some((ft, len))
    }
}
