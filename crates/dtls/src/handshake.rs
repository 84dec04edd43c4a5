//! Handshake message framing and bodies (RFC 6347 §4.2.2, RFC 5246 §7.4).
//!
//! Every handshake message (or fragment of one) carries a 12-byte header:
//! `msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)`.
//! Bodies are parsed into borrowed views; each has an `emit` that writes the
//! same bytes back, so `emit(parse(b)) == b`.

use crate::codec::{end_len, put_u16, put_u24, put_vec16, put_vec24, put_vec8, start_len, Reader};
use crate::error::{Error, Result};
use crate::extensions::Extensions;
use crate::record::ProtocolVersion;

/// Length of the DTLS handshake header.
pub const HANDSHAKE_HEADER_LEN: usize = 12;
/// Largest handshake message this implementation reassembles.
pub const MAX_HANDSHAKE_MESSAGE: usize = 1 << 16;

/// Handshake message type (RFC 5246 §7.4, RFC 6347 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeType {
    /// hello_request(0)
    HelloRequest,
    /// client_hello(1)
    ClientHello,
    /// server_hello(2)
    ServerHello,
    /// hello_verify_request(3)
    HelloVerifyRequest,
    /// certificate(11)
    Certificate,
    /// server_key_exchange(12)
    ServerKeyExchange,
    /// certificate_request(13)
    CertificateRequest,
    /// server_hello_done(14)
    ServerHelloDone,
    /// certificate_verify(15)
    CertificateVerify,
    /// client_key_exchange(16)
    ClientKeyExchange,
    /// finished(20)
    Finished,
    /// Any other value (DTLS 1.3 types among them).
    Unknown(u8),
}

impl HandshakeType {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => HandshakeType::HelloRequest,
            1 => HandshakeType::ClientHello,
            2 => HandshakeType::ServerHello,
            3 => HandshakeType::HelloVerifyRequest,
            11 => HandshakeType::Certificate,
            12 => HandshakeType::ServerKeyExchange,
            13 => HandshakeType::CertificateRequest,
            14 => HandshakeType::ServerHelloDone,
            15 => HandshakeType::CertificateVerify,
            16 => HandshakeType::ClientKeyExchange,
            20 => HandshakeType::Finished,
            v => HandshakeType::Unknown(v),
        }
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            HandshakeType::HelloRequest => 0,
            HandshakeType::ClientHello => 1,
            HandshakeType::ServerHello => 2,
            HandshakeType::HelloVerifyRequest => 3,
            HandshakeType::Certificate => 11,
            HandshakeType::ServerKeyExchange => 12,
            HandshakeType::CertificateRequest => 13,
            HandshakeType::ServerHelloDone => 14,
            HandshakeType::CertificateVerify => 15,
            HandshakeType::ClientKeyExchange => 16,
            HandshakeType::Finished => 20,
            HandshakeType::Unknown(v) => v,
        }
    }
}

/// A checked view of one handshake fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeFragment<'a> {
    /// Message type.
    pub msg_type: HandshakeType,
    /// Length of the whole message body.
    pub length: u32,
    /// Message sequence number (RFC 6347 §4.2.2).
    pub message_seq: u16,
    /// Offset of this fragment in the body.
    pub fragment_offset: u32,
    /// The fragment bytes.
    pub body: &'a [u8],
}

impl<'a> HandshakeFragment<'a> {
    /// Parses the first fragment of a handshake record's plaintext.
    pub fn parse(buf: &'a [u8]) -> Result<(HandshakeFragment<'a>, &'a [u8])> {
        let mut r = Reader::new(buf, "handshake header");
        let msg_type = HandshakeType::from_u8(r.u8()?);
        let length = r.u24()?;
        let message_seq = r.u16()?;
        let fragment_offset = r.u24()?;
        let fragment_length = r.u24()?;
        if fragment_offset as u64 + fragment_length as u64 > length as u64 {
            return Err(Error::Malformed("handshake fragment beyond message length"));
        }
        if length as usize > MAX_HANDSHAKE_MESSAGE {
            return Err(Error::TooLarge("handshake message"));
        }
        let body = r.take(fragment_length as usize)?;
        Ok((
            HandshakeFragment {
                msg_type,
                length,
                message_seq,
                fragment_offset,
                body,
            },
            r.rest(),
        ))
    }

    /// Appends this fragment (header and body) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.msg_type.to_u8());
        put_u24(out, self.length);
        put_u16(out, self.message_seq);
        put_u24(out, self.fragment_offset);
        put_u24(out, self.body.len() as u32);
        out.extend_from_slice(self.body);
    }
}

/// Iterates over the handshake fragments in a record's plaintext.
pub fn fragments(plaintext: &[u8]) -> impl Iterator<Item = Result<HandshakeFragment<'_>>> {
    let mut rest = plaintext;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match HandshakeFragment::parse(rest) {
            Ok((f, r)) => {
                rest = r;
                Some(Ok(f))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// Appends a whole (unfragmented) handshake message: the form hashed into
/// the transcript (RFC 6347 §4.2.6).
pub fn emit_message(out: &mut Vec<u8>, msg_type: HandshakeType, message_seq: u16, body: &[u8]) {
    HandshakeFragment {
        msg_type,
        length: body.len() as u32,
        message_seq,
        fragment_offset: 0,
        body,
    }
    .emit(out);
}

/// Random of a hello (RFC 5246 §7.4.1.2).
pub type Random = [u8; 32];

fn random(r: &mut Reader<'_>) -> Result<Random> {
    let b = r.take(32)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(b);
    Ok(out)
}

/// ClientHello (RFC 6347 §4.2.1: with a cookie), as borrowed views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// Highest version offered in the legacy field.
    pub client_version: ProtocolVersion,
    /// Client random.
    pub random: Random,
    /// Session id (0..32 bytes).
    pub session_id: &'a [u8],
    /// Cookie from a HelloVerifyRequest (0..255 bytes).
    pub cookie: &'a [u8],
    /// Cipher suites, raw pairs of bytes.
    pub cipher_suites: &'a [u8],
    /// Compression methods.
    pub compression_methods: &'a [u8],
    /// Raw extensions block, if present.
    pub extensions: Option<&'a [u8]>,
}

impl<'a> ClientHello<'a> {
    /// Parses a ClientHello body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ClientHello");
        let client_version = ProtocolVersion(r.u16()?);
        let random = random(&mut r)?;
        let session_id = r.vec8()?;
        if session_id.len() > 32 {
            return Err(Error::Malformed("session_id"));
        }
        let cookie = r.vec8()?;
        let cipher_suites = r.vec16()?;
        if cipher_suites.is_empty() || cipher_suites.len() % 2 != 0 {
            return Err(Error::Malformed("cipher_suites"));
        }
        let compression_methods = r.vec8()?;
        if compression_methods.is_empty() {
            return Err(Error::Malformed("compression_methods"));
        }
        let extensions = if r.is_empty() { None } else { Some(r.vec16()?) };
        r.finish()?;
        if let Some(ext) = extensions {
            Extensions::parse(ext)?;
        }
        Ok(ClientHello {
            client_version,
            random,
            session_id,
            cookie,
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    /// The cipher suites offered.
    pub fn cipher_suites(&self) -> impl Iterator<Item = u16> + 'a {
        self.cipher_suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// The parsed extensions (empty if absent).
    pub fn extensions(&self) -> Extensions<'a> {
        self.extensions
            .and_then(|e| Extensions::parse(e).ok())
            .unwrap_or_default()
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put_u16(out, self.client_version.0);
        out.extend_from_slice(&self.random);
        put_vec8(out, self.session_id);
        put_vec8(out, self.cookie);
        put_vec16(out, self.cipher_suites);
        put_vec8(out, self.compression_methods);
        if let Some(e) = self.extensions {
            put_vec16(out, e);
        }
    }
}

/// HelloVerifyRequest (RFC 6347 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloVerifyRequest<'a> {
    /// Version (DTLS 1.0 recommended by RFC 6347 §4.2.1).
    pub server_version: ProtocolVersion,
    /// The stateless cookie.
    pub cookie: &'a [u8],
}

impl<'a> HelloVerifyRequest<'a> {
    /// Parses a HelloVerifyRequest body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "HelloVerifyRequest");
        let server_version = ProtocolVersion(r.u16()?);
        let cookie = r.vec8()?;
        r.finish()?;
        Ok(HelloVerifyRequest {
            server_version,
            cookie,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put_u16(out, self.server_version.0);
        put_vec8(out, self.cookie);
    }
}

/// ServerHello (RFC 5246 §7.4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello<'a> {
    /// Negotiated version.
    pub server_version: ProtocolVersion,
    /// Server random.
    pub random: Random,
    /// Session id.
    pub session_id: &'a [u8],
    /// Selected cipher suite.
    pub cipher_suite: u16,
    /// Selected compression method (must be null).
    pub compression_method: u8,
    /// Raw extensions block, if present.
    pub extensions: Option<&'a [u8]>,
}

impl<'a> ServerHello<'a> {
    /// Parses a ServerHello body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ServerHello");
        let server_version = ProtocolVersion(r.u16()?);
        let random = random(&mut r)?;
        let session_id = r.vec8()?;
        if session_id.len() > 32 {
            return Err(Error::Malformed("session_id"));
        }
        let cipher_suite = r.u16()?;
        let compression_method = r.u8()?;
        let extensions = if r.is_empty() { None } else { Some(r.vec16()?) };
        r.finish()?;
        if let Some(ext) = extensions {
            Extensions::parse(ext)?;
        }
        Ok(ServerHello {
            server_version,
            random,
            session_id,
            cipher_suite,
            compression_method,
            extensions,
        })
    }

    /// The parsed extensions (empty if absent).
    pub fn extensions(&self) -> Extensions<'a> {
        self.extensions
            .and_then(|e| Extensions::parse(e).ok())
            .unwrap_or_default()
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put_u16(out, self.server_version.0);
        out.extend_from_slice(&self.random);
        put_vec8(out, self.session_id);
        put_u16(out, self.cipher_suite);
        out.push(self.compression_method);
        if let Some(e) = self.extensions {
            put_vec16(out, e);
        }
    }
}

/// Largest number of certificates accepted in a chain.
pub const MAX_CERTIFICATES: usize = 10;

/// Certificate message (RFC 5246 §7.4.2): a chain of DER certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateMsg<'a> {
    /// The DER certificates, leaf first (at most [`MAX_CERTIFICATES`]).
    pub certificates: Vec<&'a [u8]>,
}

impl<'a> CertificateMsg<'a> {
    /// Parses a Certificate body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "Certificate");
        let list = r.vec24()?;
        r.finish()?;
        let mut l = Reader::new(list, "certificate_list");
        let mut certificates = Vec::new();
        while !l.is_empty() {
            if certificates.len() >= MAX_CERTIFICATES {
                return Err(Error::TooLarge("certificate chain"));
            }
            let c = l.vec24()?;
            if c.is_empty() {
                return Err(Error::Malformed("empty certificate"));
            }
            certificates.push(c);
        }
        Ok(CertificateMsg { certificates })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let at = start_len(out, 3);
        for c in &self.certificates {
            put_vec24(out, c);
        }
        end_len(out, at, 3);
    }
}

/// ECCurveType named_curve (RFC 8422 §5.4).
pub const NAMED_CURVE: u8 = 3;

/// ServerKeyExchange for ECDHE (RFC 8422 §5.4) with a TLS 1.2 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKeyExchange<'a> {
    /// The named group.
    pub named_group: u16,
    /// The server's ephemeral public key.
    pub public: &'a [u8],
    /// SignatureScheme used.
    pub signature_scheme: u16,
    /// The signature over client_random + server_random + params.
    pub signature: &'a [u8],
    /// The signed `ServerECDHParams` bytes.
    pub params: &'a [u8],
}

impl<'a> ServerKeyExchange<'a> {
    /// Parses an ECDHE ServerKeyExchange body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ServerKeyExchange");
        if r.u8()? != NAMED_CURVE {
            return Err(Error::Malformed("ECCurveType"));
        }
        let named_group = r.u16()?;
        let public = r.vec8()?;
        if public.is_empty() {
            return Err(Error::Malformed("ECPoint"));
        }
        let params_len = 4 + public.len();
        let params = &body[..params_len];
        let signature_scheme = r.u16()?;
        let signature = r.vec16()?;
        r.finish()?;
        Ok(ServerKeyExchange {
            named_group,
            public,
            signature_scheme,
            signature,
            params,
        })
    }

    /// Appends `ServerECDHParams` (the signed part) for `group` and `public`.
    pub fn emit_params(out: &mut Vec<u8>, group: u16, public: &[u8]) {
        out.push(NAMED_CURVE);
        put_u16(out, group);
        put_vec8(out, public);
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        Self::emit_params(out, self.named_group, self.public);
        put_u16(out, self.signature_scheme);
        put_vec16(out, self.signature);
    }
}

/// CertificateRequest (RFC 5246 §7.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest<'a> {
    /// ClientCertificateType values.
    pub certificate_types: &'a [u8],
    /// SignatureScheme list, raw pairs.
    pub signature_algorithms: &'a [u8],
    /// Raw DistinguishedName list.
    pub certificate_authorities: &'a [u8],
}

impl<'a> CertificateRequest<'a> {
    /// Parses a CertificateRequest body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "CertificateRequest");
        let certificate_types = r.vec8()?;
        let signature_algorithms = r.vec16()?;
        if signature_algorithms.len() % 2 != 0 {
            return Err(Error::Malformed("signature_algorithms"));
        }
        let certificate_authorities = r.vec16()?;
        r.finish()?;
        Ok(CertificateRequest {
            certificate_types,
            signature_algorithms,
            certificate_authorities,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put_vec8(out, self.certificate_types);
        put_vec16(out, self.signature_algorithms);
        put_vec16(out, self.certificate_authorities);
    }
}

/// ClientKeyExchange for ECDHE (RFC 8422 §5.7): the client's public point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyExchange<'a> {
    /// The client's ephemeral public key.
    pub public: &'a [u8],
}

impl<'a> ClientKeyExchange<'a> {
    /// Parses the body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ClientKeyExchange");
        let public = r.vec8()?;
        r.finish()?;
        if public.is_empty() {
            return Err(Error::Malformed("ECPoint"));
        }
        Ok(ClientKeyExchange { public })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put_vec8(out, self.public);
    }
}

/// CertificateVerify (RFC 5246 §7.4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateVerify<'a> {
    /// SignatureScheme used.
    pub signature_scheme: u16,
    /// Signature over all handshake messages so far.
    pub signature: &'a [u8],
}

impl<'a> CertificateVerify<'a> {
    /// Parses the body.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "CertificateVerify");
        let signature_scheme = r.u16()?;
        let signature = r.vec16()?;
        r.finish()?;
        Ok(CertificateVerify {
            signature_scheme,
            signature,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put_u16(out, self.signature_scheme);
        put_vec16(out, self.signature);
    }
}
