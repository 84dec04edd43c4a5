// Body of the `sctp_association` and `sctp_association_ordered` fuzz targets
// (shared with fulmar-sctp's tests/fuzz_corpus.rs). Two associations are
// connected in memory; then the input, split into packets as
// [u16 length][bytes]..., is fed into one of them after its common header is
// patched with the right ports and verification tag and a zero checksum
// (accepted per RFC 9653 once established), so the fuzzer reaches chunk
// processing. Whatever comes out is relayed to the other association, with
// time advancing. Setup must establish both ends; nothing may panic.
//
// `sctp_association` (`run`): both ends send INIT at once (the INIT
// collision WebRTC causes), A sends a message, B receives the input.
// `sctp_association_ordered` (`run_ordered`): the first byte picks, by % 3,
// who sends INIT: 0 A connects and B only answers, 1 B connects and A only
// answers, 2 both at once; and by / 3 % 2 which end receives the input: 0 B,
// 1 A. Both ends send a message.

/// How the two associations are set up before the input is fed in.
#[allow(dead_code)]
struct Setup {
    /// Who sends INIT: 0 A, 1 B, 2 both.
    init: u8,
    /// Whether A (rather than B) receives the input.
    victim_a: bool,
    /// Seed of the associations' randomness.
    seed: u64,
    /// Whether B sends a message too.
    both_send: bool,
}

#[allow(dead_code)]
fn run(data: &[u8]) {
    let setup = Setup {
        init: 2,
        victim_a: false,
        seed: 7,
        both_send: false,
    };
    run_with(&setup, data);
}

#[allow(dead_code)]
fn run_ordered(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let setup = Setup {
        init: mode % 3,
        victim_a: (mode / 3) % 2 == 1,
        seed: u64::from(mode % 6) + 7,
        both_send: true,
    };
    run_with(&setup, rest);
}

fn run_with(setup: &Setup, mut rest: &[u8]) {
    use bytes::Bytes;
    use fulmar_sctp::{Association, Config, SendOptions};
    use rand::SeedableRng;
    use std::time::{Duration, Instant};

    /// The verification tag of a packet, when it has one (not an INIT's 0).
    fn tag_of(p: &[u8]) -> Option<u32> {
        let tag = fulmar_sctp::Packet::parse(p).ok()?.verification_tag();
        (tag != 0).then_some(tag)
    }

    /// The next packet `assoc` sends, alone in `buf` (`poll_transmit`
    /// appends).
    fn next(assoc: &mut Association, now: Instant, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        assoc.poll_transmit(now, buf).is_some()
    }

    let mut now = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(setup.seed);
    let mut a = Association::new(Config::default(), &mut rng, now);
    let mut b = Association::new(Config::default(), &mut rng, now);
    if setup.init != 1 {
        assert!(a.connect(now).is_ok());
    }
    if setup.init != 0 {
        assert!(b.connect(now).is_ok());
    }
    // The tag each end expects on what it receives (as its peer sends it).
    let (mut a_tag, mut b_tag) = (0u32, 0u32);
    let mut buf = Vec::new();
    for _ in 0..10 {
        while next(&mut a, now, &mut buf) {
            b_tag = tag_of(&buf).unwrap_or(b_tag);
            b.handle_receive(now, &buf);
        }
        while next(&mut b, now, &mut buf) {
            a_tag = tag_of(&buf).unwrap_or(a_tag);
            a.handle_receive(now, &buf);
        }
    }
    assert!(
        a.is_established() && b.is_established(),
        "setup failed (INIT from {})",
        setup.init
    );
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    let seed = Bytes::from_static(b"seed");
    let _ = a.send(now, 1, 53, seed, SendOptions::default());
    if setup.both_send {
        let deed = Bytes::from_static(b"deed");
        let _ = b.send(now, 2, 51, deed, SendOptions::default());
    }
    let (victim, other, tag) = if setup.victim_a {
        (&mut a, &mut b, a_tag)
    } else {
        (&mut b, &mut a, b_tag)
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
        victim.handle_receive(now, &pkt);
        let mut relayed = 0;
        while relayed < 1000 && next(victim, now, &mut buf) {
            relayed += 1;
            other.handle_receive(now, &buf);
        }
        relayed = 0;
        while relayed < 1000 && next(other, now, &mut buf) {
            relayed += 1;
            victim.handle_receive(now, &buf);
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
