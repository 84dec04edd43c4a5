/// Feeds arbitrary bytes, cut into RTP-like packets, through the frame
/// assembler of every codec. Layout per packet: 1 byte length, 1 byte flags
/// (marker, sequence skip, timestamp step), then the payload.
fn run(data: &[u8]) {
    for codec in fulmar_rtp::Codec::ALL {
        let mut a = fulmar_rtp::FrameAssembler::new(codec.depacketizer(), 64);
        a.set_max_reorder(8);
        let mut rest = data;
        let (mut seq, mut ts) = (65530u16, 0u32);
        while let [len, flags, tail @ ..] = rest {
            let n = usize::from(*len).min(tail.len());
            let (payload, r) = tail.split_at(n);
            rest = r;
            seq = seq.wrapping_add(u16::from(flags & 0x0f)).wrapping_sub(4);
            ts = ts.wrapping_add(u32::from(flags >> 5) * 3000);
            a.push(seq, ts, flags & 0x10 != 0, payload);
            while let Some(f) = a.poll_frame() {
                assert!(f.data.len() <= fulmar_rtp::codec::MAX_FRAME_LEN + 2);
            }
        }
    }
}
