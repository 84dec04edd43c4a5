//! # fulmar-gateway
//!
//! A small Janus-like WebRTC media gateway over the [`fulmar`] driver: one
//! HTTP server (axum) that offers
//!
//! - `GET /`: the demo page (camera and microphone echoed back, a chat on a
//!   data channel, live stats from `getStats`);
//! - `POST /offer`: answers an SDP offer (non-trickle) with a peer that echoes
//!   every data-channel message and every audio/video track; `POST
//!   /offer/{id}` (the `Location` of the reply) renegotiates that session,
//!   and `POST /offer/{id}/track` makes Fulmar add a track playing its clip
//!   and returns Fulmar's offer, answered by `POST /offer/{id}/answer`;
//! - `POST /whip` (RFC 9725): WHIP ingest, recording each track to an IVF,
//!   Annex-B or Ogg file;
//! - `POST /whep`: WHEP playback of an IVF video clip and an Ogg Opus clip;
//! - `PATCH` (trickle, RFC 8840 fragments) and `DELETE` on the session
//!   resources `/whip/{id}` and `/whep/{id}` that the `Location` header names;
//! - `GET /sessions`: the live sessions as JSON.
//!
//! Media files are handled by [`clip`] (reading and real-time pacing) and
//! [`recorder`] (writing), both over fulmar-rtp's containers.
//!
//! ```
//! use std::sync::Arc;
//! use fulmar_gateway::{Gateway, GatewayConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = Arc::new(Gateway::new(GatewayConfig::default()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(fulmar_gateway::serve(listener, gateway.clone()));
//!
//! // A session resource that does not exist.
//! let mut tcp = tokio::net::TcpStream::connect(addr).await?;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! tcp.write_all(b"DELETE /whip/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
//! let mut reply = String::new();
//! tcp.read_to_string(&mut reply).await?;
//! assert!(reply.starts_with("HTTP/1.1 404"));
//! assert_eq!(gateway.session_count(), 0);
//! # Ok(()) }
//! ```

pub mod clip;
mod http;
mod media;
pub mod recorder;
mod session;
pub mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use http::{router, serve};
pub use session::{
    echo_data_channels, Gateway, OpenError, RenegotiateError, SessionInfo, SessionKind,
    TrickleError,
};

use clip::Clip;

/// Errors of the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A media file or frame could not be read or written by fulmar-rtp.
    #[error("media: {0}")]
    Rtp(#[from] fulmar_rtp::Error),
    /// A media clip or recording is unusable.
    #[error("clip: {0}")]
    Clip(&'static str),
    /// The driver refused.
    #[error(transparent)]
    Fulmar(#[from] fulmar::Error),
    /// A file could not be opened or written.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Default [`GatewayConfig::max_sessions`].
pub const DEFAULT_MAX_SESSIONS: usize = 4096;
/// Default [`GatewayConfig::max_pending_per_client`].
pub const DEFAULT_MAX_PENDING_PER_CLIENT: usize = 16;

/// Gateway configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// The driver configuration for every session (its `bind` addresses are
    /// not used: every session is on the shared socket of `media_bind`).
    pub peer: fulmar::Config,
    /// The one UDP socket every session sends and receives on (a shared
    /// [`fulmar::Endpoint`], demultiplexed by ICE ufrag and remote address):
    /// its address is each session's host candidate. Port 0 lets the OS
    /// choose it once at start; it is the same for every session either way.
    /// Default `127.0.0.1:0`.
    pub media_bind: SocketAddr,
    /// Where WHIP recordings go; `None` disables recording.
    pub record_dir: Option<PathBuf>,
    /// The video clip WHEP plays (VP8 IVF).
    pub video: Option<Arc<Clip>>,
    /// The audio clip WHEP plays (Opus Ogg).
    pub audio: Option<Arc<Clip>>,
    /// Most sessions at once (each is a task and its state on the shared
    /// socket); beyond it new offers get `503 Service Unavailable` and leave
    /// no state behind. Default [`DEFAULT_MAX_SESSIONS`].
    pub max_sessions: usize,
    /// Most sessions one client address (the HTTP peer's IP) may have that
    /// are not connected yet: offers beyond it get `503 Service
    /// Unavailable` and leave no state behind, so a flood of offers that
    /// are never followed by ICE cannot take the whole capacity. Connected
    /// sessions do not count. Default [`DEFAULT_MAX_PENDING_PER_CLIENT`].
    pub max_pending_per_client: usize,
    /// A session not connected after this long is ended.
    pub connect_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            peer: fulmar::Config::default(),
            media_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            record_dir: None,
            video: None,
            audio: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_pending_per_client: DEFAULT_MAX_PENDING_PER_CLIENT,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl GatewayConfig {
    /// Loads the sample clips checked in beside this crate
    /// (`media/sample.ivf`, `media/sample.ogg`).
    pub fn with_sample_media(mut self) -> Result<Self, Error> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
        self.video = Some(Arc::new(Clip::from_ivf(&std::fs::read(
            dir.join("sample.ivf"),
        )?)?));
        self.audio = Some(Arc::new(Clip::from_ogg_opus(&std::fs::read(
            dir.join("sample.ogg"),
        )?)?));
        Ok(self)
    }

    /// Binds the shared media socket to `addr` (see [`Self::media_bind`]).
    pub fn with_media_bind(mut self, addr: SocketAddr) -> Self {
        self.media_bind = addr;
        self
    }

    /// Admits at most `total` sessions, and at most `per_client` not yet
    /// connected ones per client address.
    pub fn with_capacity(mut self, total: usize, per_client: usize) -> Self {
        self.max_sessions = total;
        self.max_pending_per_client = per_client;
        self
    }

    /// Records WHIP sessions into `dir` (created if missing).
    pub fn with_record_dir(mut self, dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        self.record_dir = Some(dir);
        Ok(self)
    }
}
