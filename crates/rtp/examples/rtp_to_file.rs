//! Depacketizes an RTP dump into the container a player reads: IVF for
//! VP8/VP9/AV1, Annex-B for H.264, Ogg for Opus.
//!
//! The dump is RFC 4571 framing (a 16-bit big-endian length before each
//! RTP packet), as GStreamer's `rtpstreampay` writes it:
//!
//! ```text
//! gst-launch-1.0 videotestsrc num-buffers=60 ! vp8enc ! rtpvp8pay mtu=1200 ! rtpstreampay ! filesink location=vp8.rtp
//! cargo run -p fulmar-rtp --example rtp_to_file -- vp8 vp8.rtp out.ivf
//! ```

use std::fs::File;
use std::io::BufWriter;

use fulmar_rtp::codec::Codec;
use fulmar_rtp::container::{annexb::AnnexBWriter, ivf, ogg};
use fulmar_rtp::{FrameAssembler, RtpPacket};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, codec, input, output] = &args[..] else {
        return Err("usage: rtp_to_file <opus|vp8|vp9|h264|av1> <in.rtp> <out>".into());
    };
    let codec = Codec::from_name(codec).ok_or_else(|| format!("unknown codec {codec}"))?;
    let dump = std::fs::read(input)?;
    let mut assembler = FrameAssembler::new(codec.depacketizer(), 4096);
    let mut frames = Vec::new();
    let mut rest = &dump[..];
    let mut packets = 0;
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        let Some(pkt) = tail.get(..len) else { break };
        rest = &tail[len..];
        let p = RtpPacket::new_checked(pkt)?;
        assembler.push_packet(&p);
        packets += 1;
        while let Some(f) = assembler.poll_frame() {
            frames.push(f);
        }
    }
    let keyframes = frames.iter().filter(|f| f.keyframe).count();
    let out = BufWriter::new(File::create(output)?);
    let first_ts = frames.first().map_or(0, |f| f.timestamp);
    match codec {
        Codec::Opus => {
            let head = ogg::OpusHead {
                channels: 2,
                pre_skip: 312,
                input_sample_rate: 48_000,
                output_gain: 0,
            };
            let mut w = ogg::OggOpusWriter::new(out, 1, head, "fulmar-rtp")?;
            for f in &frames {
                w.write_packet(&f.data)?;
            }
            w.finish()?;
        }
        Codec::Pcmu | Codec::Pcma => {
            // Raw G.711 samples, as `sox -t ul`/`-t al` reads them.
            let mut out = out;
            for f in &frames {
                std::io::Write::write_all(&mut out, &f.data)?;
            }
            std::io::Write::flush(&mut out)?;
        }
        Codec::H264 => {
            let mut w = AnnexBWriter::new(out);
            for f in &frames {
                w.write_access_unit(&f.data)?;
            }
            w.into_inner()?;
        }
        Codec::Vp8 | Codec::Vp9 | Codec::Av1 => {
            let fourcc = match codec {
                Codec::Vp8 => ivf::VP8,
                Codec::Vp9 => ivf::VP9,
                _ => ivf::AV1,
            };
            // Resolution from the first keyframe (VP8 §9.1 / VP9 §6.2), else 320x240.
            let size = frames
                .iter()
                .find(|f| f.keyframe)
                .and_then(|f| match codec {
                    Codec::Vp8 if f.data.get(3..6) == Some(&[0x9d, 0x01, 0x2a]) => {
                        let le = |o: usize| u16::from_le_bytes([f.data[o], f.data[o + 1]]) & 0x3fff;
                        f.data.get(6..10).map(|_| (le(6), le(8)))
                    }
                    Codec::Vp9 => fulmar_rtp::codec::vp9::keyframe_size(&f.data).flatten(),
                    _ => None,
                });
            let (w, h) = size.unwrap_or((320, 240));
            let mut header = ivf::IvfHeader::rtp(fourcc, w, h);
            header.frame_count = u32::try_from(frames.len())?;
            let mut w = ivf::IvfWriter::new(out, header)?;
            for f in &frames {
                w.write_frame(u64::from(f.timestamp.wrapping_sub(first_ts)), &f.data)?;
            }
            w.into_inner()?;
        }
    }
    println!(
        "{packets} packets -> {} frames ({keyframes} keyframes), {} dropped",
        frames.len(),
        assembler.stats().frames_dropped
    );
    Ok(())
}
