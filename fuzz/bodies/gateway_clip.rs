/// Arbitrary files into the gateway's clip readers (then played for a few
/// frames), and arbitrary frames into its recorder (then read back). The
/// first byte picks: 0 IVF clip, 1 Ogg Opus clip, else a recording whose
/// codec comes from the second byte and whose frames are cut from the rest
/// as [len, keyframe flag, timestamp step, bytes...].
fn run(data: &[u8]) {
    use fulmar_gateway::clip::{Clip, Player};
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let clip = match sel % 3 {
        0 => Clip::from_ivf(rest),
        1 => Clip::from_ogg_opus(rest),
        _ => return record(rest),
    };
    if let Ok(clip) = clip {
        assert!(!clip.frames().is_empty());
        let start = std::time::Instant::now();
        let mut p = Player::new(std::sync::Arc::new(clip), start, 0);
        for _ in 0..8 {
            let at = p.poll_timeout();
            assert!(p.poll_frame(at).is_some());
        }
    }
}

fn record(data: &[u8]) {
    use fulmar_gateway::clip::Clip;
    use fulmar_gateway::recorder::Recorder;
    use fulmar_rtp::Codec;
    let Some((&c, mut rest)) = data.split_first() else {
        return;
    };
    let codec = [Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::H264, Codec::Opus][usize::from(c % 5)];
    let Ok(mut r) = Recorder::new(std::io::Cursor::new(Vec::new()), codec) else {
        return;
    };
    let mut ts = 0u32;
    while let [len, flags, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        ts = ts.wrapping_add(u32::from(flags >> 1) * 3000);
        let _ = r.write_frame(ts, flags & 1 != 0, frame);
    }
    let written = r.frames();
    let Ok((out, summary)) = r.finish() else {
        return;
    };
    assert_eq!(summary.frames, written);
    let file = out.map(|c| c.into_inner()).unwrap_or_default();
    // What the recorder wrote reads back with the same number of frames.
    match codec {
        Codec::Opus => {
            let clip = Clip::from_ogg_opus(&file);
            assert_eq!(clip.map(|c| c.frames().len() as u64).unwrap_or(0), written);
        }
        Codec::H264 => {}
        _ if written > 0 => {
            let reader = fulmar_rtp::container::ivf::IvfReader::new(&file);
            assert!(reader.is_ok());
            let frames = reader.map(|r| r.filter(|f| f.is_ok()).count()).unwrap_or(0);
            assert_eq!(frames as u64, written);
        }
        _ => {}
    }
}
