//! A line-oriented SRTP tool for cross-checking fulmar-srtp against other
//! implementations (used by `interop/libsrtp/run.sh`).
//!
//! ```text
//! srtp-tool gen <rtp|rtcp> <count>                       test packets, one hex line each
//! srtp-tool protect   <profile> <rtp|rtcp> <key> <salt> [first-srtcp-index]
//!                                                        hex lines in, protected hex out
//! srtp-tool unprotect <profile> <rtp|rtcp> <key> <salt>  hex lines in, plain hex or "ERR ..." out
//! ```
//! `<profile>` is an RFC 5764 name such as `SRTP_AEAD_AES_128_GCM`; `<key>` and
//! `<salt>` are the master key and salt in hex. fulmar-srtp numbers SRTCP
//! packets from 0 (RFC 3711 §3.4); libsrtp starts at 1, so the interop suite
//! passes `1` as `first-srtcp-index` to compare protected SRTCP byte for byte.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use fulmar_srtp::{Config, Context, ProtectionProfile};

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic test packets: several SSRCs, CSRCs, one- and two-byte
/// header extensions, sizes from empty to 1200-byte payloads, and RTP
/// sequence numbers that wrap from 65535 to 0 (so the ROC becomes 1).
fn generate(kind: &str, count: usize) -> Vec<Vec<u8>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let ssrc = [0x1122_3344u32, 0xdead_beef, 0x0000_0001][i % 3];
        let payload_len = match i % 5 {
            0 => 1200,
            1 => 0,
            _ => (next() % 300) as usize,
        };
        let mut p = Vec::new();
        if kind == "rtp" {
            let csrcs = (i % 4) as u8;
            let ext = i % 2 == 1;
            p.push(0x80 | csrcs | if ext { 0x10 } else { 0 });
            p.push(if i % 7 == 0 { 0xe0 } else { 0x60 });
            let seq = 65_500u16.wrapping_add((i / 3) as u16);
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&((i as u32) * 960).to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            for c in 0..csrcs {
                p.extend_from_slice(&u32::from(c).to_be_bytes());
            }
            if ext {
                let profile: u16 = if i % 4 == 1 { 0xbede } else { 0x1000 };
                p.extend_from_slice(&profile.to_be_bytes());
                p.extend_from_slice(&2u16.to_be_bytes());
                p.extend_from_slice(&next().to_be_bytes());
            }
        } else {
            // A receiver report header; the length field is not checked by SRTCP.
            p.extend_from_slice(&[0x81, 0xc9, 0x00, 0x07]);
            p.extend_from_slice(&ssrc.to_be_bytes());
        }
        for _ in 0..payload_len {
            p.push(next() as u8);
        }
        out.push(p);
    }
    out
}

fn profile_by_name(name: &str) -> Option<ProtectionProfile> {
    ProtectionProfile::ALL
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
}

fn run(args: &[String]) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args {
        [cmd, kind, count] if cmd == "gen" => {
            let count: usize = count.parse().map_err(|_| "bad count")?;
            for p in generate(kind, count) {
                writeln!(out, "{}", hex_encode(&p)).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        [cmd, profile, kind, key, salt, rest @ ..]
            if (cmd == "protect" || cmd == "unprotect") && rest.len() <= 1 =>
        {
            let first_srtcp_index: u32 = match rest.first() {
                Some(n) => n.parse().map_err(|_| "bad first SRTCP index")?,
                None => 0,
            };
            let profile = profile_by_name(profile).ok_or("unknown profile")?;
            let key = hex_decode(key).ok_or("bad key hex")?;
            let salt = hex_decode(salt).ok_or("bad salt hex")?;
            let config = Config::default().with_replay_window(1024);
            let mut ctx =
                Context::new(profile, &key, &salt, config).map_err(|e| e.to_string())?;
            let rtp = kind == "rtp";
            let mut buf = Vec::with_capacity(2048);
            for line in std::io::stdin().lock().lines() {
                let line = line.map_err(|e| e.to_string())?;
                let packet = hex_decode(&line).ok_or("bad packet hex")?;
                buf.clear();
                buf.extend_from_slice(&packet);
                if let (false, Ok(header)) = (rtp, fulmar_srtp::RtcpHeader::parse(&packet)) {
                    if ctx.next_srtcp_index(header.ssrc) == 0 {
                        ctx.set_next_srtcp_index(header.ssrc, first_srtcp_index)
                            .map_err(|e| e.to_string())?;
                    }
                }
                let result = match (cmd.as_str(), rtp) {
                    ("protect", true) => ctx.protect_rtp(&mut buf),
                    ("protect", false) => ctx.protect_rtcp(&mut buf),
                    (_, true) => ctx.unprotect_rtp(&mut buf),
                    (_, false) => ctx.unprotect_rtcp(&mut buf),
                };
                match result {
                    Ok(()) => writeln!(out, "{}", hex_encode(&buf)),
                    Err(e) => writeln!(out, "ERR {e}"),
                }
                .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        _ => Err("usage: srtp-tool gen <rtp|rtcp> <count> | srtp-tool <protect|unprotect> <profile> <rtp|rtcp> <key-hex> <salt-hex>".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srtp-tool: {e}");
            ExitCode::FAILURE
        }
    }
}
