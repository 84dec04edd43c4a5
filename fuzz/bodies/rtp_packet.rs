/// Parses arbitrary bytes as RTP, walks every field and extension, and
/// checks that re-emitting the parsed meaning reproduces the input.
fn run(data: &[u8]) {
    let Ok(p) = fulmar_rtp::RtpPacket::new_checked(data) else { return };
    let _ = (p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc());
    let _ = p.csrcs().count();
    for e in p.extensions().flatten() {
        use fulmar_rtp::extension::*;
        let _ = AbsSendTime::parse(e.data);
        let _ = TransportSequenceNumber::parse(e.data);
        let _ = AudioLevel::parse(e.data);
        let _ = VideoOrientation::parse(e.data);
        let _ = PlayoutDelay::parse(e.data);
        let _ = AbsCaptureTime::parse(e.data);
        let _ = SdesMid::parse(e.data);
    }
    let mut csrcs = [0u32; 15];
    let repr = fulmar_rtp::RtpRepr::parse(&p, &mut csrcs);
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut out).unwrap_or(0);
    // Padding octets other than the count are not covered (written as zero).
    let keep = data.len() - p.padding_len();
    assert_eq!(n, data.len(), "RTP re-emitted length differs");
    assert_eq!(&out[..keep], &data[..keep], "RTP write(parse(b)) != b");
}
