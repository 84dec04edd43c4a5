//! Replays the checked-in fuzz corpora (fuzz/corpus/dtls_record,
//! fuzz/corpus/dtls_server and fuzz/corpus/dtls_client) through the fuzz
//! target bodies on stable Rust.
//! `cargo test -p fulmar-dtls --test fuzz_corpus -- --ignored` regenerates
//! the seed files from a live in-memory handshake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod dtls_record {
    include!("../../../fuzz/bodies/dtls_record.rs");
    pub fn fuzz(data: &[u8]) {
        run(data)
    }
}

mod dtls_server {
    include!("../../../fuzz/bodies/dtls_server.rs");
    pub fn fuzz(data: &[u8]) {
        run(data)
    }
}

mod dtls_client {
    include!("../../../fuzz/bodies/dtls_client.rs");
    pub fn fuzz(data: &[u8]) {
        run(data)
    }
    /// The server's datagrams of a clean handshake in `mode`.
    pub fn server_datagrams(mode: u8) -> Vec<Vec<u8>> {
        let mut trace = Vec::new();
        drive(&[mode], Some(&mut trace));
        trace
    }
}

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let d = std::fs::read(&p).unwrap();
            (p, d)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn dtls_record_corpus() {
    for (_, d) in corpus("dtls_record") {
        dtls_record::fuzz(&d);
    }
}

#[test]
fn dtls_server_corpus() {
    for (_, d) in corpus("dtls_server") {
        dtls_server::fuzz(&d);
    }
}

#[test]
fn dtls_client_corpus() {
    for (_, d) in corpus("dtls_client") {
        dtls_client::fuzz(&d);
    }
}

/// Seeds of `dtls_client`: a clean handshake in several server modes, and
/// for each record the server sends (HelloVerifyRequest, each handshake
/// message, ChangeCipherSpec, the encrypted Finished) ops that corrupt its
/// body, bump its length, cut it short or drop, duplicate or replace the
/// datagram it travels in.
#[test]
#[ignore = "writes the seed corpus; run explicitly"]
fn regenerate_dtls_client_seeds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dtls_client");
    std::fs::create_dir_all(&dir).unwrap();
    let op = |kind: u8, index: usize, offset: usize, arg: u8| {
        let mut v = vec![kind, index as u8];
        v.extend_from_slice(&(offset as u16).to_be_bytes());
        v.push(arg);
        v
    };
    // Modes: default, no cookie, fragmented, no CertificateRequest,
    // AES-256/P-256, ChaCha20/P-384.
    for mode in [0u8, 1, 2, 4, (1 << 3) | (1 << 5), (2 << 3) | (2 << 5)] {
        std::fs::write(dir.join(format!("m{mode:02x}-clean")), [mode]).unwrap();
        for (i, d) in dtls_client::server_datagrams(mode).iter().enumerate() {
            let mut at = 0;
            while at + 13 <= d.len() {
                let (ctype, epoch) = (d[at], u16::from_be_bytes([d[at + 3], d[at + 4]]));
                let len = usize::from(u16::from_be_bytes([d[at + 11], d[at + 12]]));
                let name = match (ctype, epoch, d.get(at + 13)) {
                    (22, 0, Some(t)) => format!("hs{t}"),
                    (20, _, _) => "ccs".to_owned(),
                    (22, _, _) => "finished".to_owned(),
                    (c, _, _) => format!("ct{c}"),
                };
                let body = at + 13;
                // Every kind of corruption on the default mode; in the
                // others, the records that differ (curves, suites).
                let kinds: &[(&str, Vec<u8>)] = &[
                    ("xor", op(0, i, body + 12 + len / 3, 0x5a)),
                    ("len", op(2, i, body + 3, 1)),
                    ("cut", op(3, i, body + len / 2, 0)),
                ];
                let kinds = match (mode, name.as_str()) {
                    (0, _) => kinds,
                    (_, "hs12" | "finished") => &kinds[..1],
                    _ => &[],
                };
                for (what, ops) in kinds {
                    let mut s = vec![mode];
                    s.extend_from_slice(ops);
                    std::fs::write(dir.join(format!("m{mode:02x}-d{i}-{name}-{what}")), s).unwrap();
                }
                at = body + len;
            }
            if mode != 0 {
                continue;
            }
            let mut dup = vec![mode];
            dup.extend_from_slice(&op(5, i, 0, 0));
            std::fs::write(dir.join(format!("m{mode:02x}-d{i}-duplicate")), dup).unwrap();
            let mut drop = vec![mode];
            drop.extend_from_slice(&op(4, i, 0, 0));
            std::fs::write(dir.join(format!("m{mode:02x}-d{i}-drop")), drop).unwrap();
            // The same datagram delivered early with its epoch bumped.
            let mut early = d.clone();
            if early.len() > 4 {
                early[4] ^= 1;
            }
            let mut raw = vec![mode];
            raw.extend_from_slice(&op(7, i, 0, early.len().min(255) as u8));
            raw.extend_from_slice(&early[..early.len().min(255)]);
            std::fs::write(dir.join(format!("m{mode:02x}-d{i}-inject")), raw).unwrap();
        }
    }
}

#[test]
#[ignore = "writes the seed corpus; run explicitly"]
fn regenerate_seed_corpus() {
    use fulmar_dtls::{Certificate, Config};
    use std::sync::Arc;
    use std::time::Duration;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let d1 = include_bytes!("fixtures/chromium156-dtls-clienthello-datagram1.bin").to_vec();
    let d2 = include_bytes!("fixtures/chromium156-dtls-clienthello-datagram2.bin").to_vec();
    let a = Arc::new(Certificate::generate().unwrap());
    let b = Arc::new(Certificate::generate().unwrap());
    let mut p = common::Pair::new(
        Config::new(a.clone(), vec![b.fingerprint()]),
        Config::new(b, vec![a.fingerprint()]),
        common::perfect(),
        1,
    );
    p.drive(Duration::from_secs(5));
    assert!(p.client().is_connected() && p.server().is_connected());
    let datagrams = |by_client| p.sent(by_client).into_iter().map(|(_, d)| d);
    let mut from_client: Vec<Vec<u8>> = datagrams(true).collect();
    let mut from_server: Vec<Vec<u8>> = datagrams(false).collect();
    let now = p.now();
    let (c, s) = (&mut p.net.a.conn, &mut p.net.b.conn);
    let mut data = Vec::new();
    c.seal_application_data(b"application data", &mut data)
        .unwrap();
    from_client.push(data.clone());
    data.clear();
    s.seal_application_data(b"application data", &mut data)
        .unwrap();
    from_server.push(data);
    c.close();
    let mut buf = Vec::new();
    c.poll_transmit(now, &mut buf).unwrap();
    from_client.push(buf);

    let rec = root.join("dtls_record");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::write(rec.join("chromium156-datagram1"), &d1).unwrap();
    std::fs::write(rec.join("chromium156-datagram2"), &d2).unwrap();
    for (i, d) in from_client.iter().enumerate() {
        std::fs::write(rec.join(format!("fulmar-client-{i}")), d).unwrap();
    }
    for (i, d) in from_server.iter().enumerate() {
        std::fs::write(rec.join(format!("fulmar-server-{i}")), d).unwrap();
    }

    let framed = |mode: u8, ds: &[Vec<u8>]| {
        let mut out = vec![mode];
        for d in ds {
            out.extend_from_slice(&(d.len() as u16).to_be_bytes());
            out.extend_from_slice(d);
        }
        out
    };
    let srv = root.join("dtls_server");
    std::fs::create_dir_all(&srv).unwrap();
    let chromium = [d1.clone(), d2.clone()];
    std::fs::write(srv.join("server-cookie-chromium"), framed(0, &chromium)).unwrap();
    std::fs::write(srv.join("server-nocookie-chromium"), framed(1, &chromium)).unwrap();
    std::fs::write(
        srv.join("server-cookie-fulmar-client"),
        framed(0, &from_client),
    )
    .unwrap();
    std::fs::write(
        srv.join("server-nocookie-fulmar-client"),
        framed(1, &from_client[1..]),
    )
    .unwrap();
    std::fs::write(
        srv.join("client-midhandshake-fulmar-server"),
        framed(2, &from_server),
    )
    .unwrap();
    std::fs::write(srv.join("established-server"), framed(3, &from_client)).unwrap();
    std::fs::write(srv.join("established-client"), framed(4, &from_server)).unwrap();
    std::fs::write(srv.join("empty-datagrams"), framed(3, &[vec![], vec![22]])).unwrap();
}

/// Seeds of `dtls_server`'s sealed mode (first byte 0x83: an established
/// server; 0x84: an established client): records its peer seals, so that
/// they reach the victim's handling of authenticated records.
#[test]
#[ignore = "writes the seed corpus; run explicitly"]
fn regenerate_dtls_server_sealed_seeds() {
    use fulmar_dtls::{Certificate, Config, Connection};
    use std::sync::Arc;
    use std::time::Instant;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dtls_server");
    // `[op][len: u16][payload]` items (see fuzz/bodies/dtls_server.rs).
    let item = |op: u8, payload: &[u8]| {
        let mut v = vec![op];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    };
    let (ccs, alert, hs, data) = (0u8, 1u8, 2u8, 3u8);
    let (raw, hold, in_place, twice, reply) = (0x04u8, 0x08u8, 0x10u8, 0x20u8, 0x40u8);
    let handshake = |msg_type: u8, seq: u16, body: &[u8]| {
        let mut v = vec![msg_type];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0]);
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    };
    // A fresh client's ClientHello, for a renegotiation attempt in epoch 0.
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut fresh = Connection::client(
        Arc::new(Config::new(cert.clone(), vec![cert.fingerprint()])),
        Instant::now(),
        rand::rngs::OsRng,
    );
    let mut client_hello = Vec::new();
    fresh
        .poll_transmit(Instant::now(), &mut client_hello)
        .unwrap();
    let finished = |seq| handshake(20, seq, &[0x5a; 12]);
    let mut seeds: Vec<(String, Vec<Vec<u8>>)> = vec![
        (
            "data".into(),
            vec![item(data, b"hello"), item(data | reply, b"back")],
        ),
        (
            "data-in-place-replayed".into(),
            vec![
                item(data | in_place | twice, b"once"),
                item(data | twice, b"twice"),
            ],
        ),
        ("data-empty".into(), vec![item(data, b"")]),
        ("data-oversize".into(), vec![item(data, &vec![7; 16385])]),
        (
            "alert-close-notify".into(),
            vec![item(alert, &[1, 0]), item(data, b"late")],
        ),
        ("alert-fatal".into(), vec![item(alert, &[2, 40])]),
        (
            "alert-warning-unknown".into(),
            vec![item(alert, &[1, 200]), item(data, b"x")],
        ),
        (
            "alert-malformed".into(),
            vec![
                item(alert, &[1]),
                item(alert, &[1, 0, 0]),
                item(alert, &[9, 0]),
            ],
        ),
        (
            "ccs".into(),
            vec![
                item(ccs, &[1]),
                item(ccs, &[2]),
                item(ccs, &[]),
                item(ccs, &[1, 1]),
            ],
        ),
        (
            "hello-request".into(),
            vec![item(hs, &handshake(0, 7, &[])), item(data, b"after")],
        ),
        (
            "client-hello-epoch1".into(),
            vec![item(hs, &client_hello[13..]), item(data, b"after")],
        ),
        (
            "client-hello-epoch0".into(),
            vec![item(raw, &client_hello), item(data, b"after")],
        ),
        (
            "handshake-malformed".into(),
            vec![
                item(hs, &[20, 0, 0]),
                item(hs, &handshake(20, 7, &[1; 3])[..15]),
            ],
        ),
        (
            "records-in-one-datagram".into(),
            vec![
                item(data | hold, b"a"),
                item(ccs | hold, &[1]),
                item(alert | hold, &[1, 90]),
                item(data, b"b"),
            ],
        ),
        (
            "close-then-data-same-datagram".into(),
            vec![item(alert | hold, &[1, 0]), item(data, b"dead")],
        ),
    ];
    for seq in 0..9 {
        seeds.push((
            format!("finished-seq{seq}"),
            vec![item(hs, &finished(seq)), item(data, b"after")],
        ));
    }
    for (mode, who) in [(0x83u8, "server"), (0x84, "client")] {
        for (name, items) in &seeds {
            let mut s = vec![mode];
            for i in items {
                s.extend_from_slice(i);
            }
            std::fs::write(dir.join(format!("sealed-{who}-{name}")), s).unwrap();
        }
    }
}

/// The fuzzing hook seals records of any content type that the peer then
/// authenticates and handles: a sealed close_notify closes it, a sealed
/// ChangeCipherSpec or HelloRequest leaves data flowing.
#[test]
fn records_sealed_for_fuzzing_reach_the_peer() {
    use fulmar_dtls::{Certificate, Config, Event};
    use std::sync::Arc;
    use std::time::Duration;
    // Record content types (RFC 5246 §6.2.1).
    const CHANGE_CIPHER_SPEC: u8 = 20;
    const ALERT: u8 = 21;
    const HANDSHAKE: u8 = 22;
    const APPLICATION_DATA: u8 = 23;
    let (a, b) = (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    );
    let mut p = common::Pair::new(
        Config::new(a.clone(), vec![b.fingerprint()]),
        Config::new(b, vec![a.fingerprint()]),
        common::perfect(),
        2,
    );
    let mut out = Vec::new();
    assert!(p
        .client()
        .seal_record_for_fuzzing(ALERT, &[1, 0], &mut out)
        .is_err());
    assert!(out.is_empty());
    p.drive(Duration::from_secs(5));
    let now = p.now();
    let (c, s) = (&mut p.net.a.conn, &mut p.net.b.conn);
    assert!(c.is_connected() && s.is_connected());
    for (ct, payload) in [
        (CHANGE_CIPHER_SPEC, &[1u8][..]),
        // HelloRequest, message_seq 9.
        (HANDSHAKE, &[0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0][..]),
        (APPLICATION_DATA, &b"data"[..]),
    ] {
        c.seal_record_for_fuzzing(ct, payload, &mut out).unwrap();
        s.handle_receive(now, &mut out);
        let data: Vec<_> =
            std::iter::from_fn(|| s.poll_application_data().map(|r| out[r].to_vec())).collect();
        let want: &[&[u8]] = if ct == APPLICATION_DATA {
            &[b"data"]
        } else {
            &[]
        };
        assert_eq!(data, want);
        out.clear();
    }
    assert!(s.is_connected());
    assert_eq!(s.poll_event(), None);
    c.seal_record_for_fuzzing(ALERT, &[1, 0], &mut out).unwrap();
    s.handle_receive(now, &mut out);
    assert_eq!(s.poll_event(), Some(Event::Closed));
    assert!(!s.is_connected());
}
