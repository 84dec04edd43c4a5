// Body of the `dtls_server` fuzz target: arbitrary datagrams into DTLS state
// machines. The first byte picks the victim: a server awaiting a ClientHello
// (with or without cookies), a client mid-handshake, or an established
// server or client session. The rest is a list of datagrams, each prefixed
// by its length (u16, big-endian); time advances 700 ms after each. Datagrams
// of odd length are decrypted in place.

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
    let mut now = Instant::now();
    let mut victim = match mode % 5 {
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
            if m == 3 {
                s
            } else {
                c
            }
        }
    };
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
        while victim.poll_transmit().is_some() {}
        while victim.poll_event().is_some() {}
        if victim.is_connected() {
            let _ = victim.send(b"fuzz");
        }
    }
}
