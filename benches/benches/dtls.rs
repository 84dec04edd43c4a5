//! DTLS 1.2: fulmar-dtls beside webrtc-rs `rtc-dtls` 0.21 (ring provider).
//!
//! - `handshake/*`: CPU time of one full in-memory handshake, client and
//!   server in one process, no loss: ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
//!   mutual certificate authentication (as in WebRTC), extended master
//!   secret, use_srtp. Certificates are made once, outside the loop.
//!   `handshake/ring-public-key-floor` is the raw cost of the public-key
//!   operations such a handshake performs (two X25519 key pairs and
//!   agreements, two ECDSA P-256 signatures and two verifications) with ring.
//! - `record/*`: seal and open of one 1200-byte application_data record
//!   (AES-128-GCM), beside ring's raw AES-128-GCM on the same bytes. Fulmar
//!   opens through the connection, in place (its record cipher is private).
//!
//! Run: `cd benches && cargo bench --bench dtls`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ring::rand::SystemRandom;
use ring::{aead, agreement, signature};

const PAYLOAD: usize = 1200;

fn fulmar_configs() -> (Arc<fulmar_dtls::Config>, Arc<fulmar_dtls::Config>) {
    let a = Arc::new(fulmar_dtls::Certificate::generate().unwrap());
    let b = Arc::new(fulmar_dtls::Certificate::generate().unwrap());
    let mut c = fulmar_dtls::Config::new(a.clone(), vec![b.fingerprint()]);
    c.cipher_suites = vec![fulmar_dtls::CipherSuite::EcdheEcdsaAes128GcmSha256];
    c.groups = vec![fulmar_dtls::NamedGroup::X25519];
    let mut s = fulmar_dtls::Config::new(b, vec![a.fingerprint()]);
    // use_srtp with WebRTC's profiles, as a peer connection offers them.
    let profiles =
        fulmar_srtp::ProtectionProfile::PREFERRED.map(fulmar_srtp::ProtectionProfile::id);
    c.srtp_profiles = profiles.to_vec();
    s.srtp_profiles = profiles.to_vec();
    (Arc::new(c), Arc::new(s))
}

/// A DTLS connection on fulmar-netsim's pair: the verbs are the contract's.
struct Dtls(fulmar_dtls::Connection);

impl fulmar_netsim::Party for Dtls {
    type Event = fulmar_dtls::Event;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.0.handle_receive(now, datagram);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.0.poll_transmit(now, buf)
    }
    fn poll_event(&mut self) -> Option<fulmar_dtls::Event> {
        self.0.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

/// A full handshake on fulmar-netsim's pair over an ideal link: each flight
/// is read in the one buffer it was written into, no timer fires.
fn fulmar_handshake(
    c: &Arc<fulmar_dtls::Config>,
    s: &Arc<fulmar_dtls::Config>,
) -> (fulmar_dtls::Connection, fulmar_dtls::Connection) {
    let now = Instant::now();
    let client = fulmar_dtls::Connection::client(c.clone(), now, rand::rngs::OsRng);
    let server = fulmar_dtls::Connection::server(s.clone(), rand::rngs::OsRng);
    let mut p = fulmar_netsim::Pair::new(now, Dtls(client), Dtls(server), 0);
    let connected = p.run_until(Duration::ZERO, |p| {
        p.a.0.is_connected() && p.b.0.is_connected()
    });
    assert!(connected);
    let (client, server) = p.into_parties();
    (client.0, server.0)
}

mod rtc {
    use super::*;
    use rtc_dtls::cipher_suite::CipherSuiteId;
    use rtc_dtls::config::{
        ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig,
    };
    use rtc_dtls::crypto::Certificate;
    use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
    use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
    use rtc_shared::TransportProtocol;

    pub fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:5001".parse().unwrap(),
        )
    }

    pub fn configs() -> (Arc<HandshakeConfig>, Arc<HandshakeConfig>) {
        let provider = rtc_dtls::crypto_provider::default_provider().unwrap();
        let build = |is_client: bool| {
            let cert = Certificate::generate_self_signed(
                vec!["fulmar-bench".to_owned()],
                provider.crypto(),
            )
            .unwrap();
            let b = ConfigBuilder::default()
                .with_crypto_provider(provider.clone())
                .with_certificates(vec![cert])
                .with_cipher_suites(vec![CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256])
                .with_srtp_protection_profiles(vec![SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm])
                .with_extended_master_secret(ExtendedMasterSecretType::Require)
                .with_client_auth(ClientAuthType::RequireAnyClientCert)
                .with_insecure_skip_verify(true);
            Arc::new(b.build(is_client, None).unwrap())
        };
        (build(true), build(false))
    }

    pub fn handshake(c: &Arc<HandshakeConfig>, s: &Arc<HandshakeConfig>) {
        let (ca, sa) = addrs();
        let now = Instant::now();
        let mut server = Endpoint::new(sa, TransportProtocol::UDP, Some(s.clone()));
        let mut client = Endpoint::new(ca, TransportProtocol::UDP, None);
        client.connect(now, sa, c.clone(), None).unwrap();
        let (mut cdone, mut sdone) = (false, false);
        for _ in 0..32 {
            while let Some(t) = client.poll_transmit() {
                for e in server.read(now, ca, None, t.message).unwrap() {
                    sdone |= matches!(e, EndpointEvent::HandshakeComplete);
                }
            }
            while let Some(t) = server.poll_transmit() {
                for e in client.read(now, sa, None, t.message).unwrap() {
                    cdone |= matches!(e, EndpointEvent::HandshakeComplete);
                }
            }
            if cdone && sdone {
                break;
            }
        }
        assert!(cdone && sdone, "rtc-dtls handshake did not complete");
    }
}

/// The public-key work of one ECDHE_ECDSA handshake with mutual authentication.
fn ring_public_key_floor(
    ka: &signature::EcdsaKeyPair,
    kb: &signature::EcdsaKeyPair,
    rng: &SystemRandom,
) {
    let msg = [7u8; 200];
    let ea = agreement::EphemeralPrivateKey::generate(&agreement::X25519, rng).unwrap();
    let eb = agreement::EphemeralPrivateKey::generate(&agreement::X25519, rng).unwrap();
    let pa = ea.compute_public_key().unwrap();
    let pb = eb.compute_public_key().unwrap();
    let sa = agreement::agree_ephemeral(
        ea,
        &agreement::UnparsedPublicKey::new(&agreement::X25519, pb.as_ref()),
        |k| k[0],
    )
    .unwrap();
    let sb = agreement::agree_ephemeral(
        eb,
        &agreement::UnparsedPublicKey::new(&agreement::X25519, pa.as_ref()),
        |k| k[0],
    )
    .unwrap();
    assert_eq!(sa, sb);
    for (signer, verifier) in [(ka, kb), (kb, ka)] {
        let _ = verifier;
        let sig = signer.sign(rng, &msg).unwrap();
        signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_ASN1,
            signer_public(signer),
        )
        .verify(&msg, sig.as_ref())
        .unwrap();
    }
}

fn signer_public(k: &signature::EcdsaKeyPair) -> &[u8] {
    use signature::KeyPair;
    k.public_key().as_ref()
}

fn bench_handshake(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("dtls/handshake");
    g.sample_size(30);
    let (fc, fs) = fulmar_configs();
    g.bench_function("fulmar", |b| b.iter(|| fulmar_handshake(&fc, &fs)));
    let (rc, rs) = rtc::configs();
    g.bench_function("rtc-dtls-0.21", |b| b.iter(|| rtc::handshake(&rc, &rs)));
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let key_pair = || {
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
    };
    let (ka, kb) = (key_pair(), key_pair());
    g.bench_function("ring-public-key-floor", |b| {
        b.iter(|| ring_public_key_floor(&ka, &kb, &rng))
    });
    g.finish();
}

fn bench_records(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("dtls/record-1200B");
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    let data = vec![0x5au8; PAYLOAD];

    // Fulmar: seal and open through the connections (sequence numbers,
    // header, anti-replay window), the record opened in place; each opened
    // record is a fresh one the client sealed outside the measurement.
    let (fc, fs) = fulmar_configs();
    let (mut client, mut server) = fulmar_handshake(&fc, &fs);
    let mut out = Vec::with_capacity(PAYLOAD + 64);
    g.bench_function("seal/fulmar", |b| {
        b.iter(|| {
            out.clear();
            client.seal_application_data(&data, &mut out).unwrap();
        })
    });
    let now = Instant::now();
    g.bench_function("open/fulmar", |b| {
        b.iter_batched_ref(
            || {
                let mut record = Vec::with_capacity(PAYLOAD + 64);
                client.seal_application_data(&data, &mut record).unwrap();
                record
            },
            |record| {
                server.handle_receive(now, record);
                let data = server.poll_application_data().unwrap();
                assert_eq!(data.len(), PAYLOAD);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let key = [0x11u8; 16];
    let iv = [0x22u8; 4];

    // rtc-dtls record cipher.
    {
        use rtc_dtls::content::ContentType;
        use rtc_dtls::crypto::crypto_gcm::CryptoGcm;
        use rtc_dtls::record_layer::record_layer_header::{RecordLayerHeader, PROTOCOL_VERSION1_2};
        let provider = rtc_dtls::crypto_provider::default_provider().unwrap();
        let mut c = CryptoGcm::new(provider, &key, &iv, &key, &iv).unwrap();
        let header = RecordLayerHeader {
            content_type: ContentType::ApplicationData,
            protocol_version: PROTOCOL_VERSION1_2,
            epoch: 1,
            sequence_number: 1,
            content_len: PAYLOAD as u16,
        };
        let mut raw = Vec::new();
        header.marshal(&mut raw).unwrap();
        raw.extend_from_slice(&data);
        g.bench_function("seal/rtc-dtls-0.21", |b| {
            b.iter(|| c.encrypt(&header, &raw).unwrap())
        });
        let enc = c.encrypt(&header, &raw).unwrap();
        g.bench_function("open/rtc-dtls-0.21", |b| {
            b.iter(|| c.decrypt(&enc).unwrap())
        });
    }

    // ring's raw AES-128-GCM on the same 1200 bytes.
    let k = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key).unwrap());
    let ad = [0u8; 13];
    let mut buf = data.clone();
    g.bench_function("seal/ring-raw-aes128gcm", |b| {
        b.iter(|| {
            buf.copy_from_slice(&data);
            k.seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key([1; 12]),
                aead::Aad::from(ad),
                &mut buf,
            )
            .unwrap()
        })
    });
    let mut sealed = data.clone();
    let tag = k
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key([1; 12]),
            aead::Aad::from(ad),
            &mut sealed,
        )
        .unwrap();
    sealed.extend_from_slice(tag.as_ref());
    let mut work = sealed.clone();
    g.bench_function("open/ring-raw-aes128gcm", |b| {
        b.iter(|| {
            work.copy_from_slice(&sealed);
            k.open_in_place(
                aead::Nonce::assume_unique_for_key([1; 12]),
                aead::Aad::from(ad),
                &mut work,
            )
            .unwrap()
            .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_handshake, bench_records);
criterion_main!(benches);
