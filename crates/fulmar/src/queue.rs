//! A single-producer, single-consumer unbounded queue that allocates
//! nothing until something is queued and gives its memory back once
//! drained.
//!
//! It replaces tokio's unbounded mpsc channel for the driver's per
//! connection and per data channel queues: that channel allocates a block
//! of 32 slots up front, which made the queues of an idle connection cost
//! about 15 KiB. The semantics are the channel's: `recv` returns `None`
//! once the sender is gone and the queue is empty, and `send` gives the
//! item back once the receiver is gone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Capacity kept by an emptied queue; a larger one is released.
const KEPT_CAPACITY: usize = 8;

struct State<T> {
    items: VecDeque<T>,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Queue<T> {
    state: Mutex<State<T>>,
    notify: Notify,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half; dropping it ends the queue for the receiver.
pub(crate) struct Sender<T>(Arc<Queue<T>>);

/// The receiving half; dropping it drops what is queued.
pub(crate) struct Receiver<T>(Arc<Queue<T>>);

/// A new empty queue (one small allocation, no item slots).
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let q = Arc::new(Queue {
        state: Mutex::new(State {
            items: VecDeque::new(),
            sender_gone: false,
            receiver_gone: false,
        }),
        notify: Notify::new(),
    });
    (Sender(q.clone()), Receiver(q))
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back when the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        {
            let mut s = self.0.lock();
            if s.receiver_gone {
                return Err(item);
            }
            s.items.push_back(item);
        }
        self.0.notify.notify_one();
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.notify.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the sender is gone and nothing is left.
    pub(crate) async fn recv(&self) -> Option<T> {
        wait_for(&self.0.notify, || {
            let mut s = self.0.lock();
            if let Some(item) = s.items.pop_front() {
                if s.items.is_empty() && s.items.capacity() > KEPT_CAPACITY {
                    s.items = VecDeque::new();
                }
                return Some(Some(item));
            }
            s.sender_gone.then_some(None)
        })
        .await
    }
}

/// Waits until `check` yields a value, checking again after each
/// notification of `notify`. The wait is registered before each check, so
/// a notification between the check and the wait is not missed.
pub(crate) async fn wait_for<T>(notify: &Notify, mut check: impl FnMut() -> Option<T>) -> T {
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(v) = check() {
            return v;
        }
        notified.await;
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut s = self.0.lock();
            s.receiver_gone = true;
            std::mem::take(&mut s.items)
        };
        // Dropped outside the lock: an item's drop may do work of its own.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::channel;
    use std::time::Duration;

    #[tokio::test]
    async fn items_in_order_then_end_when_the_sender_goes() {
        let (tx, rx) = channel();
        for i in 0..100 {
            assert!(tx.send(i).is_ok());
        }
        for i in 0..100 {
            assert_eq!(rx.recv().await, Some(i));
        }
        drop(tx);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_on_send_and_on_end() {
        let (tx, rx) = channel::<u32>();
        let waiter = tokio::spawn(async move { (rx.recv().await, rx.recv().await) });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(tx.send(7).is_ok());
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(tx);
        let got = tokio::time::timeout(Duration::from_secs(5), waiter).await;
        assert!(matches!(got, Ok(Ok((Some(7), None)))), "{got:?}");
    }

    #[tokio::test]
    async fn send_gives_the_item_back_once_the_receiver_is_gone() {
        let (tx, rx) = channel();
        assert!(tx.send(1).is_ok());
        drop(rx);
        assert_eq!(tx.send(2), Err(2));
    }
}
