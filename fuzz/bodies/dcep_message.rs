// Body of the `dcep_message` fuzz target (shared with fulmar-datachannel's
// tests/fuzz_corpus.rs): parse any bytes as a DCEP message and check that a
// parsed message re-encodes to the same message.

fn run(data: &[u8]) {
    use fulmar_datachannel::DcepMessage;
    let Ok(msg) = DcepMessage::parse(data) else {
        return;
    };
    let mut out = Vec::new();
    msg.emit(&mut out).expect("parsed message re-encodes");
    assert_eq!(DcepMessage::parse(&out).expect("re-encoded message parses"), msg);
}
