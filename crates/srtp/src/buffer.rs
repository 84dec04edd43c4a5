//! Growable packet buffers that protect/unprotect can resize.

/// A buffer holding one packet whose length protect and unprotect may change.
///
/// Implemented for `Vec<u8>` and `bytes::BytesMut`; keep spare capacity
/// (headroom for the SRTP trailer) to avoid reallocation per packet.
pub trait PacketBuffer {
    /// The packet bytes.
    fn packet_mut(&mut self) -> &mut [u8];
    /// The packet length.
    fn packet_len(&self) -> usize;
    /// Truncates or zero-extends the packet to `len` bytes.
    fn set_packet_len(&mut self, len: usize);
}

impl PacketBuffer for Vec<u8> {
    fn packet_mut(&mut self) -> &mut [u8] {
        self
    }
    fn packet_len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn set_packet_len(&mut self, len: usize) {
        if len <= self.len() {
            self.truncate(len);
        } else {
            self.resize(len, 0);
        }
    }
}

impl PacketBuffer for bytes::BytesMut {
    fn packet_mut(&mut self) -> &mut [u8] {
        self
    }
    fn packet_len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn set_packet_len(&mut self, len: usize) {
        if len <= self.len() {
            self.truncate(len);
        } else {
            self.resize(len, 0);
        }
    }
}
