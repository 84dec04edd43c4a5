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
