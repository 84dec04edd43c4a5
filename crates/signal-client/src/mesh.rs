//! A mesh of Fulmar peer connections over a [`Client`]: one connection per
//! other peer in the room, negotiated with the W3C "perfect negotiation"
//! pattern (the peer with the smaller id is polite: on an offer collision
//! it rolls its own offer back, the impolite one ignores the incoming
//! offer), with candidates trickled both ways.
//!
//! Who offers: a newcomer offers to every peer already in the room; the
//! others answer. The [`MeshHandler`] adds tracks and data channels: in
//! [`MeshHandler::peer_added`] before our offer, or in
//! [`MeshHandler::offer_applied`] when answering (an echo bot adds its
//! tracks there, reusing the transceivers the offer created).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use fulmar::{Config, PeerConnection, SdpType, SessionDescription, SignalingState};

use crate::client::{Client, ClientError};
use crate::event::{CandidateInit, Event};

/// The application's part in the mesh.
pub trait MeshHandler: Send + Sync + 'static {
    /// A connection to `peer` was made, before any negotiation. A peer we
    /// offer to needs something to negotiate: add a data channel or a
    /// track here.
    fn peer_added(&self, peer: &str, pc: &PeerConnection) -> impl Future<Output = ()> + Send {
        let _ = (peer, pc);
        async {}
    }

    /// `peer`'s offer was applied; the answer is made next.
    fn offer_applied(&self, peer: &str, pc: &PeerConnection) -> impl Future<Output = ()> + Send {
        let _ = (peer, pc);
        async {}
    }

    /// `peer` left; its connection was closed.
    fn peer_removed(&self, peer: &str) -> impl Future<Output = ()> + Send {
        let _ = peer;
        async {}
    }

    /// An event the mesh does not handle itself (broadcasts, presence
    /// updates).
    fn other_event(&self, event: Event) -> impl Future<Output = ()> + Send {
        let _ = event;
        async {}
    }
}

struct Link {
    pc: PeerConnection,
    polite: bool,
    /// An offer of ours is being made (perfect negotiation's `makingOffer`).
    making_offer: bool,
    /// We ignored the peer's last offer (impolite side of a collision), so
    /// its candidates may fail to apply.
    ignore_offer: bool,
}

/// Runs the mesh until the session ends; returns why it ended.
pub async fn run_mesh<H: MeshHandler>(
    client: Arc<Client>,
    config: Config,
    handler: Arc<H>,
) -> Result<(), ClientError> {
    let mut links: HashMap<String, Link> = HashMap::new();
    for peer in client.initial_peers().to_vec() {
        let link = add_link(&client, &config, &handler, &peer.id).await?;
        let link = links.entry(peer.id.clone()).or_insert(link);
        make_offer(&client, &peer.id, link).await?;
    }
    while let Some(event) = client.next_event().await {
        match event {
            Event::Offer { from, sdp } => {
                let link = match links.remove(&from) {
                    Some(l) => l,
                    None => add_link(&client, &config, &handler, &from).await?,
                };
                let link = links.entry(from.clone()).or_insert(link);
                on_description(&client, &handler, &from, link, SdpType::Offer, &sdp).await?;
            }
            Event::Answer { from, sdp } => {
                if let Some(link) = links.get_mut(&from) {
                    on_description(&client, &handler, &from, link, SdpType::Answer, &sdp).await?;
                }
            }
            Event::Candidate { from, candidate } => {
                if let Some(link) = links.get(&from) {
                    let text = candidate.as_ref().map_or("", |c| c.candidate.as_str());
                    let r = link.pc.add_ice_candidate(text).await;
                    if let Err(e) = r {
                        if !link.ignore_offer {
                            tracing::debug!("candidate from {from} refused: {e}");
                        }
                    }
                }
            }
            Event::PeerLeft { id } => {
                if let Some(link) = links.remove(&id) {
                    link.pc.close().await;
                    handler.peer_removed(&id).await;
                }
            }
            Event::Kicked { .. } => break,
            other => handler.other_event(other).await,
        }
    }
    for (id, link) in links.drain() {
        link.pc.close().await;
        handler.peer_removed(&id).await;
    }
    Ok(())
}

async fn add_link<H: MeshHandler>(
    client: &Arc<Client>,
    config: &Config,
    handler: &Arc<H>,
    peer: &str,
) -> Result<Link, ClientError> {
    let pc = PeerConnection::new(config.clone())
        .await
        .map_err(|e| ClientError::Protocol(format!("peer connection: {e}")))?;
    trickle(client.clone(), peer.to_owned(), pc.clone());
    handler.peer_added(peer, &pc).await;
    Ok(Link {
        pc,
        // Ids are unique in a room: exactly one side of a pair is polite.
        polite: client.id() < peer,
        making_offer: false,
        ignore_offer: false,
    })
}

/// Sends our local candidates to `peer` as they are gathered, then
/// end-of-candidates.
fn trickle(client: Arc<Client>, peer: String, pc: PeerConnection) {
    tokio::spawn(async move {
        while let Some(candidate) = pc.next_local_candidate().await {
            let init = CandidateInit {
                candidate,
                sdp_mid: None,
                sdp_m_line_index: Some(0),
                username_fragment: None,
            };
            if client.candidate(&peer, Some(&init)).await.is_err() {
                return;
            }
        }
        let _ = client.candidate(&peer, None).await;
    });
}

async fn make_offer(client: &Client, peer: &str, link: &mut Link) -> Result<(), ClientError> {
    link.making_offer = true;
    let offer = link.pc.create_offer().await;
    link.making_offer = false;
    let offer = offer.map_err(|e| ClientError::Protocol(format!("offer: {e}")))?;
    client.offer(peer, &offer.sdp.to_string()).await
}

/// Perfect negotiation's handling of a remote description.
async fn on_description<H: MeshHandler>(
    client: &Client,
    handler: &Arc<H>,
    peer: &str,
    link: &mut Link,
    kind: SdpType,
    sdp: &str,
) -> Result<(), ClientError> {
    let bad = |e: fulmar::Error| ClientError::Protocol(format!("description from {peer}: {e}"));
    let desc = match kind {
        SdpType::Offer => SessionDescription::offer(sdp),
        SdpType::Answer => SessionDescription::answer(sdp),
    }
    .map_err(|e| bad(e.into()))?;
    let collision = kind == SdpType::Offer
        && (link.making_offer || link.pc.signaling_state() != SignalingState::Stable);
    link.ignore_offer = !link.polite && collision;
    if link.ignore_offer {
        return Ok(());
    }
    if collision {
        link.pc.rollback().await.map_err(bad)?;
    }
    link.pc.set_remote_description(desc).await.map_err(bad)?;
    if kind == SdpType::Offer {
        handler.offer_applied(peer, &link.pc).await;
        let answer = link.pc.create_answer().await.map_err(bad)?;
        client.answer(peer, &answer.sdp.to_string()).await?;
    }
    Ok(())
}
