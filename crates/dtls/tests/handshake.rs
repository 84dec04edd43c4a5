//! Client-server handshakes in process with simulated time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{configs, Link, Pair};
use fulmar_dtls::{AlertDescription, CipherSuite, Error, Event, NamedGroup, SrtpProfile};

fn assert_connected(p: &Pair) {
    assert!(
        p.client.is_connected(),
        "client not connected: {:?} {:?}",
        p.client_events,
        p.client.state()
    );
    assert!(
        p.server.is_connected(),
        "server not connected: {:?} {:?}",
        p.server_events,
        p.server.state()
    );
}

#[test]
fn handshake_app_data_and_exporter() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), 1);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    assert_eq!(
        p.client.cipher_suite(),
        Some(CipherSuite::EcdheEcdsaAes128GcmSha256)
    );
    assert_eq!(p.client.srtp_profile(), Some(SrtpProfile::AeadAes128Gcm));
    assert!(p.client.extended_master_secret() && p.server.extended_master_secret());
    // No retransmission was needed on a perfect link.
    assert_eq!(p.client.stats().retransmissions, 0);
    assert!(p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::PeerCertificateVerified(_))));
    assert!(p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::PeerCertificateVerified(_))));
    let ck = p.client.srtp_keying_material().unwrap();
    let sk = p.server.srtp_keying_material().unwrap();
    assert_eq!(ck, sk);
    assert_eq!(ck.client_key.len(), 16);
    assert_eq!(ck.client_salt.len(), 12);
    assert_ne!(ck.client_key, ck.server_key);
    let e1 = p
        .client
        .export_keying_material(b"EXPORTER-test", Some(b"ctx"), 40)
        .unwrap();
    let e2 = p
        .server
        .export_keying_material(b"EXPORTER-test", Some(b"ctx"), 40)
        .unwrap();
    assert_eq!(e1, e2);

    p.client.send(b"ping from client").unwrap();
    p.server.send(b"pong from server").unwrap();
    p.flush();
    assert_eq!(
        Pair::data(&p.server_events),
        vec![b"ping from client".to_vec()]
    );
    assert_eq!(
        Pair::data(&p.client_events),
        vec![b"pong from server".to_vec()]
    );
}

#[test]
fn every_suite_and_group() {
    for suite in CipherSuite::ALL.into_iter().filter(|s| s.is_ecdsa()) {
        for group in NamedGroup::ALL {
            let (mut c, s) = configs();
            c.cipher_suites = vec![suite];
            c.groups = vec![group];
            let mut p = Pair::new(c, s, Link::perfect(), 2);
            p.drive(Duration::from_secs(10));
            assert_connected(&p);
            assert_eq!(p.server.cipher_suite(), Some(suite));
            assert_eq!(
                p.client.srtp_keying_material().unwrap(),
                p.server.srtp_keying_material().unwrap()
            );
            p.server.send(&[7u8; 1000]).unwrap();
            p.flush();
            assert_eq!(Pair::data(&p.client_events), vec![vec![7u8; 1000]]);
        }
    }
}

#[test]
fn srtp_profile_preference_and_fallback() {
    let (mut c, mut s) = configs();
    c.srtp_profiles = vec![
        SrtpProfile::Aes128CmHmacSha1_32,
        SrtpProfile::Aes128CmHmacSha1_80,
    ];
    s.srtp_profiles = SrtpProfile::DEFAULT.to_vec();
    let mut p = Pair::new(c, s, Link::perfect(), 3);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    // The server picks in its own preference order among those offered.
    assert_eq!(
        p.server.srtp_profile(),
        Some(SrtpProfile::Aes128CmHmacSha1_80)
    );
    let k = p.client.srtp_keying_material().unwrap();
    assert_eq!(k.client_key.len() + k.client_salt.len(), 30);
    assert_eq!(k, p.server.srtp_keying_material().unwrap());
}

#[test]
fn handshake_without_cookie() {
    let (c, mut s) = configs();
    s.hello_verify_cookie = false;
    let mut p = Pair::new(c, s, Link::perfect(), 4);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    // Client flight 1 and flight 5 only: no second ClientHello.
    let client_hellos = p
        .sent
        .0
        .iter()
        .filter(|(_, d)| d.get(13) == Some(&1))
        .count();
    assert_eq!(client_hellos, 1);
}

#[test]
fn cookie_exchange_happens_by_default() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), 5);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    // First server datagram is a HelloVerifyRequest (handshake type 3), then two ClientHellos.
    assert_eq!(p.sent.1[0].1[13], 3);
    let client_hellos = p
        .sent
        .0
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
        let mut p = Pair::new(c, s, Link::perfect(), 6);
        p.drive(Duration::from_secs(10));
        assert_connected(&p);
        for (_, d) in p.sent.0.iter().chain(&p.sent.1) {
            assert!(d.len() <= mtu, "{} > {mtu}", d.len());
        }
    }
}

fn lossy_run(loss: f64, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let (c, s) = configs();
        let mut p = Pair::new(c, s, Link::lossy(loss), seed);
        p.drive(Duration::from_secs(300));
        assert_connected(&p);
        assert_eq!(
            p.client.srtp_keying_material().unwrap(),
            p.server.srtp_keying_material().unwrap(),
            "seed {seed}"
        );
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
    let mut p = Pair::new(
        c,
        s,
        Link {
            loss: 1.0,
            ..Link::perfect()
        },
        7,
    );
    p.drive(Duration::from_secs(120));
    let times: Vec<u64> = p.sent.0.iter().map(|(t, _)| t.as_millis() as u64).collect();
    // Sent at 0, then retransmitted after 1, 2, 4, 8 s.
    assert_eq!(times, vec![0, 1000, 3000, 7000, 15000]);
    assert_eq!(p.client_failure(), Some(Error::HandshakeTimeout));
}

#[test]
fn retransmission_timeout_is_configurable_and_capped() {
    let (mut c, s) = configs();
    c.initial_retransmit_timeout = Duration::from_millis(100);
    c.max_retransmit_timeout = Duration::from_millis(300);
    c.max_retransmissions = 5;
    let mut p = Pair::new(
        c,
        s,
        Link {
            loss: 1.0,
            ..Link::perfect()
        },
        8,
    );
    p.drive(Duration::from_secs(120));
    let times: Vec<u64> = p.sent.0.iter().map(|(t, _)| t.as_millis() as u64).collect();
    assert_eq!(times, vec![0, 100, 300, 600, 900, 1200]);
}

#[test]
fn wrong_fingerprint_fails_with_bad_certificate() {
    let (mut c, s) = configs();
    let other = fulmar_dtls::Certificate::generate().unwrap();
    c.expected_fingerprints = vec![other.fingerprint()];
    let mut p = Pair::new(c, s, Link::perfect(), 9);
    p.drive(Duration::from_secs(10));
    assert_eq!(p.client_failure(), Some(Error::FingerprintMismatch));
    assert_eq!(
        p.server_failure(),
        Some(Error::AlertReceived(AlertDescription::BadCertificate))
    );
    assert!(!p.client.is_connected() && !p.server.is_connected());
}

#[test]
fn server_rejects_wrong_client_certificate() {
    let (c, mut s) = configs();
    let other = fulmar_dtls::Certificate::generate().unwrap();
    s.expected_fingerprints = vec![other.fingerprint()];
    let mut p = Pair::new(c, s, Link::perfect(), 10);
    p.drive(Duration::from_secs(10));
    assert_eq!(p.server_failure(), Some(Error::FingerprintMismatch));
    assert_eq!(
        p.client_failure(),
        Some(Error::AlertReceived(AlertDescription::BadCertificate))
    );
}

#[test]
fn no_common_cipher_suite_fails_with_handshake_failure() {
    let (mut c, mut s) = configs();
    c.cipher_suites = vec![CipherSuite::EcdheEcdsaChacha20Poly1305Sha256];
    s.cipher_suites = vec![CipherSuite::EcdheEcdsaAes128GcmSha256];
    let mut p = Pair::new(c, s, Link::perfect(), 11);
    p.drive(Duration::from_secs(10));
    assert!(matches!(
        p.server_failure(),
        Some(Error::Protocol {
            alert: AlertDescription::HandshakeFailure,
            ..
        })
    ));
    assert_eq!(
        p.client_failure(),
        Some(Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn close_notify_both_ways() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), 12);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    p.client.close();
    p.flush();
    assert!(p.server_events.contains(&Event::Closed));
    assert!(p.server.send(b"x").is_err());
    assert!(p.client.send(b"x").is_err());
}

#[test]
fn application_data_is_not_replayed_and_bad_mac_is_dropped() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), 13);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    p.client.send(b"once").unwrap();
    let d = p.client.poll_transmit().unwrap();
    let now = p.now;
    p.server.handle_receive(now, &d);
    p.server.handle_receive(now, &d);
    let mut tampered = d.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    p.client.send(b"twice").unwrap();
    let mut d2 = p.client.poll_transmit().unwrap();
    let l2 = d2.len() - 1;
    d2[l2] ^= 0x80;
    p.server.handle_receive(now, &d2);
    let mut got = Vec::new();
    while let Some(e) = p.server.poll_event() {
        got.push(e);
    }
    assert_eq!(got, vec![Event::ApplicationData(b"once".to_vec())]);
    assert!(
        p.server.is_connected(),
        "a bad record is dropped, not fatal"
    );
    assert_eq!(p.server.stats().dropped_records, 2);
}

/// Whether a datagram carries a record of epoch 1 (RFC 6347 §4.1 header:
/// type, version, epoch at bytes 3..5, sequence number, length at 11..13).
fn has_epoch1_record(d: &[u8]) -> bool {
    let mut at = 0;
    while let Some(h) = d.get(at..at + 13) {
        if u16::from_be_bytes([h[3], h[4]]) == 1 {
            return true;
        }
        at += 13 + usize::from(u16::from_be_bytes([h[11], h[12]]));
    }
    false
}

#[test]
fn lost_final_flight_is_resent_when_the_client_retransmits() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), 30);
    let mut dropped = false;
    // Drop the server's first CCS + Finished datagram (flight 6).
    p.tamper = Some(Box::new(move |from_client, d| {
        if !from_client && !dropped && has_epoch1_record(d) {
            dropped = true;
            d.clear();
        }
    }));
    p.drive(Duration::from_secs(30));
    assert_connected(&p);
    assert_eq!(
        p.client.stats().retransmissions,
        1,
        "client resent flight 5 once"
    );
    assert_eq!(
        p.server.stats().retransmissions,
        1,
        "server answered with flight 6 again"
    );
    // The client waited one initial timeout (1 s) for it.
    let t = p.sent.1.last().unwrap().0;
    assert!(
        t >= Duration::from_secs(1) && t < Duration::from_secs(2),
        "{t:?}"
    );
}

#[test]
fn lost_hello_verify_request_is_answered_again() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), 31);
    let mut dropped = false;
    p.tamper = Some(Box::new(move |from_client, d| {
        if !from_client && !dropped && d.get(13) == Some(&3) {
            dropped = true;
            d.clear();
        }
    }));
    p.drive(Duration::from_secs(30));
    assert_connected(&p);
    assert_eq!(p.client.stats().retransmissions, 1);
}

#[test]
fn finished_before_client_key_exchange_is_buffered() {
    // With a small MTU the client's flight 5 spans several datagrams; deliver
    // them to the server in reverse order so the epoch-1 Finished comes first.
    let (mut c, s) = configs();
    c.mtu = 300;
    let mut p = Pair::new(c, s, Link::perfect(), 32);
    // Run until the client has sent flight 5 (its first epoch-1 record).
    for _ in 0..50 {
        p.step();
        if p.sent.0.iter().any(|(_, d)| has_epoch1_record(d)) {
            break;
        }
    }
    let mut flight5: Vec<Vec<u8>> = Vec::new();
    p.in_flight.retain(|(_, to_server, d)| {
        if *to_server {
            flight5.push(d.clone());
            false
        } else {
            true
        }
    });
    assert!(
        flight5.len() >= 3,
        "flight 5 spans {} datagrams",
        flight5.len()
    );
    assert!(has_epoch1_record(flight5.last().unwrap()));
    let now = p.now;
    for d in flight5.iter().rev() {
        p.server.handle_receive(now, d);
    }
    assert!(p.server.is_connected(), "{:?}", p.server.state());
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
}

#[test]
fn server_without_client_certificate_request() {
    let (c, mut s) = configs();
    s.require_client_certificate = false;
    let mut p = Pair::new(c, s, Link::perfect(), 33);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    assert!(p.server.peer_certificate().is_none());
    assert!(p.client.peer_certificate().is_some());
    assert_eq!(
        p.client.srtp_keying_material().unwrap(),
        p.server.srtp_keying_material().unwrap()
    );
}

/// A pair connected over a perfect link, and its time.
fn connected_pair(seed: u64) -> (Pair, std::time::Instant) {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, Link::perfect(), seed);
    p.drive(Duration::from_secs(10));
    assert_connected(&p);
    let now = p.now;
    (p, now)
}

#[test]
fn recycled_buffer_takes_the_next_record() {
    let (mut p, now) = connected_pair(23);
    let received = |p: &mut Pair, data: &[u8]| {
        p.client.send(data).unwrap();
        let d = p.client.poll_transmit().unwrap();
        p.server.handle_receive(now, &d);
        match p.server.poll_event() {
            Some(Event::ApplicationData(v)) => v,
            other => panic!("{other:?}"),
        }
    };
    let first = received(&mut p, &[1; 1000]);
    let (ptr, capacity) = (first.as_ptr(), first.capacity());
    p.server.recycle(first);
    // Decrypted into the returned allocation: no allocation per record.
    let second = received(&mut p, &[2; 900]);
    assert_eq!(second, vec![2; 900]);
    assert_eq!((second.as_ptr(), second.capacity()), (ptr, capacity));
    // Without a recycled buffer the next record gets one of its own.
    let third = received(&mut p, &[3; 10]);
    assert_eq!(third, vec![3; 10]);
    assert_ne!(third.as_ptr(), second.as_ptr());
}

/// Two records of application data in one datagram, as the client sealed them.
fn two_records(p: &mut Pair, first: &[u8], second: &[u8]) -> Vec<u8> {
    p.client.send(first).unwrap();
    p.client.send(second).unwrap();
    let mut datagram = p.client.poll_transmit().unwrap();
    datagram.extend_from_slice(&p.client.poll_transmit().unwrap());
    datagram
}

#[test]
fn data_opened_in_place_is_handed_over_without_an_event() {
    let (mut p, now) = connected_pair(29);
    let sealed = two_records(&mut p, &[7; 1000], b"second");
    let mut datagram = sealed.clone();
    let mut got = Vec::new();
    p.server
        .handle_receive_in_place(now, &mut datagram, |d| got.push(d.to_vec()));
    assert_eq!(got, vec![vec![7; 1000], b"second".to_vec()]);
    assert_eq!(p.server.poll_event(), None);

    // A replay of both records, and a record with a flipped bit, are dropped.
    let dropped = p.server.stats().dropped_records;
    let mut replay = sealed.clone();
    p.server
        .handle_receive_in_place(now, &mut replay, |d| panic!("replayed {d:?}"));
    p.client.send(b"third").unwrap();
    let mut forged = p.client.poll_transmit().unwrap();
    if let Some(b) = forged.last_mut() {
        *b ^= 1;
    }
    p.server
        .handle_receive_in_place(now, &mut forged, |d| panic!("forged {d:?}"));
    assert_eq!(p.server.stats().dropped_records, dropped + 3);
}

#[test]
fn data_opened_in_place_waits_behind_events_not_yet_polled() {
    let (mut p, now) = connected_pair(31);
    p.client.send(b"queued").unwrap();
    let d = p.client.poll_transmit().unwrap();
    p.server.handle_receive(now, &d);
    let mut datagram = two_records(&mut p, b"behind", b"it");
    p.server
        .handle_receive_in_place(now, &mut datagram, |d| panic!("overtook: {d:?}"));
    let events: Vec<_> = std::iter::from_fn(|| p.server.poll_event()).collect();
    let want = [&b"queued"[..], b"behind", b"it"].map(|d| Event::ApplicationData(d.to_vec()));
    assert_eq!(events, want);
}

#[test]
fn data_sealed_in_place_reaches_the_peer() {
    let (mut p, now) = connected_pair(37);
    let room = p.client.record_prefix_len().unwrap();
    let mut buf = vec![0u8; room];
    buf.extend_from_slice(b"sealed where it lies");
    p.client.seal_application_data_in_place(&mut buf).unwrap();
    p.server.handle_receive(now, &buf);
    assert_eq!(
        p.server.poll_event(),
        Some(Event::ApplicationData(b"sealed where it lies".to_vec()))
    );
}
