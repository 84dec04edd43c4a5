//! Who may do what: JSON Web Tokens (RFC 7519) signed with HS256 or ES256,
//! verified by the `jsonwebtoken` crate, whose claims grant a room and the
//! right to publish, subscribe or administer it. In open mode (for
//! development) every join may publish and subscribe anywhere.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::error::{ErrorCode, Rejection};

/// Seconds of clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;

/// What a token grants (or everything, in open mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// The room granted; `*` grants every room.
    pub room: String,
    /// May send offers and broadcasts.
    pub publish: bool,
    /// May receive offers and broadcasts.
    pub subscribe: bool,
    /// May kick peers and join a full room.
    pub admin: bool,
    /// Seconds since the Unix epoch after which the token is void.
    pub expires: Option<u64>,
}

impl Grants {
    /// Publish and subscribe in every room, forever (open mode); admin
    /// needs a token.
    pub fn open() -> Self {
        Grants {
            room: "*".to_owned(),
            publish: true,
            subscribe: true,
            admin: false,
            expires: None,
        }
    }

    /// Whether these grants cover `room`.
    pub fn covers(&self, room: &str) -> bool {
        self.room == "*" || self.room == room
    }

    /// Whether the token has expired at `unix_now` seconds.
    pub fn expired(&self, unix_now: u64) -> bool {
        self.expires
            .is_some_and(|exp| exp.saturating_add(LEEWAY_SECS) < unix_now)
    }
}

/// The claims read from a token. `publish` and `subscribe` default to
/// granted, `admin` to not.
#[derive(Debug, Deserialize)]
struct Claims {
    room: String,
    #[serde(default = "granted")]
    publish: bool,
    #[serde(default = "granted")]
    subscribe: bool,
    #[serde(default)]
    admin: bool,
    exp: u64,
}

fn granted() -> bool {
    true
}

/// A key tokens may be signed with.
#[derive(Clone)]
pub struct Key {
    key: DecodingKey,
    algorithm: Algorithm,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HS256 shared secret.
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthConfigError> {
        Ok(Key {
            key: DecodingKey::from_secret(secret).map_err(AuthConfigError)?,
            algorithm: Algorithm::HS256,
        })
    }

    /// An ES256 (P-256) public key in PEM.
    pub fn es256_pem(pem: &[u8]) -> Result<Self, AuthConfigError> {
        Ok(Key {
            key: DecodingKey::from_ec_pem(pem).map_err(AuthConfigError)?,
            algorithm: Algorithm::ES256,
        })
    }
}

/// A key that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("bad token key: {0}")]
pub struct AuthConfigError(jsonwebtoken::errors::Error);

/// How joins are authorised.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Every join may publish and subscribe in any room, without a token
    /// (development only: the server warns when it starts this way).
    Open,
    /// A join needs a token signed with one of these keys.
    Jwt(Vec<Key>),
}

impl Auth {
    /// Whether this is open mode.
    pub fn is_open(&self) -> bool {
        matches!(self, Auth::Open)
    }

    /// The grants of `token` for `room`, or why there are none.
    pub fn grants(&self, token: Option<&str>, room: &str) -> Result<Grants, Rejection> {
        let keys = match self {
            Auth::Open => return Ok(Grants::open()),
            Auth::Jwt(keys) => keys,
        };
        let token = token.ok_or_else(|| unauthorized("this server needs a token"))?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| unauthorized(format!("bad token: {e}")))?;
        let mut last = None;
        for k in keys.iter().filter(|k| k.algorithm == header.alg) {
            let mut validation = Validation::new(k.algorithm);
            validation.leeway = LEEWAY_SECS;
            validation.set_required_spec_claims(&["exp"]);
            match jsonwebtoken::decode::<Claims>(token, &k.key, &validation) {
                Ok(data) => {
                    let c = data.claims;
                    let grants = Grants {
                        room: c.room,
                        publish: c.publish,
                        subscribe: c.subscribe,
                        admin: c.admin,
                        expires: Some(c.exp),
                    };
                    if !grants.covers(room) {
                        return Err(Rejection::new(
                            ErrorCode::Forbidden,
                            "the token does not grant this room",
                        ));
                    }
                    return Ok(grants);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(unauthorized(match last {
            Some(e) => format!("token refused: {e}"),
            None => format!("no key for algorithm {:?}", header.alg),
        }))
    }
}

fn unauthorized(message: impl Into<String>) -> Rejection {
    Rejection::new(ErrorCode::Unauthorized, message)
}
