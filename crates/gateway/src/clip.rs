//! Media clips read from files (IVF video, Ogg Opus audio) and a sans-IO
//! [`Player`] that paces their frames in real time and loops.
//!
//! A [`Clip`] is parsed once (with fulmar-rtp's [`IvfReader`] and
//! [`OggPacketReader`]) and shared by every session through an `Arc`; each
//! session owns a [`Player`] that is told the time and hands back the frames
//! that are due, with RTP timestamps that keep increasing across loops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_rtp::codec::opus::packet_samples;
use fulmar_rtp::codec::vp8::frame_is_keyframe;
use fulmar_rtp::container::ivf::{self, IvfReader};
use fulmar_rtp::container::ogg::{OggPacketReader, OpusHead};
use fulmar_rtp::Codec;

use crate::Error;

/// Most frames a clip may hold (bounds memory for hostile files).
pub const MAX_FRAMES: usize = 100_000;
/// Largest clip file accepted, in bytes.
pub const MAX_FILE_LEN: usize = 64 << 20;
/// Frame duration assumed for a one-frame IVF clip (30 frames per second).
const DEFAULT_FRAME: Duration = Duration::from_micros(33_333);
/// A player that falls further behind than this skips ahead instead of
/// sending a burst (the process was suspended, or the runtime starved).
const MAX_LATE: Duration = Duration::from_secs(1);

/// One encoded frame of a clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipFrame {
    /// The encoded frame (VP8 frame, Opus packet, ...).
    pub data: Bytes,
    /// Presentation time from the start of the clip.
    pub offset: Duration,
    /// True for a decoder refresh point.
    pub keyframe: bool,
}

/// A parsed media file: frames with presentation times, played in a loop.
#[derive(Debug, Clone)]
pub struct Clip {
    codec: Codec,
    frames: Vec<ClipFrame>,
    duration: Duration,
    width: u16,
    height: u16,
}

impl Clip {
    /// Parses an IVF file (VP8, VP9 or AV1). Every frame's time comes from
    /// its IVF timestamp and the file's time base; the last frame lasts as
    /// long as the average frame.
    pub fn from_ivf(file: &[u8]) -> Result<Clip, Error> {
        if file.len() > MAX_FILE_LEN {
            return Err(Error::Clip("file too large"));
        }
        let reader = IvfReader::new(file)?;
        let header = *reader.header();
        let codec = match header.fourcc {
            ivf::VP8 => Codec::Vp8,
            ivf::VP9 => Codec::Vp9,
            ivf::AV1 => Codec::Av1,
            _ => return Err(Error::Clip("IVF codec is not VP8, VP9 or AV1")),
        };
        if header.timebase_denominator == 0 || header.timebase_numerator == 0 {
            return Err(Error::Clip("IVF time base is zero"));
        }
        let tick = |ts: u64| -> Duration {
            let nanos = u128::from(ts) * u128::from(header.timebase_numerator) * 1_000_000_000
                / u128::from(header.timebase_denominator);
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        };
        let mut frames: Vec<ClipFrame> = Vec::new();
        let mut first_ts = None;
        let mut last_ts = 0u64;
        for frame in reader {
            let frame = frame?;
            if frames.len() >= MAX_FRAMES {
                return Err(Error::Clip("too many frames"));
            }
            let first = *first_ts.get_or_insert(frame.timestamp);
            last_ts = frame.timestamp;
            let offset = tick(frame.timestamp.saturating_sub(first));
            if frames.last().is_some_and(|f| offset < f.offset) {
                return Err(Error::Clip("IVF timestamps go backwards"));
            }
            let keyframe = match codec {
                Codec::Vp8 => frame_is_keyframe(frame.data),
                _ => frames.is_empty(),
            };
            frames.push(ClipFrame {
                data: Bytes::copy_from_slice(frame.data),
                offset,
                keyframe,
            });
        }
        if !frames.first().is_some_and(|f| f.keyframe) {
            return Err(Error::Clip("IVF clip does not start with a key frame"));
        }
        // One pass lasts from the first frame to one average frame after
        // the last, computed in time-base ticks to stay exact.
        let count = frames.len() as u64;
        let duration = if count > 1 {
            let span = last_ts.saturating_sub(first_ts.unwrap_or(0));
            tick(
                u64::try_from(u128::from(span) * u128::from(count) / u128::from(count - 1))
                    .unwrap_or(u64::MAX),
            )
        } else {
            DEFAULT_FRAME
        };
        Ok(Clip {
            codec,
            frames,
            duration: duration.max(Duration::from_millis(1)),
            width: header.width,
            height: header.height,
        })
    }

    /// Parses an Ogg Opus file (RFC 7845): the `OpusHead` and `OpusTags`
    /// packets, then audio packets whose durations come from their TOC bytes
    /// (RFC 6716 §3.1).
    pub fn from_ogg_opus(file: &[u8]) -> Result<Clip, Error> {
        if file.len() > MAX_FILE_LEN {
            return Err(Error::Clip("file too large"));
        }
        let mut packets = OggPacketReader::new(file);
        let head = packets.next().ok_or(Error::Clip("empty Ogg file"))??;
        OpusHead::parse(&head.data)?;
        let tags = packets
            .next()
            .ok_or(Error::Clip("Ogg file without OpusTags"))??;
        if !tags.data.starts_with(b"OpusTags") {
            return Err(Error::Clip("second Ogg packet is not OpusTags"));
        }
        let mut frames = Vec::new();
        let mut samples = 0u64;
        for packet in packets {
            let packet = packet?;
            if frames.len() >= MAX_FRAMES {
                return Err(Error::Clip("too many frames"));
            }
            let n = packet_samples(&packet.data).ok_or(Error::Clip("malformed Opus packet"))?;
            frames.push(ClipFrame {
                offset: Duration::from_micros(samples * 1_000_000 / 48_000),
                data: Bytes::from(packet.data),
                keyframe: true,
            });
            samples += u64::from(n);
        }
        if frames.is_empty() {
            return Err(Error::Clip("Ogg file without audio packets"));
        }
        Ok(Clip {
            codec: Codec::Opus,
            frames,
            duration: Duration::from_micros(samples * 1_000_000 / 48_000),
            width: 0,
            height: 0,
        })
    }

    /// The codec of the frames.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The frames in presentation order.
    pub fn frames(&self) -> &[ClipFrame] {
        &self.frames
    }

    /// The length of one pass through the clip.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Width and height from the file header (0 for audio).
    pub fn dimensions(&self) -> (u16, u16) {
        (self.width, self.height)
    }
}

/// A frame handed out by a [`Player`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayedFrame {
    /// The encoded frame (shares the clip's memory).
    pub data: Bytes,
    /// RTP timestamp in the codec's clock rate, continuing across loops.
    pub rtp_timestamp: u32,
    /// True for a decoder refresh point.
    pub keyframe: bool,
    /// Which pass through the clip this frame belongs to (0 first).
    pub pass: u64,
}

/// Paces a clip in real time, looping forever (sans-IO: `now` is passed in).
#[derive(Debug, Clone)]
pub struct Player {
    clip: Arc<Clip>,
    start: Instant,
    index: usize,
    pass: u64,
    timestamp_base: u32,
}

impl Player {
    /// Starts playing `clip` at `now`; RTP timestamps start at `timestamp_base`
    /// (pick it at random per stream, RFC 3550 §5.1).
    pub fn new(clip: Arc<Clip>, now: Instant, timestamp_base: u32) -> Player {
        Player {
            clip,
            start: now,
            index: 0,
            pass: 0,
            timestamp_base,
        }
    }

    /// The clip being played.
    pub fn clip(&self) -> &Arc<Clip> {
        &self.clip
    }

    /// Time of the next frame from the start of playback.
    fn next_offset(&self) -> Duration {
        let offset = self
            .clip
            .frames
            .get(self.index)
            .map_or(Duration::ZERO, |f| f.offset);
        self.clip
            .duration
            .saturating_mul(u32::try_from(self.pass).unwrap_or(u32::MAX))
            + offset
    }

    /// When the next frame is due.
    pub fn poll_timeout(&self) -> Instant {
        self.start + self.next_offset()
    }

    /// The next frame if it is due at `now`, else `None`. Call until `None`,
    /// then wait for [`Player::poll_timeout`].
    pub fn poll_frame(&mut self, now: Instant) -> Option<PlayedFrame> {
        let due = self.poll_timeout();
        if due > now {
            return None;
        }
        if now - due > MAX_LATE {
            // Skip ahead: restart the timeline so this frame is due now.
            if let Some(start) = now.checked_sub(self.next_offset()) {
                self.start = start;
            }
        }
        let frame = self.clip.frames.get(self.index)?;
        let at = self.next_offset();
        // Rounded to the nearest tick so that exact frame rates stay exact.
        let ticks = (at.as_nanos() * u128::from(self.clip.codec.clock_rate()) + 500_000_000)
            / 1_000_000_000;
        let played = PlayedFrame {
            data: frame.data.clone(),
            rtp_timestamp: self.timestamp_base.wrapping_add(ticks as u32),
            keyframe: frame.keyframe,
            pass: self.pass,
        };
        self.index += 1;
        if self.index >= self.clip.frames.len() {
            self.index = 0;
            self.pass += 1;
        }
        Some(played)
    }
}

/// Plays `player` in real time on the tokio clock: hands every frame to
/// `send` when it is due, until `send` fails (the track or session ended);
/// returns that error.
pub async fn run_player<E, F, Fut>(mut player: Player, mut send: F) -> E
where
    F: FnMut(PlayedFrame) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    loop {
        let now = tokio::time::Instant::now().into_std();
        while let Some(frame) = player.poll_frame(now) {
            if let Err(e) = send(frame).await {
                return e;
            }
        }
        tokio::time::sleep_until(player.poll_timeout().into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulmar_rtp::container::ivf::{IvfHeader, IvfWriter};
    use fulmar_rtp::container::ogg::OggOpusWriter;

    /// A VP8 key frame header for 64x48 followed by filler.
    fn vp8_key() -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 48, 0];
        f.extend_from_slice(&[0u8; 20]);
        f
    }

    fn ivf(frames: usize) -> Vec<u8> {
        let header = IvfHeader {
            timebase_denominator: 30,
            ..IvfHeader::rtp(ivf::VP8, 64, 48)
        };
        let mut w = IvfWriter::new(Vec::new(), header).unwrap();
        for i in 0..frames {
            let data = if i == 0 { vp8_key() } else { vec![0x01; 12] };
            w.write_frame(i as u64, &data).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn ivf_clip_times_and_keyframes() {
        let clip = Clip::from_ivf(&ivf(30)).unwrap();
        assert_eq!(clip.codec(), Codec::Vp8);
        assert_eq!(clip.frames().len(), 30);
        assert!(clip.frames()[0].keyframe);
        assert!(!clip.frames()[1].keyframe);
        assert_eq!(clip.frames()[3].offset, Duration::from_millis(100));
        assert_eq!(clip.duration(), Duration::from_secs(1));
        assert_eq!(
            fulmar_rtp::codec::vp8::frame_dimensions(&clip.frames()[0].data),
            Some((64, 48))
        );
    }

    #[test]
    fn ivf_clip_refuses_bad_input() {
        assert!(Clip::from_ivf(b"DKIF").is_err());
        let mut bad = ivf(3);
        bad[8..12].copy_from_slice(b"H264");
        assert!(matches!(Clip::from_ivf(&bad), Err(Error::Clip(_))));
        // A clip starting with an inter frame cannot be decoded.
        let header = IvfHeader::rtp(ivf::VP8, 64, 48);
        let mut w = IvfWriter::new(Vec::new(), header).unwrap();
        w.write_frame(0, &[0x01; 8]).unwrap();
        assert!(Clip::from_ivf(&w.into_inner().unwrap()).is_err());
        // Truncated frame.
        let mut cut = ivf(3);
        cut.truncate(cut.len() - 2);
        assert!(Clip::from_ivf(&cut).is_err());
    }

    #[test]
    fn ogg_clip_durations() {
        let head = OpusHead {
            channels: 2,
            pre_skip: 312,
            input_sample_rate: 48_000,
            output_gain: 0,
        };
        let mut w = OggOpusWriter::new(Vec::new(), 7, head, "test").unwrap();
        for _ in 0..50 {
            // TOC config 1 (SILK NB 20 ms), code 0: one 960-sample frame.
            w.write_packet(&[0x08, 0xaa, 0xbb]).unwrap();
        }
        let clip = Clip::from_ogg_opus(&w.finish().unwrap()).unwrap();
        assert_eq!(clip.codec(), Codec::Opus);
        assert_eq!(clip.frames().len(), 50);
        assert_eq!(clip.frames()[1].offset, Duration::from_millis(20));
        assert_eq!(clip.duration(), Duration::from_secs(1));
        assert!(Clip::from_ogg_opus(b"OggS").is_err());
    }

    #[test]
    fn player_paces_and_loops() {
        let clip = Arc::new(Clip::from_ivf(&ivf(3)).unwrap());
        let t0 = Instant::now();
        let mut p = Player::new(clip, t0, 1000);
        let f = p.poll_frame(t0).unwrap();
        assert_eq!((f.rtp_timestamp, f.keyframe, f.pass), (1000, true, 0));
        assert_eq!(p.poll_frame(t0), None);
        let step = p.poll_timeout() - t0;
        assert_eq!(step.as_millis(), 33);
        let f = p.poll_frame(t0 + step).unwrap();
        assert_eq!(f.rtp_timestamp, 1000 + 3000);
        let f = p.poll_frame(t0 + step * 2).unwrap();
        assert_eq!(f.rtp_timestamp, 1000 + 6000);
        // Second pass: the clip is 100 ms long, timestamps keep growing.
        assert_eq!(p.poll_timeout() - t0, Duration::from_millis(100));
        let f = p.poll_frame(t0 + Duration::from_millis(100)).unwrap();
        assert_eq!(
            (f.rtp_timestamp, f.keyframe, f.pass),
            (1000 + 9000, true, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn run_player_paces_on_the_clock_until_send_fails() {
        let clip = Arc::new(Clip::from_ivf(&ivf(30)).unwrap());
        let start = tokio::time::Instant::now();
        let player = Player::new(clip, start.into_std(), 0);
        let mut sent = Vec::new();
        let err = run_player(player, |f| {
            sent.push((tokio::time::Instant::now() - start, f.rtp_timestamp));
            let done = sent.len() == 45;
            async move {
                if done {
                    Err("enough")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(err, "enough");
        // 45 frames at 30 fps span 1.5 s of (paused, auto-advanced) time,
        // across the loop point at 1 s, with timestamps 3000 apart.
        assert_eq!(sent.len(), 45);
        let (at, ts) = sent[44];
        assert!(
            at >= Duration::from_millis(1466) && at < Duration::from_millis(1480),
            "{at:?}"
        );
        assert_eq!(ts, 44 * 3000);
        assert_eq!(sent[30].1, 90_000);
    }

    #[test]
    fn player_skips_ahead_instead_of_bursting() {
        let clip = Arc::new(Clip::from_ivf(&ivf(30)).unwrap());
        let t0 = Instant::now();
        let mut p = Player::new(clip, t0, 0);
        assert!(p.poll_frame(t0).is_some());
        let late = t0 + Duration::from_secs(10);
        assert!(p.poll_frame(late).is_some());
        // After skipping ahead, the next frame is one frame later, not at once.
        assert_eq!(p.poll_frame(late), None);
        assert!(p.poll_timeout() > late);
    }
}
