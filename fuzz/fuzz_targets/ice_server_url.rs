#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
include!("../bodies/ice_server_url.rs");
