//! The cluster's background tasks: reading this node's channel, and the
//! heartbeat with the sweep for dead nodes; and Redis's clock.

use std::sync::Weak;
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::server::Signal;

/// Redis's clock, in ms (the orphans' deadlines are on it).
pub(super) async fn now_ms(redis: &mut ConnectionManager) -> Result<u64, redis::RedisError> {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(redis).await?;
    Ok(secs.saturating_mul(1000).saturating_add(micros / 1000))
}

/// Reads this node's channel until the server is dropped, resubscribing
/// if the connection drops.
pub(super) async fn listen(signal: Weak<Signal>, mut pubsub: redis::aio::PubSub, channel: String) {
    use futures_util::StreamExt;
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let Some(s) = signal.upgrade() else { return };
                let Some(c) = s.cluster() else { return };
                match std::str::from_utf8(msg.get_payload_bytes()) {
                    Ok(text) => c.on_message(&s, text),
                    Err(_) => tracing::debug!("ignoring a channel message that is not UTF-8"),
                }
            }
        }
        tracing::warn!("redis: the subscription ended; resubscribing");
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Some(s) = signal.upgrade() else { return };
            let Some(c) = s.cluster() else { return };
            match c.client.get_async_pubsub().await {
                Ok(mut p) => {
                    if p.subscribe(&channel).await.is_ok() {
                        pubsub = p;
                        break;
                    }
                }
                Err(e) => tracing::warn!("redis: {e}"),
            }
        }
    }
}

/// The heartbeat and the sweep, every `period`, until the server is dropped.
pub(super) async fn sweep(signal: Weak<Signal>, period: Duration) {
    let mut tick = tokio::time::interval(period.max(Duration::from_millis(50)));
    loop {
        tick.tick().await;
        let Some(s) = signal.upgrade() else { return };
        let Some(c) = s.cluster() else { return };
        if let Err(e) = c.tick().await {
            tracing::warn!("redis: heartbeat: {e}");
        }
    }
}
