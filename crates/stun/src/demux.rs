//! The RFC 7983 first-byte classifier: tells STUN, DTLS, RTP/RTCP, TURN
//! ChannelData and ZRTP apart when they share one UDP 5-tuple (RFC 7983 §7,
//! updating RFC 5764 §5.1.2).

use crate::channel_data::ChannelRange;

/// What kind of packet a datagram is, judged by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// First byte 0..=3: STUN.
    Stun,
    /// First byte 16..=19: ZRTP.
    Zrtp,
    /// First byte 20..=63: DTLS.
    Dtls,
    /// First byte 64..=79: TURN ChannelData.
    ChannelData,
    /// First byte 128..=191: RTP or RTCP.
    Rtp,
    /// Empty datagram or any other first byte: drop it.
    Unknown,
}

/// Classify a datagram by its first byte (RFC 7983 §7).
pub fn classify(datagram: &[u8]) -> PacketKind {
    classify_in(datagram, ChannelRange::Rfc8656)
}

/// [`classify`] where ChannelData may use the channel numbers of `range`: a
/// TURN server's client 5-tuples carry only STUN and ChannelData, so RFC
/// 5766's wider range (first bytes 0x40..=0x7F) is ChannelData there.
pub fn classify_in(datagram: &[u8], range: ChannelRange) -> PacketKind {
    match datagram.first() {
        Some(0..=3) => PacketKind::Stun,
        Some(16..=19) => PacketKind::Zrtp,
        Some(20..=63) => PacketKind::Dtls,
        Some(&b) if range.first_byte(b) => PacketKind::ChannelData,
        Some(128..=191) => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_first_byte() {
        assert_eq!(classify(&[]), PacketKind::Unknown);
        for b in 0..=255u8 {
            let want = match b {
                0..=3 => PacketKind::Stun,
                16..=19 => PacketKind::Zrtp,
                20..=63 => PacketKind::Dtls,
                64..=79 => PacketKind::ChannelData,
                128..=191 => PacketKind::Rtp,
                _ => PacketKind::Unknown,
            };
            assert_eq!(classify(&[b, 0, 0, 0]), want, "byte {b}");
        }
        assert_eq!(classify(&[0x10, 0x00]), PacketKind::Zrtp);
        assert_eq!(classify(&[22, 0xfe, 0xfd]), PacketKind::Dtls);
        assert_eq!(classify(&[0x80, 0x60]), PacketKind::Rtp);
    }

    #[test]
    fn legacy_channel_range_widens_only_channel_data() {
        for b in 0..=255u8 {
            let want = match b {
                0x40..=0x7F => PacketKind::ChannelData,
                _ => classify(&[b]),
            };
            assert_eq!(classify_in(&[b], ChannelRange::Rfc5766), want, "byte {b}");
        }
    }
}
