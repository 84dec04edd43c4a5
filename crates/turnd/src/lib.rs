//! fulmar-turnd's pieces as a library, used by the `fulmar-turnd` binary
//! (see `main.rs`) and by the `turnd_config` fuzz target: the TOML
//! configuration ([`config`]), the metrics page ([`metrics`]) and the tokio
//! socket shell around [`fulmar_turn::Server`] ([`shell`]).

pub mod config;
pub mod metrics;
pub mod shell;
