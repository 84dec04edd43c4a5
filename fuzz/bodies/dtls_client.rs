// Body of the `dtls_client` fuzz target: the fulmar-dtls client fed a hostile
// server's flights. A real handshake runs between a client and a server with
// deterministic RNGs; every datagram the server sends (numbered from 0 in
// the order it was sent, retransmissions included) passes through the ops of
// the input before the client receives it, so the fuzzer reaches the
// client's parsing of HelloVerifyRequest, ServerHello, Certificate,
// ServerKeyExchange, CertificateRequest, ServerHelloDone and the encrypted
// Finished. The client's datagrams reach the server untouched.
//
// Input: [mode][op]...
//   mode bit 0: the server sends no HelloVerifyRequest
//   mode bit 1: a 256-byte MTU on the server (fragmented flights)
//   mode bit 2: the server asks for no client certificate
//   mode bits 3-4: the server's cipher suite (0..=2 one ECDSA suite, 3 all)
//   mode bits 5-6: the server's group (0..=2 one group, 3 all)
//   op: [kind][datagram index][offset: u16 BE][arg], where kind % 8 is
//     0 xor the byte at offset % len with arg
//     1 set the byte at offset % len to arg
//     2 add arg to the byte at offset % len (lengths, types)
//     3 truncate to offset % (len + 1)
//     4 drop the datagram
//     5 duplicate it
//     6 replace it by the next arg bytes of the input
//     7 deliver the next arg bytes of the input just before it
// Nothing may panic; the client's output stays bounded, and when both ends
// still complete the handshake, data flows both ways.

struct Op<'a> {
    kind: u8,
    index: u8,
    offset: u16,
    arg: u8,
    raw: &'a [u8],
}

fn parse_ops(mut rest: &[u8]) -> Vec<Op<'_>> {
    let mut ops = Vec::new();
    while rest.len() >= 5 && ops.len() < 64 {
        let kind = rest[0] % 8;
        let index = rest[1];
        let offset = u16::from_be_bytes([rest[2], rest[3]]);
        let arg = rest[4];
        rest = &rest[5..];
        let raw = if kind >= 6 {
            let n = usize::from(arg).min(rest.len());
            let (raw, next) = rest.split_at(n);
            rest = next;
            raw
        } else {
            &[]
        };
        ops.push(Op {
            kind,
            index,
            offset,
            arg,
            raw,
        });
    }
    ops
}

/// What the ops make of server datagram number `index`: the datagrams the
/// client receives in its place, in order.
fn mutate(ops: &[Op<'_>], index: usize, datagram: Vec<u8>) -> Vec<Vec<u8>> {
    let mut before = Vec::new();
    let mut d = Some(datagram);
    let mut copies = 1;
    for op in ops.iter().filter(|op| usize::from(op.index) == index) {
        let Some(cur) = d.as_mut() else { break };
        let len = cur.len();
        let at = usize::from(op.offset);
        match op.kind {
            0 if len > 0 => cur[at % len] ^= op.arg,
            1 if len > 0 => cur[at % len] = op.arg,
            2 if len > 0 => cur[at % len] = cur[at % len].wrapping_add(op.arg),
            3 => cur.truncate(at % (len + 1)),
            4 => d = None,
            5 => copies = (copies + 1).min(4),
            6 => *cur = op.raw.to_vec(),
            7 => before.push(op.raw.to_vec()),
            _ => {}
        }
    }
    if let Some(d) = d {
        for _ in 0..copies {
            before.push(d.clone());
        }
    }
    before
}

/// The two ends as the mode byte configures them.
fn endpoints(
    mode: u8,
    now: std::time::Instant,
) -> Option<(fulmar_dtls::Connection, fulmar_dtls::Connection)> {
    use fulmar_dtls::{Certificate, CipherSuite, Config, Connection, NamedGroup};
    use std::sync::{Arc, OnceLock};

    struct Rng(u64);
    impl rand::RngCore for Rng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
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

    static CONFIGS: OnceLock<Option<(Arc<Config>, Config)>> = OnceLock::new();
    let (client_cfg, server_cfg) = CONFIGS
        .get_or_init(|| {
            let a = Arc::new(Certificate::generate().ok()?);
            let b = Arc::new(Certificate::generate().ok()?);
            let c = Config::new(a.clone(), vec![b.fingerprint()]);
            let s = Config::new(b, vec![a.fingerprint()]);
            Some((Arc::new(c), s))
        })
        .clone()?;
    let mut s = server_cfg;
    s.hello_verify_cookie = mode & 1 == 0;
    if mode & 2 != 0 {
        s.mtu = 256;
    }
    if mode & 4 != 0 {
        s.require_client_certificate = false;
    }
    if let Some(&suite) = CipherSuite::ALL.get(usize::from((mode >> 3) & 3)) {
        s.cipher_suites = vec![suite];
    }
    if let Some(&group) = NamedGroup::ALL.get(usize::from((mode >> 5) & 3)) {
        s.groups = vec![group];
    }
    let client = Connection::client(client_cfg, now, Rng(u64::from(mode) + 11));
    let server = Connection::server(Arc::new(s), Rng(u64::from(mode) + 101));
    Some((client, server))
}

/// Runs the input; `trace`, when given, receives every datagram the server
/// sent (before the ops), numbered as the ops number them.
fn drive(data: &[u8], mut trace: Option<&mut Vec<Vec<u8>>>) {
    use fulmar_dtls::Event;
    use std::time::{Duration, Instant};

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let ops = parse_ops(rest);
    let mut now = Instant::now();
    let Some((mut client, mut server)) = endpoints(mode, now) else {
        return;
    };
    let mut sent = 0usize;
    let (mut client_connected, mut client_ended) = (false, false);
    let mut buf = Vec::new();
    for _round in 0..24 {
        let mut moved = false;
        let mut n = 0;
        while client.poll_transmit(now, &mut buf).is_some() {
            moved = true;
            n += 1;
            assert!(n <= 64, "the client sent {n} datagrams in one round");
            server.handle_receive(now, &mut buf);
        }
        while server.poll_transmit(now, &mut buf).is_some() {
            moved = true;
            if let Some(t) = trace.as_deref_mut() {
                t.push(buf.clone());
            }
            for mut d in mutate(&ops, sent, buf.clone()) {
                client.handle_receive(now, &mut d);
                if let Some(r) = client.poll_application_data() {
                    panic!("{} bytes of data nobody sent", r.len());
                }
            }
            sent += 1;
        }
        while let Some(e) = client.poll_event() {
            match e {
                Event::Connected => client_connected = true,
                Event::Failed(_) | Event::Closed => client_ended = true,
                _ => {}
            }
        }
        while server.poll_event().is_some() {}
        if client.is_connected() && server.is_connected() {
            break;
        }
        if !moved {
            // Nothing in flight: the next retransmission (or give up).
            let next = [client.poll_timeout(), server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(at) = next else { break };
            now = at.max(now + Duration::from_millis(1));
            client.handle_timeout(now);
            server.handle_timeout(now);
        }
    }
    let _ = client.stats();
    if client_connected && !client_ended {
        assert!(
            client.is_connected(),
            "connected, then not, without a failure"
        );
    }
    if !(client.is_connected() && server.is_connected()) {
        return;
    }
    // Both ends finished the handshake: data flows both ways, untouched.
    buf.clear();
    assert!(client.seal_application_data(b"ping", &mut buf).is_ok());
    server.handle_receive(now, &mut buf);
    let got = server.poll_application_data().map(|r| buf[r].to_vec());
    assert_eq!(got.as_deref(), Some(&b"ping"[..]), "the server did not receive the client's data");
    buf.clear();
    assert!(server.seal_application_data(b"pong", &mut buf).is_ok());
    client.handle_receive(now, &mut buf);
    let got = client.poll_application_data().map(|r| buf[r].to_vec());
    assert_eq!(got.as_deref(), Some(&b"pong"[..]), "the client did not receive the server's data");
}

fn run(data: &[u8]) {
    drive(data, None)
}
