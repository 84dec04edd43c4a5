// Body of the `dtls_server` fuzz target: arbitrary datagrams into DTLS state
// machines. The low 7 bits of the first byte, mod 5, pick the victim: a
// server awaiting a ClientHello (with or without cookies), a client
// mid-handshake, or an established server (3) or client (4) session.
//
// Without the top bit (0x80) the rest is a list of raw datagrams, each
// prefixed by its length (u16, big-endian); time advances 700 ms after each.
// Datagrams of odd length are decrypted in place.
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
//   bit 4:    deliver through `handle_receive_in_place`;
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
            while c.poll_transmit().is_some() {}
            c
        }
        m => {
            let mut c = Connection::client(client_cfg, now, Rng(4));
            let mut s = Connection::server(server_cfg, Rng(5));
            for _ in 0..8 {
                while let Some(d) = c.poll_transmit() {
                    s.handle_receive(now, &d);
                }
                while let Some(d) = s.poll_transmit() {
                    c.handle_receive(now, &d);
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
                // Odd lengths take the in-place path (application data handed over
                // where it was decrypted), even ones the copying path.
                if take % 2 == 1 {
                    let mut datagram = body[..take].to_vec();
                    victim.handle_receive_in_place(now, &mut datagram, |d| assert!(d.len() <= 16384));
                } else {
                    victim.handle_receive(now, &body[..take]);
                }
                rest = &body[take..];
                now += Duration::from_millis(700);
                victim.handle_timeout(now);
                match &mut peer {
                    // The established victim's answers go to its peer.
                    Some(peer) => {
                        while let Some(d) = victim.poll_transmit() {
                            peer.handle_receive(now, &d);
                        }
                    }
                    None => while victim.poll_transmit().is_some() {},
                }
                while victim.poll_event().is_some() {}
                if victim.is_connected() {
                    let _ = victim.send(b"fuzz");
                }
            }
        }
    }
    if let Some(peer) = &mut peer {
        check_data_flows(&mut victim, peer, now);
    }
}

/// Feeds the victim records sealed by its peer (see the format above).
fn run_sealed(
    victim: &mut fulmar_dtls::Connection,
    peer: &mut fulmar_dtls::Connection,
    now: &mut std::time::Instant,
    mut rest: &[u8],
) {
    use fulmar_dtls::Event;
    use std::time::Duration;
    let mut datagram = Vec::new();
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
            if op & 0x10 != 0 {
                let mut copy = datagram.clone();
                victim.handle_receive_in_place(*now, &mut copy, |d| assert!(d.len() <= 16384));
            } else {
                victim.handle_receive(*now, &datagram);
            }
        }
        datagram.clear();
        if op & 0x80 == 0 {
            *now += Duration::from_millis(700);
        }
        victim.handle_timeout(*now);
        peer.handle_timeout(*now);
        if op & 0x40 != 0 && victim.is_connected() {
            let _ = victim.send(payload);
        }
        while let Some(d) = victim.poll_transmit() {
            peer.handle_receive(*now, &d);
        }
        while let Some(e) = victim.poll_event() {
            if let Event::ApplicationData(d) = e {
                assert!(d.len() <= 16384);
            }
        }
        while peer.poll_transmit().is_some() {}
        while peer.poll_event().is_some() {}
    }
}

/// When both ends survived, application data still flows both ways.
fn check_data_flows(
    victim: &mut fulmar_dtls::Connection,
    peer: &mut fulmar_dtls::Connection,
    now: std::time::Instant,
) {
    use fulmar_dtls::Event;
    while peer.poll_transmit().is_some() {}
    while victim.poll_transmit().is_some() {}
    while peer.poll_event().is_some() {}
    while victim.poll_event().is_some() {}
    if !(victim.is_connected() && peer.is_connected()) {
        return;
    }
    for victim_sends in [false, true] {
        let (from, to) = if victim_sends { (&mut *victim, &mut *peer) } else { (&mut *peer, &mut *victim) };
        from.send(b"still flowing").expect("a connected end sends");
        while let Some(d) = from.poll_transmit() {
            to.handle_receive(now, &d);
        }
        let mut got = false;
        while let Some(e) = to.poll_event() {
            got |= e == Event::ApplicationData(b"still flowing".to_vec());
        }
        assert!(got, "application data lost after the fuzz input");
    }
}
