//! The two-party harness: link conditions, timers, tampering, tracing and
//! determinism, exercised with a small stop-and-wait protocol.

use std::time::{Duration, Instant};

use fulmar_netsim::{Direction, LinkConfig, Pair, Party};

const RTO: Duration = Duration::from_millis(100);

/// Sends `total` numbered messages one at a time, each until acknowledged.
struct Sender {
    next: u32,
    total: u32,
    retransmit_at: Option<Instant>,
    due: bool,
    transmissions: u32,
}

impl Sender {
    fn new(total: u32) -> Self {
        Self {
            next: 0,
            total,
            retransmit_at: None,
            due: total > 0,
            transmissions: 0,
        }
    }
}

impl Party for Sender {
    type Event = u32;
    fn handle_receive(&mut self, _now: Instant, datagram: &mut [u8]) {
        let Ok(ack) = <[u8; 4]>::try_from(&*datagram).map(u32::from_be_bytes) else {
            return;
        };
        if ack == self.next {
            self.next += 1;
            self.retransmit_at = None;
            self.due = self.next < self.total;
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        if !std::mem::take(&mut self.due) {
            return None;
        }
        self.transmissions += 1;
        self.retransmit_at = Some(now + RTO);
        buf.clear();
        buf.extend_from_slice(&self.next.to_be_bytes());
        buf.resize(1000, 0);
        Some(buf.len())
    }
    fn poll_event(&mut self) -> Option<u32> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {
        self.retransmit_at = None;
        self.due = true;
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.retransmit_at
    }
}

/// Acknowledges every message and reports each new one, in order.
#[derive(Default)]
struct Receiver {
    expected: u32,
    acks: Vec<u32>,
    delivered: Vec<u32>,
}

impl Party for Receiver {
    type Event = u32;
    fn handle_receive(&mut self, _now: Instant, datagram: &mut [u8]) {
        let Some(n) = datagram
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return;
        };
        if n == self.expected {
            self.expected += 1;
            self.delivered.push(n);
        }
        self.acks.push(n);
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        let n = self.acks.pop()?;
        buf.clear();
        buf.extend_from_slice(&n.to_be_bytes());
        Some(4)
    }
    fn poll_event(&mut self) -> Option<u32> {
        (!self.delivered.is_empty()).then(|| self.delivered.remove(0))
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

fn pair(total: u32, link: LinkConfig, seed: u64) -> Pair<Sender, Receiver> {
    Pair::new(
        Instant::now(),
        Sender::new(total),
        Receiver::default(),
        seed,
    )
    .with_link(link)
}

#[test]
fn an_ideal_link_delivers_everything_at_once() {
    let mut p = pair(50, LinkConfig::ideal(), 1);
    assert!(p.run_until_idle(Duration::from_secs(1)));
    assert_eq!(p.events_b, (0..50).collect::<Vec<_>>());
    assert_eq!(p.elapsed(), Duration::ZERO);
    assert_eq!(p.stats(Direction::AToB).sent, 50);
    assert_eq!(p.stats(Direction::BToA).delivered, 50);
}

#[test]
fn delay_sets_the_pace_of_stop_and_wait() {
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(10));
    let mut p = pair(5, link, 1);
    assert!(p.run_until_idle(Duration::from_secs(1)));
    assert_eq!(p.events_b.len(), 5);
    // Five round trips of 20 ms.
    assert_eq!(p.elapsed(), Duration::from_millis(100));
}

#[test]
fn loss_is_repaired_by_the_party_timer() {
    let link = LinkConfig::ideal()
        .with_delay(Duration::from_millis(5))
        .with_loss(0.3);
    let mut p = pair(200, link, 9);
    assert!(p.run_until(Duration::from_secs(600), |p| p.events_b.len() == 200));
    assert_eq!(p.events_b, (0..200).collect::<Vec<_>>());
    let lost = p.stats(Direction::AToB).lost + p.stats(Direction::BToA).lost;
    assert!(lost > 0, "30% loss over hundreds of datagrams lost nothing");
    assert_eq!(u64::from(p.a.transmissions), p.stats(Direction::AToB).sent);
    assert!(u64::from(p.a.transmissions) > 200);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let link = || {
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(5))
            .with_jitter(Duration::from_millis(5))
            .with_loss(0.2)
            .with_duplicate(0.1)
            .with_reorder(0.1, Duration::from_millis(7))
    };
    let run = |seed| {
        let mut p = pair(100, link(), seed);
        p.enable_trace();
        assert!(p.run_until(Duration::from_secs(600), |p| p.events_b.len() == 100));
        (p.elapsed(), p.trace().to_vec(), p.stats(Direction::AToB))
    };
    let (t1, trace1, s1) = run(3);
    let (t2, trace2, s2) = run(3);
    assert_eq!((t1, &trace1, s1), (t2, &trace2, s2));
    assert!(s1.duplicated > 0);
    let (t3, trace3, _) = run(4);
    assert!(t3 != t1 || trace3 != trace1);
}

#[test]
fn a_bottleneck_queue_bounded_in_time_drops_the_tail() {
    /// Sends `burst` datagrams of 1,000 bytes at the start, nothing else.
    struct Burst(u32);
    impl Party for Burst {
        type Event = ();
        fn handle_receive(&mut self, _now: Instant, _d: &mut [u8]) {}
        fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
            self.0 = self.0.checked_sub(1)?;
            buf.clear();
            buf.resize(1000, 0);
            Some(1000)
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }
    // 800 kbit/s = 100 datagrams/s, 10 ms each; at most 50 ms of queue.
    let link = LinkConfig::ideal()
        .with_bandwidth(800_000)
        .with_queue_limit(usize::MAX)
        .with_queue_delay_limit(Duration::from_millis(50));
    let mut p = Pair::new(Instant::now(), Burst(20), Burst(0), 1).with_link(link);
    assert!(p.run_until_idle(Duration::from_secs(1)));
    let s = p.stats(Direction::AToB);
    // Waits of 0, 10, ..., 50 ms are accepted: six datagrams.
    assert_eq!((s.sent, s.delivered, s.queue_dropped), (20, 6, 14));
    assert_eq!(p.elapsed(), Duration::from_millis(60));
}

#[test]
fn a_tamper_hook_rewrites_and_drops() {
    let mut p = pair(3, LinkConfig::ideal(), 1);
    // Drop the first transmission of message 1; corrupt nothing else.
    let mut dropped = false;
    p.set_tamper(move |dir, d| {
        if dir == Direction::AToB && d.get(..4) == Some(&[0, 0, 0, 1]) && !dropped {
            dropped = true;
            return false;
        }
        true
    });
    assert!(p.run_until_idle(Duration::from_secs(1)));
    assert_eq!(p.events_b, vec![0, 1, 2]);
    assert_eq!(p.stats(Direction::AToB).tampered_dropped, 1);
    // Message 1 waited one retransmission timeout.
    assert_eq!(p.elapsed(), RTO);
}

#[test]
fn run_for_moves_the_clock_even_when_idle() {
    let mut p = pair(0, LinkConfig::ideal(), 1);
    p.run_for(Duration::from_secs(3));
    assert_eq!(p.elapsed(), Duration::from_secs(3));
    assert!(!p.step());
}

#[test]
fn a_link_can_go_down_and_come_back() {
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(1));
    let mut p = pair(10, link.clone(), 1);
    p.set_link(Direction::AToB, LinkConfig::down());
    p.run_for(Duration::from_secs(1));
    assert!(p.events_b.is_empty());
    assert!(p.stats(Direction::AToB).lost >= 9);
    p.set_link(Direction::AToB, link);
    assert!(p.run_until(Duration::from_secs(5), |p| p.events_b.len() == 10));
}

#[test]
fn an_ideal_link_hands_each_datagram_across_before_the_next_poll() {
    use std::cell::RefCell;
    use std::rc::Rc;
    type Log = Rc<RefCell<Vec<String>>>;
    /// Writes `left` datagrams, numbered, each into the harness's buffer;
    /// logs every poll and every datagram received, with the buffer's
    /// address, so the test sees what was handed across and where.
    struct Logged {
        name: &'static str,
        left: u8,
        log: Log,
    }
    impl Party for Logged {
        type Event = ();
        fn handle_receive(&mut self, _now: Instant, d: &mut [u8]) {
            let entry = format!("{} got {:?} at {:p}", self.name, d, d.as_ptr());
            self.log.borrow_mut().push(entry);
        }
        fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
            self.left = self.left.checked_sub(1)?;
            buf.clear();
            buf.push(self.left);
            let entry = format!("{} wrote [{}] at {:p}", self.name, self.left, buf.as_ptr());
            self.log.borrow_mut().push(entry);
            Some(1)
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }
    let log = Log::default();
    let party = |name, left| Logged {
        name,
        left,
        log: log.clone(),
    };
    let mut p = Pair::new(Instant::now(), party("a", 2), party("b", 1), 1);
    assert!(p.run_until_idle(Duration::from_secs(1)));
    let log = log.borrow();
    let at = |e: &String| e.rsplit(' ').next().map(str::to_owned);
    let steps: Vec<&str> = log
        .iter()
        .map(|e| e.rsplit_once(" at ").map_or("", |x| x.0))
        .collect();
    assert_eq!(
        steps,
        [
            "a wrote [1]",
            "b got [1]",
            "a wrote [0]",
            "b got [0]",
            "b wrote [0]",
            "a got [0]"
        ]
    );
    // One buffer, written and read in place.
    assert!(log.iter().all(|e| at(e) == at(&log[0])), "{log:?}");
    assert_eq!(p.elapsed(), Duration::ZERO);
    assert_eq!(p.stats(Direction::AToB).delivered, 2);
}

#[test]
fn a_link_made_ideal_keeps_the_arrival_time_of_what_is_in_flight() {
    // A's first message is on a 10 ms link when both directions become
    // ideal: it still lands at 10 ms, and the rest follows at once.
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(10));
    let mut p = pair(3, link, 1);
    assert!(p.step());
    p.set_link(Direction::AToB, LinkConfig::ideal());
    p.set_link(Direction::BToA, LinkConfig::ideal());
    assert!(p.run_until_idle(Duration::from_secs(1)));
    assert_eq!(p.events_b, vec![0, 1, 2]);
    assert_eq!(p.elapsed(), Duration::from_millis(10));
}
