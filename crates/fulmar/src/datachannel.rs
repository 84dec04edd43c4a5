//! Data-channel messages and the async channel handle.

use super::*;

/// A data-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A string.
    Text(String),
    /// Binary data.
    Binary(Bytes),
}

/// A data channel: async `send` (with back-pressure) and `recv`.
pub struct DataChannel {
    pc: PeerConnection,
    id: ChannelId,
    label: String,
    rx: queue::Receiver<Queued>,
    signals: Arc<ChannelSignals>,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("id", &self.id)
            .field("label", &self.label)
            .finish()
    }
}

impl DataChannel {
    pub(crate) fn new(pc: PeerConnection, id: ChannelId, label: String) -> (Self, ChannelSlot) {
        let (tx, rx) = queue::channel();
        let signals = Arc::new(ChannelSignals::default());
        let slot = ChannelSlot {
            tx,
            signals: signals.clone(),
        };
        (
            DataChannel {
                pc,
                id,
                label,
                rx,
                signals,
            },
            slot,
        )
    }

    /// The label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The SCTP stream id, once known.
    pub fn stream_id(&self) -> Option<u16> {
        self.pc.shared.lock().pc.channel_stream_id(self.id)
    }

    /// Bytes queued for sending on this channel (`bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.pc.shared.lock().pc.buffered_amount(self.id)
    }

    /// Waits until the channel is open; `Err` if it closed first
    /// ([`Error::Failed`] when the connection failed under it).
    pub async fn opened(&self) -> Result<(), Error> {
        let s = &self.signals;
        queue::wait_for(&s.changed, || {
            if s.open.load(Ordering::Acquire) {
                Some(Ok(()))
            } else {
                s.closed
                    .load(Ordering::Acquire)
                    .then(|| Err(self.pc.shared.ended()))
            }
        })
        .await
    }

    /// Sends binary data (waits for the channel to open and for the buffer
    /// to drain below the configured limit).
    pub async fn send(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send_message(data.into(), true).await
    }

    /// Sends a string.
    pub async fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_message(Bytes::copy_from_slice(text.as_bytes()), false)
            .await
    }

    /// Sends a [`Message`].
    pub async fn send_msg(&self, msg: Message) -> Result<(), Error> {
        match msg {
            Message::Text(t) => self.send_text(&t).await,
            Message::Binary(b) => self.send(b).await,
        }
    }

    async fn send_message(&self, data: Bytes, binary: bool) -> Result<(), Error> {
        self.opened().await?;
        let shared = &self.pc.shared;
        loop {
            // Registered before the check, so a BufferedAmountLow dispatched
            // between the check and the wait is not missed.
            let low = self.signals.low.notified();
            tokio::pin!(low);
            low.as_mut().enable();
            {
                let mut g = shared.lock();
                if g.closed || g.ended {
                    drop(g);
                    return Err(shared.ended());
                }
                if g.pc.buffered_amount(self.id) <= shared.max_buffered {
                    let r = g.pc.send(Instant::now(), self.id, data, binary);
                    after_io(shared, &mut g);
                    return Ok(r?);
                }
                g.pc.set_buffered_amount_low_threshold(self.id, shared.max_buffered / 2);
            }
            // The timeout guards a channel closed while waiting.
            let _ = tokio::time::timeout(Duration::from_millis(200), low).await;
        }
    }

    /// The next message; `None` once the channel closed.
    pub async fn recv(&self) -> Option<Message> {
        let mut q = self.rx.recv().await?;
        let msg = q.msg.take();
        drop(q);
        self.pc.shared.note_read();
        msg
    }

    /// Closes the channel (stream reset).
    pub async fn close(&self) -> Result<(), Error> {
        let r = self.pc.with(|pc| pc.close_channel(Instant::now(), self.id));
        Ok(r?)
    }
}
