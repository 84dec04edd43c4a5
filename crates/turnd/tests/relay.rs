//! fulmar-turnd end to end on loopback (127.0.0.1 and ::1 only): the real
//! binary, real sockets, fulmar-turn's client. A dual allocation (RFC 8656
//! §7.2, ADDITIONAL-ADDRESS-FAMILY) relays to an IPv4 and an IPv6 peer, an
//! IPv6 client gets an IPv6-only allocation (REQUESTED-ADDRESS-FAMILY), and
//! an unauthenticated Allocate gets a 401.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fulmar_turn::{AddressFamily, Client, ClientConfig, ClientEvent, Received};
use rand::{rngs::StdRng, SeedableRng};

struct Turnd {
    child: Child,
    _dir: std::path::PathBuf,
}

impl Drop for Turnd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn free_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(v4: SocketAddr, v6: SocketAddr) -> Turnd {
    let dir = std::env::temp_dir().join(format!("turnd-test-{}-{}", std::process::id(), v4.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("turnd.toml");
    std::fs::write(
        &conf,
        format!(
            "realm = \"fulmar.test\"\nlisten_udp = [\"{v4}\", \"{v6}\"]\nrelay_ip = \"127.0.0.1\"\n\
             relay_ip_v6 = \"::1\"\nudp_sockets_per_address = 2\n[users]\nalice = \"secret\"\n\
             [peer_policy]\nallow_loopback = true\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_fulmar-turnd"))
        .arg("--config")
        .arg(&conf)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Turnd { child, _dir: dir };
    // Wait for a Binding answer on both listeners.
    for addr in [v4, v6] {
        let s = UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut req = [0u8; 20];
        req[1] = 1;
        req[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        let mut ok = false;
        for _ in 0..100 {
            s.send_to(&req, addr).unwrap();
            if s.recv_from(&mut [0u8; 256]).is_ok() {
                ok = true;
                break;
            }
        }
        assert!(ok, "fulmar-turnd does not answer on {addr}");
    }
    t
}

/// Run the client until `want` matches an event (Err on a failure event or timeout).
fn drive(
    client: &mut Client,
    sock: &UdpSocket,
    want: impl Fn(&ClientEvent) -> Option<bool>,
) -> Vec<ClientEvent> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    loop {
        assert!(Instant::now() < deadline, "timed out; events {seen:?}");
        let mut out = Vec::new();
        while let Some(t) = client.poll_transmit(Instant::now(), &mut out) {
            sock.send_to(&out, t.destination).unwrap();
        }
        while let Some(e) = client.poll_event() {
            let verdict = want(&e);
            seen.push(e);
            match verdict {
                Some(true) => return seen,
                Some(false) => panic!("failed: {seen:?}"),
                None => {}
            }
        }
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                client.handle_receive(Instant::now(), from, &buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                client.handle_timeout(Instant::now());
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn bind(client: &mut Client, sock: &UdpSocket, peer: SocketAddr) {
    client.bind_channel(Instant::now(), peer).unwrap();
    drive(client, sock, |e| match e {
        ClientEvent::ChannelBound { .. } => Some(true),
        ClientEvent::ChannelBindFailed { .. } => Some(false),
        _ => None,
    });
}

/// Client → peer and peer → client through `relayed`, over the channel.
fn relay_both_ways(client: &mut Client, sock: &UdpSocket, peer: &UdpSocket, relayed: SocketAddr) {
    let p = peer.local_addr().unwrap();
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    let t = client
        .send_to(Instant::now(), p, b"ping", &mut out)
        .unwrap();
    assert_eq!(t.len, 8, "ChannelData");
    sock.send_to(&out, t.destination).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"ping"[..], relayed));
    peer.send_to(b"pong", relayed).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(
        client.handle_receive(Instant::now(), from, &buf[..n]),
        Received::PeerData {
            peer: p,
            data: b"pong"
        }
    );
}

#[test]
fn ipv4_ipv6_and_dual_allocations_relay_on_loopback() {
    let v4: SocketAddr = ([127, 0, 0, 1], free_port("127.0.0.1")).into();
    let v6: SocketAddr = format!("[::1]:{}", free_port("::1")).parse().unwrap();
    let _turnd = start(v4, v6);
    let peer4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer6 = UdpSocket::bind("[::1]:0").unwrap();

    // A dual allocation from an IPv4 client.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cc = ClientConfig::new(v4, "alice", "secret").with_dual_allocation();
    let mut client = Client::new(cc, StdRng::seed_from_u64(1));
    client.allocate(Instant::now()).unwrap();
    let events = drive(&mut client, &sock, |e| match e {
        ClientEvent::Allocated { .. } => Some(true),
        ClientEvent::AllocationFailed { .. } => Some(false),
        _ => None,
    });
    let Some(ClientEvent::Allocated {
        relayed,
        additional_relayed: Some(relayed6),
        ..
    }) = events.last().cloned()
    else {
        panic!("no dual allocation: {events:?}");
    };
    assert_eq!(relayed.ip().to_string(), "127.0.0.1");
    assert_eq!(relayed6.ip().to_string(), "::1");
    bind(&mut client, &sock, peer4.local_addr().unwrap());
    bind(&mut client, &sock, peer6.local_addr().unwrap());
    relay_both_ways(&mut client, &sock, &peer4, relayed);
    relay_both_ways(&mut client, &sock, &peer6, relayed6);

    // An IPv6 client asking for IPv6 only.
    let sock6 = UdpSocket::bind("[::1]:0").unwrap();
    let cc = ClientConfig::new(v6, "alice", "secret").with_requested_family(AddressFamily::Ipv6);
    let mut client6 = Client::new(cc, StdRng::seed_from_u64(2));
    client6.allocate(Instant::now()).unwrap();
    drive(&mut client6, &sock6, |e| match e {
        ClientEvent::Allocated { .. } => Some(true),
        ClientEvent::AllocationFailed { .. } => Some(false),
        _ => None,
    });
    let r6 = client6.relayed_address().unwrap();
    assert!(r6.is_ipv6());
    bind(&mut client6, &sock6, peer6.local_addr().unwrap());
    relay_both_ways(&mut client6, &sock6, &peer6, r6);

    // An IPv4 peer does not fit an IPv6-only allocation.
    assert!(client6
        .bind_channel(Instant::now(), peer4.local_addr().unwrap())
        .is_err());

    // Both deallocate cleanly.
    for (c, s) in [(&mut client, &sock), (&mut client6, &sock6)] {
        c.close(Instant::now());
        drive(c, s, |e| match e {
            ClientEvent::Closed { graceful } => Some(*graceful),
            _ => None,
        });
    }
}

#[test]
fn unauthenticated_allocate_gets_401_over_udp() {
    let v4: SocketAddr = ([127, 0, 0, 1], free_port("127.0.0.1")).into();
    let v6: SocketAddr = format!("[::1]:{}", free_port("::1")).parse().unwrap();
    let _turnd = start(v4, v6);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cc = ClientConfig::new(v4, "alice", "wrong");
    let mut client = Client::new(cc, StdRng::seed_from_u64(3));
    client.allocate(Instant::now()).unwrap();
    let ev = drive(&mut client, &sock, |e| match e {
        ClientEvent::AllocationFailed { .. } => Some(true),
        ClientEvent::Allocated { .. } => Some(false),
        _ => None,
    });
    assert_eq!(
        ev.last(),
        Some(&ClientEvent::AllocationFailed { code: Some(401) })
    );
}
