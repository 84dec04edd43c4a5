//! Buffers for reassembled messages, handed back when the application
//! drops the message.
//!
//! Each message reassembled from fragments is one allocation the size of
//! the message. With glibc's allocator, a burst of such buffers freed
//! together lands at the top of the heap, is trimmed back to the system,
//! and is faulted in again for the next burst: a quarter of the data
//! channel's throughput with 16 KiB messages. A message built in a buffer
//! from this pool returns it here when its last `Bytes` handle drops, on
//! whatever thread that is, so a busy association reuses its buffers. The
//! pool keeps at most one receive window of them and is dropped whole when
//! the association goes idle; a message dropped after that frees its
//! buffer as usual.

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

/// Buffers handed back, most recent last.
#[derive(Debug, Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    /// Total capacity of `buffers`.
    bytes: usize,
}

/// The pool of one association; created on first use.
#[derive(Debug)]
pub(crate) struct MessagePool {
    shared: Option<Arc<Mutex<Free>>>,
    /// Most bytes of buffers kept.
    limit: usize,
}

impl MessagePool {
    /// An empty pool keeping at most `limit` bytes of buffers.
    pub(crate) fn new(limit: usize) -> Self {
        MessagePool {
            shared: None,
            limit,
        }
    }

    /// An empty buffer of at least `capacity` bytes: one handed back if it
    /// is large enough (smaller ones are let go), else a new one.
    pub(crate) fn take(&mut self, capacity: usize) -> Vec<u8> {
        if let Some(Ok(mut free)) = self.shared.as_ref().map(|s| s.lock()) {
            while let Some(buf) = free.buffers.pop() {
                free.bytes = free.bytes.saturating_sub(buf.capacity());
                if buf.capacity() >= capacity {
                    return buf;
                }
            }
        }
        Vec::with_capacity(capacity)
    }

    /// The finished message in `buf`, as `Bytes` that hand `buf` back to
    /// this pool when the last handle drops.
    pub(crate) fn freeze(&mut self, buf: Vec<u8>) -> Bytes {
        let shared = self.shared.get_or_insert_with(Default::default);
        Bytes::from_owner(Pooled {
            buf,
            home: Arc::downgrade(shared),
            limit: self.limit,
        })
    }

    /// Whether the pool exists (and may hold buffers).
    pub(crate) fn is_allocated(&self) -> bool {
        self.shared.is_some()
    }

    /// Lets the pool and its buffers go; messages still held free their
    /// buffers when dropped.
    pub(crate) fn release(&mut self) {
        self.shared = None;
    }
}

/// A message's buffer on its way back to the pool.
struct Pooled {
    buf: Vec<u8>,
    home: Weak<Mutex<Free>>,
    limit: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(home) = self.home.upgrade() else {
            return;
        };
        let Ok(mut free) = home.lock() else {
            return;
        };
        let capacity = self.buf.capacity();
        if free.bytes.saturating_add(capacity) <= self.limit {
            let mut buf = core::mem::take(&mut self.buf);
            buf.clear();
            free.bytes += capacity;
            free.buffers.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_message_hands_its_buffer_back() {
        let mut pool = MessagePool::new(1 << 20);
        let mut buf = pool.take(16 << 10);
        buf.extend_from_slice(&[7; 16 << 10]);
        let ptr = buf.as_ptr();
        let msg = pool.freeze(buf);
        assert_eq!(&msg[..], &[7; 16 << 10][..]);
        let part = msg.slice(10..20);
        drop(msg);
        // Still held by the slice: nothing is back yet.
        let other = pool.take(16 << 10);
        assert_ne!(other.as_ptr(), ptr);
        drop(part);
        let again = pool.take(16 << 10);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
    }

    #[test]
    fn too_small_buffers_are_let_go_and_the_limit_holds() {
        let mut pool = MessagePool::new(24 << 10);
        let small = pool.take(1 << 10);
        let a = pool.take(16 << 10);
        let b = pool.take(16 << 10);
        let (a, b, small) = (pool.freeze(a), pool.freeze(b), pool.freeze(small));
        drop(a);
        drop(b); // Over the limit: freed.
        drop(small);
        let free = |pool: &MessagePool, f: fn(&Free) -> usize| {
            pool.shared
                .as_ref()
                .and_then(|s| s.lock().ok().map(|free| f(&free)))
        };
        assert_eq!(free(&pool, |f| f.buffers.len()), Some(2));
        // The small one is let go on the way to a large enough one.
        assert!(pool.take(8 << 10).capacity() >= 16 << 10);
        assert_eq!(free(&pool, |f| f.bytes), Some(0));
    }

    #[test]
    fn a_message_outliving_the_pool_frees_its_buffer() {
        let mut pool = MessagePool::new(1 << 20);
        let buf = pool.take(100);
        let msg = pool.freeze(buf);
        pool.release();
        assert!(!pool.is_allocated());
        drop(msg);
        assert!(!pool.is_allocated());
    }
}
