// Body of the `stun_message` fuzz target, shared with fulmar-stun's
// tests/fuzz_corpus.rs: parse any bytes as STUN, verify MESSAGE-INTEGRITY(-SHA256)
// with a fixed key and FINGERPRINT, decode every attribute, rebuild the
// message from its attributes, and feed it to the Binding responder.

fn run(data: &[u8]) {
    use fulmar_stun::attributes::*;

    let _ = fulmar_stun::classify(data);
    let _ = fulmar_stun::message_len(data);
    let key = fulmar_stun::IntegrityKey::new(b"fuzz-key");

    let mut out = Vec::new();
    let mut responder = fulmar_stun::server::BindingResponder::new().with_software("fuzz");
    let source = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 3478));
    let now = std::time::Instant::now();
    responder.handle_receive(now, source, local, data);
    if let Some(t) = responder.poll_transmit(now, &mut out) {
        // Whatever the responder writes must itself parse, and go back.
        assert_eq!((t.source, t.destination, t.len), (local, source, out.len()));
        assert!(fulmar_stun::Message::parse(&out).is_ok());
    }

    let Ok(msg) = fulmar_stun::Message::parse(data) else {
        return;
    };
    let _ = msg.verify_integrity(&key);
    let _ = msg.verify_message_integrity(&key);
    let _ = msg.verify_message_integrity_sha256(&key);
    let _ = msg.verify_fingerprint();
    let _ = msg.unknown_comprehension_required().count();

    let _ = msg.get::<MappedAddress>();
    let _ = msg.get::<XorMappedAddress>();
    let _ = msg.get::<AlternateServer>();
    let _ = msg.get::<AlternateDomain>();
    let _ = msg.get::<Username>();
    let _ = msg.get::<Userhash>();
    let _ = msg.get::<Realm>();
    let _ = msg.get::<Nonce>().map(|n| n.security_features());
    let _ = msg.get::<Software>();
    let _ = msg.get::<ErrorCode>();
    let _ = msg.get::<UnknownAttributes>().map(|u| u.iter().count());
    let _ = msg.get::<PasswordAlgorithm>();
    let _ = msg.get::<PasswordAlgorithms>().map(|p| p.iter().count());
    let _ = msg.get::<MessageIntegrity>();
    let _ = msg.get::<MessageIntegritySha256>();
    let _ = msg.get::<Fingerprint>();
    let _ = msg.get::<Priority>();
    let _ = msg.get::<UseCandidate>();
    let _ = msg.get::<IceControlled>();
    let _ = msg.get::<IceControlling>();
    let _ = msg.get::<GoogNetworkInfo>();
    let _ = msg.get::<ChannelNumber>();
    let _ = msg.get::<Lifetime>();
    let _ = msg.get::<XorPeerAddress>();
    let _ = msg.get::<Data>();
    let _ = msg.get::<XorRelayedAddress>();
    let _ = msg.get::<RequestedAddressFamily>();
    let _ = msg.get::<EvenPort>();
    let _ = msg.get::<RequestedTransport>();
    let _ = msg.get::<DontFragment>();
    let _ = msg.get::<ReservationToken>();
    let _ = msg.get::<AdditionalAddressFamily>();
    let _ = msg.get::<AddressErrorCode>();
    let _ = msg.get::<Icmp>();

    // Rebuilding from the attributes that count gives a message that parses
    // to the same attributes.
    let mut buf = vec![0u8; data.len()];
    let mut b = fulmar_stun::MessageBuilder::with_type(&mut buf, msg.message_type(), msg.transaction_id());
    for a in msg.attributes() {
        b.add_raw(a.attribute_type, a.value);
    }
    let rebuilt = b.finish();
    if let Ok(bytes) = rebuilt {
        if let Ok(again) = fulmar_stun::Message::parse(bytes) {
            assert!(again.attributes().eq(msg.attributes()));
        }
    }
}
