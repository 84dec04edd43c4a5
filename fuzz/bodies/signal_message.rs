// Body of the `signal_message` fuzz target (shared with fulmar-signal's
// tests/fuzz_corpus.rs): arbitrary text, one client message per line, into
// fulmar-signal's message parser and room core. Lines alternate between two
// connections (the second already joined to room `r`); a line starting
// with `@` is sent as the Socket.IO event named by the byte after it. Every
// message must be answered (a reply or an error), every frame the hub
// writes must be a JSON object whose `type` is its event, and nothing may
// panic.

fn run(data: &[u8]) {
    use fulmar_signal::auth::Auth;
    use fulmar_signal::hub::{ConnHandle, Hub};
    use fulmar_signal::limits::Limits;
    use fulmar_signal::metrics::Metrics;
    use fulmar_signal::protocol::{Request, CLIENT_EVENTS};
    use std::time::{Duration, Instant};

    let limits = Limits {
        max_room_peers: 3,
        outbox_frames: 8,
        max_strikes: 1000,
        connection_queue: 4096,
        ..Limits::default()
    };
    let mut hub = Hub::new(limits, Auth::Open, Metrics::default());
    let mut now = Instant::now();
    let (h1, mut rx1, _close1) = ConnHandle::new(4096);
    let (h2, mut rx2, _close2) = ConnHandle::new(4096);
    let c1 = hub.connect(h1, now);
    let c2 = hub.connect(h2, now);
    hub.receive(c2, Request::parse(r#"{"type":"join","room":"r","id":1}"#), now, 0);
    let text = String::from_utf8_lossy(data);
    for (i, line) in text.lines().take(64).enumerate() {
        let (conn, rx) = if i % 2 == 0 { (c1, &mut rx1) } else { (c2, &mut rx2) };
        while rx.try_recv().is_ok() {}
        let parsed = match line.strip_prefix('@') {
            Some(rest) => {
                let pick = rest.bytes().next().unwrap_or(0) as usize % CLIENT_EVENTS.len();
                let event = CLIENT_EVENTS.get(pick).copied().unwrap_or("join");
                Request::parse_event(Some(event), rest.get(1..).unwrap_or(""))
            }
            None => Request::parse(line),
        };
        now += Duration::from_millis(10);
        hub.receive(conn, parsed, now, 1_700_000_000_000);
        let mut answered = false;
        while let Ok(frame) = rx.try_recv() {
            let v: serde_json::Value = serde_json::from_str(&frame.json).expect("frames are JSON");
            assert_eq!(v["type"], frame.event, "a frame's type is its event");
            answered |= matches!(frame.event, "ok" | "error" | "joined" | "resumed" | "pong");
        }
        assert!(answered, "every message is answered: {line:?}");
        if i % 7 == 6 {
            hub.disconnect(conn, now);
            hub.expire(now + Duration::from_secs(60));
            break;
        }
    }
    hub.expire(now + Duration::from_secs(3600));
}
