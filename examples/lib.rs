//! Runnable examples of the Fulmar WebRTC stack; see the `[[example]]` entries
//! in this package's `Cargo.toml` and the repository README.
