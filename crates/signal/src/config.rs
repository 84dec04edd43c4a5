//! The TOML configuration (every field optional):
//!
//! ```toml
//! listen = "127.0.0.1:8443"
//!
//! [auth]
//! mode = "jwt"              # or "open" (development only)
//! hs256_secret = "change me"
//! es256_public_key = "/etc/fulmar/signal-es256.pem"
//!
//! [limits]
//! max_message_bytes = 65536
//! messages_per_second = 50
//! resume_grace = 10
//!
//! [redis]                   # only to share rooms with other nodes
//! url = "redis://127.0.0.1:6379"
//! node_ttl = 3
//! prefix = "fulmar"
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::auth::{Auth, AuthConfigError, Key};
use crate::cluster::RedisConfig;
use crate::limits::Limits;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where HTTP, WebSocket and Socket.IO are served.
    pub listen: SocketAddr,
    /// How joins are authorised.
    pub auth: AuthConfig,
    /// The limits.
    pub limits: Limits,
    /// Redis, when several nodes share rooms (absent: one node alone).
    pub redis: Option<RedisConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            auth: AuthConfig::default(),
            limits: Limits::default(),
            redis: None,
        }
    }
}

/// The `[auth]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `jwt` (the default) or `open`.
    pub mode: AuthMode,
    /// A shared HS256 secret.
    pub hs256_secret: Option<String>,
    /// A file holding an ES256 public key in PEM.
    pub es256_public_key: Option<PathBuf>,
}

/// Whether tokens are required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Tokens are required.
    #[default]
    Jwt,
    /// Anyone may join anything (development only).
    Open,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML is malformed or has unknown fields.
    #[error("config: {0}")]
    Toml(#[from] toml::de::Error),
    /// A key file cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key cannot be used.
    #[error(transparent)]
    Key(#[from] AuthConfigError),
    /// JWT mode without any key.
    #[error("auth mode `jwt` needs `hs256_secret` or `es256_public_key` (or use mode `open` for development)")]
    NoKey,
}

impl Config {
    /// Parses a TOML configuration.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }
}

impl AuthConfig {
    /// The auth mode with its keys loaded.
    pub fn load(&self) -> Result<Auth, ConfigError> {
        if self.mode == AuthMode::Open {
            return Ok(Auth::Open);
        }
        let mut keys = Vec::new();
        if let Some(secret) = &self.hs256_secret {
            keys.push(Key::hs256(secret.as_bytes())?);
        }
        if let Some(path) = &self.es256_public_key {
            let pem = std::fs::read(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            keys.push(Key::es256_pem(&pem)?);
        }
        if keys.is_empty() {
            return Err(ConfigError::NoKey);
        }
        Ok(Auth::Jwt(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_config_and_refuses_unknown_fields() {
        let c = Config::parse(
            "listen = \"127.0.0.1:9000\"\n[auth]\nmode = \"jwt\"\nhs256_secret = \"s\"\n\
             [limits]\nresume_grace = 2.5\nmax_room_peers = 6\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.limits.resume_grace.as_millis(), 2500);
        assert_eq!(c.limits.max_room_peers, 6);
        assert!(matches!(c.auth.load(), Ok(Auth::Jwt(k)) if k.len() == 1));
        assert!(Config::parse("lisen = \"x\"").is_err());
        assert_eq!(c.redis, None);
        let r = Config::parse("[redis]\nurl = \"redis://127.0.0.1:7000\"\nnode_ttl = 1.5\n")
            .unwrap()
            .redis
            .unwrap();
        assert_eq!(r.url, "redis://127.0.0.1:7000");
        assert_eq!(r.node_ttl.as_millis(), 1500);
        assert_eq!(r.prefix, "fulmar");
        assert!(Config::parse("[redis]\nurl = 7").is_err());
        assert!(Config::parse("[limits]\nresume_grace = -1").is_err());
        assert!(matches!(
            Config::parse("").unwrap().auth.load(),
            Err(ConfigError::NoKey)
        ));
    }
}
