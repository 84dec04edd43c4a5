//! Requests to the server: building them (with long-term credentials once
//! challenged) and their retransmission timing.

use super::*;

impl Client {
    pub(super) fn transaction_config(&self) -> TransactionConfig {
        match self.config.transport {
            ClientTransport::Udp => TransactionConfig::default(),
            ClientTransport::Stream => TransactionConfig::reliable(),
        }
    }

    /// Build and queue a request.
    pub(super) fn start(
        &mut self,
        now: Instant,
        request: Request,
        retries: u8,
    ) -> Result<(), Error> {
        if self.pending.len() >= MAX_PENDING {
            return Err(Error::LimitReached("pending requests"));
        }
        let tid = TransactionId::random(&mut *self.rng);
        let bytes = self.build(request, tid)?;
        let mut tx = ClientTransaction::new(now, self.transaction_config());
        if tx.poll_transmit() {
            self.transmits.push_back(bytes.clone());
        }
        self.pending.push(Pending {
            request,
            transaction_id: tid,
            tx,
            bytes,
            retries,
            authenticated: self.auth.is_some(),
        });
        Ok(())
    }

    pub(super) fn build(&self, request: Request, tid: TransactionId) -> Result<Vec<u8>, Error> {
        let mut buf = [0u8; REQUEST_BUF];
        let method = match request {
            Request::Allocate => Method::ALLOCATE,
            Request::Refresh { .. } => Method::REFRESH,
            Request::CreatePermission { .. } => Method::CREATE_PERMISSION,
            Request::ChannelBind { .. } => Method::CHANNEL_BIND,
        };
        let mut b = MessageBuilder::new(&mut buf, Class::Request, method, tid);
        match request {
            Request::Allocate => {
                b.add(&RequestedTransport::UDP);
                match self.config.requested_family {
                    Some(f) => {
                        b.add(&RequestedAddressFamily(f));
                    }
                    None if self.config.dual_allocation => {
                        b.add(&AdditionalAddressFamily(AddressFamily::Ipv6));
                    }
                    None => {}
                }
                if let Some(l) = self.config.lifetime {
                    b.add(&Lifetime(u32::try_from(l.as_secs()).unwrap_or(u32::MAX)));
                }
            }
            Request::Refresh { lifetime } => {
                b.add(&Lifetime(lifetime));
            }
            Request::CreatePermission { peer } => {
                b.add(&XorPeerAddress(SocketAddr::new(peer, 0)));
            }
            Request::ChannelBind { peer, channel } => {
                b.add(&ChannelNumber(channel)).add(&XorPeerAddress(peer));
            }
        }
        if let Some(s) = &self.config.software {
            b.add(&Software(s));
        }
        if let Some(auth) = &self.auth {
            b.add(&Username(&self.config.username))
                .add(&Realm(&auth.realm))
                .add(&Nonce(&auth.nonce));
            if let Some(raw) = &auth.algorithms {
                let algs = PasswordAlgorithms::decode(raw, &tid)?;
                b.add(&algs).add(&PasswordAlgorithm::new(auth.algorithm));
            }
            b.add_message_integrity(&auth.key);
        }
        b.add_fingerprint();
        Ok(b.finish()?.to_vec())
    }
}
