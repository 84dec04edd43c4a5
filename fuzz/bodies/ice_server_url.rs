// Body of the `ice_server_url` fuzz target (shared with fulmar-turn's
// tests/fuzz_corpus.rs): any text as an ICE server URL; one that parses
// prints to a URL that parses to the same value.

fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(url) = fulmar_turn::IceServerUrl::parse(text) else { return };
    let printed = url.to_string();
    let again = fulmar_turn::IceServerUrl::parse(&printed).expect("a printed URL parses");
    assert_eq!(again, url, "{printed}");
}
