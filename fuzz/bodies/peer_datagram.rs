// Body of the `peer_datagram` fuzz target (shared with fulmar-peer's
// tests/fuzz_corpus.rs): a peer receives arbitrary datagrams (u16-length-prefixed
// chunks of the input after the first byte, each decrypted in place in a copy)
// on its transport, exercising the RFC 7983 demultiplexer, ICE, DTLS
// and the timers. An even first byte makes
// it the answerer of a Chromium offer (DTLS client, waiting for ICE); a first
// byte of 1 mod 4 the offerer that applied Chromium's answer (DTLS server,
// listening); 3 mod 4 the media path: two Fulmar peers with audio and video
// tracks connect in memory, then each chunk is taken as a plain RTP packet
// (or RTCP when its second byte is 192..=223), SRTP-protected with the
// sender's real keys (its hidden `protect_for_fuzzing` hook) and delivered to the receiver (half of them also raw),
// exercising routing, RTX, frame assembly, NACK/PLI/FIR/SR/RR/TWCC handling
// and the replies.
//
// With the top bit (0x80) of the first byte set, in the answerer and offerer
// modes, each chunk that looks like STUN (first byte 0..=3, at least 20
// bytes) is a template rebuilt into a correctly signed message, as the
// `ice_agent` target does, so that mutated connectivity checks reach the ICE
// agent's logic instead of failing integrity: its type and attributes are
// kept (MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT dropped), a request
// without USERNAME gets `<victim ufrag>:<remote ufrag>`, a response takes
// the transaction ID of one of the victim's own requests (picked by the
// template's first ID byte), then MESSAGE-INTEGRITY is added with the
// victim's ICE password (the remote's for responses) and FINGERPRINT last.
// The template's magic cookie picks the source: the remote port plus
// (cookie byte 0 ^ 0x21) & 3, so a real cookie keeps the known remote
// address. Other chunks are delivered raw.

fn run(data: &[u8]) {
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};
    static CERT: OnceLock<Arc<fulmar_dtls::Certificate>> = OnceLock::new();
    let cert = CERT.get_or_init(|| Arc::new(fulmar_dtls::Certificate::generate().expect("certificate")));
    const OFFER: &str = include_str!("../../crates/sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");
    const ANSWER: &str = include_str!("../../crates/sdp/tests/fixtures/chromium156-answer-audio-video-data.sdp");
    let Some((&mode, data)) = data.split_first() else { return };
    if mode % 4 == 3 {
        return run_media(data, cert);
    }
    let mut config = fulmar_peer::Config::default();
    config.certificate = Some(cert.clone());
    let mut pc = fulmar_peer::PeerConnection::new(config, <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(2))
        .expect("peer with a given certificate");
    let mut now = Instant::now();
    let local: std::net::SocketAddr = "127.0.0.1:5000".parse().expect("address");
    let remote: std::net::SocketAddr = "127.0.0.1:6000".parse().expect("address");
    let _ = pc.add_host_candidate(now, local);
    // (local ufrag, local pwd, remote ufrag, remote pwd) for signed checks.
    let ice_line = |sdp: &str, key: &str| {
        sdp.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_owned()).expect("ICE credentials in the SDP")
    };
    let creds: (String, String, String, String);
    if mode % 2 == 0 {
        pc.set_remote_description(now, fulmar_peer::SessionDescription::offer(OFFER).expect("fixture")).expect("fixture applies");
        let answer = pc.create_answer().expect("answer");
        let sdp = answer.sdp.to_string();
        creds = (ice_line(&sdp, "a=ice-ufrag:"), ice_line(&sdp, "a=ice-pwd:"), ice_line(OFFER, "a=ice-ufrag:"), ice_line(OFFER, "a=ice-pwd:"));
        pc.set_local_description(now, answer).expect("answer applies");
    } else {
        pc.add_transceiver(fulmar_peer::MediaKind::Audio, fulmar_sdp::Direction::SendRecv);
        pc.add_transceiver(fulmar_peer::MediaKind::Video, fulmar_sdp::Direction::SendRecv);
        pc.create_data_channel(fulmar_datachannel::ChannelConfig::new("fuzz")).expect("channel");
        let offer = pc.create_offer().expect("offer");
        let sdp = offer.sdp.to_string();
        creds = (ice_line(&sdp, "a=ice-ufrag:"), ice_line(&sdp, "a=ice-pwd:"), ice_line(ANSWER, "a=ice-ufrag:"), ice_line(ANSWER, "a=ice-pwd:"));
        pc.set_local_description(now, offer).expect("offer applies");
        pc.set_remote_description(now, fulmar_peer::SessionDescription::answer(ANSWER).expect("fixture")).expect("fixture applies");
        assert_eq!(pc.dtls_state(), fulmar_peer::DtlsState::Connecting, "DTLS server listening");
    }
    let sign = mode & 0x80 != 0;
    let mut tids: Vec<fulmar_stun::TransactionId> = Vec::new();
    let mut signed = [0u8; 1500];
    let (mut rx, mut tx) = (Vec::new(), Vec::new());
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (mut datagram, tail) = rest[2..].split_at(n);
        let mut from = remote;
        if sign && n >= 20 && datagram[0] < 4 {
            if let Some((len, port)) = sign_stun(datagram, &creds, &tids, &mut signed) {
                datagram = &signed[..len];
                from.set_port(remote.port() + port);
            }
        }
        rx.clear();
        rx.extend_from_slice(datagram);
        pc.handle_receive(now, from, local, &mut rx);
        now += Duration::from_millis(50);
        pc.handle_timeout(now);
        while pc.poll_transmit(now, &mut tx).is_some() {
            if sign && tids.len() < 64 {
                if let Ok(m) = fulmar_stun::Message::parse(&tx) {
                    if m.class() == fulmar_stun::Class::Request {
                        tids.push(m.transaction_id());
                    }
                }
            }
        }
        while pc.poll_event().is_some() {}
        rest = tail;
    }
}

/// Rebuilds the STUN template `t` into `out` signed with the right short-term
/// credentials (see the top of the file); returns its length and the
/// source-port offset.
fn sign_stun(
    t: &[u8],
    (lufrag, lpwd, rufrag, rpwd): &(String, String, String, String),
    tids: &[fulmar_stun::TransactionId],
    out: &mut [u8],
) -> Option<(usize, u16)> {
    use fulmar_stun::{AttributeType, IntegrityKey, MessageBuilder, MessageType, TransactionId};
    let ty = MessageType::from_u16(u16::from_be_bytes([t[0], t[1]]));
    let response = ty.class.is_response();
    let mut tid = TransactionId::new(t[8..20].try_into().ok()?);
    if response && !tids.is_empty() {
        tid = tids[usize::from(t[8]) % tids.len()];
    }
    let port = u16::from((t[4] ^ 0x21) & 3);
    let mut m = MessageBuilder::with_type(out, ty, tid);
    let mut attrs = &t[20..];
    let mut has_username = false;
    let mut list = Vec::new();
    while attrs.len() >= 4 {
        let at = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]])).min(attrs.len() - 4);
        list.push((at, &attrs[4..4 + len]));
        attrs = &attrs[(4 + len).next_multiple_of(4).min(attrs.len())..];
    }
    for &(at, _) in &list {
        has_username |= at == 0x0006;
    }
    if !response && !has_username {
        m.add_raw(AttributeType(0x0006), format!("{lufrag}:{rufrag}").as_bytes());
    }
    for (at, value) in list {
        // MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are
        // added below.
        if !matches!(at, 0x0008 | 0x001c | 0x8028) {
            m.add_raw(AttributeType(at), value);
        }
    }
    let key = IntegrityKey::short_term(if response { rpwd } else { lpwd });
    m.add_message_integrity(&key).add_fingerprint();
    m.finish().ok().map(|b| (b.len(), port))
}

/// Connects two peers (A offers audio and video tracks, B answers with its
/// own) and feeds SRTP-protected fuzz chunks from A to B.
fn run_media(data: &[u8], cert: &std::sync::Arc<fulmar_dtls::Certificate>) {
    use fulmar_peer::{DtlsState, Event, MediaKind, PeerConnection, SessionDescription};
    use std::time::{Duration, Instant};
    let mut config = fulmar_peer::Config::default();
    config.certificate = Some(cert.clone());
    config.receive_mode = fulmar_peer::ReceiveMode::Both;
    let seed = |n| <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(n);
    let mut a = PeerConnection::new(config.clone(), seed(3)).expect("peer");
    let mut b = PeerConnection::new(config, seed(4)).expect("peer");
    let mut now = Instant::now();
    let (la, lb): (std::net::SocketAddr, std::net::SocketAddr) =
        ("10.0.0.1:1000".parse().expect("address"), "10.0.0.2:2000".parse().expect("address"));
    let _ = a.add_host_candidate(now, la);
    let _ = b.add_host_candidate(now, lb);
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let av = a.add_track(MediaKind::Video, "s", "v");
    a.add_track(MediaKind::Audio, "s", "a");
    let offer = a.create_offer().expect("offer");
    a.set_local_description(now, offer.clone()).expect("offer applies");
    b.set_remote_description(now, SessionDescription::offer(&offer.sdp.to_string()).expect("offer parses")).expect("offer applies");
    let bv = b.add_track(MediaKind::Video, "t", "v");
    b.add_track(MediaKind::Audio, "t", "a");
    let answer = b.create_answer().expect("answer");
    b.set_local_description(now, answer.clone()).expect("answer applies");
    a.set_remote_description(now, SessionDescription::answer(&answer.sdp.to_string()).expect("answer parses")).expect("answer applies");
    let mut tx = Vec::new();
    for _ in 0..400 {
        while let Some(t) = a.poll_transmit(now, &mut tx) { b.handle_receive(now, t.source, t.destination, &mut tx); }
        while let Some(t) = b.poll_transmit(now, &mut tx) { a.handle_receive(now, t.source, t.destination, &mut tx); }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        // With media negotiated, each side keys SRTP when DTLS connects.
        if a.dtls_state() == DtlsState::Connected && b.dtls_state() == DtlsState::Connected { break; }
        now += Duration::from_millis(10);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert_eq!(b.dtls_state(), DtlsState::Connected, "peers connect in memory");
    let mut rest = data;
    let mut buf = vec![0u8; 2048];
    let mut i = 0u32;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2).min(1500);
        let (chunk, tail) = rest[2..].split_at(n);
        rest = tail;
        i += 1;
        buf[..n].copy_from_slice(chunk);
        let rtcp = chunk.get(1).is_some_and(|b| (192..=223).contains(b));
        if let Some(len) = a.protect_for_fuzzing(rtcp, &mut buf, n) {
            b.handle_receive(now, la, lb, &mut buf[..len]);
        }
        if i % 2 == 0 {
            tx.clear();
            tx.extend_from_slice(chunk);
            b.handle_receive(now, la, lb, &mut tx);
        }
        // Some application calls between datagrams.
        match i % 5 {
            0 => { let _ = b.request_keyframe(now, bv); }
            1 => { let _ = b.write_frame(now, bv, i * 3000, chunk); }
            2 => { let _ = b.write_rtp(now, bv, chunk); }
            3 => { let _ = a.write_frame(now, av, i * 3000, chunk); }
            _ => {}
        }
        now += Duration::from_millis(20);
        b.handle_timeout(now);
        while let Some(t) = b.poll_transmit(now, &mut tx) {
            a.handle_receive(now, t.source, t.destination, &mut tx);
        }
        while let Some(e) = b.poll_event() {
            if let Event::Rtp(r) = e { b.recycle(r.packet); }
        }
        while a.poll_transmit(now, &mut tx).is_some() {}
        while a.poll_event().is_some() {}
        let _ = b.stats();
    }
}
