#![allow(clippy::unwrap_used, clippy::expect_used)]
//! ICE scenarios over fulmar-netsim: seeded, simulated time.

mod common;

use std::time::Duration;

use common::{Scenario, Side};
use fulmar_ice::{CandidateKind, IceConnectionState, IceRole};
use fulmar_netsim::LinkConfig;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn lan_both_roles_connect_within_two_rtt_plus_pacing() {
    for (ra, rb) in [
        (IceRole::Controlling, IceRole::Controlled),
        (IceRole::Controlled, IceRole::Controlling),
    ] {
        // 12.5 ms each way on each access link: 50 ms RTT between the hosts.
        let link = LinkConfig::ideal().with_delay(Duration::from_micros(12_500));
        let mut s = Scenario::new(
            1,
            Side::new(ra).link(link.clone()),
            Side::new(rb).link(link),
            false,
        );
        assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
        let ta = s.peer(s.a).connected_at().unwrap();
        let tb = s.peer(s.b).connected_at().unwrap();
        let t = s.elapsed_since_start(ta.max(tb));
        println!("{ra:?}/{rb:?}: connected after {t:?} (RTT 50 ms, Ta 50 ms)");
        assert!(t <= ms(2 * 50 + 50), "took {t:?}");
        let sel = s.selected(s.a).unwrap();
        assert_eq!(sel.local.kind, CandidateKind::Host);
        assert_eq!(sel.remote.kind, CandidateKind::Host);
        // Both ends end up Completed (end-of-candidates was signalled).
        assert!(s.run_until(Duration::from_secs(1), |s| s
            .both(IceConnectionState::Completed)));
        s.assert_data_flows();
        let stats = s.peer(s.a).agent.pair_stats();
        let p = stats.iter().find(|p| p.selected).unwrap();
        assert!(p.nominated && p.requests_sent >= 1 && p.responses_received >= 1);
        assert_eq!(p.current_rtt, Some(ms(50)));
    }
}

use fulmar_netsim::{Filtering, Mapping, NatConfig};

const MAPPINGS: [Mapping; 3] = [
    Mapping::EndpointIndependent,
    Mapping::AddressDependent,
    Mapping::AddressAndPortDependent,
];
const FILTERINGS: [Filtering; 3] = [
    Filtering::EndpointIndependent,
    Filtering::AddressDependent,
    Filtering::AddressAndPortDependent,
];

fn all_nats() -> Vec<Option<NatConfig>> {
    let mut v = vec![None];
    for m in MAPPINGS {
        for f in FILTERINGS {
            v.push(Some(NatConfig::new(m, f)));
        }
    }
    v
}

fn nat_name(n: &Option<NatConfig>) -> String {
    match n {
        None => "public".into(),
        Some(n) => {
            let m = match n.mapping {
                Mapping::EndpointIndependent => "EIM",
                Mapping::AddressDependent => "ADM",
                Mapping::AddressAndPortDependent => "APDM",
            };
            let f = match n.filtering {
                Filtering::EndpointIndependent => "EIF",
                Filtering::AddressDependent => "ADF",
                Filtering::AddressAndPortDependent => "APDF",
            };
            format!("{m}/{f}")
        }
    }
}

/// Runs one NAT combination; returns Some(connect time) or None if both
/// sides reached Failed.
fn run_nat_pair(seed: u64, na: &Option<NatConfig>, nb: &Option<NatConfig>) -> Option<Duration> {
    let link = LinkConfig::ideal().with_delay(ms(10));
    let mut a = Side::new(IceRole::Controlling).link(link.clone());
    let mut b = Side::new(IceRole::Controlled).link(link);
    for s in [&mut a, &mut b] {
        s.config = s
            .config
            .clone()
            .with_stun_server(common::STUN_SERVER.parse().unwrap());
    }
    if let Some(n) = na {
        a = a.nat(n.clone());
    }
    if let Some(n) = nb {
        b = b.nat(n.clone());
    }
    let mut s = Scenario::new(seed, a, b, true);
    let done = s.run_until(Duration::from_secs(30), |s| {
        s.both_connected() || s.both(IceConnectionState::Failed)
    });
    assert!(
        done,
        "{} x {}: neither connected nor failed",
        nat_name(na),
        nat_name(nb)
    );
    if s.both_connected() {
        s.assert_data_flows();
        let t = s.peer(s.a).connected_at()?.max(s.peer(s.b).connected_at()?);
        Some(s.elapsed_since_start(t))
    } else {
        let t = s.peer(s.a).reached(IceConnectionState::Failed)?;
        let tb = s.peer(s.b).reached(IceConnectionState::Failed)?;
        // With the default timers a check transaction gives up after 11.5 s;
        // a pair re-triggered by the peer's last check (RFC 8445 §7.3.1.4)
        // may need one more transaction timeout.
        for t in [t, tb] {
            assert!(
                s.elapsed_since_start(t) <= Duration::from_secs(24),
                "failed late: {t:?}"
            );
        }
        None
    }
}

/// Whether RFC 4787 behaviour leaves ICE (host, srflx and prflx candidates,
/// no relay) a direct path between the two peers. Derived independently of
/// the agent: the first check can only enter a NAT through a mapping made
/// for the STUN server if that NAT filters endpoint-independently (or when
/// its mapping is endpoint-independent, the srflx port *is* the mapping
/// towards the peer); after that, each new port a dependent mapping opens
/// must get through the other side's filter, which converges only when one
/// side reuses its mapping per IP.
fn direct_path_possible(a: &Option<NatConfig>, b: &Option<NatConfig>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true; // a public host is reachable by checks from anyone
    };
    let eim = |n: &NatConfig| n.mapping == Mapping::EndpointIndependent;
    let adm = |n: &NatConfig| n.mapping == Mapping::AddressDependent;
    let eif = |n: &NatConfig| n.filtering == Filtering::EndpointIndependent;
    let not_apdf = |n: &NatConfig| n.filtering != Filtering::AddressAndPortDependent;
    match (eim(a), eim(b)) {
        (true, true) => true,
        // The dependent side's checks come from a new port: only the EIM
        // side's filter decides.
        (true, false) => not_apdf(a),
        (false, true) => not_apdf(b),
        (false, false) => {
            // Entry through b's EIF srflx mapping, then a's filter and mapping.
            let via_b = eif(b) && not_apdf(a) && (adm(a) || adm(b));
            let via_a = eif(a) && not_apdf(b) && (adm(b) || adm(a));
            via_b || via_a
        }
    }
}

#[test]
fn nat_matrix_connects_exactly_where_rfc4787_allows() {
    let nats = all_nats();
    let mut table = String::new();
    let (mut connected, mut failed) = (0, 0);
    for (i, na) in nats.iter().enumerate() {
        table += &format!("{:>10}:", nat_name(na));
        for (j, nb) in nats.iter().enumerate() {
            let r = run_nat_pair(100 + (i * 10 + j) as u64, na, nb);
            table += &match r {
                Some(t) => format!(" {:>7}", format!("{}ms", t.as_millis())),
                None => format!(" {:>7}", "FAIL"),
            };
            assert_eq!(
                r.is_some(),
                direct_path_possible(na, nb),
                "{} (controlling) x {} (controlled)",
                nat_name(na),
                nat_name(nb)
            );
            if r.is_some() {
                connected += 1;
            } else {
                failed += 1;
            }
        }
        table += "\n";
    }
    println!("{table}");
    assert_eq!((connected, failed), (61, 39));
}
