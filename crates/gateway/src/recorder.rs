//! Writes received frames to files with fulmar-rtp's container writers:
//! VP8/VP9/AV1 to IVF, H.264 to an Annex-B byte stream, Opus to Ogg.
//!
//! Video recording starts at the first key frame so the file decodes from
//! its first byte; RTP timestamps are unwrapped (RFC 3550 §5.1: they wrap at
//! 2^32) and written relative to the first recorded frame.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use fulmar_rtp::container::annexb::AnnexBWriter;
use fulmar_rtp::container::ivf::{self, IvfHeader, IvfWriter};
use fulmar_rtp::container::ogg::{OggOpusWriter, OpusHead};
use fulmar_rtp::Codec;

use crate::Error;
use fulmar_rtp::codec::vp8::frame_dimensions;

/// The file name extension used for a codec's recordings; `None` for
/// codecs without a container here (G.711).
pub fn file_extension(codec: Codec) -> Option<&'static str> {
    match codec {
        Codec::Opus => Some("ogg"),
        Codec::H264 => Some("h264"),
        Codec::Vp8 | Codec::Vp9 | Codec::Av1 => Some("ivf"),
        _ => None,
    }
}

enum Sink<W: Write + Seek> {
    /// IVF waits for the first key frame (its size goes in the header).
    IvfPending(Option<W>, [u8; 4]),
    Ivf(IvfWriter<W>),
    AnnexB(AnnexBWriter<W>),
    Ogg(OggOpusWriter<W>),
    Done,
}

/// Unwraps 32-bit RTP timestamps into a 64-bit count from the first one.
#[derive(Debug, Clone, Copy, Default)]
struct TimestampUnwrapper {
    last: Option<(u32, i64)>,
}

impl TimestampUnwrapper {
    fn unwrap(&mut self, ts: u32) -> u64 {
        let ext = match self.last {
            None => 0,
            // The signed distance handles both wrap-around and reordering.
            Some((prev, prev_ext)) => prev_ext + i64::from(ts.wrapping_sub(prev) as i32),
        };
        self.last = Some((ts, ext));
        u64::try_from(ext).unwrap_or(0)
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Frames written.
    pub frames: u64,
    /// Frames dropped while waiting for the first key frame.
    pub skipped: u64,
}

/// Records one track's frames into a container chosen by codec.
pub struct Recorder<W: Write + Seek = BufWriter<File>> {
    codec: Codec,
    sink: Sink<W>,
    timestamps: TimestampUnwrapper,
    frames: u64,
    skipped: u64,
}

impl<W: Write + Seek> std::fmt::Debug for Recorder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("codec", &self.codec)
            .field("frames", &self.frames)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl Recorder<BufWriter<File>> {
    /// Creates `dir/<name>.<ext>` (extension from [`file_extension`]) and
    /// records into it; returns the recorder and the path.
    pub fn create(dir: &Path, name: &str, codec: Codec) -> Result<(Self, PathBuf), Error> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Clip("recording name must be [A-Za-z0-9_-]+"));
        }
        let ext = file_extension(codec).ok_or(Error::Clip("no container for this codec"))?;
        let path = dir.join(format!("{name}.{ext}"));
        let file = BufWriter::new(File::create(&path)?);
        Ok((Recorder::new(file, codec)?, path))
    }
}

impl<W: Write + Seek> Recorder<W> {
    /// Records `codec` frames into `out`.
    pub fn new(out: W, codec: Codec) -> Result<Self, Error> {
        let sink = match codec {
            Codec::Opus => {
                let head = OpusHead {
                    channels: 2,
                    // RFC 7845 §5.1: 3840 samples is a reasonable default pre-skip.
                    pre_skip: 3840,
                    input_sample_rate: 48_000,
                    output_gain: 0,
                };
                Sink::Ogg(OggOpusWriter::new(
                    out,
                    rand::random(),
                    head,
                    "fulmar-gateway",
                )?)
            }
            Codec::H264 => Sink::AnnexB(AnnexBWriter::new(out)),
            Codec::Vp8 => Sink::IvfPending(Some(out), ivf::VP8),
            Codec::Vp9 => Sink::IvfPending(Some(out), ivf::VP9),
            Codec::Av1 => Sink::IvfPending(Some(out), ivf::AV1),
            _ => return Err(Error::Clip("no container for this codec")),
        };
        Ok(Recorder {
            codec,
            sink,
            timestamps: TimestampUnwrapper::default(),
            frames: 0,
            skipped: 0,
        })
    }

    /// The codec being recorded.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one assembled frame (`timestamp` is its RTP timestamp). Video
    /// frames before the first key frame are skipped (returns `Ok(false)`).
    pub fn write_frame(
        &mut self,
        timestamp: u32,
        keyframe: bool,
        data: &[u8],
    ) -> Result<bool, Error> {
        if self.frames == 0 && !keyframe && self.codec != Codec::Opus {
            self.skipped += 1;
            return Ok(false);
        }
        if let Sink::IvfPending(out, fourcc) = &mut self.sink {
            let (width, height) = match self.codec {
                Codec::Vp8 => frame_dimensions(data).unwrap_or((0, 0)),
                _ => (0, 0),
            };
            let out = out.take().ok_or(Error::Clip("recorder output gone"))?;
            self.sink = Sink::Ivf(IvfWriter::new(out, IvfHeader::rtp(*fourcc, width, height))?);
        }
        let ext = self.timestamps.unwrap(timestamp);
        match &mut self.sink {
            Sink::Ivf(w) => w.write_frame(ext, data)?,
            Sink::AnnexB(w) => w.write_access_unit(data)?,
            Sink::Ogg(w) => w.write_packet(data)?,
            Sink::IvfPending(..) | Sink::Done => return Err(Error::Clip("recorder finished")),
        }
        self.frames += 1;
        Ok(true)
    }

    /// Completes the file (IVF frame count, Ogg end-of-stream page) and
    /// returns the output with a summary.
    pub fn finish(mut self) -> Result<(Option<W>, RecordingSummary), Error> {
        let summary = RecordingSummary {
            frames: self.frames,
            skipped: self.skipped,
        };
        let out = match std::mem::replace(&mut self.sink, Sink::Done) {
            Sink::IvfPending(out, _) => out,
            Sink::Ivf(w) => Some(w.finish()?),
            Sink::AnnexB(w) => Some(w.into_inner()?),
            Sink::Ogg(w) => Some(w.finish()?),
            Sink::Done => None,
        };
        Ok((out, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Clip;
    use std::io::Cursor;

    fn vp8_key() -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
        f.extend_from_slice(&[7u8; 40]);
        f
    }

    #[test]
    fn timestamps_unwrap_across_the_wrap() {
        let mut u = TimestampUnwrapper::default();
        assert_eq!(u.unwrap(u32::MAX - 1000), 0);
        assert_eq!(u.unwrap(2000), 3001);
        // A reordered earlier frame stays before.
        assert_eq!(u.unwrap(u32::MAX - 500), 500);
        assert_eq!(u.unwrap(5000), 6001);
    }

    #[test]
    fn vp8_recording_starts_at_keyframe_and_reads_back_as_a_clip() {
        let mut r = Recorder::new(Cursor::new(Vec::new()), Codec::Vp8).unwrap();
        assert!(!r.write_frame(100, false, &[1, 2, 3]).unwrap());
        assert!(r.write_frame(3100, true, &vp8_key()).unwrap());
        for i in 2..30u32 {
            assert!(r
                .write_frame(100 + i * 3000, false, &[0x01, 0x22, 0x33])
                .unwrap());
        }
        let (out, summary) = r.finish().unwrap();
        assert_eq!(
            summary,
            RecordingSummary {
                frames: 29,
                skipped: 1
            }
        );
        let file = out.unwrap().into_inner();
        let header = IvfHeader::parse(&file).unwrap();
        assert_eq!(
            (header.width, header.height, header.frame_count),
            (640, 480, 29)
        );
        let clip = Clip::from_ivf(&file).unwrap();
        assert_eq!(clip.frames().len(), 29);
        assert_eq!(clip.frames()[1].offset.as_micros(), 33_333);
    }

    #[test]
    fn opus_recording_reads_back() {
        let mut r = Recorder::new(Cursor::new(Vec::new()), Codec::Opus).unwrap();
        for i in 0..10u32 {
            r.write_frame(i * 960, false, &[0x08, i as u8]).unwrap();
        }
        // A packet with an invalid TOC is refused, typed.
        assert!(r.write_frame(0, true, &[]).is_err());
        let (out, summary) = r.finish().unwrap();
        assert_eq!(summary.frames, 10);
        let clip = Clip::from_ogg_opus(&out.unwrap().into_inner()).unwrap();
        assert_eq!(clip.frames().len(), 10);
        assert_eq!(clip.frames()[9].data.as_ref(), &[0x08, 9]);
    }

    #[test]
    fn h264_recording_is_annexb() {
        let mut r = Recorder::new(Cursor::new(Vec::new()), Codec::H264).unwrap();
        let idr = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9,
        ];
        assert!(!r.write_frame(0, false, &[0, 0, 0, 1, 0x41, 5]).unwrap());
        assert!(r.write_frame(3000, true, &idr).unwrap());
        assert!(r.write_frame(6000, false, &[0, 0, 0, 1, 0x41, 5]).unwrap());
        let (out, _) = r.finish().unwrap();
        let bytes = out.unwrap().into_inner();
        let nals: Vec<&[u8]> = fulmar_rtp::codec::h264::annexb_nals(&bytes).collect();
        assert_eq!(nals.len(), 4);
        assert_eq!(nals[2], &[0x65, 9, 9]);
    }

    #[test]
    fn g711_has_no_container() {
        assert_eq!(file_extension(Codec::Pcmu), None);
        assert!(Recorder::new(Cursor::new(Vec::new()), Codec::Pcma).is_err());
        assert_eq!(file_extension(Codec::Vp9), Some("ivf"));
    }

    #[test]
    fn create_refuses_path_names() {
        let dir = std::env::temp_dir();
        assert!(Recorder::create(&dir, "../x", Codec::Vp8).is_err());
        assert!(Recorder::create(&dir, "", Codec::Vp8).is_err());
    }
}
