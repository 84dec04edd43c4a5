//! The RTP header of a send stream, laid out once per negotiation and
//! patched per packet: the fixed fields, then the `mid`, abs-send-time and
//! transport-wide sequence number elements (RFC 8285), exactly the bytes
//! [`RtpRepr::emit_header`] writes for the same values, without building
//! and measuring the extension anew for every packet.

use fulmar_rtp::packet::FIXED_HEADER_LEN;
use fulmar_rtp::{ExtensionProfile, HeaderExtension, HeaderExtensionElement, RtpRepr};

/// Room for the longest header a send stream writes: the fixed part, the
/// extension header and at most three elements (a 16-byte `mid`,
/// abs-send-time, transport-wide sequence number), 44 bytes even in the
/// two-byte form.
const MAX_HEADER_LEN: usize = 64;

/// A send stream's RTP header with the places of its per-packet values.
#[derive(Debug, Clone)]
pub(crate) struct HeaderTemplate {
    bytes: [u8; MAX_HEADER_LEN],
    len: usize,
    /// Where the 3 bytes of abs-send-time go, when negotiated.
    abs_send_time: Option<usize>,
    /// Where the 2 bytes of the transport-wide sequence number go, when negotiated.
    transport_cc: Option<usize>,
}

impl HeaderTemplate {
    /// The header with the `mid` element (id and value), and abs-send-time
    /// and transport-wide sequence number elements when they have ids, in
    /// that order; `None` if it does not fit (it always does).
    pub(crate) fn new(
        mid: Option<(u8, &[u8])>,
        abs_send_time: Option<u8>,
        transport_cc: Option<u8>,
    ) -> Option<Self> {
        let placeholder = [0u8; 3];
        let mut els = [HeaderExtensionElement { id: 0, data: &[] }; 3];
        let mut n = 0;
        let mut push = |id: u8, data| {
            let i = n;
            if let Some(e) = els.get_mut(i) {
                *e = HeaderExtensionElement { id, data };
                n += 1;
            }
            i
        };
        let _ = mid.map(|(id, m)| push(id, m));
        let abs = abs_send_time.map(|id| push(id, &placeholder[..]));
        let tcc = transport_cc.map(|id| push(id, &placeholder[..2]));
        let els = els.get(..n)?;
        let repr = RtpRepr {
            extension: if els.is_empty() {
                HeaderExtension::None
            } else {
                HeaderExtension::Elements(els)
            },
            ..Default::default()
        };
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let len = repr.emit_header(&mut bytes).ok()?;
        // RFC 8285 §4.2, §4.3: after the 4-byte extension header, each
        // element is its id and length (one byte or two), then its data.
        let per = match ExtensionProfile::choose(els) {
            ExtensionProfile::OneByte => 1,
            ExtensionProfile::TwoByte => 2,
        };
        let mut at = FIXED_HEADER_LEN + 4;
        let mut data_at = [0usize; 3];
        for (slot, e) in data_at.iter_mut().zip(els) {
            *slot = at + per;
            at += per + e.data.len();
        }
        Some(HeaderTemplate {
            bytes,
            len,
            abs_send_time: abs.and_then(|i| data_at.get(i).copied()),
            transport_cc: tcc.and_then(|i| data_at.get(i).copied()),
        })
    }

    /// True when the header carries abs-send-time.
    pub(crate) fn has_abs_send_time(&self) -> bool {
        self.abs_send_time.is_some()
    }

    /// True when the header carries a transport-wide sequence number.
    pub(crate) fn has_transport_cc(&self) -> bool {
        self.transport_cc.is_some()
    }

    /// Appends the header of one packet to `out` (payload type at most 127).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write(
        &self,
        out: &mut Vec<u8>,
        marker: bool,
        payload_type: u8,
        sequence_number: u16,
        timestamp: u32,
        ssrc: u32,
        abs_send_time: [u8; 3],
        transport_cc: u16,
    ) {
        let mut h = self.bytes;
        h[1] = (u8::from(marker) << 7) | (payload_type & 0x7f);
        h[2..4].copy_from_slice(&sequence_number.to_be_bytes());
        h[4..8].copy_from_slice(&timestamp.to_be_bytes());
        h[8..12].copy_from_slice(&ssrc.to_be_bytes());
        if let Some(d) = self.abs_send_time.and_then(|at| h.get_mut(at..at + 3)) {
            d.copy_from_slice(&abs_send_time);
        }
        if let Some(d) = self.transport_cc.and_then(|at| h.get_mut(at..at + 2)) {
            d.copy_from_slice(&transport_cc.to_be_bytes());
        }
        out.extend_from_slice(h.get(..self.len).unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `RtpRepr::emit_header` writes for the same packet.
    #[allow(clippy::too_many_arguments)]
    fn emitted(
        mid: Option<(u8, &[u8])>,
        abs: Option<u8>,
        tcc: Option<u8>,
        marker: bool,
        pt: u8,
        seq: u16,
        ts: u32,
        ssrc: u32,
        abs_value: [u8; 3],
        tcc_value: u16,
    ) -> Vec<u8> {
        let tcc_bytes = tcc_value.to_be_bytes();
        let mut els = Vec::new();
        if let Some((id, m)) = mid {
            els.push(HeaderExtensionElement { id, data: m });
        }
        if let Some(id) = abs {
            els.push(HeaderExtensionElement {
                id,
                data: &abs_value,
            });
        }
        if let Some(id) = tcc {
            els.push(HeaderExtensionElement {
                id,
                data: &tcc_bytes,
            });
        }
        let repr = RtpRepr {
            marker,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            extension: if els.is_empty() {
                HeaderExtension::None
            } else {
                HeaderExtension::Elements(&els)
            },
            ..Default::default()
        };
        let mut b = vec![0u8; 128];
        let n = repr.emit_header(&mut b).unwrap();
        b.truncate(n);
        b
    }

    #[test]
    fn same_bytes_as_rtp_repr() {
        let mids: [Option<(u8, &[u8])>; 5] = [
            None,
            Some((1, b"0")),
            Some((3, b"video")),
            Some((14, b"0123456789abcdef")),
            Some((4, b"x")),
        ];
        let ids = [None, Some(2), Some(5), Some(14)];
        let mut seed = 0x1234_5678u32;
        for mid in mids {
            for abs in ids {
                for tcc in ids {
                    let t = HeaderTemplate::new(mid, abs, tcc).unwrap();
                    assert_eq!(t.has_abs_send_time(), abs.is_some());
                    assert_eq!(t.has_transport_cc(), tcc.is_some());
                    for _ in 0..8 {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        let (marker, pt) = (seed & 1 == 1, (seed >> 1) as u8 & 0x7f);
                        let (seq, ts, ssrc) = ((seed >> 7) as u16, seed.rotate_left(9), !seed);
                        let abs_value = [seed as u8, (seed >> 8) as u8, (seed >> 16) as u8];
                        let tcc_value = (seed >> 3) as u16;
                        let mut out = vec![0xaa];
                        t.write(&mut out, marker, pt, seq, ts, ssrc, abs_value, tcc_value);
                        let want = emitted(
                            mid, abs, tcc, marker, pt, seq, ts, ssrc, abs_value, tcc_value,
                        );
                        assert_eq!(out[1..], want[..], "{mid:?} {abs:?} {tcc:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn two_byte_form_when_an_id_needs_it() {
        // Id 15 is reserved in the one-byte form (RFC 8285 §4.2).
        let t = HeaderTemplate::new(Some((15, b"a")), Some(20), Some(2)).unwrap();
        let mut out = Vec::new();
        t.write(&mut out, true, 96, 7, 9, 11, [1, 2, 3], 0x0405);
        let want = emitted(
            Some((15, b"a")),
            Some(20),
            Some(2),
            true,
            96,
            7,
            9,
            11,
            [1, 2, 3],
            0x0405,
        );
        assert_eq!(out, want);
    }
}
