//! Failures say who misbehaved: two peer connections on fulmar-netsim's
//! two-party `Pair`, one of which misbehaves (a fingerprint that is not its
//! certificate's, silence during the DTLS handshake, silence once
//! connected, SCTP acknowledgements that never come), and the reason each
//! application sees in `PeerConnectionState::Failed`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use fulmar_datachannel::ChannelConfig;
use fulmar_dtls::AlertDescription;
use fulmar_netsim::{Direction, LinkConfig};
use fulmar_peer::{
    Config, DtlsState, Event, Failure, IceFailure, PeerConnection, PeerConnectionState,
};
use rand::{rngs::StdRng, SeedableRng};

mod common;

/// The seeds of A, B and the link.
const SEEDS: (u64, u64, u64) = (1, 2, 7);
use common::{failure, negotiated};

/// Whether a datagram is DTLS (RFC 7983 §7: first byte 20 to 63).
fn is_dtls(d: &[u8]) -> bool {
    d.first().is_some_and(|b| (20..=63).contains(b))
}

/// The `a=fingerprint` line of a description.
fn fingerprint_line(sdp: &str) -> String {
    sdp.lines()
        .find(|l| l.starts_with("a=fingerprint:"))
        .unwrap()
        .to_owned()
}

#[test]
fn fingerprint_mismatch_names_the_peer_certificate() {
    // The answer signals a fingerprint that is not B's certificate's (a
    // third party's): A, the DTLS server, refuses B's certificate.
    let stranger = PeerConnection::new(Config::default(), StdRng::seed_from_u64(3)).unwrap();
    let mut other = stranger;
    other.create_data_channel(ChannelConfig::new("x")).unwrap();
    let forged = fingerprint_line(&other.create_offer().unwrap().sdp.to_string());
    let (mut p, _) = negotiated(SEEDS, |sdp| sdp.replace(&fingerprint_line(&sdp), &forged));
    p.run_until(Duration::from_secs(10), |p| {
        failure(&p.events_a).is_some() && failure(&p.events_b).is_some()
    });
    // A detected it and sent bad_certificate; B was told so by the alert.
    assert_eq!(
        failure(&p.events_a),
        Some(Failure::Dtls(fulmar_dtls::Failure::FingerprintMismatch))
    );
    assert_eq!(
        failure(&p.events_b),
        Some(Failure::Dtls(fulmar_dtls::Failure::AlertReceived(
            AlertDescription::BadCertificate
        )))
    );
    assert_eq!(p.a.pc.dtls_state(), DtlsState::Failed);
    assert_eq!(
        p.a.pc.connection_state().failure(),
        failure(&p.events_a).as_ref()
    );
}

#[test]
fn a_peer_silent_in_the_handshake_times_dtls_out() {
    // ICE works, but nothing A sends over DTLS reaches B: B's ClientHello
    // is never answered.
    let (mut p, _) = negotiated(SEEDS, |sdp| sdp);
    p.set_tamper(|dir, d| !(dir == Direction::AToB && is_dtls(d)));
    let failed = p.run_until(Duration::from_secs(600), |p| failure(&p.events_b).is_some());
    assert!(failed, "B gave up");
    assert_eq!(
        failure(&p.events_b),
        Some(Failure::Dtls(fulmar_dtls::Failure::HandshakeTimeout))
    );
    assert!(p
        .events_b
        .contains(&Event::DtlsStateChange(DtlsState::Failed)));
}

#[test]
fn a_peer_silent_once_connected_loses_consent() {
    let (mut p, chat) = negotiated(SEEDS, |sdp| sdp);
    let open = p.run_until(Duration::from_secs(10), |p| {
        p.events_a.contains(&Event::DataChannelOpen(chat))
    });
    assert!(open, "connected");
    assert_eq!(p.a.pc.connection_state(), PeerConnectionState::Connected);
    // B goes silent: nothing it sends arrives any more.
    p.set_link(Direction::BToA, LinkConfig::ideal().with_loss(1.0));
    let failed = p.run_until(Duration::from_secs(120), |p| failure(&p.events_a).is_some());
    assert!(failed, "A gave up");
    let want = Failure::Ice(IceFailure::ConsentLost);
    assert_eq!(failure(&p.events_a), Some(want.clone()));
    // Disconnected first, while consent could still come back.
    let states: Vec<&PeerConnectionState> = p
        .events_a
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionStateChange(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        states[states.len() - 2..],
        [
            &PeerConnectionState::Disconnected,
            &PeerConnectionState::Failed(want)
        ]
    );
}

#[test]
fn unacknowledged_data_times_the_association_out() {
    let (mut p, chat) = negotiated(SEEDS, |sdp| sdp);
    let open = p.run_until(Duration::from_secs(10), |p| {
        p.events_a.contains(&Event::DataChannelOpen(chat))
    });
    assert!(open, "connected");
    // ICE and DTLS keep working, but B's SCTP packets (DTLS
    // application_data records, content type 23) never reach A.
    p.set_tamper(|dir, d| !(dir == Direction::BToA && d.first() == Some(&23)));
    let now = p.now();
    p.a.pc
        .send(now, chat, Bytes::from_static(b"anyone there?"), true)
        .unwrap();
    let failed = p.run_until(Duration::from_secs(3600), |p| {
        failure(&p.events_a).is_some()
    });
    assert!(failed, "A gave up");
    assert!(
        matches!(
            failure(&p.events_a),
            Some(Failure::Sctp(fulmar_sctp::CloseReason::Timeout(_)))
        ),
        "{:?}",
        failure(&p.events_a)
    );
    assert!(p.events_a.contains(&Event::DataChannelClose(chat)));
    // The path itself never failed: the reason is SCTP's, not ICE's.
    assert!(matches!(
        p.a.pc.ice_connection_state(),
        fulmar_ice::IceConnectionState::Connected | fulmar_ice::IceConnectionState::Completed
    ));
}

#[test]
fn no_working_pair_fails_ice() {
    // Nothing crosses the link: every connectivity check goes unanswered.
    let (mut p, _) = negotiated(SEEDS, |sdp| sdp);
    p.set_link(Direction::AToB, LinkConfig::ideal().with_loss(1.0));
    p.set_link(Direction::BToA, LinkConfig::ideal().with_loss(1.0));
    let failed = p.run_until(Duration::from_secs(120), |p| {
        failure(&p.events_a).is_some() && failure(&p.events_b).is_some()
    });
    assert!(failed, "both gave up");
    let want = Some(Failure::Ice(IceFailure::NoWorkingPair));
    assert_eq!(failure(&p.events_a), want);
    assert_eq!(failure(&p.events_b), want);
}
