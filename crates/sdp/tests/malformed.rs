//! Malformed input gives a typed error naming its line, or is tolerated where
//! browsers tolerate it; nothing panics and resource limits hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::{Error, Limits, SessionDescription, SyntaxError};

const HEAD: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const OFFER: &str = include_str!("fixtures/chromium156-offer-audio-video-data.sdp");

fn err(text: &str) -> Error {
    SessionDescription::parse(text).unwrap_err()
}

fn syntax(text: &str) -> (usize, SyntaxError) {
    match err(text) {
        Error::Syntax { line, kind } => (line, kind),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn missing_version() {
    assert_eq!(
        syntax("o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"),
        (1, SyntaxError::MissingVersion)
    );
    assert_eq!(syntax(""), (1, SyntaxError::MissingVersion));
    assert_eq!(syntax("\r\n"), (1, SyntaxError::MissingVersion));
    assert_eq!(syntax("hello"), (1, SyntaxError::MissingVersion));
    assert_eq!(syntax("v=1\r\n"), (1, SyntaxError::UnsupportedVersion));
    let e = err("o=- 1 2 IN IP4 127.0.0.1\r\n");
    assert_eq!(e.line(), Some(1));
    assert!(e.to_string().starts_with("line 1: "), "{e}");
}

#[test]
fn unknown_line_type_rejects_the_description() {
    // RFC 8866 §5: a parser must reject a description with a type letter it does not understand.
    assert_eq!(
        syntax(&format!("{HEAD}x=whatever\r\n")),
        (5, SyntaxError::UnknownLineType('x'))
    );
    assert_eq!(
        syntax(&format!("{HEAD}A=upper\r\n")),
        (5, SyntaxError::UnknownLineType('A'))
    );
    assert_eq!(
        syntax(&format!("{HEAD}no equals\r\n")),
        (5, SyntaxError::MissingEquals)
    );
}

#[test]
fn required_and_unique_session_lines() {
    assert_eq!(
        syntax("v=0\r\ns=-\r\nt=0 0\r\n"),
        (3, SyntaxError::MissingLine('o'))
    );
    assert_eq!(
        syntax("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0\r\n"),
        (3, SyntaxError::MissingLine('s'))
    );
    assert_eq!(
        syntax(&format!("{HEAD}o=- 1 2 IN IP4 127.0.0.1\r\n")),
        (5, SyntaxError::DuplicateLine('o'))
    );
    assert_eq!(
        syntax(&format!("{HEAD}v=0\r\n")),
        (5, SyntaxError::DuplicateLine('v'))
    );
    assert_eq!(
        syntax(&format!("{HEAD}m=audio 9 RTP/AVP 0\r\nt=0 0\r\n")),
        (6, SyntaxError::NotAllowedInMedia('t'))
    );
}

#[test]
fn bad_numbers_and_overflow() {
    let m = |line: &str| {
        syntax(&format!(
            "{HEAD}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{line}\r\n"
        ))
    };
    assert_eq!(
        syntax(&format!("{HEAD}m=audio nine RTP/AVP 0\r\n")),
        (5, SyntaxError::InvalidNumber("port"))
    );
    assert_eq!(
        syntax(&format!("{HEAD}m=audio 65536 RTP/AVP 0\r\n")),
        (5, SyntaxError::NumberOutOfRange("port"))
    );
    assert_eq!(
        syntax(&format!("{HEAD}m=audio 9 RTP/AVP 128\r\n")),
        (5, SyntaxError::NumberOutOfRange("payload type"))
    );
    assert_eq!(
        syntax(&format!("{HEAD}m=audio 9 RTP/AVP x\r\n")),
        (5, SyntaxError::InvalidNumber("payload type"))
    );
    assert_eq!(
        m("a=rtpmap:abc opus/48000/2"),
        (6, SyntaxError::InvalidNumber("payload type"))
    );
    assert_eq!(
        m("a=rtpmap:111 opus/48k/2"),
        (6, SyntaxError::InvalidNumber("clock rate"))
    );
    assert_eq!(
        m("a=rtpmap:111 opus/4294967296/2"),
        (6, SyntaxError::NumberOutOfRange("clock rate"))
    );
    assert_eq!(
        m("a=rtpmap:111 opus"),
        (6, SyntaxError::MissingField("clock rate"))
    );
    assert_eq!(
        m("a=ssrc:4294967296 cname:x"),
        (6, SyntaxError::NumberOutOfRange("ssrc-id"))
    );
    assert_eq!(
        m("a=ssrc:99999999999999999999999 cname:x"),
        (6, SyntaxError::NumberOutOfRange("ssrc-id"))
    );
    assert_eq!(
        m("a=ssrc-group:FID 1 -2"),
        (6, SyntaxError::InvalidNumber("ssrc-id"))
    );
    assert_eq!(
        m("a=extmap:0 urn:x"),
        (6, SyntaxError::NumberOutOfRange("extmap id"))
    );
    assert_eq!(
        m("a=extmap:1/sideways urn:x"),
        (6, SyntaxError::InvalidField("extmap direction"))
    );
    assert_eq!(
        m("a=sctp-port:65536"),
        (6, SyntaxError::NumberOutOfRange("sctp-port"))
    );
    assert_eq!(
        m("a=max-message-size:-1"),
        (6, SyntaxError::InvalidNumber("max-message-size"))
    );
    assert_eq!(
        m("a=rtcp-fb:1000 nack"),
        (6, SyntaxError::NumberOutOfRange("payload type"))
    );
    assert_eq!(
        m("a=fmtp:x apt=1"),
        (6, SyntaxError::InvalidNumber("payload type"))
    );
    assert_eq!(
        syntax("v=0\r\no=- 18446744073709551616 2 IN IP4 127.0.0.1\r\ns=-\r\n"),
        (2, SyntaxError::NumberOutOfRange("sess-id"))
    );
    assert_eq!(
        syntax("v=0\r\no=- 1 2 IN IP4\r\ns=-\r\n"),
        (2, SyntaxError::MissingField("unicast-address"))
    );
    assert_eq!(
        syntax(&format!("{HEAD}b=AS:lots\r\n")),
        (5, SyntaxError::InvalidNumber("bandwidth"))
    );
}

#[test]
fn malformed_jsep_attributes() {
    let m = |line: &str| {
        syntax(&format!(
            "{HEAD}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{line}\r\n"
        ))
        .1
    };
    assert_eq!(m("a=setup:sometimes"), SyntaxError::InvalidField("setup"));
    assert_eq!(
        m("a=fingerprint:sha-256 XY:00"),
        SyntaxError::InvalidField("fingerprint")
    );
    assert_eq!(
        m("a=fingerprint:sha-256"),
        SyntaxError::MissingField("fingerprint")
    );
    assert_eq!(m("a=mid:"), SyntaxError::MissingField("mid"));
    assert_eq!(m("a=ice-ufrag:a b"), SyntaxError::InvalidField("ice-ufrag"));
    assert_eq!(
        m("a=rid:h sideways"),
        SyntaxError::InvalidField("rid direction")
    );
    assert_eq!(
        m("a=rid:h send pt=300"),
        SyntaxError::NumberOutOfRange("payload type")
    );
    assert_eq!(
        m("a=simulcast:send"),
        SyntaxError::MissingField("simulcast list")
    );
    assert_eq!(
        m("a=simulcast:send a;;b"),
        SyntaxError::InvalidField("simulcast rid")
    );
    assert_eq!(
        m("a=candidate:1 1 udp 1 127.0.0.1 9 host"),
        SyntaxError::InvalidField("typ")
    );
    assert_eq!(m("a=msid:"), SyntaxError::MissingField("msid-id"));
    assert_eq!(m("a=:value"), SyntaxError::MissingField("attribute name"));
}

#[test]
fn invalid_utf8_is_reported_with_its_line() {
    let mut bytes = format!("{HEAD}a=tool:").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\r', b'\n']);
    assert_eq!(
        SessionDescription::parse_bytes(&bytes).unwrap_err(),
        Error::InvalidUtf8 { line: 5 }
    );
    // A truncated multi-byte sequence at the very end.
    let mut bytes = format!("{HEAD}s=caf").into_bytes();
    bytes.push(0xc3);
    assert_eq!(
        SessionDescription::parse_bytes(&bytes).unwrap_err(),
        Error::InvalidUtf8 { line: 5 }
    );
    // Valid UTF-8 beyond ASCII is fine in free text.
    let text = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=Café ☕\r\n";
    let sdp = SessionDescription::parse_bytes(text.as_bytes()).unwrap();
    assert_eq!(sdp.session_name(), "Café ☕");
}

#[test]
fn line_endings_browsers_tolerate() {
    let lf = OFFER.replace("\r\n", "\n");
    let sdp = SessionDescription::parse(&lf).unwrap();
    assert_eq!(sdp.to_string(), lf);
    assert_eq!(sdp.media().len(), 3);
    // Mixed endings parse; the first line's ending is used when writing.
    let mixed = OFFER.replacen("\r\n", "\n", 10);
    let sdp = SessionDescription::parse(&mixed).unwrap();
    assert_eq!(sdp.to_string(), lf);
    // No ending on the last line, and trailing blank lines.
    let sdp = SessionDescription::parse(OFFER.trim_end()).unwrap();
    assert_eq!(sdp.to_string(), OFFER);
    let sdp = SessionDescription::parse(&format!("{OFFER}\r\n\r\n")).unwrap();
    assert_eq!(sdp.to_string(), OFFER);
    // Runs of spaces between fields.
    let sdp = SessionDescription::parse(&format!(
        "{HEAD}m=audio  9 RTP/AVP  0  8\r\na=rtpmap:0  PCMU/8000\r\n"
    ))
    .unwrap();
    assert_eq!(sdp.media()[0].payload_types().collect::<Vec<_>>(), [0, 8]);
    assert_eq!(sdp.media()[0].rtpmap(0).unwrap().encoding_name, "PCMU");
    let sdp = SessionDescription::parse(&format!(
        "{HEAD}m=audio 9 RTP/AVP 0\r\na=rtpmap: 0 PCMU/8000\r\na=fmtp: 0 x=1\r\n"
    ))
    .unwrap();
    assert_eq!(sdp.media()[0].rtpmap(0).unwrap().clock_rate, 8000);
    assert_eq!(sdp.media()[0].fmtp(0).unwrap().param("x"), Some("1"));
}

#[test]
fn empty_lines_and_stray_carriage_returns() {
    assert_eq!(
        syntax(&format!("{HEAD}\r\na=x\r\n")),
        (5, SyntaxError::EmptyLine)
    );
    assert_eq!(
        syntax(&format!("{HEAD}a=x\r\r\n")),
        (5, SyntaxError::StrayCarriageReturn)
    );
}

/// RFC 8866 §9: no field may hold NUL (a byte-string excludes it): in the
/// media line, in a mid, anywhere.
#[test]
fn nul_bytes_are_refused_wherever_they_are() {
    for (text, line) in [
        (format!("{HEAD}m=audio 9 RTP/AVP\0 0\r\n"), 5),
        (format!("{HEAD}m=audio 9 RTP/AVP 0\r\na=mid:0\0\r\n"), 6),
        (format!("{HEAD}a=x-anything:\0\r\n"), 5),
        ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\0\r\n".to_string(), 2),
    ] {
        assert_eq!(
            syntax(&text),
            (line, SyntaxError::ForbiddenCharacter),
            "{text:?}"
        );
    }
}

#[test]
fn unknown_attributes_are_kept_verbatim() {
    let text = format!(
        "{HEAD}a=x-google-flag:conference\r\na=weird: spaced  value \r\nm=audio 9 RTP/AVP 0\r\na=property\r\na=ptime:20\r\n"
    );
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.to_string(), text);
    assert_eq!(sdp.attribute("weird"), Some(" spaced  value "));
    assert_eq!(sdp.media()[0].attribute("property"), Some(""));
    assert_eq!(sdp.media()[0].attribute("ptime"), Some("20"));
}

#[test]
fn ten_megabyte_input_is_refused_before_any_work() {
    let mut big = String::from(HEAD);
    while big.len() < 10 << 20 {
        big.push_str("a=x-padding:0123456789012345678901234567890123456789\r\n");
    }
    assert_eq!(
        err(&big),
        Error::TooLarge {
            len: big.len(),
            max: Limits::DEFAULT.max_input_len
        }
    );
    assert!(matches!(
        SessionDescription::parse_bytes(big.as_bytes()),
        Err(Error::TooLarge { .. })
    ));
    // A 10 MB single line too.
    let line = "v=".to_owned() + &"0".repeat(10 << 20);
    assert!(matches!(err(&line), Error::TooLarge { .. }));
    // With a limit raised to fit, it parses (each line is kept).
    let limits = Limits {
        max_input_len: 16 << 20,
        max_lines: 1 << 20,
        ..Limits::DEFAULT
    };
    let sdp = SessionDescription::parse_with_limits(&big, &limits).unwrap();
    assert_eq!(sdp.to_string().len(), big.len());
}

#[test]
fn line_and_media_section_limits() {
    let limits = Limits {
        max_lines: 6,
        ..Limits::DEFAULT
    };
    let text = format!("{HEAD}a=1\r\na=2\r\na=3\r\n");
    assert_eq!(
        SessionDescription::parse_with_limits(&text, &limits).unwrap_err(),
        Error::TooManyLines { line: 7, max: 6 }
    );
    let limits = Limits {
        max_media_sections: 2,
        ..Limits::DEFAULT
    };
    let e = SessionDescription::parse_with_limits(OFFER, &limits).unwrap_err();
    assert!(matches!(e, Error::TooManyMediaSections { max: 2, .. }));
    assert_eq!(
        e.line(),
        Some(
            OFFER
                .lines()
                .position(|l| l.starts_with("m=application"))
                .unwrap()
                + 1
        )
    );
}

#[test]
fn every_truncation_of_the_offer_parses_or_errors_without_panicking() {
    for cut in 0..OFFER.len() {
        let _ = SessionDescription::parse(&OFFER[..cut]);
    }
}

#[test]
fn repeated_payload_types_do_not_make_codec_lookup_quadratic() {
    // A 1 MiB-sized m= line repeating one payload type, with many rtpmap lines:
    // codecs() visits each distinct payload type once.
    let mut text = format!("{HEAD}m=audio 9 RTP/AVP");
    for _ in 0..100_000 {
        text.push_str(" 0");
    }
    text.push_str("\r\n");
    for _ in 0..5_000 {
        text.push_str("a=rtpmap:0 PCMU/8000\r\n");
    }
    let sdp = SessionDescription::parse(&text).unwrap();
    let m = &sdp.media()[0];
    assert_eq!(m.payload_types().count(), 100_000);
    assert_eq!(m.codecs().count(), 1);
}
