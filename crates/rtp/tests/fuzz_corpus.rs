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

include!("../../../fuzz/replay.rs");

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
