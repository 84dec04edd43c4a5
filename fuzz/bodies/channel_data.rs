// Body of the `channel_data` fuzz target, shared with fulmar-stun's
// tests/fuzz_corpus.rs: parse any bytes as TURN ChannelData and check that
// re-encoding round-trips.

fn run(data: &[u8]) {
    let _ = fulmar_stun::channel_data::frame_len(data);
    let Ok(cd) = fulmar_stun::ChannelData::parse(data) else {
        return;
    };
    for padded in [false, true] {
        let mut out = vec![0u8; cd.encoded_len(padded)];
        let n = cd.encode(&mut out, padded);
        assert_eq!(n, Ok(out.len()));
        let back = fulmar_stun::ChannelData::parse(&out);
        assert_eq!(back, Ok(cd));
    }
}
