//! Containers: IVF, H.264 Annex-B, Ogg Opus (RFC 3533, RFC 7845).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_rtp::codec::opus::packet_samples;
use fulmar_rtp::container::{annexb, ivf, ogg};
use fulmar_rtp::Error;
use proptest::prelude::*;
use std::io::Cursor;

#[test]
fn ivf_header_layout_and_frame_count_patch() {
    let h = ivf::IvfHeader::rtp(ivf::VP8, 640, 480);
    let mut w = ivf::IvfWriter::new(Cursor::new(Vec::new()), h).unwrap();
    w.write_frame(0, &[1, 2, 3]).unwrap();
    w.write_frame(3000, &[4]).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(&bytes[..12], b"DKIF\x00\x00\x20\x00VP80");
    assert_eq!(&bytes[12..16], &[0x80, 0x02, 0xe0, 0x01]);
    assert_eq!(
        &bytes[16..28],
        &[0x90, 0x5f, 0x01, 0, 1, 0, 0, 0, 2, 0, 0, 0]
    );
    let r = ivf::IvfReader::new(&bytes).unwrap();
    assert_eq!(r.header().frame_count, 2);
    let frames: Vec<_> = r.map(|f| f.unwrap()).collect();
    assert_eq!(
        frames,
        vec![
            ivf::IvfFrame {
                timestamp: 0,
                data: &[1, 2, 3]
            },
            ivf::IvfFrame {
                timestamp: 3000,
                data: &[4]
            }
        ]
    );
    // Truncated frame: typed error.
    let mut r = ivf::IvfReader::new(&bytes[..bytes.len() - 1]).unwrap();
    r.next();
    assert_eq!(r.next(), Some(Err(Error::Truncated("IVF frame"))));
    assert_eq!(
        ivf::IvfReader::new(b"DKIX").unwrap_err(),
        Error::Truncated("IVF header")
    );
}

#[test]
fn annexb_nals_and_access_units() {
    // AUD, SPS, PPS, IDR slice (first_mb 0), then a P slice starting a new AU.
    let stream = [
        0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 0x88, 4,
        0, 0, 0, 1, 0x41, 0x9a, 5,
    ];
    let nals: Vec<_> = annexb::annexb_nals(&stream).collect();
    assert_eq!(
        nals,
        vec![
            &[0x09, 0xf0][..],
            &[0x67, 1, 2],
            &[0x68, 3],
            &[0x65, 0x88, 4],
            &[0x41, 0x9a, 5]
        ]
    );
    let aus = annexb::access_units(&stream);
    assert_eq!(aus.len(), 2);
    assert_eq!(aus[1], vec![&[0x41, 0x9a, 5][..]]);
    let mut w = annexb::AnnexBWriter::new(Vec::new());
    for n in &nals {
        w.write_nal(n).unwrap();
    }
    let out = w.into_inner().unwrap();
    assert_eq!(annexb::annexb_nals(&out).collect::<Vec<_>>(), nals);
}

#[test]
fn rfc6716_toc_durations() {
    assert_eq!(packet_samples(&[0xfc]), Some(960)); // config 31 (CELT FB 20 ms), 1 frame
    assert_eq!(packet_samples(&[0x78 | 1]), Some(960 * 2)); // config 15 (hybrid FB 20 ms), 2 frames
    assert_eq!(packet_samples(&[0x03, 0x03]), Some(480 * 3)); // config 0 (SILK NB 10 ms), 3 frames
    assert_eq!(packet_samples(&[0x1b, 0x01]), Some(2880)); // config 3 (SILK NB 60 ms), code 3, M=1
    assert_eq!(packet_samples(&[0x1b, 0x03]), None); // 3 x 60 ms: over 120 ms
    assert_eq!(packet_samples(&[0x03, 0x3f]), None); // 63 frames of 10 ms: over 120 ms
    assert_eq!(packet_samples(&[]), None);
}

#[test]
fn ogg_opus_pages_and_crc() {
    let head = ogg::OpusHead {
        channels: 2,
        pre_skip: 312,
        input_sample_rate: 48_000,
        output_gain: 0,
    };
    let mut w = ogg::OggOpusWriter::new(Vec::new(), 0xfeed, head, "fulmar").unwrap();
    let big = vec![0xfcu8; 600];
    w.write_packet(&[0xfc, 1, 2]).unwrap();
    w.write_packet(&big).unwrap();
    let bytes = w.finish().unwrap();
    // Page 0 is the BOS page with OpusHead in one segment of 19 bytes.
    let (p0, used) = ogg::parse_page(&bytes).unwrap();
    assert_eq!(
        (p0.header_type, p0.sequence, p0.serial, p0.segments),
        (ogg::BEGIN_OF_STREAM, 0, 0xfeed, &[19u8][..])
    );
    assert_eq!(ogg::OpusHead::parse(p0.data).unwrap(), head);
    let (p1, _) = ogg::parse_page(&bytes[used..]).unwrap();
    assert_eq!(&p1.data[..8], b"OpusTags");
    let packets: Vec<_> = ogg::OggPacketReader::new(&bytes)
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(packets.len(), 4);
    assert_eq!(packets[2].data, vec![0xfc, 1, 2]);
    assert_eq!(packets[2].granule_position, 312 + 960);
    assert_eq!(packets[3].data, big);
    assert_eq!(packets[3].granule_position, 312 + 1920);
    // A flipped bit breaks the CRC.
    let mut bad = bytes.clone();
    bad[40] ^= 1;
    assert_eq!(
        ogg::parse_page(&bad).unwrap_err(),
        Error::Malformed("Ogg page CRC")
    );
    assert_eq!(
        ogg::parse_page(b"OggT").unwrap_err(),
        Error::Truncated("Ogg page header")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn ivf_round_trip(frames in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..10)) {
        let mut w = ivf::IvfWriter::new(Vec::new(), ivf::IvfHeader::rtp(ivf::AV1, 1, 1)).unwrap();
        for (ts, d) in &frames {
            w.write_frame(*ts, d).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let got: Vec<_> = ivf::IvfReader::new(&bytes).unwrap().map(|f| { let f = f.unwrap(); (f.timestamp, f.data.to_vec()) }).collect();
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn ogg_round_trip(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 1..8)) {
        let head = ogg::OpusHead { channels: 1, pre_skip: 0, input_sample_rate: 48_000, output_gain: -3 };
        let mut w = ogg::OggOpusWriter::new(Vec::new(), 1, head, "v").unwrap();
        let packets: Vec<Vec<u8>> = packets.into_iter().map(|mut p| { p.insert(0, 0xfc); p }).collect();
        for p in &packets {
            w.write_packet(p).unwrap();
        }
        let bytes = w.finish().unwrap();
        let got: Vec<_> = ogg::OggPacketReader::new(&bytes).skip(2).map(|p| p.unwrap().data).collect();
        prop_assert_eq!(got, packets);
    }

    #[test]
    fn container_readers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = ivf::IvfReader::new(&data).map(|r| r.count());
        let _ = ogg::OggPacketReader::new(&data).count();
        let _ = annexb::access_units(&data);
    }
}
