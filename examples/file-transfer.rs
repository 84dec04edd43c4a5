//! A file sent from one Fulmar process to another over a WebRTC data
//! channel on 127.0.0.1, with its SHA-256 checked at the other end.
//!
//! Signaling is the smallest honest step: the receiver listens on a TCP
//! port; the sender connects, writes its offer (all candidates, non-trickle)
//! and reads back the answer. Everything after that goes over the data
//! channel "file": a text header `<name> <size>`, the contents as 64 KiB
//! binary messages, then a text `sha256 <hex>`. The receiver writes the
//! file, compares the digests and replies `ok` (or `mismatch`), and each
//! side prints its throughput.
//!
//! ```sh
//! cargo run --release --example file-transfer -- recv out.bin 127.0.0.1:7878
//! cargo run --release --example file-transfer -- send in.bin 127.0.0.1:7878
//! # or both processes on a generated 100 MB file, bounded by a timeout:
//! cargo run --release --example file-transfer -- selftest 100
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fulmar::{Config, Message, PeerConnection, SessionDescription};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const CHUNK: usize = 64 * 1024;
/// Largest SDP accepted on the signaling socket.
const MAX_SDP: u64 = 64 * 1024;
/// How long the self-test lets both processes run.
const SELFTEST_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let signal =
        |i: usize| -> Result<SocketAddr> { Ok(arg(i).unwrap_or("127.0.0.1:7878").parse()?) };
    match (arg(0), arg(1)) {
        (Some("recv"), Some(out)) => recv(Path::new(out), signal(2)?).await,
        (Some("send"), Some(file)) => send(Path::new(file), signal(2)?).await,
        (Some("selftest"), mb) => selftest(mb.map_or(Ok(100), str::parse)?).await,
        _ => {
            eprintln!(
                "usage: file-transfer recv <out> [addr] | send <file> [addr] | selftest [MB]"
            );
            std::process::exit(2);
        }
    }
}

/// Receiver: answers one offer on `signal`, then writes the file to `out`.
async fn recv(out: &Path, signal: SocketAddr) -> Result<()> {
    let listener = TcpListener::bind(signal).await?;
    println!("listening on {}", listener.local_addr()?);
    let (mut stream, _) = listener.accept().await?;
    let mut offer = String::new();
    (&mut stream)
        .take(MAX_SDP)
        .read_to_string(&mut offer)
        .await?;
    let pc = PeerConnection::new(Config::default()).await?;
    let answer = pc.answer_offer(&offer).await?;
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await?;

    let dc = pc
        .accept_data_channel()
        .await
        .ok_or("closed before a channel opened")?;
    let Some(Message::Text(header)) = dc.recv().await else {
        return Err("expected a header".into());
    };
    let (name, size) = header.rsplit_once(' ').ok_or("malformed header")?;
    let size: u64 = size.parse()?;
    println!("receiving {name} ({size} bytes) into {}", out.display());
    let mut file = tokio::fs::File::create(out).await?;
    let mut hash = Sha256::new();
    let (mut got, mut start) = (0u64, None);
    let expected = loop {
        match dc.recv().await {
            Some(Message::Binary(data)) => {
                start.get_or_insert_with(Instant::now);
                hash.update(&data);
                file.write_all(&data).await?;
                got += data.len() as u64;
            }
            Some(Message::Text(t)) => break t.strip_prefix("sha256 ").unwrap_or("").to_owned(),
            None => return Err(format!("channel closed after {got} of {size} bytes").into()),
        }
    };
    file.flush().await?;
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let digest = hex(&hash.finalize());
    let ok = got == size && digest == expected;
    dc.send_text(if ok { "ok" } else { "mismatch" }).await?;
    println!(
        "received {got} bytes in {secs:.2} s ({:.1} MB/s); sha256 {digest}: {}",
        got as f64 / secs.max(1e-9) / 1e6,
        if ok { "matches" } else { "MISMATCH" }
    );
    // The sender closes once it has read the verdict (bounded wait).
    while tokio::time::timeout(Duration::from_secs(5), dc.recv())
        .await
        .ok()
        .flatten()
        .is_some()
    {}
    pc.close().await;
    if ok {
        Ok(())
    } else {
        Err("checksum mismatch".into())
    }
}

/// Sender: offers to the receiver at `signal`, then streams `path`.
async fn send(path: &Path, signal: SocketAddr) -> Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    let pc = PeerConnection::new(Config::default()).await?;
    let dc = pc.create_data_channel("file").await?;
    let offer = pc.create_offer().await?;
    let mut stream = TcpStream::connect(signal).await?;
    stream.write_all(offer.sdp.to_string().as_bytes()).await?;
    stream.shutdown().await?;
    let mut answer = String::new();
    stream.take(MAX_SDP).read_to_string(&mut answer).await?;
    pc.set_remote_description(SessionDescription::answer(&answer)?)
        .await?;

    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    dc.send_text(&format!("{name} {size}")).await?;
    let start = Instant::now();
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        dc.send(buf[..n].to_vec()).await?;
    }
    let digest = hex(&hash.finalize());
    dc.send_text(&format!("sha256 {digest}")).await?;
    let verdict = tokio::time::timeout(Duration::from_secs(60), dc.recv())
        .await
        .ok()
        .flatten();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sent {size} bytes in {secs:.2} s ({:.1} MB/s), sha256 {digest}; receiver says {verdict:?}",
        size as f64 / secs / 1e6
    );
    pc.close().await;
    match verdict {
        Some(Message::Text(t)) if t == "ok" => Ok(()),
        _ => Err("the receiver did not confirm the checksum".into()),
    }
}

/// Generates a random file of `mb` MB, runs a receiver and a sender process
/// (this same binary) on it within [`SELFTEST_TIMEOUT`], and compares the
/// SHA-256 of both files.
async fn selftest(mb: usize) -> Result<()> {
    use rand::RngCore;
    let dir = std::env::temp_dir().join(format!("fulmar-file-transfer-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (input, output) = (dir.join("in.bin"), dir.join("out.bin"));
    {
        let mut f = tokio::fs::File::create(&input).await?;
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..mb {
            rand::thread_rng().fill_bytes(&mut buf);
            f.write_all(&buf).await?;
        }
        f.flush().await?;
    }
    let result = tokio::time::timeout(SELFTEST_TIMEOUT, run_both(&input, &output)).await;
    let same = match result {
        Ok(Ok(())) => file_digest(&input)? == file_digest(&output)?,
        Ok(Err(e)) => {
            eprintln!("selftest failed: {e}");
            false
        }
        Err(_) => {
            eprintln!("selftest timed out after {SELFTEST_TIMEOUT:?}");
            false
        }
    };
    std::fs::remove_dir_all(&dir)?;
    if same {
        println!("selftest: {mb} MB transferred, checksums match");
        Ok(())
    } else {
        Err("selftest failed".into())
    }
}

/// Runs the receiver, reads its signaling address, runs the sender; both
/// children are killed if this future is dropped (timeout).
async fn run_both(input: &Path, output: &Path) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut receiver = tokio::process::Command::new(&exe)
        .args([OsArg::from("recv"), output.into(), "127.0.0.1:0".into()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(receiver.stdout.take().ok_or("no stdout")?).lines();
    let first = lines.next_line().await?.ok_or("receiver exited")?;
    let addr = first
        .strip_prefix("listening on ")
        .ok_or("unexpected receiver output")?;
    let echo = tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            println!("[recv] {l}");
        }
    });
    let sender = tokio::process::Command::new(&exe)
        .args([OsArg::from("send"), input.into(), addr.into()])
        .kill_on_drop(true)
        .status()
        .await?;
    let received = receiver.wait().await?;
    let _ = echo.await;
    if sender.success() && received.success() {
        Ok(())
    } else {
        Err(format!("sender {sender}, receiver {received}").into())
    }
}

type OsArg = std::ffi::OsString;

fn file_digest(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    std::io::copy(&mut f, &mut hash)?;
    Ok(hex(&hash.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
