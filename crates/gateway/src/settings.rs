//! The server's settings: a TOML file (see `gateway.toml` beside this crate
//! for a commented sample) and command-line flags, the flags winning.
//!
//! ```
//! use fulmar_gateway::settings::Settings;
//!
//! let mut s: Settings = toml::from_str(r#"
//!     listen = "0.0.0.0:8080"
//!     media_port = 40000
//!     max_sessions = 2000
//! "#)?;
//! s.apply_args(["--media-ip", "198.18.0.1"].map(String::from))?;
//! let config = s.gateway_config()?;
//! assert_eq!(config.media_bind, "198.18.0.1:40000".parse()?);
//! assert_eq!(config.max_sessions, 2000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::clip::Clip;
use crate::{GatewayConfig, DEFAULT_MAX_PENDING_PER_CLIENT, DEFAULT_MAX_SESSIONS};

/// The command-line usage of `fulmar-gateway`.
pub const USAGE: &str = "usage: fulmar-gateway [--config FILE.toml] [--listen ADDR:PORT] \
[--media-ip IP] [--media-port PORT] [--public-ip IP]... [--public-ip-from-stun URL] [--max-sessions N] [--max-pending-per-client N] \
[--connect-timeout SECS] [--record DIR] [--video FILE.ivf] [--audio FILE.ogg]";

/// What the file and the flags set; every field is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// The HTTP address (page, offers, WHIP, WHEP). Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The IP the shared media UDP socket binds to (`0.0.0.0` for every
    /// IPv4 interface); default: `listen`'s IP.
    pub media_ip: Option<IpAddr>,
    /// The one UDP port of every session; 0 (the default) lets the OS
    /// choose it at start.
    pub media_port: u16,
    /// Public addresses of a 1:1 NAT in front of this host (a cloud VM's;
    /// Janus's `nat_1_1_mapping`), advertised in place of the host
    /// addresses of their family, with the media port
    /// ([`fulmar::Config::with_public_address`]). Each `--public-ip` adds one.
    pub public_ips: Vec<IpAddr>,
    /// A STUN server (`stun:host[:port]`) asked at start for this host's
    /// public address, added to `public_ips`
    /// ([`Settings::learn_public_ip`]).
    pub public_ip_from_stun: Option<String>,
    /// Most sessions at once.
    pub max_sessions: usize,
    /// Most not-yet-connected sessions per client address.
    pub max_pending_per_client: usize,
    /// Seconds a session may take to connect before it is ended.
    pub connect_timeout_secs: u64,
    /// Where WHIP recordings go (none: not recorded).
    pub record: Option<PathBuf>,
    /// The VP8 IVF clip WHEP plays (default: the sample beside this crate).
    pub video: Option<PathBuf>,
    /// The Opus Ogg clip WHEP plays (default: the sample beside this crate).
    pub audio: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            media_ip: None,
            media_port: 0,
            public_ips: Vec::new(),
            public_ip_from_stun: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_pending_per_client: DEFAULT_MAX_PENDING_PER_CLIENT,
            connect_timeout_secs: 30,
            record: None,
            video: None,
            audio: None,
        }
    }
}

/// Why the settings were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// An unknown flag or a flag without its value.
    #[error("{0}\n{USAGE}")]
    Usage(String),
    /// A flag's value did not parse.
    #[error("{flag}: {reason}")]
    Value {
        /// The flag.
        flag: String,
        /// Why.
        reason: String,
    },
    /// The file could not be read.
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file is not valid TOML for these settings.
    #[error("{0}: {1}")]
    Toml(PathBuf, toml::de::Error),
    /// A limit of zero would refuse every offer.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

/// The flags, each overriding the file's key of the same name.
#[derive(clap::Parser)]
#[command(
    name = "fulmar-gateway",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Flags {
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[arg(long)]
    media_ip: Option<IpAddr>,
    #[arg(long)]
    media_port: Option<u16>,
    #[arg(long)]
    public_ip: Vec<IpAddr>,
    #[arg(long)]
    public_ip_from_stun: Option<String>,
    #[arg(long)]
    max_sessions: Option<usize>,
    #[arg(long)]
    max_pending_per_client: Option<usize>,
    #[arg(long)]
    connect_timeout: Option<u64>,
    #[arg(long)]
    record: Option<PathBuf>,
    #[arg(long)]
    video: Option<PathBuf>,
    #[arg(long)]
    audio: Option<PathBuf>,
}

/// A value that did not parse names its flag; anything else is a usage error.
fn flag_error(e: clap::Error) -> SettingsError {
    use clap::error::{ContextKind, ErrorKind};
    match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::ValueValidation, Some(flag)) => SettingsError::Value {
            flag: flag.to_string(),
            reason: e.render().to_string(),
        },
        _ => SettingsError::Usage(e.render().to_string()),
    }
}

impl Settings {
    /// The settings of `path` (unset keys keep their defaults).
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, SettingsError> {
        let path = path.into();
        let text =
            std::fs::read_to_string(&path).map_err(|e| SettingsError::Read(path.clone(), e))?;
        toml::from_str(&text).map_err(|e| SettingsError::Toml(path, e))
    }

    /// The settings of the command line (program name excluded): the file of
    /// `--config`, if any, then every other flag over it.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, SettingsError> {
        let args: Vec<String> = args.into_iter().collect();
        let mut settings = match args.iter().position(|a| a == "--config") {
            Some(i) => {
                let file = args
                    .get(i + 1)
                    .ok_or_else(|| SettingsError::Usage("--config needs a value".into()))?;
                Settings::from_file(file)?
            }
            None => Settings::default(),
        };
        settings.apply_args(args)?;
        Ok(settings)
    }

    /// Applies flags over these settings (`--config` and its value are
    /// skipped: [`Settings::from_args`] reads the file first).
    pub fn apply_args(
        &mut self,
        args: impl IntoIterator<Item = String>,
    ) -> Result<(), SettingsError> {
        let argv = std::iter::once("fulmar-gateway".to_owned()).chain(args);
        let f = Flags::try_parse_from(argv).map_err(flag_error)?;
        self.listen = f.listen.unwrap_or(self.listen);
        self.media_port = f.media_port.unwrap_or(self.media_port);
        self.max_sessions = f.max_sessions.unwrap_or(self.max_sessions);
        self.max_pending_per_client = f
            .max_pending_per_client
            .unwrap_or(self.max_pending_per_client);
        self.connect_timeout_secs = f.connect_timeout.unwrap_or(self.connect_timeout_secs);
        self.media_ip = f.media_ip.or(self.media_ip);
        self.public_ip_from_stun = f.public_ip_from_stun.or(self.public_ip_from_stun.take());
        self.record = f.record.or(self.record.take());
        self.video = f.video.or(self.video.take());
        self.audio = f.audio.or(self.audio.take());
        for ip in f.public_ip {
            if !self.public_ips.contains(&ip) {
                self.public_ips.push(ip);
            }
        }
        Ok(())
    }

    /// Asks the `public_ip_from_stun` server, if any, for this host's
    /// public address and adds it to `public_ips` (bounded:
    /// [`fulmar::public_address_from_stun`]).
    pub async fn learn_public_ip(&mut self) -> Result<(), fulmar::Error> {
        if let Some(url) = &self.public_ip_from_stun {
            let ip = fulmar::public_address_from_stun(url).await?;
            if !self.public_ips.contains(&ip) {
                self.public_ips.push(ip);
            }
        }
        Ok(())
    }

    /// The address the shared media socket binds to: `media_ip` (default:
    /// `listen`'s IP) and `media_port`.
    pub fn media_bind(&self) -> SocketAddr {
        SocketAddr::new(self.media_ip.unwrap_or(self.listen.ip()), self.media_port)
    }

    /// The gateway configuration these settings describe, without media
    /// files (see [`Settings::load_media`]).
    pub fn gateway_config(&self) -> Result<GatewayConfig, SettingsError> {
        if self.max_sessions == 0 {
            return Err(SettingsError::Zero("max_sessions"));
        }
        if self.max_pending_per_client == 0 {
            return Err(SettingsError::Zero("max_pending_per_client"));
        }
        let mut config = GatewayConfig::default()
            .with_media_bind(self.media_bind())
            .with_capacity(self.max_sessions, self.max_pending_per_client);
        for ip in &self.public_ips {
            config.peer = config.peer.with_public_address(*ip);
        }
        config.connect_timeout = Duration::from_secs(self.connect_timeout_secs);
        Ok(config)
    }

    /// [`Settings::gateway_config`] with the clips (the configured ones, or
    /// the samples) and the recording folder (created if missing).
    pub fn load_media(&self) -> Result<GatewayConfig, Box<dyn std::error::Error>> {
        let mut config = self.gateway_config()?.with_sample_media()?;
        if let Some(dir) = &self.record {
            config = config.with_record_dir(dir)?;
        }
        if let Some(f) = &self.video {
            config.video = Some(Arc::new(Clip::from_ivf(&std::fs::read(f)?)?));
        }
        if let Some(f) = &self.audio {
            config.audio = Some(Arc::new(Clip::from_ogg_opus(&std::fs::read(f)?)?));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn media_follows_the_listen_ip_unless_given() {
        let s = Settings::from_args(args(&["--listen", "0.0.0.0:9000"])).unwrap();
        assert_eq!(s.media_bind(), "0.0.0.0:0".parse().unwrap());
        let s = Settings::from_args(args(&[
            "--listen",
            "0.0.0.0:9000",
            "--media-ip",
            "198.18.0.1",
            "--media-port",
            "40000",
        ]))
        .unwrap();
        assert_eq!(s.media_bind(), "198.18.0.1:40000".parse().unwrap());
    }

    #[tokio::test]
    async fn a_malformed_stun_url_is_an_error_and_none_is_nothing() {
        let mut s = Settings::default();
        s.learn_public_ip().await.unwrap();
        assert!(s.public_ips.is_empty());
        let mut s = Settings::from_args(args(&["--public-ip-from-stun", "http://x"])).unwrap();
        assert!(s.learn_public_ip().await.is_err());
        assert!(s.public_ips.is_empty());
    }

    #[test]
    fn public_addresses_reach_the_peer_config() {
        let s = Settings::from_args(args(&[
            "--public-ip",
            "203.0.113.5",
            "--public-ip",
            "2001:db8::5",
            "--public-ip",
            "203.0.113.5",
        ]))
        .unwrap();
        let ips: Vec<IpAddr> = vec![
            "203.0.113.5".parse().unwrap(),
            "2001:db8::5".parse().unwrap(),
        ];
        assert_eq!(s.public_ips, ips);
        assert_eq!(s.gateway_config().unwrap().peer.peer.public_addresses, ips);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(matches!(
            Settings::from_args(args(&["--nope", "1"])),
            Err(SettingsError::Usage(_))
        ));
        assert!(matches!(
            Settings::from_args(args(&["--media-port"])),
            Err(SettingsError::Usage(_))
        ));
        assert!(matches!(
            Settings::from_args(args(&["--media-port", "70000"])),
            Err(SettingsError::Value { .. })
        ));
        let zero = Settings::from_args(args(&["--max-sessions", "0"])).unwrap();
        assert!(matches!(zero.gateway_config(), Err(SettingsError::Zero(_))));
    }

    #[test]
    fn the_sample_file_parses_and_flags_win() {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml");
        let s = Settings::from_args(args(&["--config", sample, "--max-sessions", "10"])).unwrap();
        let file = Settings::from_file(sample).unwrap();
        assert_eq!(s.max_sessions, 10);
        assert_eq!(s.listen, file.listen);
        assert_eq!(s.media_port, file.media_port);
        assert_ne!(file, Settings::default(), "the sample sets something");
        assert!(toml::from_str::<Settings>("unknown_key = 1").is_err());
    }
}
