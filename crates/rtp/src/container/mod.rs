//! Media containers for depacketized frames: IVF (VP8, VP9, AV1), H.264
//! Annex-B byte streams, and Ogg Opus (RFC 3533, RFC 7845).
//!
//! Readers borrow the file bytes (`&[u8]`); writers take any `std::io::Write`.

pub mod annexb;
pub mod ivf;
pub mod ogg;
