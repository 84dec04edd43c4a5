// Body of the `dtls_record` fuzz target: DTLS record framing, handshake
// fragments, every handshake message parser and the reassembler, reached
// through fulmar-dtls's hidden fuzzing hook (those modules are private).

fn run(data: &[u8]) {
    fulmar_dtls::fuzzing::parse_datagram(data);
}
