//! ICE connectivity checks handled per second: a request in, its success
//! response out, integrity included.
//!
//! - `fulmar-ice agent`: a connected `IceAgent` gets an ICE Binding request
//!   (USERNAME, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT)
//!   through `handle_receive` and its signed response (XOR-MAPPED-ADDRESS,
//!   MESSAGE-INTEGRITY, FINGERPRINT) is taken with `poll_transmit`: the whole
//!   agent path (USERNAME and role checks, candidate and pair lookup, stats).
//! - `rtc-stun messages`: webrtc-rs `rtc-stun` 0.21 doing only the message
//!   work of the same check on a reused `Message` (parse, verify integrity and
//!   fingerprint, build and sign the response); its ICE agent (rtc-ice) is not
//!   driven here, so this baseline is a floor, not an agent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use fulmar_ice::{IceAgent, IceConfig, IceRole};
use fulmar_stun::attributes::{IceControlling, Priority, Username};
use fulmar_stun::{Class, IntegrityKey, MessageBuilder, Method, TransactionId};
use rand::{rngs::StdRng, SeedableRng};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{Message as RtcMessage, Setter, BINDING_SUCCESS};
use rtc_stun::xoraddr::XorMappedAddress as RtcXorMappedAddress;

const REMOTE_UFRAG: &str = "rU5f";
const REMOTE_PWD: &str = "remoteIcePasswordABCDEF12";

fn benches(c: &mut Criterion) {
    let now = Instant::now();
    let local: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let remote: SocketAddr = "192.0.2.2:6000".parse().unwrap();
    let mut agent = IceAgent::new(
        IceConfig::new(IceRole::Controlled),
        StdRng::seed_from_u64(1),
    );
    agent
        .set_remote_credentials(now, REMOTE_UFRAG, REMOTE_PWD)
        .unwrap();
    agent.add_host_candidate(now, 1, local).unwrap();
    let local_pwd = agent.local_credentials().pwd.clone();
    let username = format!("{}:{}", agent.local_credentials().ufrag, REMOTE_UFRAG);

    let key = IntegrityKey::short_term(&local_pwd);
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId::new([9; 12]),
    );
    b.add(&Username(&username))
        .add(&Priority(1_845_501_695))
        .add(&IceControlling(42))
        .add_message_integrity(&key)
        .add_fingerprint();
    let request = b.finish().unwrap().to_vec();

    // Warm up: the first check teaches the agent the peer-reflexive remote
    // and queues a triggered check; drain everything once.
    agent.handle_receive(now, remote, local, &request);
    agent.handle_timeout(now);
    let mut out = Vec::new();
    while agent.poll_transmit(now, &mut out).is_some() {}
    while agent.poll_event().is_some() {}

    let mut g = c.benchmark_group("ice_check_handled");
    g.throughput(Throughput::Elements(1));
    g.bench_function("fulmar-ice agent", |bn| {
        bn.iter(|| {
            agent.handle_receive(now, remote, local, black_box(&request));
            let t = agent.poll_transmit(now, &mut out).unwrap();
            black_box(t.len);
        })
    });

    let provider = rtc_stun::crypto::default_provider().unwrap();
    let crypto = provider.crypto();
    let integrity =
        MessageIntegrity::new_short_term_integrity_with_provider(local_pwd.clone(), crypto);
    let mut req = RtcMessage::new();
    let mut resp = RtcMessage::new();
    let xor = RtcXorMappedAddress {
        ip: remote.ip(),
        port: remote.port(),
    };
    g.bench_function("rtc-stun messages", |bn| {
        bn.iter(|| {
            req.unmarshal_binary(black_box(&request)).unwrap();
            MessageIntegrity::check(&mut req, local_pwd.as_bytes(), crypto).unwrap();
            FINGERPRINT.check(&req).unwrap();
            resp.reset();
            resp.typ = BINDING_SUCCESS;
            resp.transaction_id = req.transaction_id;
            resp.write_header();
            xor.add_to(&mut resp).unwrap();
            integrity.add_to(&mut resp).unwrap();
            FINGERPRINT.add_to(&mut resp).unwrap();
            black_box(resp.raw.len());
        })
    });
    g.finish();
}

criterion_group!(ice, benches);
criterion_main!(ice);
