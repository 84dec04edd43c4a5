//! Property tests for the record and handshake codecs, reassembly and the replay window.

use crate::extensions::{ExtensionWriter, Extensions};
use crate::handshake::{
    CertificateMsg, CertificateRequest, CertificateVerify, ClientHello, ClientKeyExchange,
    HandshakeFragment, HandshakeType, HelloVerifyRequest, ServerHello, ServerKeyExchange,
};
use crate::reassembly::Reassembler;
use crate::record::{write_header, ContentType, ProtocolVersion, Record, Records};
use crate::replay::ReplayWindow;
use proptest::prelude::*;

fn content_type() -> impl Strategy<Value = ContentType> {
    prop_oneof![
        Just(ContentType::ChangeCipherSpec),
        Just(ContentType::Alert),
        Just(ContentType::Handshake),
        Just(ContentType::ApplicationData)
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn bytes1(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..max)
}

/// Turns a codec error into a failed test case.
fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(e.to_string()))
}

/// Turns a missing value into a failed test case naming `what`.
fn some<T>(o: Option<T>, what: &str) -> Result<T, TestCaseError> {
    o.ok_or_else(|| TestCaseError::fail(format!("missing {what}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn record_round_trip(ct in content_type(), epoch: u16, seq in 0u64..(1 << 48), frag in bytes(300), frag2 in bytes(50)) {
        let mut d = Vec::new();
        write_header(&mut d, ct, ProtocolVersion::DTLS1_2, epoch, seq, frag.len() as u16);
        d.extend_from_slice(&frag);
        write_header(&mut d, ct, ProtocolVersion::DTLS1_0, epoch, seq + 1, frag2.len() as u16);
        d.extend_from_slice(&frag2);
        let recs: Vec<Record<'_>> = ok(Records::new(&d).collect::<Result<_, _>>())?;
        prop_assert_eq!(recs.len(), 2);
        prop_assert_eq!(recs[0].content_type, ct);
        prop_assert_eq!(recs[0].epoch, epoch);
        prop_assert_eq!(recs[0].sequence_number, seq);
        prop_assert_eq!(recs[0].fragment, &frag[..]);
        prop_assert_eq!(recs[1].fragment, &frag2[..]);
        prop_assert_eq!(recs[1].version, ProtocolVersion::DTLS1_0);
    }

    #[test]
    fn parsers_never_panic(data in bytes(600)) {
        for r in Records::new(&data) { let _ = r; }
        let _ = HandshakeFragment::parse(&data);
        let _ = ClientHello::parse(&data);
        let _ = ServerHello::parse(&data);
        let _ = HelloVerifyRequest::parse(&data);
        let _ = CertificateMsg::parse(&data);
        let _ = ServerKeyExchange::parse(&data);
        let _ = CertificateRequest::parse(&data);
        let _ = ClientKeyExchange::parse(&data);
        let _ = CertificateVerify::parse(&data);
        let _ = Extensions::parse(&data);
    }

    #[test]
    fn handshake_fragment_round_trip(ty: u8, seq: u16, body in bytes(400), off in 0u32..1000, extra in 0u32..1000) {
        let f = HandshakeFragment {
            msg_type: HandshakeType::from_u8(ty),
            length: off + body.len() as u32 + extra,
            message_seq: seq,
            fragment_offset: off,
            body: &body,
        };
        let mut out = Vec::new();
        f.emit(&mut out);
        let (g, rest) = ok(HandshakeFragment::parse(&out))?;
        prop_assert!(rest.is_empty());
        prop_assert_eq!(g, f);
    }

    #[test]
    fn client_hello_round_trip(
        random: [u8; 32],
        session_id in bytes(33),
        cookie in bytes(256),
        suites in proptest::collection::vec(any::<u16>(), 1..40),
        groups in proptest::collection::vec(any::<u16>(), 0..10),
        profiles in proptest::collection::vec(any::<u16>(), 0..6),
        ems: bool,
    ) {
        let suites: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
        let mut ext = Vec::new();
        {
            let mut w = ExtensionWriter::new(&mut ext);
            w.u16_list(10, &groups);
            w.use_srtp(&profiles);
            if ems { w.raw(23, &[]); }
            w.finish();
        }
        let ch = ClientHello {
            client_version: ProtocolVersion::DTLS1_2,
            random,
            session_id: &session_id,
            cookie: &cookie,
            cipher_suites: &suites,
            compression_methods: &[0],
            extensions: Some(&ext[2..]),
        };
        let mut out = Vec::new();
        ch.emit(&mut out);
        let parsed = ClientHello::parse(&out);
        if session_id.len() > 32 {
            prop_assert!(parsed.is_err());
        } else {
            let p = ok(parsed)?;
            prop_assert_eq!(&p, &ch);
            let e = p.extensions();
            prop_assert_eq!(e.groups().collect::<Vec<_>>(), groups);
            prop_assert_eq!(e.srtp_profiles().collect::<Vec<_>>(), profiles);
            prop_assert_eq!(e.extended_master_secret, ems);
            let mut again = Vec::new();
            p.emit(&mut again);
            prop_assert_eq!(again, out);
        }
    }

    #[test]
    fn server_messages_round_trip(
        random: [u8; 32],
        suite: u16,
        public in bytes1(200),
        sig in bytes(300),
        scheme: u16,
        group: u16,
        certs in proptest::collection::vec(bytes1(300), 0..5),
        types in bytes(10),
        algs in proptest::collection::vec(any::<u16>(), 0..10),
        cookie in bytes(256),
    ) {
        let sh = ServerHello { server_version: ProtocolVersion::DTLS1_2, random, session_id: &[], cipher_suite: suite, compression_method: 0, extensions: None };
        let mut o = Vec::new();
        sh.emit(&mut o);
        prop_assert_eq!(ok(ServerHello::parse(&o))?, sh);

        let mut params = Vec::new();
        ServerKeyExchange::emit_params(&mut params, group, &public);
        let ske = ServerKeyExchange { named_group: group, public: &public, signature_scheme: scheme, signature: &sig, params: &params };
        let mut o = Vec::new();
        ske.emit(&mut o);
        prop_assert_eq!(ok(ServerKeyExchange::parse(&o))?, ske);

        let cm = CertificateMsg { certificates: certs.iter().map(|c| &c[..]).collect() };
        let mut o = Vec::new();
        cm.emit(&mut o);
        prop_assert_eq!(ok(CertificateMsg::parse(&o))?, cm);

        let algs: Vec<u8> = algs.iter().flat_map(|s| s.to_be_bytes()).collect();
        let cr = CertificateRequest { certificate_types: &types, signature_algorithms: &algs, certificate_authorities: &[] };
        let mut o = Vec::new();
        cr.emit(&mut o);
        prop_assert_eq!(ok(CertificateRequest::parse(&o))?, cr);

        let cke = ClientKeyExchange { public: &public };
        let mut o = Vec::new();
        cke.emit(&mut o);
        prop_assert_eq!(ok(ClientKeyExchange::parse(&o))?, cke);

        let cv = CertificateVerify { signature_scheme: scheme, signature: &sig };
        let mut o = Vec::new();
        cv.emit(&mut o);
        prop_assert_eq!(ok(CertificateVerify::parse(&o))?, cv);

        let hvr = HelloVerifyRequest { server_version: ProtocolVersion::DTLS1_0, cookie: &cookie };
        let mut o = Vec::new();
        hvr.emit(&mut o);
        prop_assert_eq!(ok(HelloVerifyRequest::parse(&o))?, hvr);
    }

    /// Any split into fragments, delivered in any order with duplicates and
    /// overlaps, reassembles to the original message.
    #[test]
    fn reassembly_any_order(
        msg in bytes1(3000),
        cuts in proptest::collection::vec(any::<u16>(), 0..12),
        order in proptest::collection::vec(any::<u16>(), 1..40),
    ) {
        let len = msg.len();
        let mut points: Vec<usize> = cuts.iter().map(|c| *c as usize % len).collect();
        points.push(0);
        points.push(len);
        points.sort_unstable();
        points.dedup();
        let mut pieces: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        // Overlapping extras.
        for w in points.windows(3) {
            pieces.push((w[0], w[2]));
        }
        let mut r = Reassembler::new(0);
        let mut delivered = vec![false; pieces.len()];
        let feed = |i: usize, r: &mut Reassembler| {
            let (a, b) = pieces[i];
            let f = HandshakeFragment {
                msg_type: HandshakeType::Certificate,
                length: len as u32,
                message_seq: 0,
                fragment_offset: a as u32,
                body: &msg[a..b],
            };
            ok(r.insert(&f)).map(|_| ())
        };
        for o in &order {
            let i = *o as usize % pieces.len();
            delivered[i] = true;
            feed(i, &mut r)?;
        }
        for (i, done) in delivered.iter().enumerate() {
            if !done {
                feed(i, &mut r)?;
            }
        }
        let m = some(r.pop(), "the reassembled message")?;
        prop_assert_eq!(m.body, msg);
        prop_assert!(r.pop().is_none());
    }

    /// The window agrees with a model: new numbers within 64 of the top are
    /// accepted once; older ones are refused.
    #[test]
    fn replay_window_model(seqs in proptest::collection::vec(0u64..300, 1..200)) {
        let mut w = ReplayWindow::new();
        let mut seen = std::collections::HashSet::new();
        let mut top: Option<u64> = None;
        for s in seqs {
            let fresh = !seen.contains(&s) && top.is_none_or(|t| s + 64 > t);
            prop_assert_eq!(w.check(s), fresh, "seq {}", s);
            if fresh {
                w.update(s);
                seen.insert(s);
                top = Some(top.map_or(s, |t| t.max(s)));
            }
        }
    }
}
