#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_ordered(data));
include!("../bodies/sctp_association.rs");
