//! Criterion benches comparing Fulmar's hot paths with other Rust WebRTC
//! stacks in the same run; see `benches/*.rs` and run `cargo bench` here.
