// Shared by the candidate-parsing fuzz bodies (included after their `run`).

/// Checks that `written`, a parsed candidate `c` written back, parsed again
/// (`again`) to the same candidate. The one documented exception: an
/// IPv4-mapped IPv6 address (connection address or raddr) is written back
/// up to 4 bytes longer, which can push a value at `max_len` over it.
fn check_written_candidate<C, E>(c: &C, written: &str, again: Result<C, E>, max_len: usize)
where
    C: PartialEq + std::fmt::Debug,
    E: std::fmt::Display,
{
    let value_len = written.len() - "candidate:".len();
    match again {
        Ok(back) => assert_eq!(&back, c, "{written:?}"),
        Err(_) if value_len > max_len => {
            assert!(value_len <= max_len + 8, "grew too much: {written:?}");
            assert!(written.contains("::ffff:"), "grew without a mapped address: {written:?}");
        }
        Err(e) => panic!("written candidate does not parse: {written:?}: {e}"),
    }
}
