#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
include!("../bodies/signal_message.rs");
