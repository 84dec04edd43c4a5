// Fuzz body: arbitrary text through the RFC 8839 candidate parser; what
// parses must write back to a line that parses to the same candidate.

fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = fulmar_ice::Candidate::parse(text) {
        let line = c.to_string();
        match fulmar_ice::Candidate::parse(&line) {
            Ok(back) => assert_eq!(back.to_string(), line),
            Err(e) => panic!("written candidate does not parse: {line:?}: {e}"),
        }
    }
}
