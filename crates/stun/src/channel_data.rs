//! TURN ChannelData messages (RFC 8656 §12.4): a 4-byte header (channel
//! number, length) in front of application data, used instead of Send and
//! Data indications once a channel is bound.

use crate::message::pad4;
use crate::Error;

/// Lowest valid channel number (RFC 8656 §12).
pub const MIN_CHANNEL: u16 = 0x4000;
/// Highest valid channel number (RFC 8656 §12).
pub const MAX_CHANNEL: u16 = 0x4FFF;
/// Size of the ChannelData header.
pub const CHANNEL_DATA_HEADER_LEN: usize = 4;

/// Highest channel number of RFC 5766 §11 (0x4000..=0x7FFE), which RFC 8656
/// narrowed to leave 0x50..=0x7F free for RFC 7983 demultiplexing. RFC 5766
/// clients (coturn's `turnutils_uclient` among them) still pick from it.
pub const MAX_LEGACY_CHANNEL: u16 = 0x7FFE;

/// True if `n` is a valid channel number, 0x4000..=0x4FFF.
pub const fn is_valid_channel(n: u16) -> bool {
    ChannelRange::Rfc8656.contains(n)
}

/// The channel numbers a side accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChannelRange {
    /// 0x4000..=0x4FFF (RFC 8656 §12): what a client uses, and what any
    /// endpoint that shares its 5-tuple with DTLS or RTP must use.
    #[default]
    Rfc8656,
    /// 0x4000..=0x7FFE (RFC 5766 §11): what a TURN server accepts from
    /// clients, where nothing else shares the 5-tuple.
    Rfc5766,
}

impl ChannelRange {
    /// The highest channel number of the range.
    pub const fn max(self) -> u16 {
        match self {
            ChannelRange::Rfc8656 => MAX_CHANNEL,
            ChannelRange::Rfc5766 => MAX_LEGACY_CHANNEL,
        }
    }

    /// True if `n` is in the range.
    pub const fn contains(self, n: u16) -> bool {
        n >= MIN_CHANNEL && n <= self.max()
    }

    /// True if a message starting with `first` may be ChannelData of this
    /// range (0x40..=0x4F, or 0x40..=0x7F for RFC 5766).
    pub const fn first_byte(self, first: u8) -> bool {
        first >= 0x40 && first <= (self.max() >> 8) as u8
    }
}

/// A ChannelData message: a borrowed view on receive, or the parts to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    channel: u16,
    data: &'a [u8],
}

/// The full frame length (header, data and padding to 4) of the ChannelData
/// message starting at `buf`, for framing over TCP/TLS where padding is
/// mandatory (RFC 8656 §12.5); `None` with fewer than 4 bytes or a first byte
/// outside 0x40..=0x4F.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    frame_len_in(buf, ChannelRange::Rfc8656)
}

/// [`frame_len`] for the channel numbers of `range`.
pub fn frame_len_in(buf: &[u8], range: ChannelRange) -> Option<usize> {
    let h = buf.get(..4)?;
    if !range.first_byte(h[0]) {
        return None;
    }
    Some(CHANNEL_DATA_HEADER_LEN + pad4(usize::from(u16::from_be_bytes([h[2], h[3]]))))
}

impl<'a> ChannelData<'a> {
    /// A message for `channel` carrying `data`; checks the channel number and
    /// that `data` fits in the 16-bit length.
    pub fn new(channel: u16, data: &'a [u8]) -> Result<Self, Error> {
        Self::new_in(channel, data, ChannelRange::Rfc8656)
    }

    /// [`ChannelData::new`] for the channel numbers of `range`.
    pub fn new_in(channel: u16, data: &'a [u8], range: ChannelRange) -> Result<Self, Error> {
        if !range.contains(channel) {
            return Err(Error::InvalidChannelNumber(channel));
        }
        if data.len() > usize::from(u16::MAX) {
            return Err(Error::InvalidValue("ChannelData longer than 65535 bytes"));
        }
        Ok(ChannelData { channel, data })
    }

    /// Parse one ChannelData message from a datagram (or a TCP frame from
    /// [`frame_len`]). Up to 3 bytes of trailing padding are accepted; the
    /// channel number must be in 0x4000..=0x4FFF.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        Self::parse_in(buf, ChannelRange::Rfc8656)
    }

    /// [`ChannelData::parse`] for the channel numbers of `range`.
    pub fn parse_in(buf: &'a [u8], range: ChannelRange) -> Result<Self, Error> {
        let h = buf.get(..CHANNEL_DATA_HEADER_LEN).ok_or(Error::Truncated {
            needed: CHANNEL_DATA_HEADER_LEN,
            available: buf.len(),
        })?;
        let channel = u16::from_be_bytes([h[0], h[1]]);
        if !range.contains(channel) {
            return Err(Error::InvalidChannelNumber(channel));
        }
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let body = &buf[CHANNEL_DATA_HEADER_LEN..];
        let data = body.get(..len).ok_or(Error::LengthMismatch {
            declared: len,
            available: body.len(),
        })?;
        if body.len() - len > 3 {
            return Err(Error::LengthMismatch {
                declared: len,
                available: body.len(),
            });
        }
        Ok(ChannelData { channel, data })
    }

    /// The channel number.
    pub fn channel_number(&self) -> u16 {
        self.channel
    }

    /// The application data.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Bytes [`ChannelData::encode`] writes; `padded` rounds up to a multiple
    /// of 4 (required over TCP, optional over UDP).
    pub fn encoded_len(&self, padded: bool) -> usize {
        let n = CHANNEL_DATA_HEADER_LEN + self.data.len();
        if padded {
            pad4(n)
        } else {
            n
        }
    }

    /// Write the message into `out`; returns the number of bytes written.
    pub fn encode(&self, out: &mut [u8], padded: bool) -> Result<usize, Error> {
        let n = self.encoded_len(padded);
        let available = out.len();
        let o = out.get_mut(..n).ok_or(Error::BufferTooSmall {
            needed: n,
            available,
        })?;
        // The channel number was checked when the message was made.
        o[..2].copy_from_slice(&self.channel.to_be_bytes());
        o[2..4].copy_from_slice(&(self.data.len() as u16).to_be_bytes());
        let end = CHANNEL_DATA_HEADER_LEN + self.data.len();
        o[CHANNEL_DATA_HEADER_LEN..end].copy_from_slice(self.data);
        o[end..].fill(0);
        Ok(n)
    }
}

/// Write only the 4-byte header for `data_len` bytes of data that the caller
/// places (or already placed) at `out[4..]`: framing in place, without a copy.
pub fn write_header(channel: u16, data_len: usize, out: &mut [u8]) -> Result<(), Error> {
    if !is_valid_channel(channel) {
        return Err(Error::InvalidChannelNumber(channel));
    }
    let len = u16::try_from(data_len)
        .map_err(|_| Error::InvalidValue("ChannelData longer than 65535 bytes"))?;
    let available = out.len();
    let h = out
        .get_mut(..CHANNEL_DATA_HEADER_LEN)
        .ok_or(Error::BufferTooSmall {
            needed: CHANNEL_DATA_HEADER_LEN,
            available,
        })?;
    h[..2].copy_from_slice(&channel.to_be_bytes());
    h[2..].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_channel_range() {
        let wide = ChannelRange::Rfc5766;
        let mut out = [0u8; 16];
        let n = ChannelData::new_in(0x7FFE, b"abcde", wide)
            .unwrap()
            .encode(&mut out, true)
            .unwrap();
        assert_eq!(&out[..n], b"\x7f\xfe\x00\x05abcde\0\0\0");
        let cd = ChannelData::parse_in(&out[..n], wide).unwrap();
        assert_eq!((cd.channel_number(), cd.data()), (0x7FFE, &b"abcde"[..]));
        assert_eq!(frame_len_in(&out, wide), Some(12));
        // Outside RFC 8656's range unless asked for.
        assert!(ChannelData::parse(&out[..n]).is_err());
        assert!(ChannelData::new(0x7FFE, b"").is_err());
        assert_eq!(frame_len(&out), None);
        assert!(ChannelData::parse_in(b"\x7f\xff\x00\x00", wide).is_err());
        assert!(ChannelData::parse_in(b"\x40\x00\x00\x01abcde", wide).is_err());
        assert!(ChannelData::parse_in(b"\x40\x00\x00\x05ab", wide).is_err());
        assert!(wide.first_byte(0x7F) && !wide.first_byte(0x80) && !wide.first_byte(0x3F));
        assert!(ChannelRange::Rfc8656.first_byte(0x4F) && !ChannelRange::Rfc8656.first_byte(0x50));
    }

    #[test]
    fn round_trip_padded_and_not() {
        let cd = ChannelData::new(0x4001, b"hello").unwrap();
        let mut buf = [0xAAu8; 16];
        let n = cd.encode(&mut buf, false).unwrap();
        assert_eq!(&buf[..n], b"\x40\x01\x00\x05hello");
        assert_eq!(ChannelData::parse(&buf[..n]).unwrap(), cd);
        let n = cd.encode(&mut buf, true).unwrap();
        assert_eq!(&buf[..n], b"\x40\x01\x00\x05hello\0\0\0");
        assert_eq!(ChannelData::parse(&buf[..n]).unwrap(), cd);
        assert_eq!(frame_len(&buf), Some(12));
    }

    #[test]
    fn malformed() {
        assert_eq!(
            ChannelData::parse(b"\x40\x01\x00"),
            Err(Error::Truncated {
                needed: 4,
                available: 3
            })
        );
        assert_eq!(
            ChannelData::parse(b"\x50\x00\x00\x00"),
            Err(Error::InvalidChannelNumber(0x5000))
        );
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00\x05abc"),
            Err(Error::LengthMismatch {
                declared: 5,
                available: 3
            })
        );
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00\x01abcde"),
            Err(Error::LengthMismatch {
                declared: 1,
                available: 5
            })
        );
        assert_eq!(
            ChannelData::new(0x3FFF, b""),
            Err(Error::InvalidChannelNumber(0x3FFF))
        );
        let mut small = [0u8; 5];
        assert!(matches!(
            ChannelData::new(0x4000, b"abcd")
                .unwrap()
                .encode(&mut small, false),
            Err(Error::BufferTooSmall {
                needed: 8,
                available: 5
            })
        ));
    }
}
