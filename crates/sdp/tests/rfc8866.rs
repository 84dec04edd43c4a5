//! The example session description of RFC 8866 §5, with LF-only and CRLF
//! line endings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fulmar_sdp::{LineEnding, SessionDescription};

/// RFC 8866 §5, "An example SDP description is:".
const RFC8866_SECTION5: &str = "v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
a=rtpmap:99 h263-1998/90000
";

#[test]
fn rfc8866_section5_example_parses() {
    let sdp = SessionDescription::parse(RFC8866_SECTION5).unwrap();
    let o = sdp.origin().unwrap();
    assert_eq!(o.username, "jdoe");
    assert_eq!(o.session_id, 3724394400);
    assert_eq!(o.session_version, 3724394405);
    assert_eq!(o.unicast_address, "198.51.100.1");
    assert_eq!(sdp.session_name(), "Call to John Smith");
    let info: Vec<_> = sdp
        .session_lines()
        .filter(|l| "iuep".contains(l.kind))
        .map(|l| l.value)
        .collect();
    assert_eq!(
        info,
        [
            "SDP Offer #1",
            "http://www.jdoe.example.com/home.html",
            "Jane Doe <jane@jdoe.example.com>",
            "+1 617 555-6011"
        ]
    );
    assert_eq!(sdp.connection().unwrap().address, "198.51.100.1");
    assert_eq!(sdp.timing().unwrap().start_time, 0);
    let m = sdp.media();
    assert_eq!(m.len(), 3);
    assert_eq!(
        (m[0].kind(), m[0].port(), m[0].proto()),
        ("audio", 49170, "RTP/AVP")
    );
    assert_eq!(m[0].payload_types().collect::<Vec<_>>(), [0]);
    assert_eq!(m[1].port(), 49180);
    assert_eq!((m[2].kind(), m[2].port()), ("video", 51372));
    let c = m[2].connection().unwrap();
    assert_eq!((c.addrtype, c.address), ("IP6", "2001:db8::2"));
    let r = m[2].rtpmap(99).unwrap();
    assert_eq!(
        (r.encoding_name, r.clock_rate, r.encoding_params),
        ("h263-1998", 90000, None)
    );
}

#[test]
fn rfc8866_section5_example_round_trips_with_either_line_ending() {
    let lf = SessionDescription::parse(RFC8866_SECTION5).unwrap();
    assert_eq!(lf.line_ending(), LineEnding::Lf);
    assert_eq!(lf.to_string(), RFC8866_SECTION5);

    let crlf_text = RFC8866_SECTION5.replace('\n', "\r\n");
    let crlf = SessionDescription::parse(&crlf_text).unwrap();
    assert_eq!(crlf.line_ending(), LineEnding::CrLf);
    assert_eq!(crlf.to_string(), crlf_text);

    // Same lines; only the ending differs.
    let mut converted = lf.clone();
    converted.set_line_ending(LineEnding::CrLf);
    assert_eq!(converted, crlf);
}
