//! Runnable examples of the Fulmar WebRTC stack; see the `[[example]]` entries
//! in this package's `Cargo.toml` and the repository README.
//!
//! The library part holds what several examples share: [`http`], the few
//! lines that put their signaling endpoints on axum.

pub mod http {
    //! The examples' signaling endpoints run on axum. [`serve`] runs a
    //! router with the header every answer carries; [`sdp`] and
    //! [`bad_request`] are the two answers an endpoint gives.

    use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
    use axum::http::{HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::Router;
    use tokio::net::TcpListener;

    /// Serves `router` on `listener` until the process ends. Every answer
    /// carries `Access-Control-Allow-Origin: *`, so a page served from
    /// elsewhere (a test harness, a file) may call the endpoints.
    pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
        let router = router.layer(axum::middleware::map_response(allow_any_origin));
        axum::serve(listener, router).await
    }

    async fn allow_any_origin(mut response: Response) -> Response {
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        response
    }

    /// `200 OK` with an SDP body (`application/sdp`; empty for endpoints
    /// that only acknowledge).
    pub fn sdp(body: String) -> Response {
        ([(CONTENT_TYPE, "application/sdp")], body).into_response()
    }

    /// `400 Bad Request` with the reason as plain text.
    pub fn bad_request(reason: impl std::fmt::Display) -> Response {
        (StatusCode::BAD_REQUEST, reason.to_string()).into_response()
    }
}
