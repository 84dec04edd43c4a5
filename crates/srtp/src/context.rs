//! The SRTP/SRTCP context: keyed transforms plus per-SSRC state.

use crate::cipher::Transform;
use crate::header::{RtcpHeader, RtpHeader, RTCP_HEADER_LEN};
use crate::replay::{estimate_index, ReplayWindow};
use crate::{Error, PacketBuffer, ProtectionProfile, SessionKeys, SsrcMap};

/// Largest SRTCP index (31 bits, RFC 3711 §3.4).
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;
/// The E flag in the SRTCP trailer word (RFC 3711 §3.4).
const E_FLAG: u32 = 0x8000_0000;

/// Settings of a [`Context`]; build with [`Config::default`] and the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Replay window size in packets for SRTP and SRTCP (RFC 3711 §3.3.2),
    /// rounded up to a multiple of 64 and clamped to 64..=32768. Default 64.
    pub replay_window: usize,
    /// Most SSRCs the context keeps state for. Default 1024.
    pub max_streams: usize,
    /// Whether protected SRTCP is encrypted (E flag set, RFC 3711 §3.4) or only
    /// authenticated. Default true. Received SRTCP is handled either way.
    pub encrypt_rtcp: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            replay_window: 64,
            max_streams: 1024,
            encrypt_rtcp: true,
        }
    }
}

impl Config {
    /// Sets the replay window size in packets.
    pub fn with_replay_window(mut self, packets: usize) -> Self {
        self.replay_window = packets;
        self
    }

    /// Sets the largest number of SSRCs tracked.
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// Sets whether protected SRTCP packets are encrypted.
    pub fn with_encrypt_rtcp(mut self, encrypt: bool) -> Self {
        self.encrypt_rtcp = encrypt;
        self
    }
}

/// Per-SSRC cryptographic state (RFC 3711 §3.2.3).
#[derive(Debug, Clone)]
struct Stream {
    /// Highest SRTP index protected (ROC in the upper 32 bits).
    sent_highest: Option<u64>,
    /// Highest SRTP index received and the SRTP replay list.
    received: ReplayWindow,
    /// The next SRTCP index to send.
    next_srtcp_index: u32,
    /// The SRTCP replay list.
    received_rtcp: ReplayWindow,
}

impl Stream {
    fn new(config: &Config) -> Self {
        Self {
            sent_highest: None,
            received: ReplayWindow::new(config.replay_window),
            next_srtcp_index: 0,
            received_rtcp: ReplayWindow::new(config.replay_window),
        }
    }
}

/// An SRTP/SRTCP cryptographic context for one master key: it protects what a
/// sender emits, or unprotects what a receiver gets, for any number of SSRCs.
///
/// Keys are derived and ciphers keyed once at construction. Per-SSRC state
/// (rollover counter, replay windows, SRTCP index) is created on demand, up to
/// [`Config::max_streams`]; for received packets only once a packet has
/// authenticated, so forged packets cannot fill it. Protecting and unprotecting
/// keep separate state, but a context normally serves one direction: DTLS-SRTP
/// gives each direction its own master key (see [`crate::KeyingMaterial`]).
#[derive(Clone)]
pub struct Context {
    profile: ProtectionProfile,
    rtp: Transform,
    rtcp: Transform,
    config: Config,
    streams: Streams,
}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Context")
            .field("profile", &self.profile)
            .field("config", &self.config)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `profile` keyed with a master key and master salt
    /// (session keys derived per RFC 3711 §4.3 with key derivation rate 0).
    pub fn new(
        profile: ProtectionProfile,
        master_key: &[u8],
        master_salt: &[u8],
        config: Config,
    ) -> Result<Self, Error> {
        let srtp = SessionKeys::derive_srtp(profile, master_key, master_salt)?;
        let srtcp = SessionKeys::derive_srtcp(profile, master_key, master_salt)?;
        Self::from_session_keys(&srtp, &srtcp, config)
    }

    /// A context keyed directly with SRTP and SRTCP session keys of the same profile.
    pub fn from_session_keys(
        srtp: &SessionKeys,
        srtcp: &SessionKeys,
        config: Config,
    ) -> Result<Self, Error> {
        if srtp.profile() != srtcp.profile() {
            return Err(Error::ProfileMismatch);
        }
        Ok(Self {
            profile: srtp.profile(),
            rtp: Transform::new(srtp)?,
            rtcp: Transform::new(srtcp)?,
            config,
            streams: Streams::default(),
        })
    }

    /// The protection profile.
    pub fn profile(&self) -> ProtectionProfile {
        self.profile
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of SSRCs with state.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Drops the state of `ssrc` (after an RTCP BYE, say); returns whether it existed.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        self.streams.remove(ssrc)
    }

    /// The highest 48-bit SRTP index (`ROC * 2^16 + SEQ`) received from `ssrc`.
    pub fn received_index(&self, ssrc: u32) -> Option<u64> {
        self.streams.get(ssrc).and_then(|s| s.received.highest())
    }

    /// The highest 48-bit SRTP index protected for `ssrc`.
    pub fn sent_index(&self, ssrc: u32) -> Option<u64> {
        self.streams.get(ssrc).and_then(|s| s.sent_highest)
    }

    /// The SRTCP index the next protected SRTCP packet of `ssrc` will carry.
    pub fn next_srtcp_index(&self, ssrc: u32) -> u32 {
        self.streams.get(ssrc).map_or(0, |s| s.next_srtcp_index)
    }

    /// Sets the SRTCP index of the next protected SRTCP packet of `ssrc`
    /// (31 bits; larger values are masked).
    pub fn set_next_srtcp_index(&mut self, ssrc: u32, index: u32) -> Result<(), Error> {
        self.stream_mut(ssrc)?.next_srtcp_index = index & MAX_SRTCP_INDEX;
        Ok(())
    }

    fn stream_mut(&mut self, ssrc: u32) -> Result<&mut Stream, Error> {
        stream_entry(&mut self.streams, &self.config, ssrc)
    }

    /// Protects the RTP packet `buf[..len]` in place: encrypts the payload and
    /// appends the authentication tag. `buf` must have room for
    /// [`ProtectionProfile::rtp_overhead`] more bytes. Returns the SRTP length.
    #[inline]
    pub fn protect_rtp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let tag_len = self.profile.rtp_auth_tag_len();
        let needed = len.saturating_add(tag_len);
        if buf.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let header = RtpHeader::parse(&buf[..len])?;
        let stream = stream_entry(&mut self.streams, &self.config, header.ssrc)?;
        let index = estimate_index(stream.sent_highest, header.sequence_number)?;
        if stream.sent_highest.is_none_or(|h| index > h) {
            stream.sent_highest = Some(index);
        }
        Ok(self
            .rtp
            .protect_rtp(buf, len, header.header_len, header.ssrc, index, tag_len))
    }

    /// Verifies, replay-checks and decrypts the SRTP packet `buf` in place
    /// (RFC 3711 §3.3). Returns the length of the RTP packet now at the start
    /// of `buf`. On error the packet is to be dropped; its bytes may have been
    /// altered (a failed AES-GCM open zeroes the would-be plaintext).
    #[inline]
    pub fn unprotect_rtp_in_place(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.profile.rtp_auth_tag_len();
        let header = RtpHeader::parse(buf)?;
        let needed = header.header_len + tag_len;
        if buf.len() < needed {
            return Err(Error::Truncated {
                len: buf.len(),
                needed,
            });
        }
        let known = self.streams.len();
        let stream = self.streams.get_mut(header.ssrc);
        if stream.is_none() && known >= self.config.max_streams {
            return Err(Error::TooManyStreams {
                max: self.config.max_streams,
            });
        }
        let highest = stream.as_ref().and_then(|s| s.received.highest());
        let index = estimate_index(highest, header.sequence_number)?;
        if let Some(stream) = &stream {
            stream.received.check(index)?;
        }
        let len = self
            .rtp
            .unprotect_rtp(buf, header.header_len, header.ssrc, index, tag_len)?;
        match stream {
            Some(stream) => stream.received.accept(index),
            None => {
                let mut stream = Stream::new(&self.config);
                stream.received.accept(index);
                self.streams.insert(header.ssrc, stream);
            }
        }
        Ok(len)
    }

    /// Protects the (compound) RTCP packet `buf[..len]` in place: encrypts all
    /// but the first 8 bytes (unless [`Config::encrypt_rtcp`] is off) and
    /// appends the E flag, SRTCP index and tag (RFC 3711 §3.4, RFC 7714 §9).
    /// `buf` must have room for [`ProtectionProfile::rtcp_overhead`] more bytes.
    /// Returns the SRTCP length.
    #[inline]
    pub fn protect_rtcp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let tag_len = self.profile.rtcp_auth_tag_len();
        let needed = len.saturating_add(4 + tag_len);
        if buf.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let header = RtcpHeader::parse(&buf[..len])?;
        let stream = stream_entry(&mut self.streams, &self.config, header.ssrc)?;
        let index = stream.next_srtcp_index;
        if index > MAX_SRTCP_INDEX {
            return Err(Error::IndexExhausted);
        }
        stream.next_srtcp_index = index + 1;
        Ok(self.rtcp.protect_rtcp(
            buf,
            len,
            header.ssrc,
            index,
            self.config.encrypt_rtcp,
            tag_len,
        ))
    }

    /// Verifies, replay-checks and (if the E flag is set) decrypts the SRTCP
    /// packet `buf` in place. Returns the length of the RTCP packet now at the
    /// start of `buf`. On error the packet is to be dropped, as for SRTP.
    #[inline]
    pub fn unprotect_rtcp_in_place(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.profile.rtcp_auth_tag_len();
        let needed = RTCP_HEADER_LEN + 4 + tag_len;
        if buf.len() < needed {
            return Err(Error::Truncated {
                len: buf.len(),
                needed,
            });
        }
        let header = RtcpHeader::parse(buf)?;
        // AES-CM: ... || E+index || tag; AES-GCM: ... || tag || E+index.
        let at = if self.profile.is_aead() {
            buf.len() - 4
        } else {
            buf.len() - tag_len - 4
        };
        let e_index = buf
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or(Error::Truncated {
                len: buf.len(),
                needed,
            })?;
        let index = u64::from(e_index & !E_FLAG);
        let known = self.streams.len();
        let stream = self.streams.get_mut(header.ssrc);
        if stream.is_none() && known >= self.config.max_streams {
            return Err(Error::TooManyStreams {
                max: self.config.max_streams,
            });
        }
        if let Some(stream) = &stream {
            stream.received_rtcp.check(index)?;
        }
        let len = self
            .rtcp
            .unprotect_rtcp(buf, header.ssrc, e_index, tag_len)?;
        match stream {
            Some(stream) => stream.received_rtcp.accept(index),
            None => {
                let mut stream = Stream::new(&self.config);
                stream.received_rtcp.accept(index);
                self.streams.insert(header.ssrc, stream);
            }
        }
        Ok(len)
    }

    /// Protects the RTP packet in `buf`, growing it by the tag.
    /// Allocates only if `buf` lacks the capacity.
    pub fn protect_rtp<B: PacketBuffer + ?Sized>(&mut self, buf: &mut B) -> Result<(), Error> {
        let len = buf.packet_len();
        buf.set_packet_len(len + self.profile.rtp_overhead());
        let result = self.protect_rtp_in_place(buf.packet_mut(), len);
        if result.is_err() {
            buf.set_packet_len(len);
        }
        result.map(drop)
    }

    /// Unprotects the SRTP packet in `buf`, shrinking it to the RTP packet.
    pub fn unprotect_rtp<B: PacketBuffer + ?Sized>(&mut self, buf: &mut B) -> Result<(), Error> {
        let len = self.unprotect_rtp_in_place(buf.packet_mut())?;
        buf.set_packet_len(len);
        Ok(())
    }

    /// Protects the RTCP packet in `buf`, growing it by the SRTCP trailer.
    /// Allocates only if `buf` lacks the capacity.
    pub fn protect_rtcp<B: PacketBuffer + ?Sized>(&mut self, buf: &mut B) -> Result<(), Error> {
        let len = buf.packet_len();
        buf.set_packet_len(len + self.profile.rtcp_overhead());
        let result = self.protect_rtcp_in_place(buf.packet_mut(), len);
        if result.is_err() {
            buf.set_packet_len(len);
        }
        result.map(drop)
    }

    /// Unprotects the SRTCP packet in `buf`, shrinking it to the RTCP packet.
    pub fn unprotect_rtcp<B: PacketBuffer + ?Sized>(&mut self, buf: &mut B) -> Result<(), Error> {
        let len = self.unprotect_rtcp_in_place(buf.packet_mut())?;
        buf.set_packet_len(len);
        Ok(())
    }
}

/// The state of `ssrc`, created if the cap allows.
#[inline]
fn stream_entry<'a>(
    streams: &'a mut Streams,
    config: &Config,
    ssrc: u32,
) -> Result<&'a mut Stream, Error> {
    let slot = match streams.slot(ssrc) {
        Some(slot) => slot,
        None => new_stream(streams, config, ssrc)?,
    };
    // `slot` is in range: the index only holds slots of `slots`.
    Ok(&mut streams.slots[slot].1)
}

/// Creates the state of `ssrc` if the cap allows; returns its slot.
#[cold]
fn new_stream(streams: &mut Streams, config: &Config, ssrc: u32) -> Result<usize, Error> {
    if streams.len() >= config.max_streams {
        return Err(Error::TooManyStreams {
            max: config.max_streams,
        });
    }
    Ok(streams.insert(ssrc, Stream::new(config)))
}

/// Per-SSRC state: a dense table of streams, an SSRC-to-slot map, and the
/// slot of the last SSRC looked up, so a context serving one stream (the
/// common case) or a burst of one stream's packets skips the hash lookup.
///
/// Entries are only created by the local sender or by authenticated packets,
/// and are capped, so a cheap multiplicative hash is safe here (no
/// attacker-chosen keys get inserted).
#[derive(Debug, Clone, Default)]
struct Streams {
    /// The streams and their SSRCs, in no particular order.
    slots: Vec<(u32, Stream)>,
    /// SSRC to index in `slots`.
    index: SsrcMap<usize>,
    /// Index in `slots` of the last SSRC found; checked before use.
    last: usize,
}

impl Streams {
    fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot of `ssrc`, remembered for the next lookup.
    #[inline]
    fn slot(&mut self, ssrc: u32) -> Option<usize> {
        if matches!(self.slots.get(self.last), Some((s, _)) if *s == ssrc) {
            return Some(self.last);
        }
        self.lookup(ssrc)
    }

    /// The slot of `ssrc` from the index, remembered for the next lookup.
    #[inline(never)]
    fn lookup(&mut self, ssrc: u32) -> Option<usize> {
        let slot = *self.index.get(&ssrc)?;
        self.last = slot;
        Some(slot)
    }

    fn get_mut(&mut self, ssrc: u32) -> Option<&mut Stream> {
        let slot = self.slot(ssrc)?;
        self.slots.get_mut(slot).map(|(_, s)| s)
    }

    fn get(&self, ssrc: u32) -> Option<&Stream> {
        let slot = *self.index.get(&ssrc)?;
        self.slots.get(slot).map(|(_, s)| s)
    }

    /// Adds the state of `ssrc`, which has none yet; returns its slot.
    fn insert(&mut self, ssrc: u32, stream: Stream) -> usize {
        let slot = self.slots.len();
        self.index.insert(ssrc, slot);
        self.last = slot;
        self.slots.push((ssrc, stream));
        slot
    }

    /// Drops the state of `ssrc`; returns whether it existed.
    fn remove(&mut self, ssrc: u32) -> bool {
        let Some(slot) = self.index.remove(&ssrc) else {
            return false;
        };
        self.slots.swap_remove(slot);
        // The last stream moved into `slot`.
        if let Some((moved, _)) = self.slots.get(slot) {
            self.index.insert(*moved, slot);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(next_srtcp_index: u32) -> Stream {
        let mut s = Stream::new(&Config::default());
        s.next_srtcp_index = next_srtcp_index;
        s
    }

    #[test]
    fn stream_table_cache_and_removal() {
        let mut t = Streams::default();
        for ssrc in 1..=4 {
            t.insert(ssrc, stream(ssrc * 10));
        }
        // The cache points at the last insert; lookups of others move it.
        assert_eq!(t.get_mut(4).map(|s| s.next_srtcp_index), Some(40));
        assert_eq!(t.get_mut(2).map(|s| s.next_srtcp_index), Some(20));
        assert_eq!(t.last, 1);
        assert!(t.get_mut(5).is_none());
        // Removing a middle stream moves the last one into its slot.
        assert!(t.remove(2));
        assert!(!t.remove(2));
        assert_eq!(t.len(), 3);
        // The cache still says slot 1, which now holds SSRC 4: no false hit.
        assert!(t.get_mut(2).is_none());
        for ssrc in [1, 3, 4] {
            assert_eq!(t.get(ssrc).map(|s| s.next_srtcp_index), Some(ssrc * 10));
            assert_eq!(t.get_mut(ssrc).map(|s| s.next_srtcp_index), Some(ssrc * 10));
        }
        // Removing the last slot leaves a stale cache index past the end.
        assert_eq!(t.slot(4), Some(1));
        assert!(t.remove(3));
        assert!(t.remove(4));
        assert!(t.get_mut(4).is_none());
        assert_eq!(t.get_mut(1).map(|s| s.next_srtcp_index), Some(10));
    }

    #[test]
    fn stream_entry_respects_the_cap() {
        let config = Config::default().with_max_streams(1);
        let mut t = Streams::default();
        assert!(stream_entry(&mut t, &config, 7).is_ok());
        assert!(stream_entry(&mut t, &config, 7).is_ok());
        assert_eq!(
            stream_entry(&mut t, &config, 8).map(drop),
            Err(Error::TooManyStreams { max: 1 })
        );
    }
}
