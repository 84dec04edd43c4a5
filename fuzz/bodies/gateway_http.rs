// Body of the `gateway_http` fuzz target (shared with fulmar-gateway's
// tests/fuzz_corpus.rs): fulmar-gateway's HTTP entry points driven
// in-process through its axum `Router` with `tower::ServiceExt::oneshot`, on
// one tokio runtime with one worker thread and one gateway (sessions bind
// 127.0.0.1 only) created once.
//
// Input: [selector][u16 BE length][first body][second body]. The selector
// picks by % 8 the sequence:
//   0 POST /offer (first body)
//   1 POST /offer (first), then POST /offer/{id} (second): a reoffer
//   2 POST /whip (first), then PATCH /whip/{id} (second)
//   3 POST /whep (first), then PATCH /whep/{id} (second)
//   4 POST /offer (first), POST /offer/{id}/track, then
//     POST /offer/{id}/answer (second)
//   5 POST /whip (first), PATCH twice (second, then first)
//   6 requests on sessions that do not exist, the path from the second body
//   7 POST /whep (first), POST /whip (second), then a PATCH on each
// bits 3-4 the Content-Type of the offers (application/sdp, none, an sdpfrag,
// "Application/SDP; charset=utf-8"), bit 5 the PATCH's If-Match (the
// session's entity tag, or a wrong one), bit 6 no If-Match at all.
// Every session opened is closed (DELETE, or the gateway's close for echo
// sessions, which have no DELETE route) before `run` returns, and none may
// be left. No request may panic; a 2xx answer to an offer parses with
// fulmar-sdp and has one media section per media section of the offer.

fn run(data: &[u8]) {
    use axum::body::Body;
    use axum::http::{header, Method, Request, StatusCode};
    use fulmar_gateway::{Gateway, GatewayConfig, SessionKind};
    use std::sync::{Arc, OnceLock};
    use tower::ServiceExt;

    struct Env {
        rt: tokio::runtime::Runtime,
        gateway: Arc<Gateway>,
        router: axum::Router,
    }
    static ENV: OnceLock<Env> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        // One worker thread, so that the tasks of closed sessions run to
        // their end between inputs; on a current-thread runtime they only
        // ran inside block_on and their sockets piled up (one or two per
        // session, until the fuzzer ran out of file descriptors).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        // GatewayConfig's peer binds 127.0.0.1 by default; WHEP plays the
        // sample clips.
        let config = GatewayConfig::default()
            .with_sample_media()
            .unwrap_or_default();
        let gateway = Arc::new(Gateway::new(config));
        let router = fulmar_gateway::router(gateway.clone());
        Env {
            rt,
            gateway,
            router,
        }
    });

    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (first, second) = match rest {
        [hi, lo, tail @ ..] => {
            let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
            tail.split_at(n)
        }
        _ => (rest, &[][..]),
    };
    let content_type = [
        Some("application/sdp"),
        None,
        Some("application/trickle-ice-sdpfrag"),
        Some("Application/SDP; charset=utf-8"),
    ][usize::from((sel >> 3) & 3)];

    struct Reply {
        status: StatusCode,
        location: Option<String>,
        etag: Option<String>,
        body: String,
    }
    let call =
        |method: Method, uri: &str, ctype: Option<&str>, if_match: Option<&str>, body: &[u8]| {
            let router = env.router.clone();
            let mut req = Request::builder().method(method).uri(uri);
            if let Some(c) = ctype {
                req = req.header(header::CONTENT_TYPE, c);
            }
            if let Some(m) = if_match {
                req = req.header(header::IF_MATCH, m);
            }
            let req = req.body(Body::from(body.to_vec()));
            async move {
                let req = req.ok()?;
                let res = match router.oneshot(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                };
                let status = res.status();
                let text = |h: header::HeaderName| {
                    res.headers()
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (location, etag) = (text(header::LOCATION), text(header::ETAG));
                let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.ok()?;
                let body = String::from_utf8_lossy(&bytes).into_owned();
                Some(Reply {
                    status,
                    location,
                    etag,
                    body,
                })
            }
        };
    // The invariant of every answered offer.
    let check_answer = |offer: &[u8], reply: &Reply| {
        if !reply.status.is_success() || reply.status == StatusCode::NO_CONTENT {
            return;
        }
        let answer = match fulmar_sdp::SessionDescription::parse(&reply.body) {
            Ok(a) => a,
            Err(e) => panic!(
                "a {} answer does not parse: {e}\n{}",
                reply.status, reply.body
            ),
        };
        if let Ok(offer) = fulmar_sdp::SessionDescription::parse_bytes(offer) {
            assert_eq!(answer.media().len(), offer.media().len(), "{}", reply.body);
        }
    };
    let if_match = |etag: &Option<String>| -> Option<String> {
        if sel & 0x40 != 0 {
            None
        } else if sel & 0x20 != 0 {
            Some("\"not-the-etag\"".to_owned())
        } else {
            etag.clone()
        }
    };
    let sdpfrag = Some("application/trickle-ice-sdpfrag");

    env.rt.block_on(async {
        // Sessions opened, as (kind, id), closed at the end.
        let mut opened: Vec<(SessionKind, String)> = Vec::new();
        let mut track =
            |reply: &Option<Reply>, kind: SessionKind| -> Option<(String, Option<String>)> {
                let r = reply.as_ref()?;
                if !r.status.is_success() {
                    return None;
                }
                let location = r.location.clone()?;
                let id = location.rsplit('/').next()?.to_owned();
                opened.push((kind, id));
                Some((location, r.etag.clone()))
            };
        match sel % 8 {
            0 | 1 | 4 => {
                let r = call(Method::POST, "/offer", content_type, None, first).await;
                if let Some(r) = &r {
                    check_answer(first, r);
                }
                if let Some((location, _)) = track(&r, SessionKind::Echo) {
                    if sel % 8 == 1 {
                        let r = call(Method::POST, &location, content_type, None, second).await;
                        if let Some(r) = &r {
                            check_answer(second, r);
                        }
                    } else if sel % 8 == 4 {
                        let uri = format!("{location}/track");
                        let _ = call(Method::POST, &uri, None, None, b"").await;
                        let uri = format!("{location}/answer");
                        let _ = call(Method::POST, &uri, content_type, None, second).await;
                    }
                }
            }
            2 | 3 | 5 => {
                let (uri, kind) = if sel % 8 == 3 {
                    ("/whep", SessionKind::Whep)
                } else {
                    ("/whip", SessionKind::Whip)
                };
                let r = call(Method::POST, uri, content_type, None, first).await;
                if let Some(r) = &r {
                    check_answer(first, r);
                }
                if let Some((location, etag)) = track(&r, kind) {
                    let m = if_match(&etag);
                    let _ = call(Method::PATCH, &location, sdpfrag, m.as_deref(), second).await;
                    if sel % 8 == 5 {
                        let _ = call(Method::PATCH, &location, sdpfrag, m.as_deref(), first).await;
                    }
                }
            }
            6 => {
                let id: String = String::from_utf8_lossy(second)
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "-_.~%".contains(*c))
                    .take(64)
                    .collect();
                for base in ["/offer", "/whip", "/whep"] {
                    let uri = format!("{base}/{id}");
                    for method in [Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS] {
                        if let Some(r) = call(method, &uri, content_type, None, first).await {
                            assert!(!r.status.is_success() || r.status == StatusCode::NO_CONTENT);
                        }
                    }
                }
            }
            _ => {
                let r = call(Method::POST, "/whep", content_type, None, first).await;
                if let Some(r) = &r {
                    check_answer(first, r);
                }
                let whep = track(&r, SessionKind::Whep);
                let r = call(Method::POST, "/whip", content_type, None, second).await;
                if let Some(r) = &r {
                    check_answer(second, r);
                }
                let whip = track(&r, SessionKind::Whip);
                for (location, etag) in [whep, whip].into_iter().flatten() {
                    let m = if_match(&etag);
                    let _ = call(Method::PATCH, &location, sdpfrag, m.as_deref(), first).await;
                }
            }
        }
        for (kind, id) in opened {
            let closed = match kind {
                SessionKind::Echo => env.gateway.close(kind, &id).await,
                _ => {
                    let uri = format!("/{}/{id}", kind.as_str());
                    let r = call(Method::DELETE, &uri, None, None, b"").await;
                    r.is_some_and(|r| r.status == StatusCode::OK)
                }
            };
            assert!(closed, "{} session {id} could not be closed", kind.as_str());
        }
        assert_eq!(env.gateway.session_count(), 0, "sessions left behind");
    });
}
