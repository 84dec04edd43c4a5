// Fuzz body: arbitrary bytes through fulmar-sdp's parser. What parses must be
// written back, re-parse to an equal description and write identically; every
// typed getter must run without panicking. Each line is also tried as a
// standalone ICE candidate (the trickle path), which must round-trip too, and
// the whole text as a trickle-ICE SDP fragment (RFC 8840 §9).

fn run(data: &[u8]) {
    use fulmar_sdp::{Candidate, Limits, SessionDescription};

    if let Ok(sdp) = SessionDescription::parse_bytes(data) {
        let text = sdp.to_string();
        // Writing may turn LF endings into CRLF, so allow the re-parse twice the room.
        let limits = Limits {
            max_input_len: 2 * Limits::DEFAULT.max_input_len,
            ..Limits::DEFAULT
        };
        let again = match SessionDescription::parse_with_limits(&text, &limits) {
            Ok(again) => again,
            Err(e) => panic!("written description does not parse: {e}\n{text:?}"),
        };
        assert_eq!(again, sdp);
        assert_eq!(again.to_string(), text);
        touch(&sdp);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // The same text as an RFC 8840 SDP fragment: what parses writes back
        // to a fragment that parses equal.
        if let Ok(frag) = SessionDescription::parse_fragment(text) {
            let written = frag.to_string();
            match SessionDescription::parse_fragment(&written) {
                Ok(again) => assert_eq!(again, frag),
                // Mixed line endings are written as CRLF, which may outgrow the limit.
                Err(fulmar_sdp::Error::TooLarge { .. }) => {}
                Err(e) => panic!("written fragment does not parse: {e}\n{written:?}"),
            }
            let _ = frag.first_ice_ufrag();
            touch(&frag);
        }
        for line in text.lines().take(64) {
            if let Ok(c) = Candidate::parse(line) {
                let written = c.to_string();
                check_written_candidate(&c, &written, Candidate::parse(&written), Candidate::MAX_LEN);
            }
        }
    }
}

fn touch(sdp: &fulmar_sdp::SessionDescription) {
    let mut n = 0usize;
    n += sdp.origin().map_or(0, |o| o.username.len());
    n += sdp.session_name().len() + sdp.timing().map_or(0, |t| t.start_time as usize & 1);
    n += sdp.connection().map_or(0, |c| c.address.len()) + sdp.bandwidths().count();
    n += sdp.groups().map(|g| g.mids().count()).sum::<usize>();
    n += sdp.msid_semantic().map_or(0, |m| m.identifiers().count()) + usize::from(sdp.ice_lite());
    n += sdp.fingerprints().count() + usize::from(sdp.extmap_allow_mixed());
    for m in sdp.media() {
        n += m.kind().len() + usize::from(m.port()) + m.proto().len() + m.formats().count();
        n += m.payload_types().count() + m.mid().map_or(0, str::len) + m.msids().count();
        n += sdp.ice_ufrag_for(m).map_or(0, str::len) + sdp.ice_pwd_for(m).map_or(0, str::len);
        n += m.ice_options().count() + sdp.fingerprints_for(m).len();
        for f in m.fingerprints() {
            n += f.bytes().filter(Result::is_ok).count();
        }
        n += usize::from(sdp.setup_for(m).is_some()) + usize::from(m.direction().is_some());
        n += usize::from(m.rtcp_mux())
            + usize::from(m.rtcp_rsize())
            + m.rtcp().map_or(0, |r| usize::from(r.port));
        for c in m.codecs() {
            n += c.rtcp_fbs().count() + c.name().map_or(0, str::len);
            n += c
                .fmtp
                .map_or(0, |f| f.params().count() + usize::from(f.apt().is_some()));
        }
        n += m.extmaps().count() + m.ssrcs().count();
        n += m.ssrc_groups().map(|g| g.ssrcs().count()).sum::<usize>();
        for r in m.rids() {
            n += r.payload_types().count() + r.params().count();
        }
        if let Some(sc) = m.simulcast() {
            for list in [sc.send, sc.recv].into_iter().flatten() {
                n += list.streams().map(|s| s.count()).sum::<usize>();
            }
        }
        n += m.sctp_port().map_or(0, usize::from)
            + m.max_message_size().map_or(0, |s| s as usize & 1);
        n += m.candidates().map(|c| c.extensions.len()).sum::<usize>()
            + usize::from(m.end_of_candidates());
    }
    std::hint::black_box(n);
}

include!("candidate_round_trip.rs");
