//! RTP retransmission payload format (RFC 4588 §4): the retransmission
//! packet carries the original sequence number (OSN) before the original
//! payload, on its own SSRC, payload type and sequence space.

use crate::packet::RtpPacket;
use crate::{Error, Result};

/// Writes the RTX packet for `original` into `out`: same header fields
/// (timestamp, marker, CSRCs, header extension), then `rtx_payload_type`,
/// `rtx_sequence_number`, `rtx_ssrc`, and the payload prefixed with the
/// original sequence number. Padding is dropped. Returns the length.
pub fn rtx_wrap<T: AsRef<[u8]>>(
    original: &RtpPacket<T>,
    rtx_payload_type: u8,
    rtx_ssrc: u32,
    rtx_sequence_number: u16,
    out: &mut [u8],
) -> Result<usize> {
    let bytes = original.as_bytes();
    let hlen = original.header_len();
    let payload = original.payload();
    let total = hlen + 2 + payload.len();
    crate::wire::need(out, total)?;
    out[..hlen].copy_from_slice(&bytes[..hlen]);
    out[0] &= !0x20; // no padding
    out[1] = (out[1] & 0x80) | (rtx_payload_type & 0x7f);
    out[2..4].copy_from_slice(&rtx_sequence_number.to_be_bytes());
    out[8..12].copy_from_slice(&rtx_ssrc.to_be_bytes());
    out[hlen..hlen + 2].copy_from_slice(&original.sequence_number().to_be_bytes());
    out[hlen + 2..total].copy_from_slice(payload);
    Ok(total)
}

/// Restores the original packet from an RTX packet into `out`, with the
/// original payload type and SSRC. Returns the length.
pub fn rtx_unwrap<T: AsRef<[u8]>>(
    rtx: &RtpPacket<T>,
    original_payload_type: u8,
    original_ssrc: u32,
    out: &mut [u8],
) -> Result<usize> {
    let bytes = rtx.as_bytes();
    let hlen = rtx.header_len();
    let payload = rtx.payload();
    let [a, b, rest @ ..] = payload else {
        return Err(Error::Truncated("RTX original sequence number"));
    };
    let total = hlen + rest.len();
    crate::wire::need(out, total)?;
    out[..hlen].copy_from_slice(&bytes[..hlen]);
    out[0] &= !0x20;
    out[1] = (out[1] & 0x80) | (original_payload_type & 0x7f);
    out[2..4].copy_from_slice(&[*a, *b]);
    out[8..12].copy_from_slice(&original_ssrc.to_be_bytes());
    out[hlen..total].copy_from_slice(rest);
    Ok(total)
}
