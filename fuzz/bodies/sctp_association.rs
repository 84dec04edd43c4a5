// Body of the `sctp_association` fuzz target (shared with fulmar-sctp's
// tests/fuzz_corpus.rs). Two associations are connected in memory; then the
// input, split into packets as [u16 length][bytes]..., is fed into one of
// them after its common header is patched with the right ports and
// verification tag and a zero checksum (accepted per RFC 9653 once
// established), so the fuzzer reaches chunk processing. Whatever comes out is
// relayed to the other association, with time advancing, and nothing may
// panic.

fn run(data: &[u8]) {
    use bytes::Bytes;
    use fulmar_sctp::{Association, Config, SendOptions};
    use rand::SeedableRng;
    use std::time::{Duration, Instant};

    let mut now = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut a = Association::new(Config::default(), &mut rng, now);
    let mut b = Association::new(Config::default(), &mut rng, now);
    let _ = a.connect(now);
    let _ = b.connect(now);
    let mut b_tag = 0u32;
    let mut buf = Vec::new();
    for _ in 0..10 {
        while a.poll_transmit_into(now, &mut buf) {
            if let Ok(p) = fulmar_sctp::Packet::parse(&buf) {
                if p.verification_tag() != 0 {
                    b_tag = p.verification_tag();
                }
            }
            b.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
        while b.poll_transmit_into(now, &mut buf) {
            a.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
    }
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    let _ = a.send(now, 1, 53, Bytes::from_static(b"seed"), SendOptions::default());
    let mut rest = data;
    let mut rounds: u32 = 0;
    while rest.len() >= 2 && rounds < 64 {
        rounds += 1;
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let mut pkt = rest[2..2 + n].to_vec();
        rest = &rest[2 + n..];
        if pkt.len() >= 12 {
            pkt[0..2].copy_from_slice(&5000u16.to_be_bytes());
            pkt[2..4].copy_from_slice(&5000u16.to_be_bytes());
            // Keep an INIT's zero tag so that path is reachable too.
            if pkt.get(12) != Some(&1) {
                pkt[4..8].copy_from_slice(&b_tag.to_be_bytes());
            }
            pkt[8..12].fill(0);
        }
        // Both receive paths: a shared packet, and a borrowed buffer.
        if rounds % 2 == 0 {
            b.handle_receive(now, Bytes::from(pkt));
        } else {
            b.handle_receive_slice(now, &pkt);
        }
        let mut relayed = 0;
        while b.poll_transmit_into(now, &mut buf) && relayed < 1000 {
            relayed += 1;
            a.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
        relayed = 0;
        while a.poll_transmit_into(now, &mut buf) && relayed < 1000 {
            relayed += 1;
            b.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        now += Duration::from_millis(u64::from(rounds) * 37);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    let _ = a.stats();
    let _ = b.stats();
}
