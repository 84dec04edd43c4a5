//! Clean failures: bad signatures, downgrades, malformed and oversized records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{configs, find_handshake, perfect, receive, sealed, Pair};
use fulmar_dtls::{AlertDescription, Error, Failure};

#[test]
fn tampered_certificate_request_breaks_the_client_signature() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 20);
    // Rewrite certificate_types [64, 1] to [64, 2]: the transcripts now
    // differ, so the client's CertificateVerify no longer verifies.
    p.set_tamper(|from_client, d| {
        if !from_client {
            if let Some(at) = find_handshake(d, 13) {
                d[at + 2] = 2;
            }
        }
        true
    });
    p.drive(Duration::from_secs(10));
    assert_eq!(
        p.server_failure(),
        Some(Failure::AlertSent {
            alert: AlertDescription::DecryptError,
            reason: Error::Protocol {
                alert: AlertDescription::DecryptError,
                reason: "bad signature"
            }
        })
    );
    assert_eq!(
        p.client_failure(),
        Some(Failure::AlertReceived(AlertDescription::DecryptError))
    );
}

#[test]
fn tampered_server_key_exchange_fails_signature_check() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 21);
    p.set_tamper(|from_client, d| {
        if !from_client {
            if let Some(at) = find_handshake(d, 12) {
                // Flip a bit of the ECDHE public key.
                d[at + 5] ^= 1;
            }
        }
        true
    });
    p.drive(Duration::from_secs(10));
    assert!(matches!(
        p.client_failure(),
        Some(Failure::AlertSent {
            alert: AlertDescription::DecryptError,
            reason: Error::Protocol { .. },
        })
    ));
    assert_eq!(
        p.server_failure(),
        Some(Failure::AlertReceived(AlertDescription::DecryptError))
    );
}

#[test]
fn downgraded_client_hello_is_refused() {
    let (c, mut s) = configs();
    s.hello_verify_cookie = false;
    let mut p = Pair::new(c, s, perfect(), 22);
    p.set_tamper(|from_client, d| {
        if from_client {
            if let Some(at) = find_handshake(d, 1) {
                // client_version DTLS 1.2 -> DTLS 1.0
                d[at + 1] = 0xff;
            }
        }
        true
    });
    p.drive(Duration::from_secs(10));
    assert!(matches!(
        p.server_failure(),
        Some(Failure::AlertSent {
            alert: AlertDescription::ProtocolVersion,
            reason: Error::Protocol { .. },
        })
    ));
    assert_eq!(
        p.client_failure(),
        Some(Failure::AlertReceived(AlertDescription::ProtocolVersion))
    );
}

#[test]
fn downgraded_server_hello_is_refused() {
    let (c, mut s) = configs();
    s.hello_verify_cookie = false;
    let mut p = Pair::new(c, s, perfect(), 23);
    p.set_tamper(|from_client, d| {
        if !from_client {
            if let Some(at) = find_handshake(d, 2) {
                d[at + 1] = 0xff;
            }
        }
        true
    });
    p.drive(Duration::from_secs(10));
    assert!(matches!(
        p.client_failure(),
        Some(Failure::AlertSent {
            alert: AlertDescription::ProtocolVersion,
            reason: Error::Protocol { .. },
        })
    ));
    assert_eq!(
        p.server_failure(),
        Some(Failure::AlertReceived(AlertDescription::ProtocolVersion))
    );
}

#[test]
fn server_requires_extended_master_secret() {
    let (c, mut s) = configs();
    s.hello_verify_cookie = false;
    let mut p = Pair::new(c, s, perfect(), 24);
    // Rename the client's extended_master_secret extension (23) to an unknown type.
    p.set_tamper(|from_client, d| {
        if from_client && find_handshake(d, 1).is_some() {
            if let Some(i) = d.windows(4).position(|w| w == [0, 23, 0, 0]) {
                d[i + 1] = 0x77;
            }
        }
        true
    });
    p.drive(Duration::from_secs(10));
    assert_eq!(
        p.server_failure(),
        Some(Failure::AlertSent {
            alert: AlertDescription::HandshakeFailure,
            reason: Error::Protocol {
                alert: AlertDescription::HandshakeFailure,
                reason: "extended master secret required"
            }
        })
    );
}

#[test]
fn truncated_oversized_and_garbage_records_are_dropped() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 25);
    p.drive(Duration::from_secs(10));
    assert!(p.client().is_connected() && p.server().is_connected());
    let now = p.now();
    let good = sealed(p.client(), b"payload");
    // Truncated: the header announces more than the datagram holds.
    receive(p.server(), now, &good[..good.len() - 5]);
    // Oversized: a length beyond 2^14 + 2048.
    let mut big = good[..13].to_vec();
    big[11..13].copy_from_slice(&20000u16.to_be_bytes());
    big.resize(13 + 20000, 0);
    receive(p.server(), now, &big);
    // Garbage and an unknown content type.
    receive(p.server(), now, &[0xff; 40]);
    receive(p.server(), now, &[]);
    // Epoch 2, which does not exist.
    let mut e2 = good.clone();
    e2[4] = 2;
    assert!(receive(p.server(), now, &e2).is_empty());
    assert!(p.server().is_connected());
    assert!(p.server().poll_event().is_none());
    assert_eq!(p.server().stats().dropped_records, 4);
    // The intact record still gets through afterwards.
    assert_eq!(receive(p.server(), now, &good), vec![b"payload".to_vec()]);
}

#[test]
fn forged_plaintext_alert_after_handshake_is_ignored() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, perfect(), 26);
    p.drive(Duration::from_secs(10));
    let now = p.now();
    // alert(21), DTLS 1.2, epoch 0, seq 99, fatal handshake_failure.
    let forged = [21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 99, 0, 2, 2, 40];
    receive(p.server(), now, &forged);
    assert!(p.server().is_connected());
}
