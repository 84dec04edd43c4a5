// Body of the `peer_datagram` fuzz target (shared with fulmar-peer's
// tests/fuzz_corpus.rs): a peer receives arbitrary datagrams (u16-length-prefixed
// chunks of the input after the first byte) on its transport, exercising the
// RFC 7983 demultiplexer, ICE, DTLS and the timers. An even first byte makes
// it the answerer of a Chromium offer (DTLS client, waiting for ICE); an odd
// one the offerer that applied Chromium's answer (DTLS server, listening).

fn run(data: &[u8]) {
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};
    static CERT: OnceLock<Arc<fulmar_dtls::Certificate>> = OnceLock::new();
    let cert = CERT.get_or_init(|| Arc::new(fulmar_dtls::Certificate::generate().expect("certificate")));
    const OFFER: &str = include_str!("../../crates/sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");
    const ANSWER: &str = include_str!("../../crates/sdp/tests/fixtures/chromium156-answer-audio-video-data.sdp");
    let Some((&mode, data)) = data.split_first() else { return };
    let mut config = fulmar_peer::Config::default();
    config.certificate = Some(cert.clone());
    let mut pc = fulmar_peer::PeerConnection::new(config, <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(2))
        .expect("peer with a given certificate");
    let mut now = Instant::now();
    let local: std::net::SocketAddr = "127.0.0.1:5000".parse().expect("address");
    let remote: std::net::SocketAddr = "127.0.0.1:6000".parse().expect("address");
    let _ = pc.add_host_candidate(now, local);
    if mode % 2 == 0 {
        pc.set_remote_description(now, fulmar_peer::SessionDescription::offer(OFFER).expect("fixture")).expect("fixture applies");
        let answer = pc.create_answer().expect("answer");
        pc.set_local_description(now, answer).expect("answer applies");
    } else {
        pc.add_transceiver(fulmar_peer::MediaKind::Audio, fulmar_sdp::Direction::SendRecv);
        pc.add_transceiver(fulmar_peer::MediaKind::Video, fulmar_sdp::Direction::SendRecv);
        pc.create_data_channel(fulmar_datachannel::ChannelConfig::new("fuzz")).expect("channel");
        let offer = pc.create_offer().expect("offer");
        pc.set_local_description(now, offer).expect("offer applies");
        pc.set_remote_description(now, fulmar_peer::SessionDescription::answer(ANSWER).expect("fixture")).expect("fixture applies");
        assert_eq!(pc.dtls_state(), fulmar_peer::DtlsState::Connecting, "DTLS server listening");
    }
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (datagram, tail) = rest[2..].split_at(n);
        pc.handle_receive(now, remote, local, datagram);
        now += Duration::from_millis(50);
        pc.handle_timeout(now);
        while pc.poll_transmit().is_some() {}
        while pc.poll_event().is_some() {}
        rest = tail;
    }
}
