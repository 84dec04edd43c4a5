//! The TOML configuration file (see `turnd.toml` for a commented sample).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fulmar_turn::{PeerPolicy, ServerConfig};
use serde::Deserialize;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Long-term credential realm.
    pub realm: String,
    /// UDP listener addresses.
    #[serde(default)]
    pub listen_udp: Vec<SocketAddr>,
    /// TCP listener addresses.
    #[serde(default)]
    pub listen_tcp: Vec<SocketAddr>,
    /// TLS listener addresses.
    #[serde(default)]
    pub listen_tls: Vec<SocketAddr>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// IP of relayed addresses.
    pub relay_ip: IpAddr,
    /// IPv6 relay address beside an IPv4 `relay_ip` (IPv6 and dual allocations).
    pub relay_ip_v6: Option<IpAddr>,
    /// UDP listener sockets per address (SO_REUSEPORT); one per core when absent.
    pub udp_sockets_per_address: Option<usize>,
    /// SO_RCVBUF/SO_SNDBUF of UDP listener sockets, bytes.
    pub udp_buffer_bytes: Option<usize>,
    /// SO_RCVBUF/SO_SNDBUF of each relay socket, bytes.
    pub relay_buffer_bytes: Option<usize>,
    /// Metrics HTTP address.
    pub metrics: Option<SocketAddr>,
    /// SOFTWARE attribute.
    pub software: Option<String>,
    /// Shared secret of time-limited credentials.
    pub auth_secret: Option<String>,
    /// Static users.
    #[serde(default)]
    pub users: HashMap<String, String>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// Peer policy.
    #[serde(default)]
    pub peer_policy: Policy,
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Default allocation lifetime.
    pub default_lifetime_secs: u64,
    /// Longest allocation lifetime.
    pub max_lifetime_secs: u64,
    /// Nonce validity.
    pub nonce_lifetime_secs: u64,
    /// Allocations in total.
    pub max_allocations: usize,
    /// Allocations per user.
    pub max_allocations_per_user: usize,
    /// Permissions per allocation.
    pub max_permissions: usize,
    /// Channels per allocation.
    pub max_channels: usize,
    /// Bytes per second per allocation; 0 for no limit.
    pub bandwidth_bytes_per_sec: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_lifetime_secs: 600,
            max_lifetime_secs: 3600,
            nonce_lifetime_secs: 600,
            max_allocations: 10_000,
            max_allocations_per_user: 10,
            max_permissions: 64,
            max_channels: 64,
            bandwidth_bytes_per_sec: 0,
        }
    }
}

/// `[peer_policy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Allow loopback peers.
    pub allow_loopback: bool,
    /// Allow private-range peers.
    pub allow_private: bool,
    /// Allow link-local peers.
    pub allow_link_local: bool,
    /// Always denied.
    pub denied: Vec<IpAddr>,
}

impl FileConfig {
    /// Parses the TOML text of a configuration file (unknown keys are
    /// errors); [`FileConfig::server_config`] then validates it.
    pub fn from_toml_str(text: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The server core's configuration.
    pub fn server_config(&self, unix_now: u64) -> Result<ServerConfig, String> {
        if self.realm.is_empty() || self.realm.len() > 255 {
            return Err("realm must be 1..=255 bytes".into());
        }
        if self.users.is_empty() && self.auth_secret.is_none() {
            return Err("no [users] and no auth_secret: nobody could allocate".into());
        }
        if self.listen_udp.is_empty() && self.listen_tcp.is_empty() && self.listen_tls.is_empty() {
            return Err("no listener".into());
        }
        let l = &self.limits;
        if l.default_lifetime_secs == 0 || l.max_lifetime_secs < l.default_lifetime_secs {
            return Err("lifetimes: need 0 < default_lifetime_secs <= max_lifetime_secs".into());
        }
        if let Some(v6) = self.relay_ip_v6 {
            if !v6.is_ipv6() || !self.relay_ip.is_ipv4() {
                return Err("relay_ip_v6 must be IPv6, beside an IPv4 relay_ip".into());
            }
        }
        let mut c = ServerConfig::new(&self.realm, self.relay_ip);
        c.relay_ip_v6 = self.relay_ip_v6;
        c.users = self.users.clone();
        c.auth_secret = self.auth_secret.clone();
        c.unix_time_at_start = unix_now;
        c.software = self.software.clone();
        c.nonce_lifetime = Duration::from_secs(l.nonce_lifetime_secs.max(1));
        c.default_lifetime = Duration::from_secs(l.default_lifetime_secs);
        c.max_lifetime = Duration::from_secs(l.max_lifetime_secs);
        c.max_allocations = l.max_allocations;
        c.max_allocations_per_user = l.max_allocations_per_user;
        c.max_permissions = l.max_permissions;
        c.max_channels = l.max_channels;
        c.bandwidth_limit = (l.bandwidth_bytes_per_sec > 0).then_some(l.bandwidth_bytes_per_sec);
        c.peer_policy = PeerPolicy {
            allow_loopback: self.peer_policy.allow_loopback,
            allow_private: self.peer_policy.allow_private,
            allow_link_local: self.peer_policy.allow_link_local,
            denied: self.peer_policy.denied.clone(),
        };
        Ok(c)
    }
}

impl FileConfig {
    /// Socket buffer sizes: 4 MiB per listener socket (the kernel caps it at
    /// net.core.rmem_max), 256 KiB per relay socket unless configured.
    pub fn buffers(&self) -> crate::shell::Buffers {
        crate::shell::Buffers {
            listener: self.udp_buffer_bytes.unwrap_or(4 << 20),
            relay: self.relay_buffer_bytes.unwrap_or(256 << 10),
        }
    }
}

/// The TLS acceptor: from the configured PEM files, or a self-signed
/// certificate for "localhost" when none are given.
pub fn tls_acceptor(file: &FileConfig) -> Result<tokio_rustls::TlsAcceptor, String> {
    let (certs, key) = match (&file.tls_cert, &file.tls_key) {
        (Some(c), Some(k)) => {
            let certs = CertificateDer::pem_file_iter(c)
                .map_err(|e| format!("{}: {e}", c.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", c.display()))?;
            let key =
                PrivateKeyDer::from_pem_file(k).map_err(|e| format!("{}: {e}", k.display()))?;
            (certs, key)
        }
        (None, None) => {
            tracing::warn!("no tls_cert/tls_key: using a self-signed certificate for localhost");
            let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
                .map_err(|e| e.to_string())?;
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
            (vec![ck.cert.der().clone()], key)
        }
        _ => return Err("tls_cert and tls_key go together".into()),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_parses() {
        let text = include_str!("../turnd.toml");
        let f: FileConfig = toml::from_str(text).unwrap();
        let c = f.server_config(0).unwrap();
        assert_eq!(c.realm, "fulmar.test");
        assert!(c.users.contains_key("alice"));
        assert!(c.peer_policy.allow_loopback);
        assert_eq!(f.listen_udp.len(), 1);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text =
            "realm = \"x\"\nrelay_ip = \"127.0.0.1\"\nlisten_udp = [\"127.0.0.1:1\"]\nbogus = 1\n";
        assert!(toml::from_str::<FileConfig>(text).is_err());
    }
}
