// Fuzz body: arbitrary datagrams, signed checks and responses, time jumps and
// candidate lines fed to an ICE agent in the checking and connected states.
// Shared by fuzz/fuzz_targets/ice_agent.rs and crates/ice/tests/fuzz_corpus.rs.

/// Two agents connected over a zero-delay loop, plus a third still checking.
fn ice_agent_setup() -> (
    fulmar_ice::IceAgent,
    fulmar_ice::IceAgent,
    fulmar_ice::IceAgent,
    std::time::Instant,
) {
    use fulmar_ice::{IceAgent, IceConfig, IceRole};
    use rand::SeedableRng;
    let mut now = std::time::Instant::now();
    let cfg = |r| IceConfig::new(r);
    let mut a = IceAgent::new(cfg(IceRole::Controlling), rand::rngs::StdRng::seed_from_u64(1));
    let mut b = IceAgent::new(cfg(IceRole::Controlled), rand::rngs::StdRng::seed_from_u64(2));
    let mut c = IceAgent::new(cfg(IceRole::Controlled), rand::rngs::StdRng::seed_from_u64(3));
    let (ca, cb) = (a.local_credentials().clone(), b.local_credentials().clone());
    let _ = a.set_remote_credentials(now, &cb.ufrag, &cb.pwd);
    let _ = b.set_remote_credentials(now, &ca.ufrag, &ca.pwd);
    let _ = c.set_remote_credentials(now, &cb.ufrag, &cb.pwd);
    let la: std::net::SocketAddr = ([192, 0, 2, 1], 5000).into();
    let lb: std::net::SocketAddr = ([192, 0, 2, 2], 6000).into();
    let lc: std::net::SocketAddr = ([192, 0, 2, 3], 7000).into();
    if let (Ok(ha), Ok(hb)) = (a.add_host_candidate(now, 1, la), b.add_host_candidate(now, 1, lb)) {
        let _ = a.add_remote_candidate(now, hb.clone());
        let _ = b.add_remote_candidate(now, ha);
        let _ = c.add_host_candidate(now, 1, lc);
        let _ = c.add_remote_candidate(now, hb);
    }
    for _ in 0..50 {
        let mut buf = Vec::new();
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_receive(now, t.source, t.destination, &buf);
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_receive(now, t.source, t.destination, &buf);
        }
        if a.selected_pair(1).is_some() && b.selected_pair(1).is_some() {
            break;
        }
        if let Some(t) = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
            now = now.max(t);
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    c.handle_timeout(now);
    (a, b, c, now)
}

fn run(data: &[u8]) {
    use fulmar_stun::attributes::{
        ErrorCode, IceControlled, IceControlling, Priority, UseCandidate, Username,
        XorMappedAddress,
    };
    use fulmar_stun::{Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};

    let (mut a, b, mut c, mut now) = ice_agent_setup();
    let from: std::net::SocketAddr = ([192, 0, 2, 2], 6000).into();
    let mut tids: Vec<TransactionId> = Vec::new();
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        for agent in [&mut a, &mut c] {
            let local: std::net::SocketAddr = match agent.local_candidates().first() {
                Some(c) => c.socket_addr().unwrap_or(from),
                None => from,
            };
            let mut buf = Vec::new();
            while agent.poll_transmit(now, &mut buf).is_some() {
                if let Ok(m) = Message::parse(&buf) {
                    if m.class() == Class::Request && tids.len() < 64 {
                        tids.push(m.transaction_id());
                    }
                }
            }
            let byte = |i: usize| chunk.get(i).copied().unwrap_or(0);
            let word = |i: usize| u64::from_be_bytes(std::array::from_fn(|k| byte(i + k)));
            let src = std::net::SocketAddr::from(([192, 0, 2, byte(0)], u16::from_be_bytes([byte(1), byte(2)])));
            match op % 6 {
                0 => {
                    agent.handle_receive(now, from, local, chunk);
                }
                1 => {
                    // A correctly signed check with fuzzed fields.
                    let user = format!("{}:{}", agent.local_credentials().ufrag, b.local_credentials().ufrag);
                    let pwd = agent.local_credentials().pwd.clone();
                    let mut buf = [0u8; 600];
                    let mut m = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TransactionId::new([byte(3); 12]));
                    m.add(&Username(&user)).add(&Priority(word(4) as u32));
                    match byte(12) % 3 {
                        0 => { m.add(&IceControlling(word(13))); }
                        1 => { m.add(&IceControlled(word(13))); }
                        _ => {}
                    }
                    if byte(21) & 1 == 1 {
                        m.add(&UseCandidate);
                    }
                    if let Some(extra) = chunk.get(22..) {
                        m.add_raw(fulmar_stun::AttributeType(u16::from(byte(22)) << 8 | 0x22), extra);
                    }
                    m.add_message_integrity(&IntegrityKey::short_term(&pwd)).add_fingerprint();
                    if let Ok(bytes) = m.finish() {
                        let bytes = bytes.to_vec();
                        agent.handle_receive(now, if byte(23) & 1 == 1 { src } else { from }, local, &bytes);
                    }
                }
                2 => {
                    // A correctly signed response to one of the agent's requests.
                    let Some(tid) = tids.get(usize::from(byte(0)) % tids.len().max(1)).copied() else { continue };
                    let mut buf = [0u8; 600];
                    let class = if byte(1) & 1 == 0 { Class::SuccessResponse } else { Class::ErrorResponse };
                    let mut m = MessageBuilder::new(&mut buf, class, Method::BINDING, tid);
                    if class == Class::ErrorResponse {
                        let code = match byte(2) % 5 {
                            0 => 487,
                            1 => 400,
                            2 => 401,
                            3 => 420,
                            _ => 500,
                        };
                        m.add(&ErrorCode::with_default_reason(code));
                    } else if byte(2) & 1 == 0 {
                        m.add(&XorMappedAddress(src));
                    }
                    m.add_message_integrity(&IntegrityKey::short_term(&b.local_credentials().pwd)).add_fingerprint();
                    if let Ok(bytes) = m.finish() {
                        let bytes = bytes.to_vec();
                        let s = if byte(3) & 1 == 1 { src } else { from };
                        agent.handle_receive(now, s, local, &bytes);
                    }
                }
                3 => {
                    now += std::time::Duration::from_millis(word(0) % 120_000);
                    agent.handle_timeout(now);
                }
                4 => {
                    if let Ok(text) = std::str::from_utf8(chunk) {
                        if let Ok(cand) = fulmar_ice::Candidate::parse(text) {
                            let _ = agent.add_remote_candidate(now, cand);
                        }
                    }
                }
                _ => {
                    if let Some(t) = agent.poll_timeout() {
                        now = now.max(t);
                    }
                    agent.handle_timeout(now);
                    while agent.poll_event().is_some() {}
                    let _ = agent.pair_stats();
                }
            }
        }
    }
    // Whatever happened, the agents still answer the basic queries.
    let _ = (a.state(), c.state(), a.poll_timeout(), c.poll_timeout());
}
