//! A new directory generation applied to the rooms: every room with a member whom the
//! change concerns is checked against the rooms' policy again (`Gate::room_admits`), and
//! the members it no longer admits lose their membership at once. The occupants are told
//! with a groupchat notice from the room (« NOM Prénom n'a plus accès à cette
//! conversation »), the member's occupant leaves (status 321), and he cannot come back
//! unless invited again under the policy of the day.
//!
//! Members are checked in the order they came (the owner first): each must be admitted
//! alongside those kept before him, so when two members may no longer talk, the later one
//! goes. Only rooms of the users the change concerns are read (`enforce::affected_users`),
//! and, with several nodes, only by the node holding each room.

use std::collections::{BTreeSet, HashSet};

use causerie_proto::Element;
use causerie_store::{Affiliation, RoomStore};
use tracing::{info, warn};

use super::notices::{Exit, affiliation_notice, exit_presence};
use super::{body, now_ms, owner, room_message};
use crate::server::Server;
use crate::services::View;
use crate::services::gate::Gate;
use crate::stanza::internal;

/// Applies `new` to the rooms of the `affected` users (`enforce::affected_users`); `old`
/// names those who left the directory.
pub async fn enforce(server: &Server, old: &View, new: &View, affected: &HashSet<String>) {
    let mut rooms = BTreeSet::new();
    for user in affected {
        match server.store.rooms_of(user).await {
            Ok(list) => rooms.extend(list.into_iter().map(|r| r.name)),
            Err(e) => warn!(error = %e, "cannot list a user's rooms after a directory change"),
        }
    }
    for room in rooms {
        // With several nodes every node sees the change: the room's node checks it (one
        // node, claiming a room nobody holds), so its notices go once.
        if let Some(remote) = server.sessions.remote()
            && remote.room_owner(&room).await != remote.node
        {
            continue;
        }
        check_room(server, old, new, &room).await;
    }
}

/// Checks one room's members against the policy of `view`, ending the memberships it no
/// longer admits.
async fn check_room(server: &Server, old: &View, view: &View, name: &str) {
    let mut lock = server.rooms.lock(name).await;
    let room = match lock.load(&server.store).await {
        Ok(Some(live)) => live.room.clone(),
        Ok(None) => return,
        Err(e) => {
            internal(e);
            return;
        }
    };
    let mut members = match server.store.members(room.id).await {
        Ok(m) => m,
        Err(e) => {
            internal(e);
            return;
        }
    };
    members.sort_by_key(|m| (m.affiliation != Affiliation::Owner, m.added_ms));
    let owner_login = members
        .iter()
        .find(|m| m.affiliation == Affiliation::Owner)
        .map(|m| m.user.clone());
    let mut kept: Vec<&str> = Vec::new();
    let mut gone: Vec<String> = Vec::new();
    for m in &members {
        match Gate::room_admits(view, &m.user, &kept, owner_login.as_deref()) {
            Ok(()) => kept.push(&m.user),
            Err(why) => {
                info!(room = %room.name, ?why, "a member no longer fits the rooms' policy");
                gone.push(m.user.clone());
            }
        }
    }
    for user in gone {
        if let Err(e) = server.store.remove_member(room.id, &user).await {
            internal(e);
            continue;
        }
        let Some(live) = lock.live.as_mut() else {
            continue;
        };
        let name = view
            .user(&user)
            .or_else(|| old.user(&user))
            .map(|u| u.display_name())
            .unwrap_or_else(|| user.clone());
        let now = now_ms();
        if let Some(i) = live.by_user(&user) {
            let occ = live.occupants.remove(i);
            for s in &occ.sessions {
                server.rooms.note_left(s.id(), &room.name);
            }
            let exit = Exit {
                affiliation: "none",
                codes: &[321],
                ..Exit::default()
            };
            occ.send(&exit_presence(server, &room.name, &occ, &exit, true, now));
            live.broadcast(&exit_presence(server, &room.name, &occ, &exit, false, now));
        } else {
            affiliation_notice(server, live, &user, "none");
        }
        live.broadcast(&no_longer_allowed(server, &room.name, &name));
    }
    if let Err(e) = owner::destroy_if_memberless(server, &mut lock).await {
        warn!(error = ?e.condition, room = %room.name, "cannot remove a room left without members");
    }
}

/// The notice to the room: « NOM Prénom n'a plus accès à cette conversation ».
fn no_longer_allowed(server: &Server, room: &str, name: &str) -> Element {
    let mut m = room_message(server, room, Some("groupchat"));
    body(
        server.config.language,
        &mut m,
        &format!("{name} n'a plus accès à cette conversation"),
        &format!("{name} no longer has access to this conversation"),
    );
    m
}
