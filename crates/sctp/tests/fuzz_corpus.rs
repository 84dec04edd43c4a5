//! Replays the checked-in fuzz corpora (fuzz/corpus/sctp_packet,
//! fuzz/corpus/sctp_association, fuzz/corpus/sctp_association_ordered)
//! through the fuzz targets' bodies on stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sctp_packet {
    include!("../../../fuzz/bodies/sctp_packet.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

/// One body for both association targets.
mod sctp_association {
    include!("../../../fuzz/bodies/sctp_association.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
    pub fn entry_ordered(data: &[u8]) {
        run_ordered(data)
    }
}

include!("../../../fuzz/replay.rs");

#[test]
fn sctp_packet_corpus() {
    replay("sctp_packet", sctp_packet::entry);
}

#[test]
fn sctp_association_corpus() {
    replay("sctp_association", sctp_association::entry);
}

#[test]
fn sctp_association_ordered_corpus() {
    replay("sctp_association_ordered", sctp_association::entry_ordered);
}

/// Seeds of `sctp_association_ordered`: the `sctp_association` seeds (real
/// traffic and hand-made chunks) behind each mode byte, so every INIT order
/// and both victims start from meaningful packets:
/// `cargo test -p fulmar-sctp --test fuzz_corpus -- --ignored ordered`.
#[test]
#[ignore]
fn generate_ordered_seed_corpus() {
    let from = corpus_dir("sctp_association");
    let dir = corpus_dir("sctp_association_ordered");
    std::fs::create_dir_all(&dir).unwrap();
    for mode in 0u8..6 {
        // Victim B (modes 0..3) gets every seed; victim A a few.
        let seeds: &[&str] = if mode < 3 {
            &[
                "seed-00", "seed-01", "seed-02", "seed-03", "seed-04", "seed-05", "seed-06",
            ]
        } else {
            &["seed-01", "seed-03", "seed-05"]
        };
        for name in seeds {
            let mut input = vec![mode];
            input.extend_from_slice(&std::fs::read(from.join(name)).unwrap());
            std::fs::write(dir.join(format!("mode{mode}-{name}")), input).unwrap();
        }
    }
}

/// Regenerates the seed corpora from real traffic and hand-made edge cases:
/// `cargo test -p fulmar-sctp --test fuzz_corpus -- --ignored`.
#[test]
#[ignore]
fn generate_seed_corpus() {
    use bytes::Bytes;
    use fulmar_sctp::chunk::emit_data;
    use fulmar_sctp::param::{cause_code, StreamSsn};
    use fulmar_sctp::*;
    use rand::SeedableRng;
    use std::time::{Duration, Instant};

    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut now = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut a = Association::new(Config::default(), &mut rng, now);
    let mut b = Association::new(Config::default(), &mut rng, now);
    a.connect(now).unwrap();
    b.connect(now).unwrap();
    for round in 0..40 {
        if round == 5 {
            a.send(
                now,
                1,
                51,
                Bytes::from_static(b"hello"),
                SendOptions::default(),
            )
            .unwrap();
            a.send(
                now,
                2,
                53,
                Bytes::from(vec![9u8; 3000]),
                SendOptions {
                    unordered: true,
                    ..Default::default()
                },
            )
            .unwrap();
            b.send(
                now,
                3,
                53,
                Bytes::from_static(b"x"),
                SendOptions {
                    max_retransmits: Some(0),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        if round == 12 {
            a.reset_streams(&[1]).unwrap();
        }
        if round == 20 {
            a.shutdown(now).unwrap();
        }
        let mut p = Vec::new();
        while a.poll_transmit(now, &mut p).is_some() {
            b.handle_receive(now, &p);
            packets.push(std::mem::take(&mut p));
        }
        while b.poll_transmit(now, &mut p).is_some() {
            a.handle_receive(now, &p);
            packets.push(std::mem::take(&mut p));
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        now += Duration::from_millis(250);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    // Hand-made chunks.
    let mut extra: Vec<Vec<u8>> = Vec::new();
    let mut chunk = |c: &Chunk<'_>| {
        let mut buf = Vec::new();
        let mut w = PacketWriter::new(&mut buf, 5000, 5000, 1);
        w.push(c);
        w.finish(false);
        extra.push(buf);
    };
    chunk(&Chunk::ForwardTsn(ForwardTsn {
        new_cumulative_tsn: 100,
        streams: List::Items(&[StreamSsn { stream: 1, ssn: 4 }]),
    }));
    chunk(&Chunk::Abort {
        t: true,
        causes: TlvList::Items(&[ErrorCause {
            code: cause_code::PROTOCOL_VIOLATION,
            info: b"x",
        }]),
    });
    chunk(&Chunk::Heartbeat { info: &[1; 16] });
    chunk(&Chunk::Unknown(UnknownChunk {
        chunk_type: 0xC5,
        flags: 0,
        value: b"zz",
        raw: &[],
    }));
    chunk(&Chunk::ReConfig {
        params: TlvList::Items(&[ReconfigParam::OutgoingSsnResetRequest {
            request_seq: 1,
            response_seq: 0,
            last_tsn: 5,
            streams: List::Items(&[1, 2]),
        }]),
    });
    let mut d = Vec::new();
    let mut w = PacketWriter::new(&mut d, 5000, 5000, 1);
    emit_data(w.buffer(), 3, 1, 0, 0, 51, b"d");
    emit_data(w.buffer(), 2, 2, 0, 1, 51, b"e");
    w.finish(false);
    extra.push(d);
    extra.push(vec![0; 12]);
    extra.push(vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 200]);

    let dir = corpus_dir("sctp_packet");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, p) in packets.iter().chain(extra.iter()).enumerate().take(40) {
        std::fs::write(dir.join(format!("seed-{i:02}")), p).unwrap();
    }
    // Association inputs: [u16 len][packet]... sequences.
    let dir = corpus_dir("sctp_association");
    std::fs::create_dir_all(&dir).unwrap();
    let framed = |ps: &[&Vec<u8>]| {
        let mut out = Vec::new();
        for p in ps {
            out.extend_from_slice(&(p.len() as u16).to_be_bytes());
            out.extend_from_slice(p);
        }
        out
    };
    let all: Vec<&Vec<u8>> = packets.iter().chain(extra.iter()).collect();
    for (i, win) in all.chunks(4).enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), framed(win)).unwrap();
    }
}
