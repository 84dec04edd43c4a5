//! Packetizes a media file into an RTP dump with RFC 4571 framing (a
//! 16-bit big-endian length before each packet): IVF (VP8/VP9/AV1), Ogg
//! Opus, an H.264 Annex-B stream, or a raw AV1 OBU stream. The reverse of `rtp_to_file`.
//!
//! ```text
//! cargo run -p fulmar-rtp --example file_to_rtp -- vp8 in.ivf out.rtp
//! gst-launch-1.0 filesrc location=out.rtp ! "application/x-rtp-stream,media=video,clock-rate=90000,encoding-name=VP8" \
//!   ! rtpstreamdepay ! rtpvp8depay ! vp8dec ! fakesink
//! ```

use std::io::Write;

use fulmar_rtp::codec::Codec;
use fulmar_rtp::container::{annexb, ivf, ogg};
use fulmar_rtp::RtpRepr;

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, codec, input, output] = &args[..] else {
        return Err("usage: file_to_rtp <opus|vp8|vp9|h264|av1> <in> <out.rtp>".into());
    };
    let codec = Codec::from_name(codec).ok_or_else(|| format!("unknown codec {codec}"))?;
    let data = std::fs::read(input)?;
    // (timestamp, frame) pairs in the RTP clock.
    let mut frames: Vec<(u32, Vec<u8>)> = Vec::new();
    match codec {
        Codec::Opus => {
            let mut ts = 0u32;
            for p in ogg::OggPacketReader::new(&data).skip(2) {
                let p = p?;
                let samples = fulmar_rtp::codec::opus::packet_samples(&p.data).unwrap_or(960);
                frames.push((ts, p.data));
                ts = ts.wrapping_add(samples);
            }
        }
        Codec::H264 => {
            for (i, au) in annexb::access_units(&data).into_iter().enumerate() {
                let mut f = Vec::new();
                for nal in au {
                    f.extend_from_slice(&annexb::START_CODE);
                    f.extend_from_slice(nal);
                }
                frames.push((i as u32 * 3000, f));
            }
        }
        Codec::Av1 if !data.starts_with(b"DKIF") => {
            // A raw low-overhead OBU stream: each temporal unit starts with a
            // temporal delimiter OBU.
            let mut rest = &data[..];
            let mut start = 0;
            let mut i = 0u32;
            while !rest.is_empty() {
                let off = data.len() - rest.len();
                let (obu, r) = fulmar_rtp::codec::av1::split_obu(rest)?;
                if obu.obu_type() == fulmar_rtp::codec::av1::OBU_TEMPORAL_DELIMITER && off > start {
                    frames.push((i * 3000, data[start..off].to_vec()));
                    start = off;
                    i += 1;
                }
                rest = r;
            }
            if start < data.len() {
                frames.push((i * 3000, data[start..].to_vec()));
            }
        }
        _ => {
            let r = ivf::IvfReader::new(&data)?;
            let h = *r.header();
            for f in r {
                let f = f?;
                // Convert from the IVF time base to 90 kHz.
                let ts = f.timestamp * 90_000 * u64::from(h.timebase_numerator)
                    / u64::from(h.timebase_denominator.max(1));
                frames.push((ts as u32, f.data.to_vec()));
            }
        }
    }
    let mut packetizer = codec.packetizer();
    let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
    let mut seq = 1000u16;
    let mut buf = [0u8; 1500];
    let mut packets = 0;
    let mut err: Option<std::io::Error> = None;
    for (ts, frame) in &frames {
        packetizer.packetize(frame, 1000, &mut |payload, last| {
            let repr = RtpRepr {
                marker: last && codec != Codec::Opus,
                payload_type: 96,
                sequence_number: seq,
                timestamp: *ts,
                ssrc: 0x0f0f_0f0f,
                payload,
                ..Default::default()
            };
            seq = seq.wrapping_add(1);
            packets += 1;
            if let Ok(n) = repr.emit(&mut buf) {
                let r = out
                    .write_all(&(n as u16).to_be_bytes())
                    .and_then(|_| out.write_all(&buf[..n]));
                if let Err(e) = r {
                    err = Some(e);
                }
            }
        })?;
    }
    if let Some(e) = err {
        return Err(e.into());
    }
    out.flush()?;
    println!("{} frames -> {packets} packets", frames.len());
    Ok(())
}
