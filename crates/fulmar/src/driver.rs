//! The connection's task and what it does after each input: route the core's
//! events, send its datagrams (batched with GSO) and run its timers.

use super::*;

/// After any input to the core: routes its events, sends its datagrams and
/// wakes the driver task if the core now wants an earlier timeout.
pub(crate) fn after_io(shared: &Arc<Shared>, g: &mut Inner) {
    dispatch(shared, g);
    shared.report_unread(g);
    flush(g);
    let t = next_timeout(g);
    let earlier = match (t, g.armed) {
        (Some(t), Some(a)) => t < a,
        (Some(_), None) => true,
        (None, _) => false,
    };
    // The driver also ends the connection once the core closed or failed
    // (e.g. on the peer's close_notify).
    let ended = matches!(
        g.pc.connection_state(),
        PeerConnectionState::Closed | PeerConnectionState::Failed(_)
    );
    if earlier || ended || g.closed || !g.pending.is_empty() {
        shared.wake.notify_one();
    }
}

/// Closes the core (which then deletes its TURN allocations).
pub(crate) fn close_core(g: &mut Inner, now: Instant) {
    g.pc.close(now);
    g.closed = true;
}

/// The core's next deadline.
pub(crate) fn next_timeout(g: &Inner) -> Option<Instant> {
    g.pc.poll_timeout()
}

/// Hands a received datagram to the core, which may decrypt it in place
/// (the receive buffer is refilled next read).
pub(crate) fn receive(
    g: &mut Inner,
    now: Instant,
    from: SocketAddr,
    local: SocketAddr,
    data: &mut [u8],
) {
    g.pc.handle_receive(now, from, local, data);
}

/// Sends the core's datagrams without waiting; what a full socket buffer
/// refuses waits in `pending` for the driver task.
pub(crate) fn flush(g: &mut Inner) {
    let now = Instant::now();
    // The core builds data packets as they are polled, into one reused
    // buffer: take up to the bound, send, and go on while the socket keeps
    // taking them (what is left waits in the core until the socket is
    // writable again).
    let mut buf = std::mem::take(&mut g.tx);
    loop {
        while g.pending.len() < MAX_PENDING {
            let Some(t) = g.pc.poll_transmit(now, &mut buf) else {
                break;
            };
            // What goes to a TCP or TLS relay's server joins its stream.
            if relay::to_stream(g, &t, &buf) {
                continue;
            }
            // Answers to STUN route back to us on a shared endpoint.
            if let Some(ep) = endpoint_for(&g.endpoints, t.source) {
                ep.learn(g.route, t.destination, &buf);
            }
            g.pending.push(t.source, t.destination, &buf);
        }
        let more = g.pending.len() >= MAX_PENDING;
        if !send_pending(g) || !more {
            break;
        }
    }
    g.tx = buf;
}

/// The socket `source` sends through (the first one if none serves it).
pub(crate) fn endpoint_for(
    endpoints: &[Arc<EndpointInner>],
    source: SocketAddr,
) -> Option<&Arc<EndpointInner>> {
    endpoints
        .iter()
        .find(|e| e.local == source)
        .or_else(|| endpoints.iter().find(|e| e.serves(source)))
        .or(endpoints.first())
}

/// Sends queued datagrams, several per system call where they allow (GSO:
/// consecutive equal-size datagrams on one path); `false` if the socket
/// buffer is full.
pub(crate) fn send_pending(g: &mut Inner) -> bool {
    while let Some(first) = g.pending.front() {
        let (src, dst, size) = (first.source, first.destination, first.len);
        let Some(ep) = endpoint_for(&g.endpoints, src).cloned() else {
            g.pending.clear();
            return true;
        };
        let max = ep.max_segments();
        let mut n = 1;
        let mut bytes = size;
        if max > 1 && size > 0 {
            for t in g.pending.iter().skip(1) {
                let len = t.len;
                if n >= max
                    || t.source != src
                    || t.destination != dst
                    || len > size
                    || len == 0
                    || bytes + len > endpoint::MAX_GSO_BYTES
                {
                    break;
                }
                n += 1;
                bytes += len;
                // A shorter datagram can only end a GSO batch.
                if len < size {
                    break;
                }
            }
        }
        // The outbox lays consecutive datagrams end to end: the first `n`
        // are the GSO batch as they lie.
        let segment = (n > 1).then_some(size);
        match ep.try_send(src, dst, g.pending.first_bytes(n), segment) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            // Other errors (unreachable, no route) lose the datagrams, as
            // UDP may.
            _ => g.pending.pop(n),
        }
    }
    true
}

/// The per-connection task: timers, close, datagrams the socket refused,
/// and reading the connection's private sockets (a shared endpoint's
/// socket has a reader task of its own).
pub(crate) async fn drive(shared: Arc<Shared>, guard: Weak<Guard>) {
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    let private: Vec<Arc<EndpointInner>> = shared
        .lock()
        .endpoints
        .iter()
        .filter(|e| !e.is_shared())
        .cloned()
        .collect();
    let mut timer_fired = false;
    loop {
        let (waiting, done) = {
            let mut g = shared.lock();
            let now = Instant::now();
            // On timer wake-ups (not per packet): a drained send queue gives
            // its room back, so an idle connection holds none.
            if std::mem::take(&mut timer_fired) && g.pending.is_empty() {
                g.pending.release_if_empty();
                g.tx = Vec::new();
            }
            if shared.close_requested.load(Ordering::Acquire) && !g.closed {
                close_core(&mut g, now);
            }
            if g.pc.poll_timeout().is_some_and(|t| t <= now) {
                g.pc.handle_timeout(now);
            }
            dispatch(&shared, &mut g);
            flush(&mut g);
            let waiting = g
                .pending
                .front()
                .and_then(|t| endpoint_for(&g.endpoints, t.source))
                .map(|e| e.socket.clone());
            let ended = matches!(
                g.pc.connection_state(),
                PeerConnectionState::Closed | PeerConnectionState::Failed(_)
            );
            // A deadline already past (a core that asks again at once) is
            // retried after a millisecond rather than spinning.
            let deadline = next_timeout(&g).map(|t| t.max(now + Duration::from_millis(1)));
            g.armed = deadline;
            if deadline != armed {
                armed = deadline;
                let at = deadline.unwrap_or(now + Duration::from_secs(3600));
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
            }
            (waiting, (g.closed && g.pending.is_empty()) || ended)
        };
        if done || guard.strong_count() == 0 {
            break;
        }
        tokio::select! {
            _ = &mut sleep => { armed = None; timer_fired = true; },
            _ = shared.wake.notified() => {},
            _ = async {
                match &waiting {
                    Some(s) => { let _ = s.writable().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {},
            _ = any_readable(&private) => {
                for e in &private {
                    e.read_batches();
                }
            },
        }
    }
    let mut g = shared.lock();
    // The last handle may have gone after the check above: close now, so
    // the peer still gets close_notify.
    if !g.closed {
        close_core(&mut g, Instant::now());
    }
    dispatch(&shared, &mut g);
    flush(&mut g);
    relay::end_streams(&mut g);
    g.channels.clear();
    g.incoming = None;
    g.candidates = None;
    g.media.clear();
    g.closed = true;
    g.ended = true;
    g.pending.clear();
    for e in std::mem::take(&mut g.endpoints) {
        e.detach(Arc::as_ptr(&shared), g.route);
    }
    drop(g);
    shared.set_state(PeerConnectionState::Closed);
}

/// Ready when any of `endpoints` has datagrams to read (never if none).
pub(crate) async fn any_readable(endpoints: &[Arc<EndpointInner>]) {
    std::future::poll_fn(|cx| {
        // Polls every socket, so each registers this task for wake-up. An
        // error (the runtime shutting down) is not readiness.
        let mut ready = false;
        for e in endpoints {
            ready |= matches!(e.socket.poll_recv_ready(cx), std::task::Poll::Ready(Ok(())));
        }
        if ready {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Bytes of a message.
pub(crate) fn data_len(m: &Message) -> usize {
    match m {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
    }
}

/// Routes core events to channel queues, waiters and the accept queue.
pub(crate) fn dispatch(shared: &Arc<Shared>, g: &mut Inner) {
    while let Some(e) = g.pc.poll_event() {
        let Some(e) = media::dispatch_media(shared, g, e) else {
            continue;
        };
        match e {
            Event::ConnectionStateChange(s) => {
                shared.set_state(s);
            }
            Event::LocalCandidate(c) => {
                if let Some(tx) = &g.candidates {
                    let _ = tx.send(c);
                }
            }
            Event::GatheringComplete => {
                g.candidates = None;
                g.gathered = true;
                shared.state_changed.notify_waiters();
            }
            Event::IceGatheringStateChange(_) => g.gathered = false,
            Event::DataChannel { id, label } => {
                // An accepted channel shares the users' guard: it keeps the
                // connection open while held.
                let Some(guard) = g.guard.upgrade() else {
                    continue;
                };
                let pc = PeerConnection {
                    shared: shared.clone(),
                    _guard: guard,
                };
                let (dc, slot) = DataChannel::new(pc, id, label);
                g.channels.insert(id, slot);
                if let Some(tx) = &g.incoming {
                    let _ = tx.send(dc);
                }
            }
            Event::DataChannelOpen(id) => {
                if let Some(s) = g.channels.get(&id) {
                    s.signals.open.store(true, Ordering::Release);
                    s.signals.changed.notify_waiters();
                }
            }
            Event::DataChannelMessage { id, data, binary } => {
                if let Some(s) = g.channels.get(&id) {
                    let msg = if binary {
                        Message::Binary(data)
                    } else {
                        Message::Text(String::from_utf8_lossy(&data).into_owned())
                    };
                    let len = data_len(&msg);
                    shared.backlog.fetch_add(len, Ordering::AcqRel);
                    let _ = s.tx.send(Queued {
                        msg: Some(msg),
                        backlog: shared.backlog.clone(),
                        len,
                    });
                }
            }
            Event::BufferedAmountLow(id) => {
                if let Some(s) = g.channels.get(&id) {
                    s.signals.low.notify_waiters();
                }
            }
            Event::DataChannelClose(id) => {
                g.channels.remove(&id);
            }
            _ => {}
        }
    }
}
