// Body of the `sctp_association_ordered` fuzz target (shared with
// fulmar-sctp's tests/fuzz_corpus.rs): `sctp_association` with the
// association set up from each INIT order. The first byte picks, by % 3,
// who sends INIT: 0 A connects and B only answers, 1 B connects and A only
// answers, 2 both at once (INIT collision, what WebRTC does); and by / 3 % 2
// which end receives the input: 0 B, 1 A. The rest is fed in as in
// `sctp_association`: packets as [u16 length][bytes]..., each patched with
// the right ports and verification tag and a zero checksum (accepted per
// RFC 9653 once established); whatever comes out is relayed to the other
// end, with time advancing. Setup must establish both ends; nothing may
// panic.

fn run(data: &[u8]) {
    use bytes::Bytes;
    use fulmar_sctp::{Association, Config, SendOptions};
    use rand::SeedableRng;
    use std::time::{Duration, Instant};

    /// The verification tag of a packet, when it has one (not an INIT's 0).
    fn tag_of(p: &[u8]) -> Option<u32> {
        let tag = fulmar_sctp::Packet::parse(p).ok()?.verification_tag();
        (tag != 0).then_some(tag)
    }

    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mut now = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(mode % 6) + 7);
    let mut a = Association::new(Config::default(), &mut rng, now);
    let mut b = Association::new(Config::default(), &mut rng, now);
    match mode % 3 {
        0 => assert!(a.connect(now).is_ok()),
        1 => assert!(b.connect(now).is_ok()),
        _ => {
            assert!(a.connect(now).is_ok());
            assert!(b.connect(now).is_ok());
        }
    }
    // The tag each end expects on what it receives (as its peer sends it).
    let (mut a_tag, mut b_tag) = (0u32, 0u32);
    let mut buf = Vec::new();
    for _ in 0..10 {
        while a.poll_transmit_into(now, &mut buf) {
            b_tag = tag_of(&buf).unwrap_or(b_tag);
            b.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
        while b.poll_transmit_into(now, &mut buf) {
            a_tag = tag_of(&buf).unwrap_or(a_tag);
            a.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
    }
    assert!(
        a.is_established() && b.is_established(),
        "setup failed in mode {mode}"
    );
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    let _ = a.send(
        now,
        1,
        53,
        Bytes::from_static(b"seed"),
        SendOptions::default(),
    );
    let _ = b.send(
        now,
        2,
        51,
        Bytes::from_static(b"deed"),
        SendOptions::default(),
    );
    let (victim, other, tag) = if (mode / 3) % 2 == 0 {
        (&mut b, &mut a, b_tag)
    } else {
        (&mut a, &mut b, a_tag)
    };
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
                pkt[4..8].copy_from_slice(&tag.to_be_bytes());
            }
            pkt[8..12].fill(0);
        }
        // Both receive paths: a shared packet, and a borrowed buffer.
        if rounds % 2 == 0 {
            victim.handle_receive(now, Bytes::from(pkt));
        } else {
            victim.handle_receive_slice(now, &pkt);
        }
        let mut relayed = 0;
        while victim.poll_transmit_into(now, &mut buf) && relayed < 1000 {
            relayed += 1;
            other.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
        relayed = 0;
        while other.poll_transmit_into(now, &mut buf) && relayed < 1000 {
            relayed += 1;
            victim.handle_receive(now, Bytes::copy_from_slice(&buf));
        }
        while victim.poll_event().is_some() {}
        while other.poll_event().is_some() {}
        now += Duration::from_millis(u64::from(rounds) * 37);
        victim.handle_timeout(now);
        other.handle_timeout(now);
    }
    let _ = a.stats();
    let _ = b.stats();
}
