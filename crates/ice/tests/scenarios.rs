#![allow(clippy::unwrap_used, clippy::expect_used)]
//! ICE scenarios over fulmar-netsim: seeded, simulated time.

mod common;

use std::time::Duration;

use common::{Scenario, Side};
use fulmar_ice::{CandidateType, IceConnectionState, IceRole};
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
        assert_eq!(sel.local.typ, CandidateType::Host);
        assert_eq!(sel.remote.typ, CandidateType::Host);
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

fn stun_side(role: IceRole, nat: NatConfig, link: LinkConfig) -> Side {
    Side::new(role)
        .nat(nat)
        .link(link)
        .config(|c| c.with_stun_server(common::STUN_SERVER.parse().unwrap()))
}

#[test]
fn thirty_percent_loss_connects() {
    let mut times = Vec::new();
    for seed in 0..10 {
        // 30% loss each way: on every host's uplink (a round trip loses 51%).
        let lossy = fulmar_netsim::Link {
            up: LinkConfig::ideal().with_delay(ms(10)).with_loss(0.3),
            down: LinkConfig::ideal().with_delay(ms(10)),
        };
        let mut s = Scenario::new(
            seed,
            stun_side(
                IceRole::Controlling,
                NatConfig::port_restricted_cone(),
                LinkConfig::ideal(),
            ),
            stun_side(
                IceRole::Controlled,
                NatConfig::port_restricted_cone(),
                LinkConfig::ideal(),
            ),
            true,
        );
        s.net.set_link(s.a, lossy.clone());
        s.net.set_link(s.b, lossy);
        assert!(
            s.run_until(Duration::from_secs(20), |s| s.both_connected()),
            "seed {seed}"
        );
        times.push(s.net.elapsed());
        // Consent survives the loss for two minutes.
        s.net.run_for(Duration::from_secs(120));
        assert!(
            s.peer(s.a).agent.selected_pair(1).is_some()
                && s.peer(s.b).agent.selected_pair(1).is_some(),
            "seed {seed}: consent lost under 30% loss"
        );
        assert!(!s.peer(s.a).states().contains(&IceConnectionState::Failed));
    }
    println!("30% loss: connected after {times:?}");
}

#[test]
fn five_hundred_ms_rtt_connects() {
    // 125 ms on each access link, each way: 500 ms between the peers.
    let link = LinkConfig::ideal().with_delay(ms(125));
    let mut s = Scenario::new(
        3,
        Side::new(IceRole::Controlling).link(link.clone()),
        Side::new(IceRole::Controlled).link(link),
        false,
    );
    assert!(s.run_until(Duration::from_secs(10), |s| s.both_connected()));
    let t = s
        .peer(s.a)
        .connected_at()
        .unwrap()
        .max(s.peer(s.b).connected_at().unwrap());
    let t = s.elapsed_since_start(t);
    println!("500 ms RTT: connected after {t:?}");
    assert!(t <= ms(2 * 500 + 100), "{t:?}");
    let stats = s.peer(s.a).agent.pair_stats();
    assert_eq!(
        stats.iter().find(|p| p.selected).unwrap().current_rtt,
        Some(ms(500))
    );
    s.assert_data_flows();
    // Consent keeps it up for a minute at this RTT.
    s.net.run_for(Duration::from_secs(60));
    assert!(s.both_connected());
}

#[test]
fn reordering_duplication_and_jitter() {
    for seed in 0..4 {
        let link = LinkConfig::ideal()
            .with_delay(ms(20))
            .with_jitter(ms(30))
            .with_duplicate(0.3)
            .with_reorder(0.3, ms(40));
        let mut s = Scenario::new(
            seed,
            stun_side(IceRole::Controlling, NatConfig::full_cone(), link.clone()),
            stun_side(IceRole::Controlled, NatConfig::symmetric(), link),
            true,
        );
        assert!(
            s.run_until(Duration::from_secs(10), |s| s.both_connected()),
            "seed {seed}"
        );
        // Duplicated responses are matched to no transaction and dropped.
        s.net.run_for(Duration::from_secs(30));
        assert!(s.both_connected());
        s.assert_data_flows();
    }
}

#[test]
fn peer_vanishes_then_disconnected_then_failed_on_rfc7675_schedule_then_restart() {
    let mut s = Scenario::new(
        11,
        Side::new(IceRole::Controlling),
        Side::new(IceRole::Controlled),
        false,
    );
    assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    s.net.run_for(Duration::from_secs(20));
    assert!(s.both_connected(), "consent keeps the pair up");
    let consent = s.peer(s.a).agent.pair_stats();
    assert!(consent
        .iter()
        .any(|p| p.selected && p.consent_requests_sent >= 3));

    // The peer vanishes.
    let gone = s.net.now();
    s.net
        .set_link(s.b, fulmar_netsim::Link::symmetric(LinkConfig::down()));
    assert!(s.run_until(Duration::from_secs(40), |s| s.state(s.a)
        == IceConnectionState::Failed));
    let pa = s.peer(s.a);
    let disc = pa.events.iter().rev().find_map(|(t, e)| match e {
        fulmar_ice::IceEvent::ConnectionStateChange(IceConnectionState::Disconnected) => Some(*t),
        _ => None,
    });
    let disc = disc.expect("disconnected before failed") - gone;
    let failed = pa.reached(IceConnectionState::Failed).unwrap() - gone;
    println!("peer gone: disconnected after {disc:?}, failed after {failed:?}");
    // The last consent response came at most one interval (6 s) before the
    // peer vanished: disconnected 10 s and failed 30 s after it (RFC 7675).
    assert!(disc > ms(4_000) && disc <= ms(10_000), "{disc:?}");
    assert!(failed > ms(24_000) && failed <= ms(30_000), "{failed:?}");
    assert!(
        s.peer(s.a).agent.selected_pair(1).is_none(),
        "consent lost stops sending"
    );

    // The peer comes back: without a restart lost consent stays lost.
    s.net
        .set_link(s.b, fulmar_netsim::Link::symmetric(LinkConfig::ideal()));
    s.net.run_for(Duration::from_secs(15));
    assert_eq!(s.state(s.a), IceConnectionState::Failed);
    assert!(s.peer(s.a).agent.selected_pair(1).is_none());
    // Both restart ICE and reconnect.
    let now = s.net.now();
    let (a, b) = (s.a, s.b);
    s.skip_signaled();
    let old = s.peer(a).agent.local_credentials().clone();
    s.peer_mut(a).agent.restart(now);
    s.peer_mut(b).agent.restart(now);
    assert_ne!(s.peer(a).agent.local_credentials(), &old);
    s.exchange_credentials();
    let restarted = s.net.now();
    assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    println!(
        "reconnected {:?} after the restart",
        s.net.now() - restarted
    );
    s.assert_data_flows();
}

#[test]
fn restart_keeps_old_pair_until_new_one_is_selected() {
    let mut s = Scenario::new(
        12,
        Side::new(IceRole::Controlling).link(LinkConfig::ideal().with_delay(ms(50))),
        Side::new(IceRole::Controlled).link(LinkConfig::ideal().with_delay(ms(50))),
        false,
    );
    assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    let old = s.selected(s.a).unwrap();
    let now = s.net.now();
    let (a, b) = (s.a, s.b);
    s.skip_signaled();
    s.peer_mut(a).agent.restart(now);
    s.peer_mut(b).agent.restart(now);
    // Before the new credentials arrive the old pair still carries data.
    assert_eq!(s.selected(a), Some(old.clone()));
    assert!(s.both_connected());
    s.assert_data_flows();
    s.exchange_credentials();
    let n = s.peer(a).events.len();
    assert!(s.run_until(Duration::from_secs(5), |s| {
        s.peer(s.a).events[n..].iter().any(|(_, e)| {
            matches!(
                e,
                fulmar_ice::IceEvent::SelectedPairChange { pair: Some(_), .. }
            )
        })
    }));
    assert!(s.both_connected());
    // No state other than connected/completed was shown during the restart.
    assert!(s.peer(a).states()[..].iter().all(|st| !matches!(
        st,
        IceConnectionState::Failed | IceConnectionState::Disconnected
    )));
}

#[test]
fn role_conflict_is_resolved_both_ways() {
    for role in [IceRole::Controlling, IceRole::Controlled] {
        let mut s = Scenario::new(21, Side::new(role), Side::new(role), false);
        assert!(
            s.run_until(Duration::from_secs(5), |s| s.both_connected()),
            "{role:?}"
        );
        let (ra, rb) = (s.peer(s.a).agent.role(), s.peer(s.b).agent.role());
        assert_ne!(ra, rb, "exactly one side ends up controlling");
        assert!(
            s.peer(s.a).agent.stats().role_conflicts + s.peer(s.b).agent.stats().role_conflicts
                >= 1
        );
        assert!(s
            .peer(s.a)
            .events
            .iter()
            .chain(s.peer(s.b).events.iter())
            .any(|(_, e)| { matches!(e, fulmar_ice::IceEvent::RoleChange(_)) }));
        s.assert_data_flows();
    }
}

#[test]
fn candidates_trickled_late() {
    let mut s = Scenario::new(
        31,
        stun_side(
            IceRole::Controlling,
            NatConfig::port_restricted_cone(),
            LinkConfig::ideal().with_delay(ms(10)),
        ),
        stun_side(
            IceRole::Controlled,
            NatConfig::full_cone(),
            LinkConfig::ideal().with_delay(ms(10)),
        ),
        true,
    );
    // Signaling takes 2 s: the full-cone side's checks reach A first and A
    // learns it as peer-reflexive, then the signalled candidates arrive.
    s.signal_delay = Duration::from_secs(2);
    assert!(s.run_until(Duration::from_secs(10), |s| s.both_connected()));
    s.assert_data_flows();
    let remotes = s.peer(s.a).agent.remote_candidates();
    assert!(remotes
        .iter()
        .any(|c| c.typ == CandidateType::ServerReflexive));
    assert!(s.run_until(Duration::from_secs(5), |s| s
        .both(IceConnectionState::Completed)));
}

#[test]
fn full_agent_facing_a_lite_peer() {
    // The lite peer is a public server; the full agent is behind a NAT.
    let mut s = Scenario::new(
        41,
        stun_side(
            IceRole::Controlled,
            NatConfig::symmetric(),
            LinkConfig::ideal().with_delay(ms(20)),
        ),
        Side::new(IceRole::Controlled).config(|_| fulmar_ice::IceConfig::lite()),
        true,
    );
    let (a, b) = (s.a, s.b);
    s.peer_mut(a).agent.set_remote_lite(true);
    assert_eq!(s.peer(a).agent.role(), IceRole::Controlling);
    assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    assert!(s.peer(b).agent.is_lite());
    // The lite agent answered; it sent no checks of its own.
    let lite_pairs = s.peer(b).agent.pair_stats();
    assert!(lite_pairs.iter().all(|p| p.requests_sent == 0));
    assert!(lite_pairs
        .iter()
        .any(|p| p.selected && p.requests_received >= 1));
    // Its selected pair points at the full agent's NAT mapping (prflx).
    assert_eq!(
        s.selected(b).unwrap().remote.typ,
        CandidateType::PeerReflexive
    );
    s.assert_data_flows();
    // Consent from the full side keeps going; the lite side sends keepalives.
    s.net.run_for(Duration::from_secs(40));
    assert!(s.both_connected());
    s.assert_data_flows();
}

#[test]
fn ipv6_only() {
    let mut s = Scenario::new(
        51,
        Side::new(IceRole::Controlling).addrs(&["2001:db8::1"]),
        Side::new(IceRole::Controlled).addrs(&["2001:db8::2"]),
        false,
    );
    assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    let sel = s.selected(s.a).unwrap();
    assert!(sel.source.is_ipv6() && sel.destination.is_ipv6());
    s.assert_data_flows();
}

#[test]
fn dual_stack_prefers_ipv6() {
    let mut s = Scenario::new(
        52,
        Side::new(IceRole::Controlling).addrs(&["198.18.0.1", "2001:db8::1"]),
        Side::new(IceRole::Controlled).addrs(&["198.18.0.2", "2001:db8::2"]),
        false,
    );
    assert!(s.run_until(Duration::from_secs(5), |s| s
        .both(IceConnectionState::Completed)));
    assert!(s.selected(s.a).unwrap().destination.is_ipv6());
    // Every pair is same-family.
    for p in s.peer(s.a).agent.pair_stats() {
        assert_eq!(p.local.is_ipv6(), p.remote.is_ipv6());
    }
}

#[test]
fn same_private_lan_uses_host_candidates() {
    // Two hosts on one private LAN: the host pair wins.
    let mut net_s = Scenario::new(
        61,
        Side::new(IceRole::Controlling).addrs(&["10.0.0.1"]),
        Side::new(IceRole::Controlled).addrs(&["10.0.0.2"]),
        false,
    );
    assert!(net_s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    assert_eq!(
        net_s.selected(net_s.a).unwrap().remote.typ,
        CandidateType::Host
    );
}

#[test]
fn consent_traffic_keeps_short_nat_mappings_open() {
    // Port-restricted NATs that forget a mapping after 20 s of silence: the
    // consent checks (every 4-6 s) keep both pinholes open for minutes.
    let nat = NatConfig::port_restricted_cone().with_mapping_timeout(Duration::from_secs(20));
    let link = LinkConfig::ideal().with_delay(ms(15));
    let mut s = Scenario::new(
        71,
        stun_side(IceRole::Controlling, nat.clone(), link.clone()),
        stun_side(IceRole::Controlled, nat, link),
        true,
    );
    assert!(s.run_until(Duration::from_secs(5), |s| s.both_connected()));
    s.net.run_for(Duration::from_secs(180));
    assert!(s.both_connected());
    assert!(!s
        .peer(s.a)
        .states()
        .contains(&IceConnectionState::Disconnected));
    s.assert_data_flows();
}

#[test]
fn runs_are_reproducible_from_the_seed() {
    let run = |seed: u64| {
        let link = LinkConfig::ideal()
            .with_delay(ms(10))
            .with_jitter(ms(10))
            .with_loss(0.2);
        let mut s = Scenario::new(
            seed,
            stun_side(
                IceRole::Controlling,
                NatConfig::restricted_cone(),
                link.clone(),
            ),
            stun_side(IceRole::Controlled, NatConfig::symmetric(), link),
            true,
        );
        s.net.enable_trace();
        s.run_until(Duration::from_secs(20), |s| s.both_connected());
        s.net.run_for(Duration::from_secs(10));
        let events: Vec<_> = [s.a, s.b]
            .iter()
            .flat_map(|h| {
                s.peer(*h)
                    .events
                    .iter()
                    .map(|(t, e)| (*t - s.net.start(), format!("{e:?}")))
            })
            .collect();
        (events, s.net.trace().to_vec())
    };
    let (e1, t1) = run(5);
    let (e2, t2) = run(5);
    assert!(!t1.is_empty());
    assert_eq!(e1, e2, "same seed, same ICE events at the same times");
    assert_eq!(t1, t2, "same seed, same datagrams");
    let (_, t3) = run(6);
    assert_ne!(t1, t3);
}

#[test]
fn same_nat_without_host_candidates_needs_hairpinning() {
    // Both peers behind one NAT and only their srflx candidates signalled
    // (as when host candidates are withheld): the checks must turn around
    // inside the NAT (RFC 4787 §6).
    for hairpin in [true, false] {
        let nat = NatConfig::port_restricted_cone().with_hairpinning(hairpin);
        let with_stun =
            |r| Side::new(r).config(|c| c.with_stun_server(common::STUN_SERVER.parse().unwrap()));
        let mut s = Scenario::same_nat(
            81,
            nat,
            with_stun(IceRole::Controlling),
            with_stun(IceRole::Controlled),
        );
        s.signal_filter = |c| c.typ != CandidateType::Host;
        let done = s.run_until(Duration::from_secs(30), |s| {
            s.both_connected() || s.both(IceConnectionState::Failed)
        });
        assert!(done);
        assert_eq!(s.both_connected(), hairpin, "hairpinning {hairpin}");
        if hairpin {
            assert_eq!(
                s.selected(s.a).unwrap().remote.typ,
                CandidateType::ServerReflexive
            );
            s.assert_data_flows();
        }
    }
}
