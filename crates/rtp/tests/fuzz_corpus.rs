//! Replays the checked-in fuzz corpora (fuzz/corpus/{rtp_packet,
//! rtcp_compound,depacketize}) through the fuzz targets' bodies on stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rtp_packet {
    include!("../../../fuzz/bodies/rtp_packet.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod rtcp_compound {
    include!("../../../fuzz/bodies/rtcp_compound.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

mod depacketize {
    include!("../../../fuzz/bodies/depacketize.rs");
    pub fn entry(data: &[u8]) {
        run(data)
    }
}

fn replay(target: &str, f: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            f(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus in {}", dir.display());
}

#[test]
fn rtp_packet_corpus() {
    replay("rtp_packet", rtp_packet::entry);
}

#[test]
fn rtcp_compound_corpus() {
    replay("rtcp_compound", rtcp_compound::entry);
}

#[test]
fn depacketize_corpus() {
    replay("depacketize", depacketize::entry);
}
