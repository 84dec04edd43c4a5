//! Framing of STUN messages and ChannelData over a byte stream (TCP or TLS
//! to the TURN server): each frame is a STUN message (length from its
//! header, RFC 8489 §6.2.2) or a ChannelData message padded to a multiple of
//! four bytes (RFC 8656 §12.5).

use fulmar_stun::channel_data::{frame_len_in, ChannelRange};
use fulmar_stun::{classify_in, message_len, PacketKind, MAX_MESSAGE_LEN};

use crate::Error;

/// The largest frame: a STUN message of 65535 body bytes plus its header.
pub const MAX_FRAME_LEN: usize = MAX_MESSAGE_LEN;

/// Splits a received byte stream into STUN and ChannelData frames.
///
/// Push bytes as they arrive with [`StreamFramer::push`], then take whole
/// frames with [`StreamFramer::next_frame`] and hand each to the client or
/// server as if it were a datagram (mutable, for a receiver that opens it
/// in place, as a peer connection decrypts DTLS). Memory is bounded: at most one partial
/// frame ([`MAX_FRAME_LEN`]) plus one push is held.
///
/// ```
/// use fulmar_turn::StreamFramer;
/// let mut f = StreamFramer::new();
/// // A ChannelData message (channel 0x4000, 5 bytes, padded to 12) in two pieces.
/// f.push(b"\x40\x00\x00\x05he");
/// assert_eq!(f.next_frame()?, None);
/// f.push(b"llo\0\0\0");
/// assert_eq!(f.next_frame()?.as_deref(), Some(&b"\x40\x00\x00\x05hello\0\0\0"[..]));
/// # Ok::<(), fulmar_turn::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    start: usize,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not form a whole frame yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed, or
    /// [`Error::FramingLost`] when the stream carries something that is
    /// neither STUN nor ChannelData (the connection must then be closed).
    pub fn next_frame(&mut self) -> Result<Option<&mut [u8]>, Error> {
        let rest = &self.buf[self.start..];
        let Some(len) = frame_len(rest)? else {
            return Ok(None); // fewer than 4 bytes
        };
        if rest.len() < len {
            return Ok(None);
        }
        let s = self.start;
        self.start += len;
        Ok(self.buf.get_mut(s..s + len))
    }
}

/// The length of the frame starting at `buf`: `Ok(None)` with fewer than 4
/// bytes, [`Error::FramingLost`] when it is neither STUN nor ChannelData. A
/// TURN stream carries only those two, with RFC 5766's channel numbers
/// too, as a server accepts them.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, Error> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    match classify_in(buf, ChannelRange::Rfc5766) {
        PacketKind::Stun => Ok(message_len(buf)),
        PacketKind::ChannelData => Ok(frame_len_in(buf, ChannelRange::Rfc5766)),
        _ => Err(Error::FramingLost(first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_loses_framing() {
        let mut f = StreamFramer::new();
        f.push(b"\x80abc");
        assert_eq!(f.next_frame().map(|_| ()), Err(Error::FramingLost(0x80)));
    }

    #[test]
    fn stun_header_split() {
        let mut f = StreamFramer::new();
        let msg = [
            0u8, 1, 0, 4, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x80,
            0x22, 0, 0,
        ];
        f.push(&msg[..3]);
        assert_eq!(f.next_frame(), Ok(None));
        f.push(&msg[3..]);
        assert_eq!(f.next_frame().unwrap().as_deref(), Some(&msg[..]));
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), 0);
    }
}
