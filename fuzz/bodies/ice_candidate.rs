// Fuzz body: arbitrary text through the RFC 8839 candidate grammar (fulmar-sdp's,
// re-exported by fulmar-ice); what parses must write back to a line that parses
// to the same candidate, and an ICE agent must take or ignore it without panicking.

fn run(data: &[u8]) {
    use rand::SeedableRng;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(c) = fulmar_ice::Candidate::parse(text) else { return };
    let line = c.to_string();
    let again = fulmar_ice::Candidate::parse(&line);
    if let Ok(back) = &again {
        assert_eq!(back.to_string(), line);
    }
    check_written_candidate(&c, &line, again, fulmar_ice::Candidate::MAX_LEN);
    let config = fulmar_ice::IceConfig::new(fulmar_ice::IceRole::Controlling);
    let mut agent = fulmar_ice::IceAgent::new(config, rand::rngs::StdRng::seed_from_u64(1));
    let now = std::time::Instant::now();
    let _ = agent.add_host_candidate(now, 1, std::net::SocketAddr::from(([192, 0, 2, 1], 5000)));
    let _ = agent.add_remote_candidate(now, c);
    let _ = agent.remote_candidates();
    agent.handle_timeout(now + std::time::Duration::from_millis(50));
    let mut buf = Vec::new();
    while agent.poll_transmit(now, &mut buf).is_some() {}
}

include!("candidate_round_trip.rs");
