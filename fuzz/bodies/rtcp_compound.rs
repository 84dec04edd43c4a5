/// Walks an arbitrary compound RTCP packet, converts each packet to its
/// owned form, re-emits it and checks it parses back to the same meaning.
fn run(data: &[u8]) {
    use fulmar_rtp::rtcp::{check_compound, CompoundIter, RtcpRepr};
    let _ = check_compound(data, false);
    for packet in CompoundIter::new(data).flatten() {
        let Some(repr) = RtcpRepr::parse(&packet) else { continue };
        // One write/parse normalises what the wire cannot carry (e.g. REMB
        // precision); from then on parse(write(x)) == x must hold.
        let Some(norm) = reemit(&repr) else { continue };
        assert_eq!(reemit(&norm).as_ref(), Some(&norm), "RTCP parse(write(x)) != x");
    }
}

fn reemit(repr: &fulmar_rtp::rtcp::RtcpRepr) -> Option<fulmar_rtp::rtcp::RtcpRepr> {
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut out).ok()?;
    let p = fulmar_rtp::rtcp::CompoundIter::new(&out[..n]).next()?.ok()?;
    fulmar_rtp::rtcp::RtcpRepr::parse(&p)
}
