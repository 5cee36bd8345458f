//! The full import: a validated snapshot applied in one transaction, changing only what
//! differs from the stored directory (so that the report counts real changes), and
//! deactivating the users it no longer has.

use std::collections::{BTreeSet, HashMap, HashSet};

use causerie_ent::Snapshot;

use super::ImportReport;
use super::generation::bump_generation;
use super::load::load;
use super::rows::{
    delete_class_row, delete_group_row, delete_structure_row, ensure_account, set_active,
    set_children, set_group_members, set_of, set_user_classes, set_user_structures, upsert_class,
    upsert_group_row, upsert_structure, upsert_user_row,
};
use crate::audit::{NewAudit, insert_audit};
use crate::credentials::{Credentials, credentials_of, write_credentials};
use crate::{Result, Store, StoreError};

/// Account ids of `logins`, looked up in `ids`; Err(Invalid) naming the first unknown one.
fn resolve<'a>(
    ids: &HashMap<&str, i64>,
    logins: impl IntoIterator<Item = &'a String>,
    what: impl Fn(&str) -> String,
) -> Result<Vec<i64>> {
    logins
        .into_iter()
        .map(|login| {
            ids.get(login.as_str())
                .copied()
                .ok_or_else(|| StoreError::Invalid(what(login)))
        })
        .collect()
}

/// Err(Invalid) when two entries of the snapshot share an id (or a login).
fn check_unique(snapshot: &Snapshot) -> Result<()> {
    fn dup<'a>(what: &str, ids: impl Iterator<Item = &'a String>) -> Result<()> {
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id) {
                return Err(StoreError::Invalid(format!(
                    "duplicate {what} {id:?} in the snapshot"
                )));
            }
        }
        Ok(())
    }
    dup("structure", snapshot.structures.iter().map(|s| &s.id))?;
    dup("class", snapshot.classes.iter().map(|c| &c.id))?;
    dup("user", snapshot.users.iter().map(|u| &u.login))?;
    dup("group", snapshot.groups.iter().map(|g| &g.id))?;
    dup(
        "collectivite",
        snapshot.collectivites().iter().map(|c| &c.id),
    )
}

pub(super) async fn import_snapshot(
    store: &Store,
    snapshot: &Snapshot,
    credentials: &HashMap<String, Credentials>,
    audit: Option<&NewAudit>,
) -> Result<ImportReport> {
    check_unique(snapshot)?;
    let mut tx = store.begin_write().await?;
    bump_generation(&mut tx).await?;
    let mut cur = load(&mut tx, store.backend()).await?;
    let mut report = ImportReport {
        structures: snapshot.structures.len(),
        classes: snapshot.classes.len(),
        groups: snapshot.groups.len(),
        ..ImportReport::default()
    };

    // 1. Structures, classes and the groups' own rows, where new or changed (members
    //    come once every user exists).
    for s in &snapshot.structures {
        if cur.structures.get(&s.id) != Some(&s.name) {
            upsert_structure(&mut tx, s).await?;
        }
    }
    for c in &snapshot.classes {
        let same = cur
            .classes
            .get(&c.id)
            .is_some_and(|old| old.structure == c.structure && old.name == c.name);
        if !same {
            upsert_class(&mut tx, c).await?;
        }
    }
    for g in &snapshot.groups {
        let same = cur
            .groups
            .get(&g.id)
            .is_some_and(|old| old.name == g.name && old.structure == g.structure);
        if !same {
            upsert_group_row(&mut tx, g).await?;
        }
    }

    // 2. What the snapshot no longer has, before the users' links are written (so a
    //    link to a removed class or structure is refused by its foreign key): groups,
    //    classes, then structures (refused while a class or group still refers to one).
    let keep: HashSet<&str> = snapshot.groups.iter().map(|g| g.id.as_str()).collect();
    let gone: Vec<String> = cur
        .groups
        .keys()
        .filter(|id| !keep.contains(id.as_str()))
        .cloned()
        .collect();
    for id in &gone {
        delete_group_row(&mut tx, id).await?;
        cur.groups.remove(id);
    }
    let keep: HashSet<&str> = snapshot.classes.iter().map(|c| c.id.as_str()).collect();
    let gone: Vec<String> = cur
        .classes
        .keys()
        .filter(|id| !keep.contains(id.as_str()))
        .cloned()
        .collect();
    for id in &gone {
        delete_class_row(&mut tx, id).await?;
        cur.classes.remove(id);
    }
    // Users who lose a link through these removals (cascade) have changed.
    let mut links_cut: HashSet<String> = HashSet::new();
    for (login, user) in &mut cur.users {
        let before = user.classes.len();
        user.classes.retain(|id| keep.contains(id.as_str()));
        if user.classes.len() != before {
            links_cut.insert(login.clone());
        }
    }
    let keep: HashSet<&str> = snapshot.structures.iter().map(|s| s.id.as_str()).collect();
    let gone: Vec<String> = cur
        .structures
        .keys()
        .filter(|id| !keep.contains(id.as_str()))
        .cloned()
        .collect();
    for id in &gone {
        delete_structure_row(&mut tx, id).await?;
        cur.structures.remove(id);
    }
    for (login, user) in &mut cur.users {
        let before = user.structures.len();
        user.structures.retain(|id| keep.contains(id.as_str()));
        if user.structures.len() != before {
            links_cut.insert(login.clone());
        }
    }

    // 3. Users: rows, structures, classes and credentials; then (every user existing)
    //    children. Only users of the snapshot may be children or group members.
    let mut ids: HashMap<&str, i64> = HashMap::new();
    let mut updated: HashSet<&str> = HashSet::new();
    for user in &snapshot.users {
        let login = user.login.as_str();
        let structures = set_of(&user.structures);
        let classes = set_of(&user.classes);
        let creds = credentials.get(login);
        let account = match cur.users.get(login) {
            Some(old) => {
                let account = old.account;
                let mut changed = links_cut.contains(login);
                if old.last_name != user.last_name
                    || old.first_name != user.first_name
                    || old.profile != user.profile
                    || old.functions != user.functions
                    || !old.active
                {
                    upsert_user_row(&mut tx, account, user).await?;
                    changed = true;
                }
                if old.structures != structures {
                    set_user_structures(&mut tx, account, &structures).await?;
                    changed = true;
                }
                if old.classes != classes {
                    set_user_classes(&mut tx, account, &classes).await?;
                    changed = true;
                }
                if let Some(creds) = creds
                    && credentials_of(&mut tx, account, login).await?.as_ref() != Some(creds)
                {
                    write_credentials(&mut tx, account, creds).await?;
                    changed = true;
                }
                if changed {
                    updated.insert(login);
                }
                account
            }
            None => {
                let account = ensure_account(&mut tx, login).await?;
                upsert_user_row(&mut tx, account, user).await?;
                set_user_structures(&mut tx, account, &structures).await?;
                set_user_classes(&mut tx, account, &classes).await?;
                if let Some(creds) = creds {
                    write_credentials(&mut tx, account, creds).await?;
                }
                report.users_created += 1;
                account
            }
        };
        ids.insert(login, account);
    }
    for user in &snapshot.users {
        let login = user.login.as_str();
        let children = set_of(&user.children);
        let old = cur.users.get(login).map(|old| &old.children);
        if old.unwrap_or(&BTreeSet::new()) == &children {
            continue;
        }
        let parent = ids.get(login).copied().ok_or_else(|| {
            StoreError::Corrupt(format!("user {login:?} vanished during the import"))
        })?;
        let child_ids = resolve(&ids, &children, |child| {
            format!("user {login:?}: child {child:?} is not a user of the snapshot")
        })?;
        set_children(&mut tx, parent, &child_ids).await?;
        if old.is_some() {
            updated.insert(login);
        }
    }
    report.users_updated = updated.len();
    for (login, old) in &cur.users {
        if old.active && !ids.contains_key(login.as_str()) {
            set_active(&mut tx, old.account, false).await?;
            report.users_deactivated += 1;
        }
    }

    // 4. Group members.
    for g in &snapshot.groups {
        let members = set_of(&g.members);
        let old = cur.groups.get(&g.id).map(|old| &old.members);
        if old.unwrap_or(&BTreeSet::new()) == &members {
            continue;
        }
        let member_ids = resolve(&ids, &members, |member| {
            format!(
                "group {:?}: member {member:?} is not a user of the snapshot",
                g.id
            )
        })?;
        set_group_members(&mut tx, &g.id, &member_ids).await?;
    }

    // 5. Collectivités, when the snapshot has a list (its structures are written): it
    //    replaces the stored ones.
    if let Some(list) = &snapshot.collectivites {
        report.collectivites =
            crate::collectivites::replace_all(&mut tx, &cur.collectivites, list).await?;
    }

    // 6. Local administrators named by the import replace the previous import's.
    sqlx::query("DELETE FROM admin_grants WHERE source = 'import'")
        .execute(&mut *tx)
        .await?;
    for user in &snapshot.users {
        for structure in set_of(&user.admin_of) {
            sqlx::query(
                "INSERT INTO admin_grants (login, structure_id, source) VALUES ($1, $2, 'import')",
            )
            .bind(user.login.clone())
            .bind(structure)
            .execute(&mut *tx)
            .await?;
        }
    }

    if let Some(a) = audit {
        // The row says what the import did.
        let mut a = a.clone();
        if a.after.is_none() {
            a.after = Some(serde_json::json!({
                "structures": report.structures,
                "classes": report.classes,
                "groups": report.groups,
                "users_created": report.users_created,
                "users_updated": report.users_updated,
                "users_deactivated": report.users_deactivated,
            }));
            if snapshot.collectivites.is_some()
                && let Some(o) = a.after.as_mut().and_then(|v| v.as_object_mut())
            {
                o.insert("collectivites_changed".into(), report.collectivites.into());
            }
        }
        insert_audit(&mut tx, &a).await?;
    }
    tx.commit().await?;
    Ok(report)
}
