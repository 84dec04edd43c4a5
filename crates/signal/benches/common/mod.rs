//! What the load benches share: settings from the environment and a
//! process's resident memory.

/// The environment variable `name` as a number, or `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The resident memory (VmRSS) of process `pid`, in bytes.
pub fn rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// A TCP connection to `addr` from the `n`th loopback source address
/// (127.0.x.y), so that tens of thousands of connections do not run out of
/// ephemeral ports.
pub async fn tcp_from(addr: &str, n: usize) -> tokio::net::TcpStream {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    let server: SocketAddr = addr.parse().unwrap();
    let source = Ipv4Addr::new(127, 0, 1 + (n / 20_000) as u8, 1 + (n % 250) as u8);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
    socket.connect(server).await.unwrap()
}
