//! Replays the checked-in fuzz corpora (fuzz/corpus/peer_remote_description,
//! fuzz/corpus/peer_datagram) through the fuzz targets' bodies on stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peer_remote_description {
    include!("../../../fuzz/bodies/peer_remote_description.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod peer_datagram {
    include!("../../../fuzz/bodies/peer_datagram.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn peer_remote_description_corpus() {
    replay("peer_remote_description", peer_remote_description::entry);
}

#[test]
fn peer_datagram_corpus() {
    replay("peer_datagram", peer_datagram::entry);
}

/// Seeds of `peer_datagram`'s signed mode (first byte 0x80: the answerer of
/// Chromium's offer; 0x81: the offerer that applied Chromium's answer): STUN
/// templates the body signs with the right short-term credentials, so that
/// checks and responses get past integrity to the ICE agent.
#[test]
#[ignore = "writes the seed corpus; run explicitly"]
fn regenerate_peer_datagram_signed_seeds() {
    let dir = corpus_dir("peer_datagram");
    // A STUN template: type, zero length (the body recomputes it), the magic
    // cookie, a transaction ID starting with `tid0` (for a response: which
    // of the victim's requests it answers), then TLV attributes.
    let stun = |ty: u16, tid0: u8, attrs: &[(u16, &[u8])]| {
        let mut v = ty.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 0, 0x21, 0x12, 0xa4, 0x42, tid0]);
        v.extend_from_slice(&[0x5a; 11]);
        for (t, val) in attrs {
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&(val.len() as u16).to_be_bytes());
            v.extend_from_slice(val);
            v.resize(v.len().next_multiple_of(4), 0);
        }
        v
    };
    let chunk = |d: &[u8]| {
        let mut v = (d.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(d);
        v
    };
    const PRIORITY: u16 = 0x0024;
    const USE_CANDIDATE: u16 = 0x0025;
    const CONTROLLED: u16 = 0x8029;
    const CONTROLLING: u16 = 0x802a;
    const XOR_MAPPED: u16 = 0x0020;
    const ERROR_CODE: u16 = 0x0009;
    const USERNAME: u16 = 0x0006;
    let prio: &[u8] = &0x6e7f_1effu32.to_be_bytes();
    let tie: &[u8] = &0x1234_5678_9abc_def0u64.to_be_bytes();
    // 127.0.0.1:5000, the victim's host candidate, XOR-mapped.
    let mapped: &[u8] = &[
        0,
        1,
        0x13 ^ 0x21,
        0x88 ^ 0x12,
        0x7f ^ 0x21,
        0x12,
        0xa4,
        0x01 ^ 0x42,
    ];
    let request = |role: u16, nominate: bool, tid0: u8| {
        let mut attrs: Vec<(u16, &[u8])> = vec![(PRIORITY, prio), (role, tie)];
        if nominate {
            attrs.push((USE_CANDIDATE, &[]));
        }
        stun(0x0001, tid0, &attrs)
    };
    let success = |i: u8| stun(0x0101, i, &[(XOR_MAPPED, mapped)]);
    let error = |i: u8, code: u16| {
        let v = [0, 0, (code / 100) as u8, (code % 100) as u8];
        stun(0x0111, i, &[(ERROR_CODE, &v)])
    };
    let quiet = chunk(&[0xff]);
    let chromium_hello =
        include_bytes!("../../dtls/tests/fixtures/chromium156-dtls-clienthello-datagram1.bin");
    let mut seeds: Vec<(u8, &str, Vec<Vec<u8>>)> = Vec::new();
    for (mode, role, nominate) in [(0x80u8, CONTROLLING, true), (0x81, CONTROLLED, false)] {
        seeds.push((mode, "check", vec![chunk(&request(role, nominate, 1))]));
        let mut connect = vec![chunk(&request(role, nominate, 1)), quiet.clone()];
        for i in 0..4 {
            connect.push(chunk(&success(i)));
            connect.push(quiet.clone());
        }
        seeds.push((mode, "connect", connect.clone()));
        let mut dtls = connect.clone();
        dtls.push(chunk(chromium_hello));
        seeds.push((mode, "connect-then-dtls", dtls));
        let mut consent = connect;
        consent.extend([chunk(&stun(0x0011, 9, &[])), chunk(&request(role, true, 2))]);
        for _ in 0..20 {
            consent.push(quiet.clone());
        }
        consent.push(chunk(&success(6)));
        seeds.push((mode, "connect-then-consent", consent));
        let other_role = if role == CONTROLLING {
            CONTROLLED
        } else {
            CONTROLLING
        };
        seeds.push((
            mode,
            "role-conflict",
            vec![
                chunk(&request(other_role, true, 3)),
                quiet.clone(),
                chunk(&error(0, 487)),
                quiet.clone(),
            ],
        ));
        let mut errors = vec![chunk(&request(role, nominate, 4)), quiet.clone()];
        for (i, code) in [400u16, 401, 420, 438, 500].into_iter().enumerate() {
            errors.push(chunk(&error(i as u8, code)));
        }
        seeds.push((mode, "error-responses", errors));
        seeds.push((
            mode,
            "wrong-username",
            vec![chunk(&stun(
                0x0001,
                5,
                &[(USERNAME, b"nobody:here"), (PRIORITY, prio), (role, tie)],
            ))],
        ));
        seeds.push((
            mode,
            "comprehension-required",
            vec![chunk(&stun(
                0x0001,
                6,
                &[(PRIORITY, prio), (role, tie), (0x0030, b"??")],
            ))],
        ));
        // From another address (cookie byte ^ 0x21 = 1: remote port + 1).
        let mut moved = request(role, nominate, 7);
        moved[4] ^= 1;
        seeds.push((
            mode,
            "check-from-elsewhere",
            vec![chunk(&moved), quiet.clone(), chunk(&success(0))],
        ));
        seeds.push((
            mode,
            "response-without-request",
            vec![chunk(&success(0)), chunk(&stun(0x0101, 8, &[]))],
        ));
    }
    for (mode, name, chunks) in seeds {
        let who = if mode & 1 == 0 { "answerer" } else { "offerer" };
        let mut s = vec![mode];
        for c in chunks {
            s.extend_from_slice(&c);
        }
        std::fs::write(dir.join(format!("signed-{who}-{name}")), s).unwrap();
    }
}
