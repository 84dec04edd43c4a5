//! Settings of an association and of each message sent.

use std::time::Duration;

/// Settings of an association.
#[derive(Debug, Clone)]
pub struct Config {
    /// Local SCTP port (`a=sctp-port`, 5000 by default).
    pub local_port: u16,
    /// Remote SCTP port.
    pub remote_port: u16,
    /// Largest SCTP packet to send. libwebrtc uses 1191: the IPv6 minimum
    /// MTU (1280) less IPv6 (40), UDP (8), a DTLS record with AES-GCM (37)
    /// and a TURN ChannelData header (4), so a packet crosses any path
    /// unfragmented, relayed or not. The default, 1184, is that bound
    /// rounded down to whole 16-byte blocks, so AES-GCM seals a full packet
    /// without a partial last block.
    pub mtu: usize,
    /// Largest message the peer accepts (its `a=max-message-size`).
    pub max_send_message_size: usize,
    /// Receive buffer, advertised as a_rwnd.
    pub receive_window: usize,
    /// Outbound and inbound streams to offer.
    pub num_streams: u16,
    /// RTO.Initial (RFC 9260 §16).
    pub rto_initial: Duration,
    /// RTO.Min; 200 ms by default (RFC 9260 §16 suggests 1 s, which is
    /// slow for interactive data channels; browsers use lower values too).
    pub rto_min: Duration,
    /// RTO.Max.
    pub rto_max: Duration,
    /// Max.Init.Retransmits.
    pub max_init_retransmits: u32,
    /// Association.Max.Retrans.
    pub max_association_retransmits: u32,
    /// Delay before a SACK for a single packet (RFC 9260 §6.2, at most 500 ms).
    pub delayed_ack: Duration,
    /// HB.interval; `None` disables heartbeats.
    pub heartbeat_interval: Option<Duration>,
    /// Offer Zero Checksum Acceptable (RFC 9653) with the DTLS method.
    pub zero_checksum: bool,
    /// Valid.Cookie.Life.
    pub cookie_lifetime: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_port: 5000,
            remote_port: 5000,
            mtu: 1184,
            max_send_message_size: 256 * 1024,
            receive_window: 1024 * 1024,
            num_streams: 65535,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            max_init_retransmits: 8,
            max_association_retransmits: 10,
            delayed_ack: Duration::from_millis(200),
            heartbeat_interval: Some(Duration::from_secs(30)),
            zero_checksum: true,
            cookie_lifetime: Duration::from_secs(60),
        }
    }
}

/// Per-message sending options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Deliver without ordering (U bit).
    pub unordered: bool,
    /// PR-SCTP: abandon after this many retransmissions (RFC 3758 §3.1).
    pub max_retransmits: Option<u16>,
    /// PR-SCTP: abandon after this lifetime.
    pub lifetime: Option<Duration>,
}
