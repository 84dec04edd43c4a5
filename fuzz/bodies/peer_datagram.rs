// Body of the `peer_datagram` fuzz target (shared with fulmar-peer's
// tests/fuzz_corpus.rs): a peer that answered a Chromium offer receives
// arbitrary datagrams (length-prefixed chunks of the input) on its transport,
// exercising the RFC 7983 demultiplexer, ICE, DTLS and the timers.

fn run(data: &[u8]) {
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};
    static CERT: OnceLock<Arc<fulmar_dtls::Certificate>> = OnceLock::new();
    let cert = CERT.get_or_init(|| Arc::new(fulmar_dtls::Certificate::generate().expect("certificate")));
    const OFFER: &str = include_str!("../../crates/sdp/tests/fixtures/chromium156-offer-audio-video-data.sdp");
    let mut config = fulmar_peer::Config::default();
    config.certificate = Some(cert.clone());
    let mut pc = fulmar_peer::PeerConnection::new(config, <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(2))
        .expect("peer with a given certificate");
    let mut now = Instant::now();
    let local: std::net::SocketAddr = "127.0.0.1:5000".parse().expect("address");
    let remote: std::net::SocketAddr = "127.0.0.1:6000".parse().expect("address");
    let _ = pc.add_host_candidate(now, local);
    pc.set_remote_description(now, fulmar_peer::SessionDescription::offer(OFFER).expect("fixture")).expect("fixture applies");
    let answer = pc.create_answer().expect("answer");
    pc.set_local_description(now, answer).expect("answer applies");
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (datagram, tail) = tail.split_at(n);
        pc.handle_receive(now, remote, local, datagram);
        now += Duration::from_millis(50);
        pc.handle_timeout(now);
        while pc.poll_transmit().is_some() {}
        while pc.poll_event().is_some() {}
        rest = tail;
    }
}
