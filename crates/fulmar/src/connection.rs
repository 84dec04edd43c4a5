//! The async peer-connection handle the application holds.

use super::*;

/// A cloneable handle to a peer connection run by a background task.
#[derive(Clone)]
pub struct PeerConnection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) _guard: Arc<Guard>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("local_addrs", &self.shared.local_addrs)
            .finish()
    }
}

/// `[::]` with any port.
fn is_any_v6(addr: SocketAddr) -> bool {
    addr.is_ipv6() && addr.ip().is_unspecified()
}

impl PeerConnection {
    /// Binds the configured sockets, adds them as host candidates (gathering
    /// completes at once, or once the TURN allocations are done) and starts
    /// the driver task. Needs a tokio runtime.
    pub async fn new(config: Config) -> Result<Self, Error> {
        let config = ice_servers::resolve(config).await?;
        let mut endpoints = Vec::new();
        for addr in &config.bind {
            match EndpointInner::bind(*addr, false) {
                Ok(e) => endpoints.push(e),
                // [::] on a host without IPv6 (with_all_interfaces there)
                // is left out rather than failing the IPv4 side.
                Err(_) if is_any_v6(*addr) && config.bind.iter().any(|b| b.is_ipv4()) => {}
                Err(e) => return Err(e),
            }
        }
        Self::start(config, endpoints)
    }

    /// A connection on a shared [`Endpoint`] (many connections, one port):
    /// the endpoint's address is its only host candidate. A TURN server
    /// over UDP is reached from the endpoint's socket; as an allocation
    /// belongs to the socket's 5-tuple (RFC 8656 §2), one connection of the
    /// endpoint at a time may have a relay on a given server (others get
    /// [`Error::Endpoint`]; TCP and TLS relays have a stream of
    /// their own).
    pub async fn new_on(endpoint: &Endpoint, config: Config) -> Result<Self, Error> {
        let config = ice_servers::resolve(config).await?;
        Self::start(config, vec![endpoint.inner.clone()])
    }

    fn start(config: Config, endpoints: Vec<Arc<EndpointInner>>) -> Result<Self, Error> {
        let (streams, starts) = relay::start(&config.peer.turn_servers, config.turn_tls.as_ref())?;
        let mut pc = fulmar_peer::PeerConnection::new(config.peer.clone(), OsRng)?;
        let now = Instant::now();
        let mut local_addrs = Vec::new();
        // Every socket, or for one bound to 0.0.0.0 or [::] every usable
        // interface address of its family; the core allocates its UDP
        // relays from them (and with `relay_only` offers none as a
        // candidate).
        let binds: Vec<SocketAddr> = endpoints.iter().map(|e| e.local).collect();
        let interfaces = if binds.iter().any(|b| b.ip().is_unspecified()) {
            interfaces::local_interfaces()
        } else {
            Vec::new()
        };
        let local_only_too = config.loopback_and_link_local;
        for addr in interfaces::host_candidates(&binds, &interfaces, local_only_too) {
            pc.add_host_candidate(now, addr)?;
            local_addrs.push(addr);
        }
        pc.end_of_local_candidates(now);
        let (incoming, incoming_rx) = queue::channel();
        let (candidates, candidates_rx) = queue::channel();
        let (tracks, tracks_rx) = queue::channel();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                pc,
                channels: HashMap::new(),
                incoming: Some(incoming),
                candidates: Some(candidates),
                guard: Weak::new(),
                endpoints: endpoints.clone(),
                pending: outbox::Outbox::default(),
                tx: Vec::new(),
                armed: None,
                route: None,
                media: media::MediaSlots::new(tracks),
                streams,
                gathered: false,
                closed: false,
                ended: false,
            }),
            wake: Notify::new(),
            state: Mutex::new(PeerConnectionState::New),
            state_changed: Notify::new(),
            incoming_rx,
            candidates_rx,
            tracks_rx,
            local_addrs,
            max_buffered: config.max_buffered,
            close_requested: AtomicBool::new(false),
            backlog: Arc::new(AtomicUsize::new(0)),
            max_backlog: config.max_backlog,
            unread_reported: AtomicUsize::new(0),
        });
        let guard = Arc::new(Guard(shared.clone()));
        shared.lock().guard = Arc::downgrade(&guard);
        let udp_servers = config
            .peer
            .turn_servers
            .iter()
            .filter(|s| s.transport == RelayProtocol::Udp)
            .map(|s| s.addr);
        for e in &endpoints {
            if let Some(h) = e.attach(&shared, udp_servers.clone())? {
                shared.lock().route = Some(h);
            }
        }
        relay::spawn_streams(&shared, starts);
        let handle = PeerConnection {
            shared: shared.clone(),
            _guard: guard.clone(),
        };
        // The driver holds only a weak guard so dropping every handle closes.
        tokio::spawn(drive(shared, Arc::downgrade(&guard)));
        Ok(handle)
    }

    /// The host candidates' addresses: the bound addresses, and for a
    /// socket bound to `0.0.0.0` or `[::]` its interface addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }

    /// Runs `f` on the core, then sends what it queued and learns its events.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut fulmar_peer::PeerConnection) -> T) -> T {
        let mut g = self.shared.lock();
        let r = f(&mut g.pc);
        after_io(&self.shared, &mut g);
        r
    }

    /// Applies `desc` as the local description and routes its ufrag.
    fn apply_local(
        &self,
        make: impl FnOnce(
            &mut fulmar_peer::PeerConnection,
        ) -> Result<SessionDescription, fulmar_peer::Error>,
    ) -> Result<SessionDescription, Error> {
        let mut g = self.shared.lock();
        let r = make(&mut g.pc).and_then(|d| g.pc.set_local_description(Instant::now(), d));
        let desc = r
            .map_err(Error::from)
            .and_then(|()| g.pc.local_description().ok_or(Error::Closed));
        if let Some(u) = desc.as_ref().ok().and_then(|d| d.sdp.first_ice_ufrag()) {
            for e in &g.endpoints {
                e.set_ufrag(g.route, u);
            }
        }
        after_io(&self.shared, &mut g);
        desc
    }

    /// Creates an offer and applies it as the local description.
    pub async fn create_offer(&self) -> Result<SessionDescription, Error> {
        self.apply_local(|pc| pc.create_offer())
    }

    /// Creates an answer to the applied offer and applies it.
    pub async fn create_answer(&self) -> Result<SessionDescription, Error> {
        self.apply_local(|pc| pc.create_answer())
    }

    /// Applies the peer's offer or answer.
    pub async fn set_remote_description(&self, desc: SessionDescription) -> Result<(), Error> {
        self.with(|pc| Ok(pc.set_remote_description(Instant::now(), desc)?))
    }

    /// Rolls back a pending offer, ours or the peer's (RFC 9429 §4.1.8.2):
    /// how the polite peer of perfect negotiation leaves glare.
    pub async fn rollback(&self) -> Result<(), Error> {
        self.with(|pc| Ok(pc.rollback()?))
    }

    /// The signaling state (W3C `signalingState`).
    pub fn signaling_state(&self) -> SignalingState {
        self.shared.lock().pc.signaling_state()
    }

    /// Answers an SDP offer in one step (`POST /offer` style): returns the
    /// answer text with every candidate (non-trickle), once gathering
    /// completed ([`Self::gathering_complete`]).
    pub async fn answer_offer(&self, offer_sdp: &str) -> Result<String, Error> {
        let offer = SessionDescription::offer(offer_sdp)?;
        self.set_remote_description(offer).await?;
        let answer = self.create_answer().await?;
        self.gathering_complete().await;
        Ok(self
            .local_description()
            .map_or_else(|| answer.sdp.to_string(), |d| d.sdp.to_string()))
    }

    /// Waits until local gathering is complete (every STUN and TURN server
    /// answered or gave up; bounded), or the connection ended: then
    /// [`Self::local_description`] carries every candidate and
    /// `a=end-of-candidates`, as a non-trickle peer needs. Gathering starts
    /// with the first description.
    pub async fn gathering_complete(&self) {
        queue::wait_for(&self.shared.state_changed, || {
            let g = self.shared.lock();
            (g.gathered || g.ended).then_some(())
        })
        .await
    }

    /// Asks for an ICE restart (RFC 8445 §9): the next [`Self::create_offer`]
    /// carries new ICE credentials; the current path carries data meanwhile.
    pub async fn restart_ice(&self) {
        self.with(|pc| pc.restart_ice());
    }

    /// The applied local description with its candidates.
    pub fn local_description(&self) -> Option<SessionDescription> {
        self.shared.lock().pc.local_description()
    }

    /// Adds a trickled remote candidate (empty: end-of-candidates).
    pub async fn add_ice_candidate(&self, candidate: &str) -> Result<(), Error> {
        self.with(|pc| Ok(pc.add_ice_candidate(Instant::now(), candidate)?))
    }

    /// Adds a remote candidate already parsed (from an SDP fragment, say).
    pub async fn add_remote_candidate(&self, candidate: sdp::Candidate) -> Result<(), Error> {
        self.with(|pc| Ok(pc.add_remote_candidate(Instant::now(), candidate)?))
    }

    /// The remote peer has no more candidates to trickle (RFC 8838 §4.4).
    pub async fn end_of_remote_candidates(&self) -> Result<(), Error> {
        self.with(|pc| Ok(pc.end_of_remote_candidates(Instant::now())?))
    }

    /// The next local candidate to trickle to the peer (`candidate:...`, for
    /// m-line 0 / the BUNDLE group), as the core gathers them after the first
    /// `create_offer` or `set_remote_description`; `None` once gathering is
    /// complete (signal end-of-candidates then) or the connection ended.
    pub async fn next_local_candidate(&self) -> Option<String> {
        self.shared.candidates_rx.recv().await
    }

    /// Creates a reliable, ordered data channel.
    pub async fn create_data_channel(&self, label: &str) -> Result<DataChannel, Error> {
        self.create_data_channel_with(ChannelConfig::new(label))
            .await
    }

    /// Creates a data channel with full options (ordering, reliability,
    /// negotiated id).
    pub async fn create_data_channel_with(
        &self,
        config: ChannelConfig,
    ) -> Result<DataChannel, Error> {
        let label = config.label.clone();
        let mut g = self.shared.lock();
        let id = g.pc.create_data_channel(config)?;
        let (dc, slot) = DataChannel::new(self.clone(), id, label);
        g.channels.insert(id, slot);
        after_io(&self.shared, &mut g);
        Ok(dc)
    }

    /// Waits for the next channel opened by the peer; `None` once closed.
    pub async fn accept_data_channel(&self) -> Option<DataChannel> {
        self.shared.incoming_rx.recv().await
    }

    /// The connection state.
    pub fn state(&self) -> PeerConnectionState {
        self.shared.state()
    }

    /// Waits until the connection is connected (`Ok`), failed
    /// ([`Error::Failed`], naming why) or closed ([`Error::Closed`]).
    pub async fn connected(&self) -> Result<(), Error> {
        queue::wait_for(&self.shared.state_changed, || match self.shared.state() {
            PeerConnectionState::Connected => Some(Ok(())),
            PeerConnectionState::Failed(f) => Some(Err(Error::Failed(f))),
            PeerConnectionState::Closed => Some(Err(Error::Closed)),
            _ => None,
        })
        .await
    }

    /// Waits until the connection is closed or failed and its driver task
    /// has ended (its sockets are released once no handle uses them).
    pub async fn closed(&self) {
        queue::wait_for(&self.shared.state_changed, || {
            self.shared.lock().ended.then_some(())
        })
        .await
    }

    /// Data-channel bytes received and not yet taken with `recv` (at most
    /// about [`Config::max_backlog`]).
    pub fn queued_received_bytes(&self) -> usize {
        self.shared.backlog.load(Ordering::Acquire)
    }

    /// Counters comparable to `getStats()`.
    pub fn stats(&self) -> Stats {
        self.shared.lock().pc.stats()
    }

    /// Closes the connection (SCTP abort, DTLS close_notify) and ends the
    /// driver; returns at once (see [`Self::closed`]).
    pub async fn close(&self) {
        let mut g = self.shared.lock();
        close_core(&mut g, Instant::now());
        after_io(&self.shared, &mut g);
        drop(g);
        self.shared.wake.notify_one();
    }
}
