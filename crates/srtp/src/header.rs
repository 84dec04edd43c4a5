//! The few RTP and RTCP header fields SRTP needs, read with bounds checks.
//!
//! This is deliberately minimal so that fulmar-srtp stands alone: full RTP
//! and RTCP parsing lives in fulmar-rtp.

use crate::Error;

/// Fixed RTP header length (RFC 3550 §5.1).
pub const RTP_FIXED_HEADER_LEN: usize = 12;
/// RTCP header plus sender SSRC: the part SRTCP leaves unencrypted (RFC 3711 §3.4).
pub const RTCP_HEADER_LEN: usize = 8;

/// The RTP header fields used by SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Sequence number (RFC 3550 §5.1).
    pub sequence_number: u16,
    /// Synchronization source.
    pub ssrc: u32,
    /// Header length in bytes: fixed header, CSRC list and header extension
    /// (RFC 3550 §5.3.1). SRTP encrypts what follows it.
    pub header_len: usize,
}

impl RtpHeader {
    /// Reads the header of the RTP packet `packet`, checking that the CSRC list
    /// and the header extension fit inside it.
    #[inline]
    pub fn parse(packet: &[u8]) -> Result<Self, Error> {
        let fixed: &[u8; RTP_FIXED_HEADER_LEN] = packet
            .get(..RTP_FIXED_HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Truncated {
                len: packet.len(),
                needed: RTP_FIXED_HEADER_LEN,
            })?;
        let version = fixed[0] >> 6;
        if version != 2 {
            return Err(Error::BadVersion(version));
        }
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let extension = fixed[0] & 0x10 != 0;
        let mut header_len = RTP_FIXED_HEADER_LEN + 4 * csrc_count;
        if extension {
            // 16-bit profile-defined field, then a 16-bit length in 32-bit words.
            let ext = packet
                .get(header_len..header_len + 4)
                .ok_or(Error::Truncated {
                    len: packet.len(),
                    needed: header_len + 4,
                })?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            header_len += 4 + 4 * words;
        }
        if header_len > packet.len() {
            return Err(Error::Truncated {
                len: packet.len(),
                needed: header_len,
            });
        }
        Ok(Self {
            sequence_number: u16::from_be_bytes([fixed[2], fixed[3]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
            header_len,
        })
    }
}

/// The RTCP header fields used by SRTCP: the SSRC of the first packet of a
/// compound packet (RFC 3711 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpHeader {
    /// Sender SSRC of the first RTCP packet.
    pub ssrc: u32,
}

impl RtcpHeader {
    /// Reads the first 8 bytes of the RTCP packet `packet`.
    pub fn parse(packet: &[u8]) -> Result<Self, Error> {
        let head: &[u8; RTCP_HEADER_LEN] = packet
            .get(..RTCP_HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Truncated {
                len: packet.len(),
                needed: RTCP_HEADER_LEN,
            })?;
        let version = head[0] >> 6;
        if version != 2 {
            return Err(Error::BadVersion(version));
        }
        Ok(Self {
            ssrc: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_header_with_csrcs_and_extension() {
        let mut p = vec![0x92, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        p.extend_from_slice(&[1, 1, 1, 1, 2, 2, 2, 2]); // two CSRCs
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0, 0]); // one-word extension
        p.extend_from_slice(b"payload");
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(h.sequence_number, 0x1234);
        assert_eq!(h.ssrc, 0xdead_beef);
        assert_eq!(h.header_len, 12 + 8 + 8);
    }

    #[test]
    fn rtp_header_bounds() {
        assert_eq!(
            RtpHeader::parse(&[0x80; 11]),
            Err(Error::Truncated {
                len: 11,
                needed: 12
            })
        );
        assert_eq!(RtpHeader::parse(&[0x40; 12]), Err(Error::BadVersion(1)));
        // CSRC count 15 but no CSRCs.
        assert_eq!(
            RtpHeader::parse(&[0x8f; 12]),
            Err(Error::Truncated {
                len: 12,
                needed: 72
            })
        );
        // Extension bit set, extension header missing.
        assert_eq!(
            RtpHeader::parse(&[0x90; 14]),
            Err(Error::Truncated {
                len: 14,
                needed: 16
            })
        );
        // Extension length pointing past the end.
        let mut p = vec![
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0xff, 0xff,
        ];
        p.extend_from_slice(&[0; 8]);
        assert_eq!(
            RtpHeader::parse(&p),
            Err(Error::Truncated {
                len: 24,
                needed: 16 + 4 * 0xffff
            })
        );
    }

    #[test]
    fn rtcp_header() {
        let p = [0x81, 0xc8, 0x00, 0x0d, 0x4d, 0x61, 0x72, 0x73];
        assert_eq!(RtcpHeader::parse(&p).unwrap().ssrc, 0x4d61_7273);
        assert!(matches!(
            RtcpHeader::parse(&p[..7]),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(RtcpHeader::parse(&[0; 8]), Err(Error::BadVersion(0)));
    }
}
