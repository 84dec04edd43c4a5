//! The Fulmar side of the Chromium interop suites (interop/chromium,
//! interop/turn-chromium): named sessions over plain HTTP on 127.0.0.1 (the
//! first argument as `ADDR:PORT`, default 127.0.0.1:8082), so a page can
//! renegotiate (ICE restart) and ask Fulmar what it saw.
//!
//! - `POST /<s>/offer`: the browser's offer; answers with every candidate
//!   (a new session, or a re-offer on an existing one). Audio and video
//!   the browser sends are echoed back as RTP on the same transceivers.
//! - `POST /<s>/fulmar-offer`: Fulmar offers, with a channel "fulmar".
//! - `POST /<s>/restart`: Fulmar restarts ICE and returns its new offer.
//! - `POST /<s>/answer`, `POST /<s>/candidate`: the browser's answer and
//!   trickled candidates (an empty body is end-of-candidates).
//! - `GET /<s>/candidates`: Fulmar's own candidates as it trickles them
//!   (`next_local_candidate`), one a line, then `end` once gathering is done.
//! - `GET /<s>/stats`: what Fulmar saw, as JSON; `POST /<s>/close`: close.
//!
//! Sessions whose name starts with `relay` use only relay candidates,
//! allocated on the TURN server in `$FULMAR_TURN` (`ADDR USER PASSWORD`);
//! their candidates trickle (`GET /<s>/candidates`).
//!
//! Every message on every channel is echoed, except the texts
//! `close channel`, `close connection` and `open <label>` (Fulmar opens a
//! channel, greets on it with `hello <label>` and echoes on it).
//!
//! ```sh
//! cargo run --example interop-chromium -- 127.0.0.1:8082
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use fulmar::{
    rustls, Config, DataChannel, LocalTrack, Message, PeerConnection, ReceiveMode,
    SessionDescription, TurnServer,
};
use fulmar_examples::http;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// Sessions by name, bounded.
type Sessions = Arc<Mutex<HashMap<String, Session>>>;
const MAX_SESSIONS: usize = 64;

/// One peer connection and the remote description it last applied.
struct Session {
    pc: PeerConnection,
    remote_sdp: String,
    offers_answered: u32,
    trickled: Arc<std::sync::Mutex<Trickled>>,
}

/// Local candidates trickled so far, and whether gathering completed.
#[derive(Default)]
struct Trickled {
    candidates: Vec<String>,
    complete: bool,
}

type Reply = Result<(&'static str, String), String>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8082".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/{session}/{verb}", any(serve))
        .fallback(|| async { http::bad_request("bad session name") })
        .with_state(Sessions::default());
    http::serve(listener, app).await?;
    Ok(())
}

/// `/<session>/<verb>`, whatever the method.
async fn serve(
    State(sessions): State<Sessions>,
    Path((session, verb)): Path<(String, String)>,
    body: String,
) -> Response {
    let valid = !session.is_empty()
        && session.len() <= 32
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let result = if valid {
        route(&sessions, &session, &verb, &body).await
    } else {
        Err("bad session name".into())
    };
    match result {
        Ok((kind, r)) => ([(axum::http::header::CONTENT_TYPE, kind)], r).into_response(),
        Err(e) => http::bad_request(e),
    }
}

async fn route(sessions: &Sessions, name: &str, verb: &str, body: &str) -> Reply {
    let sdp = "application/sdp";
    let mut all = sessions.lock().await;
    if !all.contains_key(name) && all.len() >= MAX_SESSIONS {
        return Err("too many sessions".into());
    }
    let err = |e: fulmar::Error| e.to_string();
    match (verb, all.get_mut(name)) {
        ("offer", Some(s)) => {
            // A re-offer (e.g. an ICE restart) on the running connection.
            let offer = SessionDescription::offer(body).map_err(|e| e.to_string())?;
            s.pc.set_remote_description(offer).await.map_err(err)?;
            let answer = s.pc.create_answer().await.map_err(err)?;
            s.remote_sdp = body.to_owned();
            s.offers_answered += 1;
            Ok((sdp, answer.sdp.to_string()))
        }
        ("offer", None) => {
            let pc = PeerConnection::new(config_for(name)?).await.map_err(err)?;
            let offer = SessionDescription::offer(body).map_err(|e| e.to_string())?;
            pc.set_remote_description(offer).await.map_err(err)?;
            // The echo pattern: a track of ours on each offered transceiver.
            let mut tracks = Vec::new();
            for (i, t) in pc.transceivers().into_iter().enumerate() {
                tracks.push(pc.add_track(t.kind, "echo", &format!("echo{i}")).await);
            }
            let answer = pc.create_answer().await.map_err(err)?;
            accept_channels(&pc);
            echo_media(&pc, tracks);
            all.insert(name.to_owned(), Session::new(pc, body, 1));
            Ok((sdp, answer.sdp.to_string()))
        }
        ("fulmar-offer", None) => {
            let pc = PeerConnection::new(config_for(name)?).await.map_err(err)?;
            let greeter = pc.create_data_channel("fulmar").await.map_err(err)?;
            let offer = pc.create_offer().await.map_err(err)?;
            tokio::spawn(echo(greeter, pc.clone()));
            accept_channels(&pc);
            all.insert(name.to_owned(), Session::new(pc, "", 0));
            Ok((sdp, offer.sdp.to_string()))
        }
        ("restart", Some(s)) => {
            s.pc.restart_ice().await;
            let offer = s.pc.create_offer().await.map_err(err)?;
            Ok((sdp, offer.sdp.to_string()))
        }
        ("answer", Some(s)) => {
            let answer = SessionDescription::answer(body).map_err(|e| e.to_string())?;
            s.pc.set_remote_description(answer).await.map_err(err)?;
            s.remote_sdp = body.to_owned();
            Ok((sdp, String::new()))
        }
        ("candidate", Some(s)) => {
            s.pc.add_ice_candidate(body.trim()).await.map_err(err)?;
            Ok((sdp, String::new()))
        }
        ("candidates", Some(s)) => {
            let t = s.trickled.lock().unwrap_or_else(|e| e.into_inner());
            let mut text: String = t.candidates.iter().map(|c| format!("{c}\n")).collect();
            if t.complete {
                text.push_str("end\n");
            }
            Ok(("text/plain", text))
        }
        ("stats", Some(s)) => Ok(("application/json", s.stats_json())),
        ("close", Some(s)) => {
            s.pc.close().await;
            Ok((sdp, String::new()))
        }
        (_, None) => Err(format!("no session {name}")),
        _ => Err(format!("unknown verb {verb}")),
    }
}

/// Media arrives as RTP (echoed as is); `relay*` sessions are relay-only,
/// allocating over UDP on `FULMAR_TURN` (`ADDR USER PASSWORD`), or, for
/// `relay-tcp*` and `relay-tls*` sessions, on the `turn:`/`turns:` URL in
/// `FULMAR_TURN_TCP` / `FULMAR_TURN_TLS` with the same credentials (TLS
/// trusting the PEM certificates in `FULMAR_TURN_CA`).
fn config_for(session: &str) -> Result<Config, String> {
    let config = Config::default().with_receive_mode(ReceiveMode::Rtp);
    if !session.starts_with("relay") {
        return Ok(config);
    }
    let turn = std::env::var("FULMAR_TURN").map_err(|_| "FULMAR_TURN is not set")?;
    let mut it = turn.split_whitespace();
    let (Some(addr), Some(user), Some(pass)) = (it.next(), it.next(), it.next()) else {
        return Err("FULMAR_TURN must be `ADDR USER PASSWORD`".into());
    };
    let url_from = |var: &str| std::env::var(var).map_err(|_| format!("{var} is not set"));
    let (server, config) = if session.starts_with("relay-tcp") {
        let url = url_from("FULMAR_TURN_TCP")?;
        let server = fulmar::turn_server_from_url(&url, user, pass).map_err(|e| e.to_string())?;
        (server, config)
    } else if session.starts_with("relay-tls") {
        let url = url_from("FULMAR_TURN_TLS")?;
        let server = fulmar::turn_server_from_url(&url, user, pass).map_err(|e| e.to_string())?;
        (
            server,
            config.with_turn_tls(tls_trusting(&url_from("FULMAR_TURN_CA")?)?),
        )
    } else {
        let addr = addr
            .parse()
            .map_err(|e| format!("FULMAR_TURN address: {e}"))?;
        (TurnServer::new(addr, user, pass), config)
    };
    Ok(config.with_turn_server(server).with_relay_only())
}

/// A TLS client configuration trusting the certificates in a PEM file.
fn tls_trusting(pem_path: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pem_path).map_err(|e| format!("{pem_path}: {e}"))? {
        let cert = cert.map_err(|e| format!("{pem_path}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{pem_path}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Session {
    fn new(pc: PeerConnection, remote_sdp: &str, offers_answered: u32) -> Self {
        let trickled = Arc::new(std::sync::Mutex::new(Trickled::default()));
        let (t, p) = (trickled.clone(), pc.clone());
        tokio::spawn(async move {
            while let Some(c) = p.next_local_candidate().await {
                t.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .candidates
                    .push(c);
            }
            t.lock().unwrap_or_else(|e| e.into_inner()).complete = true;
        });
        Session {
            pc,
            remote_sdp: remote_sdp.to_owned(),
            offers_answered,
            trickled,
        }
    }

    /// What Fulmar saw, for the page's checks.
    fn stats_json(&self) -> String {
        let st = self.pc.stats();
        let local = self.pc.local_description().map(|d| d.sdp.to_string());
        let pair = st.selected_pair.map_or("null".to_owned(), |(l, r)| {
            format!("{{\"local\":\"{l}\",\"remote\":\"{r}\"}}")
        });
        let media: Vec<String> = st
            .media
            .iter()
            .map(|m| {
                format!(
                    "{{\"mid\":\"{}\",\"packets_received\":{},\"packets_sent\":{},\"pli_received\":{}}}",
                    m.mid.as_deref().unwrap_or("").replace(['"', '\\'], ""),
                    m.packets_received,
                    m.packets_sent,
                    m.pli_received,
                )
            })
            .collect();
        format!(
            "{{\"state\":\"{:?}\",\"selected_pair\":{pair},\"local_ufrag\":\"{}\",\"remote_ufrag\":\"{}\",\
             \"offers_answered\":{},\"messages_sent\":{},\"messages_received\":{},\
             \"channels_opened\":{},\"channels_closed\":{},\"bytes_received\":{},\
             \"rtp_packets_received\":{},\"srtp_profile\":\"{}\",\"media\":[{}]}}",
            self.pc.state(),
            ufrag(local.as_deref().unwrap_or("")),
            ufrag(&self.remote_sdp),
            self.offers_answered,
            st.messages_sent,
            st.messages_received,
            st.data_channels_opened,
            st.data_channels_closed,
            st.bytes_received,
            st.rtp_packets_received,
            st.srtp_profile.map(|p| format!("{p:?}")).unwrap_or_default(),
            media.join(","),
        )
    }
}

/// The first `a=ice-ufrag` of a description (JSON-safe characters only).
fn ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+/".contains(*c))
        .collect()
}

/// Echoes each remote track's RTP on our track of the same transceiver and
/// passes the browser's keyframe requests on to the browser's sender.
fn echo_media(pc: &PeerConnection, tracks: Vec<LocalTrack>) {
    let pc = pc.clone();
    tokio::spawn(async move {
        let mut tracks: Vec<Option<LocalTrack>> = tracks.into_iter().map(Some).collect();
        while let Some(remote) = pc.accept_track().await {
            let Some(local) = tracks
                .iter_mut()
                .find(|t| {
                    t.as_ref()
                        .is_some_and(|t| t.transceiver() == remote.transceiver())
                })
                .and_then(Option::take)
            else {
                continue;
            };
            remote.forward_to(Arc::new(local));
        }
    });
}

fn accept_channels(pc: &PeerConnection) {
    let pc = pc.clone();
    tokio::spawn(async move {
        while let Some(dc) = pc.accept_data_channel().await {
            tokio::spawn(echo(dc, pc.clone()));
        }
    });
}

/// Echoes on `dc`, obeying the commands (boxed: it spawns itself).
fn echo(dc: DataChannel, pc: PeerConnection) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(echo_loop(dc, pc))
}

async fn echo_loop(dc: DataChannel, pc: PeerConnection) {
    while let Some(msg) = dc.recv().await {
        match msg {
            Message::Text(t) if t == "close channel" => {
                let _ = dc.close().await;
            }
            Message::Text(t) if t == "close connection" => pc.close().await,
            Message::Text(t) if t.starts_with("open ") => {
                let label = t.trim_start_matches("open ");
                match pc.create_data_channel(label).await {
                    Ok(opened) => {
                        let _ = opened.send_text(&format!("hello {label}")).await;
                        tokio::spawn(echo(opened, pc.clone()));
                    }
                    Err(e) => {
                        let _ = dc.send_text(&format!("open failed: {e}")).await;
                    }
                }
            }
            msg => {
                if dc.send_msg(msg).await.is_err() {
                    break;
                }
            }
        }
    }
}
