//! Enforcement hangs on the directory generation, not on the door that changed it: the
//! poller reads the generation every second (and at once after a signal or a change made
//! by this process), and each new view the directory service loads is applied here to
//! what is already open —
//! - sessions of accounts that may no longer chat (locked, deactivated, chat turned off
//!   for their structure or profile, by the structure or by a collectivité covering it)
//!   are closed with a `<policy-violation/>` stream error
//!   saying why, in French and English;
//! - presences between two accounts the rules no longer let reach each other end, with an
//!   unavailable presence stripped of any status (`features::presence::rules_changed`);
//! - contacts the rules no longer allow either way end on both sides, with roster pushes
//!   (`features::roster_rules`);
//! - room memberships the rooms' policy no longer admits end (`features::muc::membership`);
//! - the users whose structure's kill switch changed are told (`features::quiet`).
//!
//! So the `causerie` command (which writes the database of a running server), the sync
//! API, the admin console and another node's change all take effect the same way; with
//! several nodes, the node that loads a new generation first tells the others, which read
//! it at once rather than at their next poll.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::info;

use crate::features;
use crate::server::Server;
use crate::services::View;
use crate::services::policy::POLL_EVERY;

/// Starts the poller and the enforcement task. Neither keeps the server alive: they end
/// when it is dropped.
pub fn start(server: &Arc<Server>) {
    let weak = Arc::downgrade(server);
    let wake = server.policy.poll_signal();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
            let Some(server) = weak.upgrade() else { break };
            server.policy.refresh().await;
        }
    });
    let mut changes = server.policy.subscribe();
    let mut previous = changes.borrow_and_update().clone();
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let view = changes.borrow_and_update().clone();
            let Some(server) = weak.upgrade() else { break };
            // With several nodes, the others read it at once too.
            if let Some(remote) = server.sessions.remote()
                && view.generation > previous.generation
            {
                remote.send(crate::services::remote::Outgoing::Invalidate(
                    crate::services::remote::Invalidation::Generation(view.generation),
                ));
            }
            apply(&server, &previous, &view).await;
            previous = view;
        }
    });
}

/// Applies a new view (see the module docs).
pub async fn apply(server: &Server, old: &View, new: &View) {
    let mut closed = 0;
    for user in server.sessions.users() {
        if let Err(denied) = new.access(&user) {
            // His profile now, or before the change (a deactivated pupil is still one).
            let profile = (new.dir.user(&user).or_else(|| old.dir.user(&user))).map(|u| u.profile);
            let text = new.denied_both(&user, denied, causerie_ent::Register::of(profile));
            // Every node applies the change to its own sessions.
            closed += server
                .sessions
                .close_user_here(&user, "policy-violation", Some(&text));
            info!(user = %user, reason = denied.code(), "sessions closed by a directory change");
        }
    }
    if closed > 0 {
        info!(
            sessions = closed,
            generation = new.generation,
            "sessions closed after a directory change"
        );
    }
    // A kill switch that changed is told to its users' sessions.
    features::quiet::on_view_change(server, old, new);
    if old.generation < 0 {
        return;
    }
    let affected = affected_users(old, new);
    if affected.is_empty() {
        return;
    }
    info!(
        users = affected.len(),
        generation = new.generation,
        "applying a directory change to presences and rooms"
    );
    features::presence::rules_changed(server, old, new, &affected).await;
    // Contacts end for what changed in people's records (a class, a school, a group, a
    // child), not for an edit of the rules, which the gate applies while it lasts.
    features::roster_rules::enforce(server, old, new, &moved_users(old, new)).await;
    features::muc::membership::enforce(server, old, new, &affected).await;
}

/// The accounts whose directory record, relations (groups, parents), access or lock
/// differ between the two views, and every user of a structure whose rules changed; with
/// the parents of the users who changed (a parent reaches his children's teachers).
pub fn affected_users(old: &View, new: &View) -> HashSet<String> {
    let mut affected = moved_users(old, new);
    let mut structures: HashSet<&str> = HashSet::new();
    for v in [old, new] {
        structures.extend(v.dir.structures().iter().map(|s| s.id.as_str()));
    }
    for s in structures {
        if old.dir.rules_for(s) != new.dir.rules_for(s) {
            for v in [old, new] {
                affected.extend(
                    v.dir
                        .structure_members(s)
                        .into_iter()
                        .map(|u| u.login.clone()),
                );
            }
        }
    }
    affected
}

/// The accounts whose directory record, relations (groups, parents), access or lock
/// differ between the two views, with the parents of each (a parent reaches his
/// children's teachers): [`affected_users`] without the members of structures whose
/// rules alone changed.
pub fn moved_users(old: &View, new: &View) -> HashSet<String> {
    let mut logins: HashSet<&str> = HashSet::new();
    for v in [old, new] {
        logins.extend(v.dir.users().iter().map(|u| u.login.as_str()));
    }
    logins.extend(old.locked_users());
    logins.extend(new.locked_users());
    logins.extend(old.inactive_users());
    logins.extend(new.inactive_users());
    let mut affected: HashSet<String> = HashSet::new();
    for login in logins {
        if fingerprint(old, login) != fingerprint(new, login) {
            affected.insert(login.to_string());
            for v in [old, new] {
                affected.extend(v.dir.parents_of(login).into_iter().map(|p| p.login.clone()));
            }
        }
    }
    affected
}

/// What decides whom `login` may reach, as `v` has it: his record, the structure each of
/// his classes and groups belongs to (a class moved to another structure through the
/// sync API changes no member's record), his parents and his access.
fn fingerprint(v: &View, login: &str) -> impl PartialEq + use<> {
    let user = v.dir.user(login).cloned();
    let classes: Vec<Option<String>> = user
        .iter()
        .flat_map(|u| u.classes.iter())
        .map(|c| v.dir.class(c).map(|c| c.structure.clone()))
        .collect();
    let groups: Vec<(String, Option<String>)> = v
        .dir
        .groups_of(login)
        .iter()
        .map(|g| (g.id.clone(), g.structure.clone()))
        .collect();
    let parents: Vec<String> = v
        .dir
        .parents_of(login)
        .iter()
        .map(|p| p.login.clone())
        .collect();
    (user, classes, groups, parents, v.access(login))
}
