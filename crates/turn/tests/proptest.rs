//! Property tests: stream framing (RFC 8656 §12.5) survives any split of the
//! byte stream; arbitrary client input never panics the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use fulmar_stun::attributes::{Data, XorPeerAddress};
use fulmar_stun::{ChannelData, Class, MessageBuilder, Method, TransactionId};
use fulmar_turn::{FiveTuple, Server, ServerConfig, StreamFramer, TransportProtocol};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

fn frame(kind: bool, channel: u16, data: &[u8]) -> Vec<u8> {
    if kind {
        let cd = ChannelData::new(channel, data).unwrap();
        let mut out = vec![0u8; cd.encoded_len(true)];
        cd.encode(&mut out, true).unwrap();
        out
    } else {
        let mut buf = vec![0u8; data.len() + 64];
        let mut b = MessageBuilder::new(
            &mut buf,
            Class::Indication,
            Method::SEND,
            TransactionId::new([channel as u8; 12]),
        );
        b.add(&XorPeerAddress("192.0.2.1:9".parse().unwrap()))
            .add(&Data(data));
        b.finish().unwrap().to_vec()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn framer_reassembles_any_split(
        frames in proptest::collection::vec((any::<bool>(), 0x4000u16..=0x4FFF, proptest::collection::vec(any::<u8>(), 0..300)), 1..8),
        cuts in proptest::collection::vec(1usize..97, 0..20),
    ) {
        let encoded: Vec<Vec<u8>> = frames.iter().map(|(k, c, d)| frame(*k, *c, d)).collect();
        let stream: Vec<u8> = encoded.concat();
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut cut_iter = cuts.iter().cycle();
        while pos < stream.len() {
            let step = if cuts.is_empty() { stream.len() } else { *cut_iter.next().unwrap() };
            let end = (pos + step).min(stream.len());
            f.push(&stream[pos..end]);
            pos = end;
            while let Some(fr) = f.next_frame().unwrap() {
                got.push(fr.to_vec());
            }
        }
        prop_assert_eq!(got, encoded);
        prop_assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn server_survives_arbitrary_datagrams(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let now = Instant::now();
        let mut s = Server::new(ServerConfig::new("p.test", "198.51.100.1".parse().unwrap()).with_user("a", "b"), now, StdRng::seed_from_u64(3));
        let ft = FiveTuple { client: "203.0.113.1:1".parse().unwrap(), server: "198.51.100.1:3478".parse().unwrap(), protocol: TransportProtocol::Udp };
        for d in &datagrams {
            prop_assert!(s.handle_client(now, ft, d).is_none());
        }
        prop_assert_eq!(s.allocation_count(), 0);
        while let Some(t) = s.poll_transmit() {
            prop_assert!(t.payload.len() <= 1024);
        }
    }
}

/// ICE server URLs: what is printed parses back to the same value, and any
/// text either parses or errors.
mod urls {
    use fulmar_turn::{IceServerUrl, UrlScheme, UrlTransport};
    use proptest::prelude::*;

    fn url() -> impl Strategy<Value = IceServerUrl> {
        let scheme = prop::sample::select(vec![
            UrlScheme::Stun,
            UrlScheme::Stuns,
            UrlScheme::Turn,
            UrlScheme::Turns,
        ]);
        let host = prop_oneof![
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
            "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        ];
        let transport = prop::sample::select(vec![UrlTransport::Udp, UrlTransport::Tcp]);
        (scheme, host, any::<u16>(), transport).prop_map(|(scheme, host, port, transport)| {
            // Without a query, STUN's transport follows the scheme.
            let transport = match scheme {
                UrlScheme::Stun => UrlTransport::Udp,
                UrlScheme::Stuns => UrlTransport::Tcp,
                _ => transport,
            };
            IceServerUrl {
                scheme,
                host,
                port,
                transport,
            }
        })
    }

    proptest! {
        #[test]
        fn printed_urls_parse_back(u in url()) {
            prop_assert_eq!(IceServerUrl::parse(&u.to_string()).unwrap(), u);
        }

        #[test]
        fn any_text_parses_or_errors(s in "\\PC{0,60}") {
            if let Ok(u) = IceServerUrl::parse(&s) {
                prop_assert_eq!(IceServerUrl::parse(&u.to_string()).unwrap(), u);
            }
        }
    }
}
