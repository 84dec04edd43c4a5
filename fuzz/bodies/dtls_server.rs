// Body of the `dtls_server` fuzz target: arbitrary datagrams into DTLS state
// machines. The low 7 bits of the first byte, mod 5, pick the victim: a
// server awaiting a ClientHello (with or without cookies), a client
// mid-handshake, or an established server (3) or client (4) session.
//
// Without the top bit (0x80) the rest is a list of raw datagrams, each
// prefixed by its length (u16, big-endian); time advances 700 ms after each.
// After a datagram of odd length the application data it carried is
// drained (each range checked to lie in the datagram); after an even one it
// is left for the next datagram to forget.
//
// With the top bit, for the established victims (3 and 4), the rest is a list
// of records `[op][len: u16 BE][payload]` that the victim's peer (the other
// established connection) seals with its epoch-1 write keys, so alerts,
// application data, post-handshake handshake messages (renegotiation,
// HelloRequest, a stray Finished), ChangeCipherSpec and malformed inner
// content are authenticated and reach the victim's logic. `op`:
//   bits 0-1: content type 20 + n (ChangeCipherSpec, Alert, Handshake,
//             ApplicationData; application data goes through the public
//             `seal_application_data`, the rest through the
//             `seal_record_for_fuzzing` hook);
//   bit 2:    the payload is a raw datagram instead, not sealed;
//   bit 3:    hold: the record joins the next one in the same datagram;
//   bit 4:    leave the application data undrained (the next datagram
//             forgets it);
//   bit 5:    deliver the datagram twice (a replay);
//   bit 6:    the victim then sends application data to its peer;
//   bit 7:    time does not advance after this datagram.
// The victim's datagrams go to its peer. Whenever both ends are still
// connected at the end, application data must flow both ways.

fn run(data: &[u8]) {
    use fulmar_dtls::{Certificate, Config, Connection};
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};

    struct Rng(u64);
    impl rand::RngCore for Rng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 11
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    static CONFIGS: OnceLock<Option<(Arc<Config>, Arc<Config>)>> = OnceLock::new();
    let Some((client_cfg, server_cfg)) = CONFIGS
        .get_or_init(|| {
            let a = Arc::new(Certificate::generate().ok()?);
            let b = Arc::new(Certificate::generate().ok()?);
            let c = Config::new(a.clone(), vec![b.fingerprint()]);
            let s = Config::new(b, vec![a.fingerprint()]);
            Some((Arc::new(c), Arc::new(s)))
        })
        .clone()
    else {
        return;
    };
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let sealed = mode & 0x80 != 0;
    let mut now = Instant::now();
    // The established victim's peer, which seals what the fuzzer sends.
    let mut peer = None;
    let mut victim = match (mode & 0x7f) % 5 {
        0 => Connection::server(server_cfg, Rng(1)),
        1 => {
            let mut cfg = (*server_cfg).clone();
            cfg.hello_verify_cookie = false;
            Connection::server(Arc::new(cfg), Rng(2))
        }
        2 => {
            let mut c = Connection::client(client_cfg, now, Rng(3));
            while c.poll_transmit(now, &mut Vec::new()).is_some() {}
            c
        }
        m => {
            let mut c = Connection::client(client_cfg, now, Rng(4));
            let mut s = Connection::server(server_cfg, Rng(5));
            let mut buf = Vec::new();
            for _ in 0..8 {
                while c.poll_transmit(now, &mut buf).is_some() {
                    s.handle_receive(now, &mut buf);
                }
                while s.poll_transmit(now, &mut buf).is_some() {
                    c.handle_receive(now, &mut buf);
                }
            }
            assert!(c.is_connected() && s.is_connected());
            while c.poll_event().is_some() {}
            while s.poll_event().is_some() {}
            let (v, p) = if m == 3 { (s, c) } else { (c, s) };
            peer = Some(p);
            v
        }
    };
    match &mut peer {
        Some(peer) if sealed => run_sealed(&mut victim, peer, &mut now, rest),
        _ => {
            while rest.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let body = &rest[2..];
                let take = len.min(body.len());
                let mut datagram = body[..take].to_vec();
                victim.handle_receive(now, &mut datagram);
                // Odd lengths drain the application data, even ones leave it
                // for the next datagram to forget.
                if take % 2 == 1 {
                    drain_data(&mut victim, &datagram);
                }
                rest = &body[take..];
                now += Duration::from_millis(700);
                victim.handle_timeout(now);
                let mut out = Vec::new();
                match &mut peer {
                    // The established victim's answers go to its peer.
                    Some(peer) => {
                        while victim.poll_transmit(now, &mut out).is_some() {
                            peer.handle_receive(now, &mut out);
                        }
                    }
                    None => while victim.poll_transmit(now, &mut out).is_some() {},
                }
                while victim.poll_event().is_some() {}
                if victim.is_connected() {
                    out.clear();
                    let _ = victim.seal_application_data(b"fuzz", &mut out);
                    if let Some(peer) = &mut peer {
                        peer.handle_receive(now, &mut out);
                    }
                }
            }
        }
    }
    if let Some(peer) = &mut peer {
        check_data_flows(&mut victim, peer, now);
    }
}

/// Drains the application data of `datagram`, just received by `c`.
fn drain_data(c: &mut fulmar_dtls::Connection, datagram: &[u8]) {
    while let Some(r) = c.poll_application_data() {
        assert!(r.start <= r.end && r.end <= datagram.len(), "{r:?} outside the datagram");
        assert!(r.len() <= 16384);
    }
}

/// Feeds the victim records sealed by its peer (see the format above).
fn run_sealed(
    victim: &mut fulmar_dtls::Connection,
    peer: &mut fulmar_dtls::Connection,
    now: &mut std::time::Instant,
    mut rest: &[u8],
) {
    use std::time::Duration;
    let mut datagram = Vec::new();
    let mut out = Vec::new();
    while rest.len() >= 3 {
        let op = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        let take = len.min(body.len());
        let payload = &body[..take];
        rest = &body[take..];
        if op & 0x04 != 0 {
            datagram.extend_from_slice(payload);
        } else {
            let ct = 20 + (op & 3);
            let sealed = if ct == 23 {
                peer.seal_application_data(payload, &mut datagram)
            } else {
                Err(fulmar_dtls::Error::InvalidState("not application data"))
            };
            if sealed.is_err() {
                // Also application data the public API refuses (too large,
                // or the peer no longer connected).
                let _ = peer.seal_record_for_fuzzing(ct, payload, &mut datagram);
            }
        }
        if op & 0x08 != 0 && !rest.is_empty() {
            continue;
        }
        let copies = if op & 0x20 != 0 { 2 } else { 1 };
        for _ in 0..copies {
            let mut copy = datagram.clone();
            victim.handle_receive(*now, &mut copy);
            if op & 0x10 == 0 {
                drain_data(victim, &copy);
            }
        }
        datagram.clear();
        if op & 0x80 == 0 {
            *now += Duration::from_millis(700);
        }
        victim.handle_timeout(*now);
        peer.handle_timeout(*now);
        if op & 0x40 != 0 && victim.is_connected() {
            out.clear();
            if victim.seal_application_data(payload, &mut out).is_ok() {
                peer.handle_receive(*now, &mut out);
            }
        }
        while victim.poll_transmit(*now, &mut out).is_some() {
            peer.handle_receive(*now, &mut out);
        }
        while victim.poll_event().is_some() {}
        while peer.poll_transmit(*now, &mut out).is_some() {}
        while peer.poll_event().is_some() {}
    }
}

/// When both ends survived, application data still flows both ways.
fn check_data_flows(
    victim: &mut fulmar_dtls::Connection,
    peer: &mut fulmar_dtls::Connection,
    now: std::time::Instant,
) {
    let mut buf = Vec::new();
    while peer.poll_transmit(now, &mut buf).is_some() {}
    while victim.poll_transmit(now, &mut buf).is_some() {}
    while peer.poll_event().is_some() {}
    while victim.poll_event().is_some() {}
    if !(victim.is_connected() && peer.is_connected()) {
        return;
    }
    for victim_sends in [false, true] {
        let (from, to) = if victim_sends { (&mut *victim, &mut *peer) } else { (&mut *peer, &mut *victim) };
        buf.clear();
        from.seal_application_data(b"still flowing", &mut buf)
            .expect("a connected end sends");
        to.handle_receive(now, &mut buf);
        let got = to.poll_application_data().map(|r| buf[r].to_vec());
        assert_eq!(
            got.as_deref(),
            Some(&b"still flowing"[..]),
            "application data lost after the fuzz input"
        );
    }
}
