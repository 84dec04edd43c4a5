// Body of the `peer_remote_description` fuzz target (shared with fulmar-peer's
// tests/fuzz_corpus.rs): any text as a remote offer; when it is accepted, the
// answer must be created, applied, and parse back.

fn run(data: &[u8]) {
    use std::sync::{Arc, OnceLock};
    use std::time::Instant;
    static CERT: OnceLock<Arc<fulmar_dtls::Certificate>> = OnceLock::new();
    let cert = CERT.get_or_init(|| Arc::new(fulmar_dtls::Certificate::generate().expect("certificate")));
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(offer) = fulmar_peer::SessionDescription::offer(text) else { return };
    let mut config = fulmar_peer::Config::default();
    config.certificate = Some(cert.clone());
    let mut pc = fulmar_peer::PeerConnection::new(config, <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1))
        .expect("peer with a given certificate");
    let now = Instant::now();
    let _ = pc.add_host_candidate(now, "127.0.0.1:9".parse().expect("address"));
    if pc.set_remote_description(now, offer).is_err() {
        return;
    }
    let answer = pc.create_answer().expect("an accepted offer is answerable");
    let text = answer.sdp.to_string();
    pc.set_local_description(now, answer).expect("our own answer applies");
    fulmar_peer::SessionDescription::answer(&text).expect("our answer parses");
    pc.handle_timeout(now);
    let mut tx = Vec::new();
    while pc.poll_transmit(now, &mut tx).is_some() {}
    while pc.poll_event().is_some() {}
}
