//! A sans-IO Binding responder: the core of a STUN server (RFC 8489 §6.3).
//!
//! It answers Binding requests with XOR-MAPPED-ADDRESS set to the request's
//! source (plus SOFTWARE when configured, and FINGERPRINT when the request
//! carried one), answers 420 with UNKNOWN-ATTRIBUTES to requests with
//! unknown comprehension-required attributes, 400 to requests whose header is
//! sound but whose attributes are malformed, and silently drops everything
//! else: garbage, other protocols, responses, indications (a Binding
//! indication is a keepalive), unsupported methods and bad FINGERPRINTs
//! (RFC 8489 §6.3, §7.3).
//!
//! ```
//! use std::time::Instant;
//! use fulmar_stun::attributes::XorMappedAddress;
//! use fulmar_stun::server::BindingResponder;
//! use fulmar_stun::{Class, Message, MessageBuilder, Method, TransactionId};
//!
//! let mut server = BindingResponder::new();
//! let client = std::net::SocketAddr::from(([192, 0, 2, 7], 40000));
//!
//! let mut req = [0u8; 64];
//! let mut b = MessageBuilder::new(&mut req, Class::Request, Method::BINDING, TransactionId::new([3; 12]));
//! b.add_fingerprint();
//! let req = b.finish()?;
//!
//! let local = std::net::SocketAddr::from(([192, 0, 2, 1], 3478));
//! let now = Instant::now();
//! server.handle_receive(now, client, local, req);
//! let mut out = Vec::new();
//! let t = server.poll_transmit(now, &mut out).ok_or("no response")?;
//! assert_eq!((t.source, t.destination), (local, client));
//! let resp = Message::parse(&out[..t.len])?;
//! assert_eq!(resp.class(), Class::SuccessResponse);
//! assert_eq!(resp.get::<XorMappedAddress>()?.0, client);
//! resp.verify_fingerprint()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::attributes::{AttributeType, ErrorCode, Software, UnknownAttributes, XorMappedAddress};
use crate::{
    Class, Error, Message, MessageBuilder, Method, TransactionId, Transmit, HEADER_LEN,
    MAGIC_COOKIE,
};

/// Most attribute types listed in one UNKNOWN-ATTRIBUTES.
pub const MAX_UNKNOWN: usize = 16;
/// Most replies waiting for [`BindingResponder::poll_transmit`]; beyond it new
/// requests are dropped (and counted).
pub const MAX_QUEUED: usize = 1024;
/// Longest SOFTWARE description accepted by [`BindingResponder::with_software`].
pub const MAX_SOFTWARE_LEN: usize = 128;
/// Buffer size that always holds a reply.
pub const MAX_REPLY_LEN: usize = 512;

/// Counters of what the responder did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Binding success responses produced.
    pub success_responses: u64,
    /// Error responses (400, 420) produced.
    pub error_responses: u64,
    /// Datagrams dropped without an answer.
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyKind {
    Success,
    BadRequest,
    UnknownAttributes {
        types: [AttributeType; MAX_UNKNOWN],
        count: usize,
    },
}

/// A decided reply, written later into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reply {
    source: SocketAddr,
    destination: SocketAddr,
    method: Method,
    transaction_id: TransactionId,
    fingerprint: bool,
    kind: ReplyKind,
}

/// The Binding responder; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct BindingResponder {
    software: Option<String>,
    queue: VecDeque<Reply>,
    stats: ResponderStats,
}

impl BindingResponder {
    /// A responder without SOFTWARE.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a SOFTWARE attribute to every reply (truncated to
    /// [`MAX_SOFTWARE_LEN`] bytes at a character boundary).
    pub fn with_software(mut self, software: &str) -> Self {
        let mut end = software.len().min(MAX_SOFTWARE_LEN);
        while !software.is_char_boundary(end) {
            end -= 1;
        }
        self.software = Some(software[..end].to_owned());
        self
    }

    /// What it did so far.
    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    /// Decide what to answer to `datagram` from `source`, if anything.
    fn decide(&self, source: SocketAddr, local: SocketAddr, datagram: &[u8]) -> Option<Reply> {
        let msg = match Message::parse(datagram) {
            Ok(m) => m,
            Err(_) => return self.decide_malformed(source, local, datagram),
        };
        if msg.class() != Class::Request || msg.method() != Method::BINDING {
            return None;
        }
        let fingerprint = msg.has_fingerprint();
        if fingerprint && msg.verify_fingerprint().is_err() {
            return None;
        }
        let mut types = [AttributeType(0); MAX_UNKNOWN];
        let mut count = 0;
        for t in msg.unknown_comprehension_required() {
            if count < MAX_UNKNOWN && !types[..count].contains(&t) {
                types[count] = t;
                count += 1;
            }
        }
        let kind = if count > 0 {
            ReplyKind::UnknownAttributes { types, count }
        } else {
            ReplyKind::Success
        };
        Some(Reply {
            source: local,
            destination: source,
            method: msg.method(),
            transaction_id: msg.transaction_id(),
            fingerprint,
            kind,
        })
    }

    /// A request with a sound header (zero leading bits, magic cookie, length
    /// matching the datagram) but malformed attributes gets 400 Bad Request.
    fn decide_malformed(&self, source: SocketAddr, local: SocketAddr, d: &[u8]) -> Option<Reply> {
        let h = d.get(..HEADER_LEN)?;
        let ty = u16::from_be_bytes([h[0], h[1]]);
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let sound = h[0] & 0xC0 == 0
            && h[4..8] == MAGIC_COOKIE.to_be_bytes()
            && len % 4 == 0
            && d.len() == HEADER_LEN + len;
        let mt = crate::MessageType::from_u16(ty);
        if !sound || mt.class != Class::Request || mt.method != Method::BINDING {
            return None;
        }
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&h[8..20]);
        Some(Reply {
            source: local,
            destination: source,
            method: mt.method,
            transaction_id: TransactionId(tid),
            fingerprint: false,
            kind: ReplyKind::BadRequest,
        })
    }

    fn write(&self, r: &Reply, out: &mut [u8]) -> Result<usize, Error> {
        let class = match r.kind {
            ReplyKind::Success => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        };
        let mut b = MessageBuilder::new(out, class, r.method, r.transaction_id);
        match &r.kind {
            ReplyKind::Success => {
                b.add(&XorMappedAddress(r.destination));
            }
            ReplyKind::BadRequest => {
                b.add(&ErrorCode::with_default_reason(ErrorCode::BAD_REQUEST));
            }
            ReplyKind::UnknownAttributes { types, count } => {
                b.add(&ErrorCode::with_default_reason(
                    ErrorCode::UNKNOWN_ATTRIBUTE,
                ))
                .add(&UnknownAttributes::new(&types[..*count]));
            }
        }
        if let Some(s) = &self.software {
            b.add(&Software(s));
        }
        if r.fingerprint {
            b.add_fingerprint();
        }
        b.finish().map(|m| m.len())
    }

    fn emit(&mut self, reply: &Reply, out: &mut [u8]) -> Option<usize> {
        match self.write(reply, out) {
            Ok(n) => {
                if reply.kind == ReplyKind::Success {
                    self.stats.success_responses += 1;
                } else {
                    self.stats.error_responses += 1;
                }
                Some(n)
            }
            Err(_) => {
                self.stats.dropped += 1;
                None
            }
        }
    }

    /// Feed a datagram that arrived from `source` at the local address
    /// `destination`; any reply is queued for [`BindingResponder::poll_transmit`],
    /// to be sent back from `destination`. The responder keeps no per-client
    /// state, so `now` is unused; it is taken for the uniform interface.
    pub fn handle_receive(
        &mut self,
        _now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        match self.decide(source, destination, datagram) {
            Some(r) if self.queue.len() < MAX_QUEUED => self.queue.push_back(r),
            _ => self.stats.dropped += 1,
        }
    }

    /// Write the next queued reply into `buf` (cleared first; it ends up
    /// `len` bytes long) and say where to send it.
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        while let Some(r) = self.queue.pop_front() {
            buf.clear();
            buf.resize(MAX_REPLY_LEN, 0);
            if let Some(len) = self.emit(&r, buf) {
                buf.truncate(len);
                return Some(Transmit {
                    source: r.source,
                    destination: r.destination,
                    len,
                });
            }
        }
        buf.clear();
        None
    }

    /// The responder has no timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
