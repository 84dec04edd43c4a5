#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
include!("../bodies/turnd_config.rs");
