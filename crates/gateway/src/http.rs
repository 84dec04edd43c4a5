//! HTTP routes (axum): the demo page, `POST /offer`, WHIP and WHEP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::session::{Gateway, OpenError, RenegotiateError, SessionKind, TrickleError};

/// Largest request body (an SDP offer or a trickle fragment).
const MAX_BODY: usize = 64 * 1024;
/// The demo page: camera and microphone echo, chat, live stats.
const DEMO_PAGE: &str = include_str!("../static/demo.html");
/// A WHIP publisher page (getUserMedia, then `fetch('/whip')`).
const WHIP_PAGE: &str = include_str!("../static/whip.html");
/// A WHEP player page.
const WHEP_PAGE: &str = include_str!("../static/whep.html");
/// `Accept-Patch` (RFC 5789 §3.1).
const ACCEPT_PATCH: HeaderName = HeaderName::from_static("accept-patch");
/// The media type of SDP bodies (RFC 8866 §8.1).
const SDP: &str = "application/sdp";
/// The media type of trickle-ICE fragments (RFC 8840 §9.1).
const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

/// The gateway's routes, with permissive CORS so that pages from any
/// origin can publish and play (RFC 9725 §4.1 expects browser clients).
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(|| async { html(DEMO_PAGE) }))
        .route("/whip.html", get(|| async { html(WHIP_PAGE) }))
        .route("/whep.html", get(|| async { html(WHEP_PAGE) }))
        .route("/sessions", get(sessions))
        .route("/offer", post(offer).options(preflight))
        .route("/offer/{id}", post(reoffer).options(preflight))
        .route("/offer/{id}/track", post(fulmar_offer).options(preflight))
        .route("/offer/{id}/answer", post(client_answer).options(preflight))
        .route("/whip", post(whip_post).options(preflight))
        .route("/whep", post(whep_post).options(preflight))
        .route(
            "/whip/{id}",
            axum::routing::delete(whip_delete)
                .patch(whip_patch)
                .options(preflight),
        )
        .route(
            "/whep/{id}",
            axum::routing::delete(whep_delete)
                .patch(whep_patch)
                .options(preflight),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(cors))
        .with_state(gateway)
}

/// Serves the gateway on `listener` until the process ends; also binds the
/// shared media socket (an error if it cannot be bound) and starts the
/// reaper that ends failed and stale sessions. Each request knows its
/// client's address, which the per-client limit counts by.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>) -> std::io::Result<()> {
    gateway.media_addr().await.map_err(std::io::Error::other)?;
    gateway.spawn_reaper();
    let app = router(gateway).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}

/// The HTTP client's IP address, when the server was started with
/// connect info (as [`serve`] does); `None` otherwise (a router driven
/// directly, as by tests and the fuzzer).
struct Client(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

fn html(page: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

async fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, ETag, Accept-Patch, Link"),
    );
    res
}

/// CORS preflight (the `Access-Control-Allow-Origin` comes from [`cors`]).
async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "POST, PATCH, DELETE, OPTIONS",
            ),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type, If-Match, Authorization",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            (HeaderName::from_static("accept-post"), SDP),
            (ACCEPT_PATCH, SDPFRAG),
        ],
    )
        .into_response()
}

/// True when the request's `Content-Type` is `media` (parameters ignored).
fn has_content_type(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}

fn open_error(e: OpenError) -> Response {
    match e {
        OpenError::Full | OpenError::ClientLimit => {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
        OpenError::Offer(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
        e @ OpenError::Media(_) => text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn sessions(State(g): State<Arc<Gateway>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        g.sessions_json(),
    )
        .into_response()
}

/// `POST /offer`: the answer in the body (non-trickle); `Location` names
/// `/offer/{id}`, where later offers of the same client renegotiate.
async fn offer(State(g): State<Arc<Gateway>>, Client(ip): Client, body: String) -> Response {
    match g.open_from(SessionKind::Echo, &body, ip).await {
        Ok((id, answer, _)) => (
            [
                (header::CONTENT_TYPE, SDP.to_owned()),
                (header::LOCATION, format!("/offer/{id}")),
            ],
            answer,
        )
            .into_response(),
        Err(e) => open_error(e),
    }
}

/// `POST /offer/{id}`: a new offer on a running echo session (tracks added
/// or stopped); the answer in the body.
async fn reoffer(State(g): State<Arc<Gateway>>, Path(id): Path<String>, body: String) -> Response {
    match g.renegotiate(SessionKind::Echo, &id, &body).await {
        Ok(answer) => ([(header::CONTENT_TYPE, SDP)], answer).into_response(),
        Err(RenegotiateError::NotFound) => text(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `POST /offer/{id}/track`: Fulmar adds a video track playing its clip to
/// the echo session and answers with its own new offer.
async fn fulmar_offer(State(g): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    match g.offer_clip_track(&id).await {
        Ok(offer) => ([(header::CONTENT_TYPE, SDP)], offer).into_response(),
        Err(RenegotiateError::NotFound) => text(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `POST /offer/{id}/answer`: the client's answer to Fulmar's offer.
async fn client_answer(
    State(g): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    match g.apply_answer(&id, &body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(RenegotiateError::NotFound) => text(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// RFC 9725 §4.2: `POST` an SDP offer; `201 Created` with the answer, the
/// session URL in `Location` and an entity tag.
async fn create(
    g: &Gateway,
    kind: SessionKind,
    client: Option<IpAddr>,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    if !has_content_type(headers, SDP) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/sdp",
        );
    }
    match g.open_from(kind, body, client).await {
        Ok((id, answer, etag)) => {
            let location = format!("/{}/{id}", kind.as_str());
            let mut res = (StatusCode::CREATED, answer).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDP));
            h.insert(ACCEPT_PATCH, HeaderValue::from_static(SDPFRAG));
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
                h.insert(header::ETAG, v);
            }
            res
        }
        Err(e) => open_error(e),
    }
}

/// RFC 9725 §4.3: trickle fragments by `PATCH`; `204` on success, `412` on
/// an entity-tag mismatch, `422` for an ICE restart (not supported).
async fn patch(
    g: &Gateway,
    kind: SessionKind,
    id: &str,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    if g.etag(kind, id).is_none() {
        return text(StatusCode::NOT_FOUND, "no such session");
    }
    if !has_content_type(headers, SDPFRAG) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/trickle-ice-sdpfrag",
        );
    }
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    match g.trickle(kind, id, if_match, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(TrickleError::NotFound) => text(StatusCode::NOT_FOUND, "no such session"),
        Err(TrickleError::PreconditionFailed) => {
            text(StatusCode::PRECONDITION_FAILED, "entity tag does not match")
        }
        Err(e @ TrickleError::RestartUnsupported) => {
            text(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// RFC 9725 §4.2: `DELETE` on the session URL ends it (`200`), `404` if unknown.
async fn delete(g: &Gateway, kind: SessionKind, id: &str) -> Response {
    if g.close(kind, id).await {
        StatusCode::OK.into_response()
    } else {
        text(StatusCode::NOT_FOUND, "no such session")
    }
}

async fn whip_post(
    State(g): State<Arc<Gateway>>,
    Client(ip): Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    create(&g, SessionKind::Whip, ip, &headers, &body).await
}

async fn whep_post(
    State(g): State<Arc<Gateway>>,
    Client(ip): Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    create(&g, SessionKind::Whep, ip, &headers, &body).await
}

async fn whip_patch(
    State(g): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    patch(&g, SessionKind::Whip, &id, &headers, &body).await
}

async fn whep_patch(
    State(g): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    patch(&g, SessionKind::Whep, &id, &headers, &body).await
}

async fn whip_delete(State(g): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    delete(&g, SessionKind::Whip, &id).await
}

async fn whep_delete(State(g): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    delete(&g, SessionKind::Whep, &id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_ignores_parameters_and_case() {
        let mut h = HeaderMap::new();
        assert!(!has_content_type(&h, SDP));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/SDP; charset=utf-8"),
        );
        assert!(has_content_type(&h, SDP));
        assert!(!has_content_type(&h, SDPFRAG));
    }
}
