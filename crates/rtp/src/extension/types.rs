//! Typed values of the header extensions WebRTC uses.
//!
//! Each type knows its extmap URI ([`ExtensionValue::URI`]), parses from the
//! element data and writes into a caller buffer.

use super::uri;
use crate::wire::{u16_at, u24_at, u64_at};
use crate::{Error, Result};

/// A typed header extension value.
pub trait ExtensionValue<'a>: Sized {
    /// The URI that names this extension in SDP `a=extmap` (RFC 8285 §5).
    const URI: &'static str;
    /// Parses the element data.
    fn parse(data: &'a [u8]) -> Result<Self>;
    /// Bytes [`ExtensionValue::write`] produces.
    fn wire_len(&self) -> usize;
    /// Writes the element data into `buf`, returning its length.
    fn write(&self, buf: &mut [u8]) -> Result<usize>;
}

fn write_bytes(src: &[u8], buf: &mut [u8]) -> Result<usize> {
    crate::wire::put(buf, 0, src)?;
    Ok(src.len())
}

fn parse_str(data: &[u8]) -> Result<&str> {
    if data.is_empty() {
        return Err(Error::Malformed("empty SDES extension"));
    }
    core::str::from_utf8(data).map_err(|_| Error::Malformed("SDES extension is not UTF-8"))
}

macro_rules! sdes_ext {
    ($(#[$doc:meta])* $name:ident, $uri:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub &'a str);

        impl<'a> ExtensionValue<'a> for $name<'a> {
            const URI: &'static str = $uri;
            fn parse(data: &'a [u8]) -> Result<Self> {
                parse_str(data).map($name)
            }
            fn wire_len(&self) -> usize {
                self.0.len()
            }
            fn write(&self, buf: &mut [u8]) -> Result<usize> {
                write_bytes(self.0.as_bytes(), buf)
            }
        }
    };
}

sdes_ext!(
    /// The media identification of a BUNDLE group (RFC 9143 §15.2, "mid").
    SdesMid,
    uri::MID
);
sdes_ext!(
    /// The RTP stream identifier (RFC 8852 §3.1, "rid").
    RtpStreamId,
    uri::RID
);
sdes_ext!(
    /// The RTP stream identifier a redundancy stream repairs (RFC 8852 §3.2).
    RepairedRtpStreamId,
    uri::REPAIRED_RID
);

/// Absolute send time: 24-bit 6.18 fixed-point seconds, the middle bits of
/// an NTP timestamp (webrtc.org abs-send-time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsSendTime(pub u32);

impl AbsSendTime {
    /// Takes bits 14..38 of a 64-bit NTP timestamp.
    pub fn from_ntp(ntp: u64) -> Self {
        AbsSendTime(((ntp >> 14) & 0x00ff_ffff) as u32)
    }
    /// Expands back to the NTP timestamp bits it carries (upper bits zero).
    pub fn to_ntp(self) -> u64 {
        u64::from(self.0) << 14
    }
}

impl ExtensionValue<'_> for AbsSendTime {
    const URI: &'static str = uri::ABS_SEND_TIME;
    fn parse(data: &[u8]) -> Result<Self> {
        if data.len() != 3 {
            return Err(Error::Malformed("abs-send-time length"));
        }
        Ok(AbsSendTime(u24_at(data, 0)))
    }
    fn wire_len(&self) -> usize {
        3
    }
    fn write(&self, buf: &mut [u8]) -> Result<usize> {
        let b = (self.0 & 0x00ff_ffff).to_be_bytes();
        write_bytes(&b[1..], buf)
    }
}

/// Transport-wide sequence number
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportSequenceNumber(pub u16);

impl ExtensionValue<'_> for TransportSequenceNumber {
    const URI: &'static str = uri::TRANSPORT_CC;
    fn parse(data: &[u8]) -> Result<Self> {
        if data.len() < 2 {
            return Err(Error::Malformed("transport-wide sequence number length"));
        }
        Ok(TransportSequenceNumber(u16_at(data, 0)))
    }
    fn wire_len(&self) -> usize {
        2
    }
    fn write(&self, buf: &mut [u8]) -> Result<usize> {
        write_bytes(&self.0.to_be_bytes(), buf)
    }
}

/// Client-to-mixer audio level (RFC 6464 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLevel {
    /// The V flag: the encoder believes the packet contains voice.
    pub voice_activity: bool,
    /// Level in -dBov, 0 (loudest) ..= 127 (silence).
    pub level: u8,
}

impl ExtensionValue<'_> for AudioLevel {
    const URI: &'static str = uri::AUDIO_LEVEL;
    fn parse(data: &[u8]) -> Result<Self> {
        let b = *data.first().ok_or(Error::Malformed("audio level length"))?;
        Ok(AudioLevel {
            voice_activity: b & 0x80 != 0,
            level: b & 0x7f,
        })
    }
    fn wire_len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut [u8]) -> Result<usize> {
        write_bytes(
            &[(u8::from(self.voice_activity) << 7) | (self.level & 0x7f)],
            buf,
        )
    }
}

/// Coordination of video orientation (3GPP TS 26.114 §7.4.5): `0 0 0 0 C F R1 R0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoOrientation {
    /// C: camera facing the back (true) or front (false).
    pub back_camera: bool,
    /// F: horizontal flip.
    pub flip: bool,
    /// R1 R0: clockwise rotation in units of 90 degrees (0..=3).
    pub rotation: u8,
}

impl VideoOrientation {
    /// The rotation in degrees (0, 90, 180 or 270).
    pub fn degrees(&self) -> u16 {
        u16::from(self.rotation & 3) * 90
    }
}

impl ExtensionValue<'_> for VideoOrientation {
    const URI: &'static str = uri::VIDEO_ORIENTATION;
    fn parse(data: &[u8]) -> Result<Self> {
        let b = *data
            .first()
            .ok_or(Error::Malformed("video orientation length"))?;
        Ok(VideoOrientation {
            back_camera: b & 0x08 != 0,
            flip: b & 0x04 != 0,
            rotation: b & 0x03,
        })
    }
    fn wire_len(&self) -> usize {
        1
    }
    fn write(&self, buf: &mut [u8]) -> Result<usize> {
        let b =
            (u8::from(self.back_camera) << 3) | (u8::from(self.flip) << 2) | (self.rotation & 3);
        write_bytes(&[b], buf)
    }
}

/// Playout delay limits, 12 bits each in units of 10 ms (webrtc.org playout-delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutDelay {
    /// Minimum delay in 10 ms units (0..=4095).
    pub min: u16,
    /// Maximum delay in 10 ms units (0..=4095).
    pub max: u16,
}

impl ExtensionValue<'_> for PlayoutDelay {
    const URI: &'static str = uri::PLAYOUT_DELAY;
    fn parse(data: &[u8]) -> Result<Self> {
        if data.len() != 3 {
            return Err(Error::Malformed("playout delay length"));
        }
        let v = u24_at(data, 0);
        Ok(PlayoutDelay {
            min: (v >> 12) as u16,
            max: (v & 0xfff) as u16,
        })
    }
    fn wire_len(&self) -> usize {
        3
    }
    fn write(&self, buf: &mut [u8]) -> Result<usize> {
        if self.min > 0xfff || self.max > 0xfff {
            return Err(Error::InvalidInput("playout delay above 4095"));
        }
        let v = (u32::from(self.min) << 12) | u32::from(self.max);
        write_bytes(&v.to_be_bytes()[1..], buf)
    }
}

/// Absolute capture time (webrtc.org abs-capture-time): a 64-bit NTP
/// timestamp and an optional Q32.32 estimated capture clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsCaptureTime {
    /// Capture time as a 64-bit NTP timestamp (UQ32.32).
    pub absolute_capture_timestamp: u64,
    /// Estimated offset of the capturer's clock from the sender's (Q32.32).
    pub estimated_capture_clock_offset: Option<i64>,
}

impl ExtensionValue<'_> for AbsCaptureTime {
    const URI: &'static str = uri::ABS_CAPTURE_TIME;
    fn parse(data: &[u8]) -> Result<Self> {
        match data.len() {
            8 => Ok(AbsCaptureTime {
                absolute_capture_timestamp: u64_at(data, 0),
                estimated_capture_clock_offset: None,
            }),
            16 => Ok(AbsCaptureTime {
                absolute_capture_timestamp: u64_at(data, 0),
                estimated_capture_clock_offset: Some(u64_at(data, 8) as i64),
            }),
            _ => Err(Error::Malformed("abs-capture-time length")),
        }
    }
    fn wire_len(&self) -> usize {
        if self.estimated_capture_clock_offset.is_some() {
            16
        } else {
            8
        }
    }
    fn write(&self, buf: &mut [u8]) -> Result<usize> {
        crate::wire::put(buf, 0, &self.absolute_capture_timestamp.to_be_bytes())?;
        if let Some(off) = self.estimated_capture_clock_offset {
            crate::wire::put(buf, 8, &off.to_be_bytes())?;
            return Ok(16);
        }
        Ok(8)
    }
}
