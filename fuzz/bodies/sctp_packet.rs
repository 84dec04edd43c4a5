// Body of the `sctp_packet` fuzz target (shared with fulmar-sctp's
// tests/fuzz_corpus.rs): parse any bytes as an SCTP packet, walk every chunk
// and every parameter list, and check that each parsed chunk re-encodes to
// bytes that parse back to the same chunk.

fn run(data: &[u8]) {
    use fulmar_sctp::{Chunk, Packet};
    let Ok(pkt) = Packet::parse(data) else {
        return;
    };
    let _ = pkt.verify_checksum(true);
    let _ = (pkt.source_port(), pkt.destination_port(), pkt.verification_tag());
    for chunk in pkt.chunks() {
        let Ok(chunk) = chunk else { break };
        match &chunk {
            Chunk::Init(i) | Chunk::InitAck(i) => for _ in i.params.iter() {},
            Chunk::Abort { causes, .. } | Chunk::Error { causes } => for _ in causes.iter() {},
            Chunk::ReConfig { params } => {
                for p in params.iter() {
                    if let Ok(fulmar_sctp::ReconfigParam::OutgoingSsnResetRequest { streams, .. }) = p {
                        for _ in streams.iter() {}
                    }
                }
            }
            Chunk::Sack(s) => {
                let _ = s.gap_blocks.iter().count() + s.duplicate_tsns.iter().count();
            }
            Chunk::ForwardTsn(f) => for _ in f.streams.iter() {},
            _ => {}
        }
        if matches!(chunk, Chunk::Unknown(_)) {
            continue;
        }
        let mut out = Vec::new();
        chunk.emit(&mut out);
        assert_eq!(out.len(), chunk.encoded_len());
        let (back, _) = Chunk::parse(&out).expect("re-encoded chunk parses");
        assert_eq!(back, chunk);
    }
}
