//! The scripts against a real Redis, where an ordering between nodes'
//! calls matters. Ignored without one: `interop/signal-redis/run.sh`
//! starts a `redis-server` and runs them with the URL in `FULMAR_REDIS_URL`.

use super::scripts::Scripts;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

/// A session's connection drops and its client resumes on the same node,
/// but the node's `DETACH` for the dropped connection reaches Redis after
/// the `RESUME`: the resumed session stays attached, with no TTL. The
/// resumed connection's own drop still detaches it.
#[tokio::test]
#[ignore = "needs FULMAR_REDIS_URL (interop/signal-redis/run.sh)"]
async fn a_late_detach_leaves_a_resumed_session_attached() -> Result {
    let url = std::env::var("FULMAR_REDIS_URL")?;
    let mut r = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let s = Scripts::new();
    let p = format!("t-late-detach-{}", std::process::id());
    let session = format!("{p}:s:s1");
    let joined: Vec<String> = s
        .join
        .arg(&p)
        .arg("s1")
        .arg("n1")
        .arg("room")
        .arg("name")
        .arg("{}")
        .arg("1")
        .arg("1")
        .arg("0")
        .arg("")
        .arg("token")
        .arg(10)
        .arg("{")
        .arg("}")
        .arg(100)
        .arg(100_000)
        .invoke_async(&mut r)
        .await?;
    assert_eq!(joined.first().map(String::as_str), Some("ok"));

    let resumed: Vec<String> = s
        .resume
        .arg(&p)
        .arg("s1")
        .arg("token")
        .arg(0)
        .arg("n1")
        .invoke_async(&mut r)
        .await?;
    assert_eq!(resumed.first().map(String::as_str), Some("ok"));
    let generation: u64 = resumed.get(8).ok_or("no generation")?.parse()?;
    assert_eq!(generation, 1);

    // The dropped connection held the join's generation, 0.
    let late: u64 = s
        .detach
        .arg(&p)
        .arg("s1")
        .arg("n1")
        .arg(60_000)
        .arg(0)
        .invoke_async(&mut r)
        .await?;
    assert_eq!(late, 0);
    let (attached, ttl): (String, i64) = redis::pipe()
        .hget(&session, "attached")
        .pttl(&session)
        .query_async(&mut r)
        .await?;
    assert_eq!((attached.as_str(), ttl), ("1", -1));

    let own: u64 = s
        .detach
        .arg(&p)
        .arg("s1")
        .arg("n1")
        .arg(60_000)
        .arg(generation)
        .invoke_async(&mut r)
        .await?;
    assert_eq!(own, 1);
    let (attached, ttl): (String, i64) = redis::pipe()
        .hget(&session, "attached")
        .pttl(&session)
        .query_async(&mut r)
        .await?;
    assert_eq!(attached, "0");
    assert!(ttl > 0, "a detached session expires: {ttl}");

    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{p}:*"))
        .query_async(&mut r)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut r).await?;
    }
    Ok(())
}
