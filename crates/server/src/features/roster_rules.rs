//! Contacts the school's rules end (issue 16, « L'année scolaire »): when a change of
//! people's directory records (a pupil moved to another class at the new school year,
//! into another school, out of a group; `enforce::moved_users`) means two directory users
//! who could reach each other no longer can, in either direction, their contact ends on
//! both sides: each one's roster
//! item and any pending request go, with a roster push (`subscription='remove'`) to every
//! resource that has a roster, as when one of them deletes the other (the seed: « la
//! suppression se fait des deux côtés »). A contact the rules still allow one way stays,
//! and so do the contacts of an account that may not chat for another reason (locked,
//! left the directory, chat off for his structure): those are not the rules' doing. An
//! edit of a structure's rules by its administrators ends no contact either: the gate
//! refuses what they forbid while they forbid it, and an edit undone restores everything.
//!
//! Runs after [`super::presence::rules_changed`] (which ends the presences while the
//! items still say who was receiving whose), on every node, from the directory
//! generation; the removals are idempotent, so each node removing the same item is
//! harmless and each pushes to its own sessions.

use std::collections::HashSet;

use causerie_proto::{ns, xml};
use tracing::{info, warn};

use super::roster_push::push_element;
use crate::server::Server;
use crate::services::View;
use crate::stanza::local_user;

/// Ends the contacts of `affected` users that `old` allowed and `new` forbids both ways.
pub async fn enforce(server: &Server, old: &View, new: &View, affected: &HashSet<String>) {
    if new.is_open() {
        return;
    }
    let mut ended = 0usize;
    for user in affected {
        let roster = match server.contacts.roster(user).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "cannot read a roster to end the contacts the rules forbid");
                continue;
            }
        };
        for item in roster.iter() {
            let Some(contact) = local_user(&server.domain, &item.contact) else {
                continue;
            };
            let allowed_before =
                old.reach(user, &contact).is_ok() || old.reach(&contact, user).is_ok();
            let forbidden_now =
                new.reach(user, &contact).is_err() && new.reach(&contact, user).is_err();
            // Only the rules: both still active and allowed to chat. A locked account, a
            // structure whose chat is off, a user who left keep their contacts (a lock is
            // lifted; a departure is purged after its delay, docs/safety.md).
            let both_chat = [user.as_str(), contact.as_str()]
                .iter()
                .all(|u| new.is_directory_user(u) && new.access(u).is_ok());
            if !(allowed_before && forbidden_now && both_chat) {
                continue;
            }
            let user_bare = format!("{user}@{}", server.domain);
            for (owner, other) in [
                (user.as_str(), item.contact.as_str()),
                (&contact, &user_bare),
            ] {
                if let Err(e) = end_one(server, owner, other).await {
                    warn!(error = %e, "cannot end a contact the rules forbid");
                }
            }
            ended += 1;
        }
    }
    if ended > 0 {
        info!(
            contacts = ended,
            generation = new.generation,
            "contacts ended by a directory change"
        );
    }
}

/// Removes `other` (a bare JID) from `owner`'s contacts and requests, and pushes the
/// removal when there was an item.
async fn end_one(
    server: &Server,
    owner: &str,
    other: &str,
) -> Result<(), causerie_store::StoreError> {
    server.contacts.remove_pending_in(owner, other).await?;
    if server.contacts.remove(owner, other).await? {
        let gone = xml::elem(
            "item",
            ns::ROSTER,
            &[("jid", other), ("subscription", "remove")],
        );
        push_element(server, owner, gone).await;
    }
    Ok(())
}
