//! Replays the checked-in fuzz corpora (fuzz/corpus/dtls_record and
//! fuzz/corpus/dtls_server) through the fuzz target bodies on stable Rust.
//! `cargo test -p fulmar-dtls --test fuzz_corpus -- --ignored` regenerates
//! the seed files from a live in-memory handshake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
#[ignore = "writes the seed corpus; run explicitly"]
fn regenerate_seed_corpus() {
    use fulmar_dtls::{Certificate, Config, Connection};
    use std::sync::Arc;
    use std::time::Instant;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let d1 = include_bytes!("fixtures/chromium156-dtls-clienthello-datagram1.bin").to_vec();
    let d2 = include_bytes!("fixtures/chromium156-dtls-clienthello-datagram2.bin").to_vec();
    let a = Arc::new(Certificate::generate().unwrap());
    let b = Arc::new(Certificate::generate().unwrap());
    let now = Instant::now();
    let mut c = Connection::client(
        Arc::new(Config::new(a.clone(), vec![b.fingerprint()])),
        now,
        rand::rngs::OsRng,
    );
    let mut s = Connection::server(
        Arc::new(Config::new(b, vec![a.fingerprint()])),
        rand::rngs::OsRng,
    );
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        while let Some(d) = c.poll_transmit() {
            from_client.push(d.clone());
            s.handle_receive(now, &d);
        }
        while let Some(d) = s.poll_transmit() {
            from_server.push(d.clone());
            c.handle_receive(now, &d);
        }
    }
    c.send(b"application data").unwrap();
    from_client.push(c.poll_transmit().unwrap());
    s.send(b"application data").unwrap();
    from_server.push(s.poll_transmit().unwrap());
    c.close();
    from_client.push(c.poll_transmit().unwrap());

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
