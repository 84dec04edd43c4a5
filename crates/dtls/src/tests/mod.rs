//! Unit tests of the private codecs, the reassembler and the peer-key
//! verification, with fixtures from tests/fixtures.

mod chromium_fixture;
mod peer_keys;
mod proptest_codecs;
