//! The full-stack pairs shared by the `fullstack` and `memory` benches:
//! two peers of one stack in this process, each with its own UDP socket on
//! 127.0.0.1, connected through in-process signaling.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Message size of the throughput bench.
pub const MSG: usize = 64 * 1024;
/// Bytes each sender may keep queued (Fulmar's default `max_buffered`).
pub const QUEUE_LIMIT: usize = 1 << 20;
/// The steady traffic of [`Stack::start_traffic`]: one message of this
/// many bytes ...
pub const TRAFFIC_MSG: usize = 1024;
/// ... every this often (about 80 kbit/s, a chat or telemetry channel).
pub const TRAFFIC_EVERY: Duration = Duration::from_millis(100);

/// The tokio runtime every stack runs on: 2 workers (the machine's cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Fulmar: the `fulmar` tokio driver.
pub mod fulmar_pair {
    use super::*;
    use fulmar::{Config, DataChannel, Message, PeerConnection, SessionDescription};

    /// The one UDP socket every answerer shares with `SHARED` (the
    /// server pattern: a gateway's sessions on one port), bound at first use.
    static SHARED_ENDPOINT: tokio::sync::OnceCell<fulmar::Endpoint> =
        tokio::sync::OnceCell::const_new();

    /// Two driver peers; `ZERO_CHECKSUM` negotiates RFC 9653 (Fulmar's
    /// default, no CRC32c), `false` computes CRC32c as the other stacks do.
    /// With `SHARED` the answerer is on [`SHARED_ENDPOINT`] (every pair's
    /// answerer on one socket) instead of a socket of its own.
    pub struct Pair<const ZERO_CHECKSUM: bool = true, const SHARED: bool = false> {
        a: PeerConnection,
        b: PeerConnection,
        tx: Arc<DataChannel>,
        rx: Arc<DataChannel>,
        traffic: Vec<tokio::task::JoinHandle<()>>,
    }

    impl<const ZERO_CHECKSUM: bool, const SHARED: bool> super::Stack for Pair<ZERO_CHECKSUM, SHARED> {
        /// Both peers created and connected; the channel open on both sides.
        async fn open() -> Self {
            let mut config = Config::default();
            config.peer.sctp.zero_checksum = ZERO_CHECKSUM;
            let a = PeerConnection::new(config.clone()).await.unwrap();
            let b = if SHARED {
                let endpoint = SHARED_ENDPOINT
                    .get_or_init(|| async {
                        fulmar::Endpoint::bind(([127, 0, 0, 1], 0).into())
                            .await
                            .unwrap()
                    })
                    .await;
                PeerConnection::new_on(endpoint, config).await.unwrap()
            } else {
                PeerConnection::new(config).await.unwrap()
            };
            let tx = a.create_data_channel("bulk").await.unwrap();
            let offer = a.create_offer().await.unwrap();
            let answer = b.answer_offer(&offer.sdp.to_string()).await.unwrap();
            a.set_remote_description(SessionDescription::answer(&answer).unwrap())
                .await
                .unwrap();
            let rx = b.accept_data_channel().await.unwrap();
            tx.opened().await.unwrap();
            rx.opened().await.unwrap();
            let (tx, rx) = (Arc::new(tx), Arc::new(rx));
            Pair {
                a,
                b,
                tx,
                rx,
                traffic: Vec::new(),
            }
        }

        fn start_traffic(&mut self) {
            let tx = self.tx.clone();
            self.traffic.push(tokio::spawn(async move {
                let msg = Bytes::from(vec![0x5au8; TRAFFIC_MSG]);
                let mut tick = tokio::time::interval(TRAFFIC_EVERY);
                loop {
                    tick.tick().await;
                    if tx.send(msg.clone()).await.is_err() {
                        break;
                    }
                }
            }));
            let rx = self.rx.clone();
            self.traffic.push(tokio::spawn(
                async move { while rx.recv().await.is_some() {} },
            ));
        }

        /// Moves `total` bytes; the time from first send to last byte.
        async fn transfer(self, total: usize) -> Duration {
            let Pair { a, b, tx, rx, .. } = self;
            let msg = Bytes::from(vec![0xa5u8; MSG]);
            let start = Instant::now();
            let sender = tokio::spawn(async move {
                for _ in 0..total / MSG {
                    tx.send(msg.clone()).await.unwrap();
                }
                tx
            });
            let mut got = 0;
            while got < total {
                match rx.recv().await {
                    Some(Message::Binary(d)) => got += d.len(),
                    other => panic!("fulmar: unexpected {other:?}"),
                }
            }
            let elapsed = start.elapsed();
            drop(sender.await.unwrap());
            a.close().await;
            b.close().await;
            elapsed
        }

        async fn close(self) {
            for t in &self.traffic {
                t.abort();
            }
            self.a.close().await;
            self.b.close().await;
        }
    }
}

/// webrtc-rs: the async `webrtc` crate 0.21.
pub mod webrtc_pair {
    use super::*;
    use bytes::BytesMut;
    use tokio::sync::mpsc;
    use webrtc::data_channel::{DataChannel, DataChannelEvent};
    use webrtc::peer_connection::{
        PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
        RTCIceGatheringState,
    };

    struct Handler {
        gathered: mpsc::UnboundedSender<()>,
        channels: mpsc::UnboundedSender<Arc<dyn DataChannel>>,
    }

    #[async_trait::async_trait]
    impl PeerConnectionEventHandler for Handler {
        async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
            if state == RTCIceGatheringState::Complete {
                let _ = self.gathered.send(());
            }
        }
        async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
            let _ = self.channels.send(dc);
        }
    }

    struct Peer {
        pc: Arc<dyn PeerConnection>,
        gathered: mpsc::UnboundedReceiver<()>,
        channels: mpsc::UnboundedReceiver<Arc<dyn DataChannel>>,
    }

    async fn peer() -> Peer {
        let (gtx, gathered) = mpsc::unbounded_channel();
        let (ctx, channels) = mpsc::unbounded_channel();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_handler(Arc::new(Handler {
                gathered: gtx,
                channels: ctx,
            }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .with_data_channel_send_buffer_limit(QUEUE_LIMIT)
            .build()
            .await
            .unwrap();
        Peer {
            pc: Arc::new(pc),
            gathered,
            channels,
        }
    }

    /// Waits for `OnOpen`, then keeps draining the channel's events on a
    /// task (they queue otherwise), counting message bytes into `bytes`.
    async fn opened_then_drain(
        dc: Arc<dyn DataChannel>,
        bytes: Option<mpsc::UnboundedSender<usize>>,
    ) {
        loop {
            match dc.poll().await {
                Some(DataChannelEvent::OnOpen) => break,
                Some(_) => {}
                None => panic!("webrtc-rs: channel closed before opening"),
            }
        }
        tokio::spawn(async move {
            while let Some(e) = dc.poll().await {
                if let (DataChannelEvent::OnMessage(m), Some(tx)) = (e, &bytes) {
                    if tx.send(m.data.len()).is_err() {
                        break;
                    }
                }
            }
        });
    }

    pub struct Pair {
        a: Arc<dyn PeerConnection>,
        b: Arc<dyn PeerConnection>,
        tx: Arc<dyn DataChannel>,
        received: mpsc::UnboundedReceiver<usize>,
        traffic: Vec<tokio::task::JoinHandle<()>>,
    }

    impl super::Stack for Pair {
        /// Both peers created and connected; the channel open on both sides.
        /// Non-trickle like Fulmar's: each side waits for gathering to
        /// complete before handing over its description.
        async fn open() -> Pair {
            let mut a = peer().await;
            let tx = a.pc.create_data_channel("bulk", None).await.unwrap();
            let offer = a.pc.create_offer(None).await.unwrap();
            a.pc.set_local_description(offer).await.unwrap();
            a.gathered.recv().await.unwrap();
            let offer = a.pc.local_description().await.unwrap();
            let mut b = peer().await;
            b.pc.set_remote_description(offer).await.unwrap();
            let answer = b.pc.create_answer(None).await.unwrap();
            b.pc.set_local_description(answer).await.unwrap();
            b.gathered.recv().await.unwrap();
            let answer = b.pc.local_description().await.unwrap();
            a.pc.set_remote_description(answer).await.unwrap();
            let rx = b.channels.recv().await.unwrap();
            let (count, received) = mpsc::unbounded_channel();
            let (_, _) = tokio::join!(
                opened_then_drain(tx.clone(), None),
                opened_then_drain(rx, Some(count))
            );
            Pair {
                a: a.pc,
                b: b.pc,
                tx,
                received,
                traffic: Vec::new(),
            }
        }

        fn start_traffic(&mut self) {
            let tx = self.tx.clone();
            self.traffic.push(tokio::spawn(async move {
                let msg = vec![0x5au8; TRAFFIC_MSG];
                let mut tick = tokio::time::interval(TRAFFIC_EVERY);
                loop {
                    tick.tick().await;
                    if tx.send(BytesMut::from(&msg[..])).await.is_err() {
                        break;
                    }
                }
            }));
            // The receiving side's drain task reports message sizes here.
            let (_, none) = mpsc::unbounded_channel();
            let mut received = std::mem::replace(&mut self.received, none);
            self.traffic.push(tokio::spawn(async move {
                while received.recv().await.is_some() {}
            }));
        }

        /// Moves `total` bytes; the time from first send to last byte.
        async fn transfer(mut self, total: usize) -> Duration {
            let msg = vec![0xa5u8; MSG];
            let start = Instant::now();
            let tx = self.tx.clone();
            let sender = tokio::spawn(async move {
                for _ in 0..total / MSG {
                    // The API takes an owned BytesMut: one copy per message.
                    tx.send(BytesMut::from(&msg[..])).await.unwrap();
                }
            });
            let mut got = 0;
            while got < total {
                got += self
                    .received
                    .recv()
                    .await
                    .expect("webrtc-rs: channel ended early");
            }
            let elapsed = start.elapsed();
            sender.await.unwrap();
            self.close().await;
            elapsed
        }

        async fn close(self) {
            for t in &self.traffic {
                t.abort();
            }
            self.a.close().await.unwrap();
            self.b.close().await.unwrap();
        }
    }
}

/// What each stack offers the bench.
pub trait Stack: Sized {
    /// Both peers created and connected; the channel open on both sides.
    async fn open() -> Self;
    /// Moves `total` bytes, closes; the time from first send to last byte.
    async fn transfer(self, total: usize) -> Duration;
    /// Starts a steady trickle on the open channel, from the offerer to the
    /// answerer, which reads and drops it: a [`TRAFFIC_MSG`]-byte message
    /// every [`TRAFFIC_EVERY`], until the pair closes.
    fn start_traffic(&mut self);
    /// Closes both peers.
    async fn close(self);
}
