//! Client-server handshakes in process with simulated time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{
    configs, find_handshake, has_epoch1_record, lossy, perfect, receive, sealed, srtp_keys, Pair,
    SRTP_PROFILES,
};
use fulmar_dtls::{AlertDescription, CipherSuite, Error, Event, Failure, NamedGroup};

fn assert_connected(p: &mut Pair) {
    assert!(
        p.client().is_connected(),
        "client not connected: {:?} {:?}",
        p.client_events(),
        p.client().failure()
    );
    assert!(
        p.server().is_connected(),
        "server not connected: {:?} {:?}",
        p.server_events(),
        p.server().failure()
    );
}

#[test]
fn handshake_app_data_and_exporter() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 1);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    assert_eq!(
        p.client().cipher_suite(),
        Some(CipherSuite::EcdheEcdsaAes128GcmSha256)
    );
    // The server picks its first profile that the client offers.
    assert_eq!(p.client().srtp_profile(), Some(0x0007));
    assert_eq!(p.server().srtp_profile(), Some(0x0007));
    assert!(p.client().extended_master_secret() && p.server().extended_master_secret());
    // No retransmission was needed on a perfect link.
    assert_eq!(p.client().stats().retransmissions, 0);
    assert!(p
        .client_events()
        .iter()
        .any(|e| matches!(e, Event::PeerCertificateVerified(_))));
    assert!(p
        .server_events()
        .iter()
        .any(|e| matches!(e, Event::PeerCertificateVerified(_))));
    let ck = srtp_keys(p.client());
    assert_eq!(ck, srtp_keys(p.server()));
    assert_ne!(ck[..16], ck[16..32], "client and server write keys differ");
    let (mut e1, mut e2) = ([0u8; 40], [0u8; 40]);
    p.client()
        .export_keying_material(b"EXPORTER-test", Some(b"ctx"), &mut e1)
        .unwrap();
    p.server()
        .export_keying_material(b"EXPORTER-test", Some(b"ctx"), &mut e2)
        .unwrap();
    assert_eq!(e1, e2);
    assert_ne!(e1[..], ck[..40], "the label and context count");
    let mut big = vec![0u8; 16 * 1024 + 1];
    assert!(p
        .client()
        .export_keying_material(b"EXPORTER-test", None, &mut big)
        .is_err());

    p.send_from_client(b"ping from client").unwrap();
    p.send_from_server(b"pong from server").unwrap();
    p.flush();
    assert_eq!(p.server_data(), vec![b"ping from client".to_vec()]);
    assert_eq!(p.client_data(), vec![b"pong from server".to_vec()]);
}

#[test]
fn every_suite_and_group() {
    for suite in CipherSuite::ALL.into_iter().filter(|s| s.is_ecdsa()) {
        for group in NamedGroup::ALL {
            let (mut c, s) = configs();
            c.cipher_suites = vec![suite];
            c.groups = vec![group];
            let mut p = Pair::new(c, s, perfect(), 2);
            p.drive(Duration::from_secs(10));
            assert_connected(&mut p);
            assert_eq!(p.server().cipher_suite(), Some(suite));
            assert_eq!(srtp_keys(p.client()), srtp_keys(p.server()));
            p.send_from_server(&[7u8; 1000]).unwrap();
            p.flush();
            assert_eq!(p.client_data(), vec![vec![7u8; 1000]]);
        }
    }
}

#[test]
fn srtp_profile_preference_and_fallback() {
    let (mut c, mut s) = configs();
    // SRTP_AES128_CM_HMAC_SHA1_32, then _80.
    c.srtp_profiles = vec![0x0002, 0x0001];
    s.srtp_profiles = SRTP_PROFILES.to_vec();
    let mut p = Pair::new(c, s, perfect(), 3);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    // The server picks in its own preference order among those offered.
    assert_eq!(p.server().srtp_profile(), Some(0x0001));
    assert_eq!(p.client().srtp_profile(), Some(0x0001));
    assert_eq!(srtp_keys(p.client()), srtp_keys(p.server()));
}

#[test]
fn use_srtp_is_optional() {
    // Nothing offered (the default): no use_srtp, no profile.
    let (mut c, mut s) = configs();
    c.srtp_profiles.clear();
    let mut p = Pair::new(c.clone(), s.clone(), perfect(), 34);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    assert_eq!(p.server().srtp_profile(), None);
    assert_eq!(p.client().srtp_profile(), None);
    // Offered but none in common: the handshake goes on without it.
    c.srtp_profiles = vec![0x0001];
    s.srtp_profiles = vec![0x0007];
    let mut p = Pair::new(c, s, perfect(), 35);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    assert_eq!(p.client().srtp_profile(), None);
}

#[test]
fn handshake_without_cookie() {
    let (c, mut s) = configs();
    s.hello_verify_cookie = false;
    let mut p = Pair::new(c, s, perfect(), 4);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    // Client flight 1 and flight 5 only: no second ClientHello.
    let client_hellos = p
        .sent(true)
        .iter()
        .filter(|(_, d)| d.get(13) == Some(&1))
        .count();
    assert_eq!(client_hellos, 1);
}

#[test]
fn cookie_exchange_happens_by_default() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 5);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    // First server datagram is a HelloVerifyRequest (handshake type 3), then two ClientHellos.
    assert_eq!(p.sent(false)[0].1[13], 3);
    let client_hellos = p
        .sent(true)
        .iter()
        .filter(|(_, d)| d.get(13) == Some(&1))
        .count();
    assert_eq!(client_hellos, 2);
}

#[test]
fn every_datagram_fits_the_mtu() {
    for mtu in [300usize, 576, 1200] {
        let (mut c, mut s) = configs();
        c.mtu = mtu;
        s.mtu = mtu;
        let mut p = Pair::new(c, s, perfect(), 6);
        p.drive(Duration::from_secs(10));
        assert_connected(&mut p);
        for (_, d) in p.sent(true).iter().chain(&p.sent(false)) {
            assert!(d.len() <= mtu, "{} > {mtu}", d.len());
        }
    }
}

fn lossy_run(loss: f64, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let (c, s) = configs();
        let mut p = Pair::new(c, s, lossy(loss), seed);
        p.drive(Duration::from_secs(300));
        assert_connected(&mut p);
        assert_eq!(srtp_keys(p.client()), srtp_keys(p.server()), "seed {seed}");
    }
}

#[test]
fn handshake_with_reordering_and_duplication() {
    lossy_run(0.0, 100..106);
}

#[test]
fn handshake_with_10_percent_loss() {
    lossy_run(0.10, 200..206);
}

#[test]
fn handshake_with_30_percent_loss() {
    lossy_run(0.30, 300..306);
}

#[test]
fn retransmission_timer_doubles() {
    let (mut c, s) = configs();
    c.max_retransmissions = 4;
    let mut p = Pair::new(c, s, perfect().with_loss(1.0), 7);
    p.drive(Duration::from_secs(120));
    let times: Vec<u64> = p
        .sent(true)
        .iter()
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    // Sent at 0, then retransmitted after 1, 2, 4, 8 s.
    assert_eq!(times, vec![0, 1000, 3000, 7000, 15000]);
    assert_eq!(p.client_failure(), Some(Failure::HandshakeTimeout));
    assert_eq!(p.client().failure(), Some(&Failure::HandshakeTimeout));
}

#[test]
fn retransmission_timeout_is_configurable_and_capped() {
    let (mut c, s) = configs();
    c.initial_retransmit_timeout = Duration::from_millis(100);
    c.max_retransmit_timeout = Duration::from_millis(300);
    c.max_retransmissions = 5;
    let mut p = Pair::new(c, s, perfect().with_loss(1.0), 8);
    p.drive(Duration::from_secs(120));
    let times: Vec<u64> = p
        .sent(true)
        .iter()
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    assert_eq!(times, vec![0, 100, 300, 600, 900, 1200]);
}

#[test]
fn wrong_fingerprint_fails_with_bad_certificate() {
    let (mut c, s) = configs();
    let other = fulmar_dtls::Certificate::generate().unwrap();
    c.expected_fingerprints = vec![other.fingerprint()];
    let mut p = Pair::new(c, s, perfect(), 9);
    p.drive(Duration::from_secs(10));
    assert_eq!(p.client_failure(), Some(Failure::FingerprintMismatch));
    assert_eq!(
        p.client_failure().and_then(|f| f.alert_sent()),
        Some(AlertDescription::BadCertificate)
    );
    assert_eq!(
        p.server_failure(),
        Some(Failure::AlertReceived(AlertDescription::BadCertificate))
    );
    assert!(!p.client().is_connected() && !p.server().is_connected());
}

#[test]
fn server_rejects_wrong_client_certificate() {
    let (c, mut s) = configs();
    let other = fulmar_dtls::Certificate::generate().unwrap();
    s.expected_fingerprints = vec![other.fingerprint()];
    let mut p = Pair::new(c, s, perfect(), 10);
    p.drive(Duration::from_secs(10));
    assert_eq!(p.server_failure(), Some(Failure::FingerprintMismatch));
    assert_eq!(
        p.client_failure(),
        Some(Failure::AlertReceived(AlertDescription::BadCertificate))
    );
}

#[test]
fn no_common_cipher_suite_fails_with_handshake_failure() {
    let (mut c, mut s) = configs();
    c.cipher_suites = vec![CipherSuite::EcdheEcdsaChacha20Poly1305Sha256];
    s.cipher_suites = vec![CipherSuite::EcdheEcdsaAes128GcmSha256];
    let mut p = Pair::new(c, s, perfect(), 11);
    p.drive(Duration::from_secs(10));
    assert!(matches!(
        p.server_failure(),
        Some(Failure::AlertSent {
            alert: AlertDescription::HandshakeFailure,
            reason: Error::Protocol {
                alert: AlertDescription::HandshakeFailure,
                reason: "no cipher suite in common"
            },
        })
    ));
    assert_eq!(
        p.client_failure(),
        Some(Failure::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn close_notify_both_ways() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 12);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    p.client().close();
    p.flush();
    assert!(p.server_events().contains(&Event::Closed));
    assert!(p.send_from_server(b"x").is_err());
    assert!(p.send_from_client(b"x").is_err());
    assert_eq!(p.client().failure(), None, "closed, not failed");
}

#[test]
fn application_data_is_not_replayed_and_bad_mac_is_dropped() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 13);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    let d = sealed(p.client(), b"once");
    let now = p.now();
    assert_eq!(receive(p.server(), now, &d), vec![b"once".to_vec()]);
    assert!(receive(p.server(), now, &d).is_empty(), "replayed");
    let mut d2 = sealed(p.client(), b"twice");
    let l2 = d2.len() - 1;
    d2[l2] ^= 0x80;
    assert!(receive(p.server(), now, &d2).is_empty(), "bad MAC");
    assert_eq!(p.server().poll_event(), None);
    assert!(
        p.server().is_connected(),
        "a bad record is dropped, not fatal"
    );
    assert_eq!(p.server().stats().dropped_records, 2);
}

#[test]
fn lost_final_flight_is_resent_when_the_client_retransmits() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 30);
    let mut dropped = false;
    // Drop the server's first CCS + Finished datagram (flight 6).
    p.set_tamper(move |from_client, d| {
        if !from_client && !dropped && has_epoch1_record(d) {
            dropped = true;
            return false;
        }
        true
    });
    p.drive(Duration::from_secs(30));
    assert_connected(&mut p);
    assert_eq!(
        p.client().stats().retransmissions,
        1,
        "client resent flight 5 once"
    );
    assert_eq!(
        p.server().stats().retransmissions,
        1,
        "server answered with flight 6 again"
    );
    // The client waited one initial timeout (1 s) for it.
    let t = p.sent(false).last().unwrap().0;
    assert!(
        t >= Duration::from_secs(1) && t < Duration::from_secs(2),
        "{t:?}"
    );
}

#[test]
fn lost_hello_verify_request_is_answered_again() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 31);
    let mut dropped = false;
    p.set_tamper(move |from_client, d| {
        if !from_client && !dropped && d.get(13) == Some(&3) {
            dropped = true;
            return false;
        }
        true
    });
    p.drive(Duration::from_secs(30));
    assert_connected(&mut p);
    assert_eq!(p.client().stats().retransmissions, 1);
}

#[test]
fn finished_before_client_key_exchange_is_buffered() {
    // With a small MTU the client's flight 5 spans several datagrams; deliver
    // them to the server in reverse order so the epoch-1 Finished comes first.
    let (mut c, s) = configs();
    c.mtu = 300;
    let mut p = Pair::new(c, s, perfect(), 32);
    // Take flight 5 off the link: the client's datagrams with its
    // Certificate (11), ClientKeyExchange (16), CertificateVerify (15) or
    // an epoch-1 record (the Finished).
    let taken = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let into = taken.clone();
    p.set_tamper(move |from_client, d| {
        let flight5 =
            [11, 15, 16].iter().any(|&t| find_handshake(d, t).is_some()) || has_epoch1_record(d);
        if from_client && flight5 {
            into.borrow_mut().push(d.clone());
            return false;
        }
        true
    });
    // Run until the client has sent it whole (its first epoch-1 record).
    for _ in 0..50 {
        p.step();
        if taken.borrow().iter().any(|d| has_epoch1_record(d)) {
            break;
        }
    }
    let flight5: Vec<Vec<u8>> = taken.borrow().clone();
    assert!(
        flight5.len() >= 3,
        "flight 5 spans {} datagrams",
        flight5.len()
    );
    assert!(has_epoch1_record(flight5.last().unwrap()));
    let now = p.now();
    for d in flight5.iter().rev() {
        receive(p.server(), now, d);
    }
    assert!(p.server().is_connected(), "{:?}", p.server().failure());
    p.net.clear_tamper();
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
}

#[test]
fn server_without_client_certificate_request() {
    let (c, mut s) = configs();
    s.require_client_certificate = false;
    let mut p = Pair::new(c, s, perfect(), 33);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    assert!(p.server().peer_certificate().is_none());
    assert!(p.client().peer_certificate().is_some());
    assert_eq!(srtp_keys(p.client()), srtp_keys(p.server()));
}

/// A pair connected over a perfect link, and its time.
fn connected_pair(seed: u64) -> (Pair, std::time::Instant) {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), seed);
    p.drive(Duration::from_secs(10));
    assert_connected(&mut p);
    let now = p.now();
    (p, now)
}

#[test]
fn application_data_is_a_range_of_the_callers_buffer() {
    let (mut p, now) = connected_pair(23);
    let mut d = sealed(p.client(), &[1; 1000]);
    let buf = d.as_ptr();
    p.server().handle_receive(now, &mut d);
    // Opened where it lies, after the record header and explicit nonce:
    // no copy and no buffer of the connection's own.
    let r = p.server().poll_application_data().unwrap();
    assert_eq!(r.len(), 1000);
    assert!(r.start >= 13 && r.end <= d.len());
    assert_eq!(&d[r], &[1; 1000][..]);
    assert_eq!(d.as_ptr(), buf);
    assert_eq!(p.server().poll_application_data(), None);
    // The next datagram forgets the ranges of the last one.
    let mut d = sealed(p.client(), &[2; 10]);
    p.server().handle_receive(now, &mut d);
    let mut other = sealed(p.client(), &[3; 10]);
    p.server().handle_receive(now, &mut other);
    let r = p.server().poll_application_data().unwrap();
    assert_eq!(&other[r], &[3; 10][..]);
    assert_eq!(p.server().poll_application_data(), None);
}

/// Two records of application data in one datagram, as the client sealed them.
fn two_records(p: &mut Pair, first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::new();
    p.client()
        .seal_application_data(first, &mut datagram)
        .unwrap();
    p.client()
        .seal_application_data(second, &mut datagram)
        .unwrap();
    datagram
}

#[test]
fn every_record_of_a_datagram_is_opened_in_place() {
    let (mut p, now) = connected_pair(29);
    let datagram = two_records(&mut p, &[7; 1000], b"second");
    assert_eq!(
        receive(p.server(), now, &datagram),
        vec![vec![7; 1000], b"second".to_vec()]
    );
    assert_eq!(p.server().poll_event(), None);
    // A replay of both records, and a record with a flipped bit, are dropped.
    let dropped = p.server().stats().dropped_records;
    assert!(receive(p.server(), now, &datagram).is_empty());
    let mut forged = sealed(p.client(), b"third");
    if let Some(b) = forged.last_mut() {
        *b ^= 1;
    }
    assert!(receive(p.server(), now, &forged).is_empty());
    assert_eq!(p.server().stats().dropped_records, dropped + 3);
}

#[test]
fn data_sealed_in_place_reaches_the_peer() {
    let (mut p, now) = connected_pair(37);
    let room = p.client().record_prefix_len().unwrap();
    let mut buf = vec![0u8; room];
    buf.extend_from_slice(b"sealed where it lies");
    p.client().seal_application_data_in_place(&mut buf).unwrap();
    assert_eq!(
        receive(p.server(), now, &buf),
        vec![b"sealed where it lies".to_vec()]
    );
}

#[test]
fn data_and_close_notify_in_one_datagram() {
    let (mut p, now) = connected_pair(38);
    let mut d = sealed(p.client(), b"last words");
    p.client().close();
    d.extend(common::transmits(p.client(), now).concat());
    assert_eq!(receive(p.server(), now, &d), vec![b"last words".to_vec()]);
    assert_eq!(p.server().poll_event(), Some(Event::Closed));
}
