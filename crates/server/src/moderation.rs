//! The staff's actions on a report, done by the running server (`Change::Moderate`, which
//! `Server::apply` hands here; the command line cannot: they reach sessions and rooms).
//!
//! - **Room messages**: XEP-0425 moderated retraction (`features::muc::moderate`):
//!   tombstones in the room's archive, the retraction to its occupants, `by` the room
//!   itself (the staff's names are not shown to pupils).
//! - **One-to-one messages**: in both accounts' archives the message's row keeps its
//!   place with a tombstone (no body) and the offline copies waiting are deleted, with
//!   the audit row (`message.moderated`), in one transaction; each party's available
//!   resources get an XEP-0424 retraction from the server's domain
//!   (`<retract id='ORIGIN-ID'><moderated by='DOMAIN'/></retract>`: as XEP-0424 names a
//!   one-to-one message, by the id its sender gave it — its origin-id, else its id — which
//!   both parties' clients know it by), so that clients hide it.
//! - **Block the pair**: the reported person goes into the reporter's blocklist
//!   (`features::blocking::block_for`): the gate then keeps them apart both ways.
//! - **Remove from a room** (`features::muc::admin::remove`) and **close a room**
//!   (`features::muc::owner::destroy`, with the school's notice).
//!
//! Every action writes its audit row (actor, structure, target, the report's id); none
//! copies a message's text there.

use causerie_proto::errors::StanzaError;
use causerie_proto::{Element, ns, xml};
use causerie_store::{AdminStore, ModerationStore, NewAudit};
use serde_json::json;
use tracing::info;

use crate::changes::{Actor, Applied, ChangeError, Moderation};
use crate::features::muc::moderate::{self, Moderator};
use crate::features::{blocking, muc};
use crate::server::Server;
use crate::services::Pass;

/// The reason a room closed by the school gives its occupants.
const CLOSED_FR: &str = "Conversation fermée par l'établissement.";
const CLOSED_EN: &str = "Conversation closed by the school.";

fn refused(fr: impl Into<String>, en: impl Into<String>) -> ChangeError {
    ChangeError::Refused {
        fr: fr.into(),
        en: en.into(),
    }
}

/// A stanza error of a feature, as a refusal with its texts.
fn from_stanza(e: StanzaError) -> ChangeError {
    // A text addressed to its reader has a « vous » form for the staff (adults).
    let text = |langs: &[&str]| {
        langs
            .iter()
            .find_map(|want| e.texts.iter().find(|(l, _)| l == want))
            .or(e.texts.first())
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| format!("{:?}", e.condition))
    };
    refused(text(&["fr", "fr-x-vous"]), text(&["en"]))
}

fn no_room() -> ChangeError {
    refused(
        "Cette conversation n'existe plus.",
        "This conversation no longer exists.",
    )
}

/// What a request to do a room's moderation on its node is called
/// (`services::remote::What::Request`).
pub(crate) const MODERATE: &str = "moderate";

/// A moderation of a room, sent to the node holding it.
#[derive(serde::Serialize, serde::Deserialize)]
struct RoomModeration {
    admin: String,
    structure: String,
    report: Option<i64>,
    action: Moderation,
}

impl Server {
    /// Does a moderation (see the module docs) for `actor`, in `structure`.
    pub(crate) async fn moderate(
        &self,
        actor: &Actor,
        structure: &str,
        report: Option<i64>,
        action: Moderation,
    ) -> Result<Applied, ChangeError> {
        if !matches!(actor, Actor::Admin(_)) {
            return Err(ChangeError::NotAllowed("this door"));
        }
        if let Some(done) = self
            .moderate_where_held(actor, structure, report, &action)
            .await
        {
            return done;
        }
        self.moderate_here(actor, structure, report, action).await
    }

    /// Does a moderation on this node (the room's, when it is about a room).
    async fn moderate_here(
        &self,
        actor: &Actor,
        structure: &str,
        report: Option<i64>,
        action: Moderation,
    ) -> Result<Applied, ChangeError> {
        let audit = |action: &str, target: String, after: serde_json::Value| NewAudit {
            actor: actor.name().to_string(),
            action: action.to_string(),
            structure: Some(structure.to_string()),
            target: Some(target),
            before: None,
            after: Some(after),
        };
        let moderated = match action {
            Moderation::RoomMessages { room, stanza_ids } => {
                let mut lock = self.rooms.lock(&room).await;
                let live = lock.load(&self.store).await.map_err(ChangeError::Store)?;
                let moderator = Moderator {
                    actor: actor.name().to_string(),
                    structure: Some(structure.to_string()),
                    by: muc::room_jid(self, &room),
                };
                let live = live.map(|l| &*l);
                let mut n = 0;
                for id in &stanza_ids {
                    if moderate::retract(self, &room, live, id, &moderator, None)
                        .await
                        .map_err(from_stanza)?
                    {
                        n += 1;
                    }
                }
                n
            }
            Moderation::DirectMessages {
                user,
                with,
                stanza_ids,
            } => {
                let mut n = 0;
                for id in &stanza_ids {
                    if self.retract_direct(&user, &with, id, &audit).await? {
                        n += 1;
                    }
                }
                n
            }
            Moderation::BlockPair { user, blocked } => {
                let added = blocking::block_for(self, &user, &blocked)
                    .await
                    .map_err(from_stanza)?;
                self.store
                    .audit(&audit(
                        "moderation.block_pair",
                        user.clone(),
                        json!({"blocked": blocked, "report": report}),
                    ))
                    .await
                    .map_err(ChangeError::Store)?;
                info!(actor = %actor.name(), "moderation: pair blocked");
                usize::from(added)
            }
            Moderation::RemoveFromRoom { room, user } => {
                let mut lock = self.rooms.lock(&room).await;
                if lock
                    .load(&self.store)
                    .await
                    .map_err(ChangeError::Store)?
                    .is_none()
                {
                    return Err(no_room());
                }
                muc::admin::remove(self, &mut lock, actor.name(), &user, 321, None)
                    .await
                    .map_err(from_stanza)?;
                self.store
                    .audit(&audit(
                        "moderation.remove_from_room",
                        room.clone(),
                        json!({"user": user, "report": report}),
                    ))
                    .await
                    .map_err(ChangeError::Store)?;
                1
            }
            Moderation::CloseRoom { room } => {
                let mut lock = self.rooms.lock(&room).await;
                if lock
                    .load(&self.store)
                    .await
                    .map_err(ChangeError::Store)?
                    .is_none()
                {
                    return Err(no_room());
                }
                let reason = self.config.language.pick(CLOSED_FR, CLOSED_EN);
                muc::owner::destroy(self, &mut lock, Some(reason))
                    .await
                    .map_err(from_stanza)?;
                self.store
                    .audit(&audit(
                        "moderation.close_room",
                        room.clone(),
                        json!({"report": report}),
                    ))
                    .await
                    .map_err(ChangeError::Store)?;
                1
            }
        };
        Ok(Applied {
            changed: moderated > 0,
            moderated,
            ..Applied::default()
        })
    }

    /// With several nodes, a moderation of a room another node holds is done there (its
    /// occupants are there), with its audit row: the answer, or `None` to do it here.
    async fn moderate_where_held(
        &self,
        actor: &Actor,
        structure: &str,
        report: Option<i64>,
        action: &Moderation,
    ) -> Option<Result<Applied, ChangeError>> {
        let room = match action {
            Moderation::RoomMessages { room, .. }
            | Moderation::RemoveFromRoom { room, .. }
            | Moderation::CloseRoom { room } => room,
            _ => return None,
        };
        let remote = self.sessions.remote()?;
        let Actor::Admin(admin) = actor else {
            return None;
        };
        let owner = remote.room_owner(room).await;
        if owner == remote.node {
            return None;
        }
        let body = serde_json::to_string(&RoomModeration {
            admin: admin.clone(),
            structure: structure.to_string(),
            report,
            action: action.clone(),
        })
        .ok()?;
        let answer = remote
            .request(&owner, MODERATE, body, std::time::Duration::from_secs(15))
            .await
            .and_then(|a| serde_json::from_str::<Result<usize, (String, String)>>(&a).ok());
        Some(match answer {
            Some(Ok(moderated)) => Ok(Applied {
                changed: moderated > 0,
                moderated,
                ..Applied::default()
            }),
            Some(Err((fr, en))) => Err(ChangeError::Refused { fr, en }),
            None => Err(refused(
                "Le serveur qui tient cette conversation ne répond pas : il faut réessayer.",
                "The node holding this conversation does not answer: try again.",
            )),
        })
    }

    /// Does a moderation of a room this node holds, asked by another node
    /// ([`Self::moderate_where_held`]): the answer to send back. Done here even if this
    /// node's view of the room's holder has moved meanwhile: asked again elsewhere, two
    /// nodes with different views would pass the request back and forth.
    pub(crate) async fn moderate_for_node(&self, body: &str) -> String {
        let result: Result<usize, (String, String)> =
            match serde_json::from_str::<RoomModeration>(body) {
                Err(_) => Err(("Demande illisible.".into(), "Unreadable request.".into())),
                Ok(m) => self
                    .moderate_here(&Actor::Admin(m.admin), &m.structure, m.report, m.action)
                    .await
                    .map(|a| a.moderated)
                    .map_err(|e| match e {
                        ChangeError::Refused { fr, en } => (fr, en),
                        other => (other.to_string(), other.to_string()),
                    }),
            };
        serde_json::to_string(&result).unwrap_or_default()
    }

    /// Deletes the one-to-one message `stanza_id` between `user` and `with` from both
    /// archives (see the module docs). False when it already was.
    async fn retract_direct(
        &self,
        user: &str,
        with: &str,
        stanza_id: &str,
        audit: &impl Fn(&str, String, serde_json::Value) -> NewAudit,
    ) -> Result<bool, ChangeError> {
        // Delivered messages are in the archives before they are looked for.
        self.archive.flush().await;
        let user_jid = self.bare_jid(user);
        let mut owners = vec![user.to_string()];
        let other = crate::stanza::local_user(&self.domain, with);
        if let Some(o) = &other {
            owners.push(o.clone());
        }
        let rows = self
            .store
            .account_archived(&owners, stanza_id)
            .await
            .map_err(ChangeError::Store)?;
        // Only the conversation between these two: never another one's message.
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| {
                (r.owner == user && r.with == with)
                    || (Some(&r.owner) == other.as_ref() && r.with == user_jid)
            })
            .collect();
        if rows.is_empty() {
            return Err(refused(
                "Ce message n'est pas dans leur conversation.",
                "This message is not in their conversation.",
            ));
        }
        let now = muc::now_ms();
        let mut tombstones = Vec::new();
        // XEP-0424: a one-to-one retraction names the message by the id its sender gave
        // it (origin-id, else its id), which both parties' clients know it by.
        let mut retract_id = None;
        for r in &rows {
            let Ok(original) = r.stanza.parse::<Element>() else {
                continue;
            };
            retract_id = retract_id.or_else(|| {
                original
                    .get_child("origin-id", ns::SID)
                    .and_then(|o| o.attr("id"))
                    .or(original.attr("id"))
                    .map(str::to_string)
            });
            if moderate::is_tombstone(&original) {
                continue;
            }
            let tomb = moderate::tombstone(&original, &self.domain, now, None);
            tombstones.push((r.owner.clone(), xml::to_string(&tomb)));
        }
        if tombstones.is_empty() {
            return Ok(false);
        }
        self.store
            .retract_account_message_audited(
                stanza_id,
                &tombstones,
                &audit(
                    "message.moderated",
                    format!("{user_jid} {with}"),
                    json!({"stanza_id": stanza_id, "retracted": true}),
                ),
            )
            .await
            .map_err(ChangeError::Store)?;
        for (owner, _) in &tombstones {
            let mut m = xml::elem(
                "message",
                ns::CLIENT,
                &[
                    ("from", &self.domain),
                    ("to", &self.bare_jid(owner)),
                    ("type", "chat"),
                    ("id", &uuid::Uuid::new_v4().to_string()),
                ],
            );
            let id = retract_id.as_deref().unwrap_or(stanza_id);
            m.append_child(moderate::retract_element(id, &self.domain, None));
            // The server tells an account what it did to the account's own archive.
            self.sessions
                .deliver_available(&Pass::server_notice(owner), &m, false);
        }
        info!("moderation: one-to-one message deleted from both archives");
        Ok(true)
    }
}
