//! Unit tests of the private codecs, the reassembler and the peer-key
//! verification, with fixtures from tests/fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chromium_fixture;
mod peer_keys;
mod proptest_codecs;
