//! The access export of one person's data (GDPR article 15, docs/safety.md « Export des
//! données personnelles »): everything the server keeps that is his, as one JSON document
//! ([`export`]). The web layer serves it to the person himself (authenticated with his
//! password) and to an administrator of his structure on request (audited).
//!
//! It holds: his account and directory entry (names, profile, structures, classes), his
//! contacts (roster) and blocklist, his vCard, his PEP nodes and items (avatar, vCard4,
//! bookmarks…), his private storage, his offline messages, his one-to-one archive (his
//! own copies, both directions), the rooms he belongs to, his push registrations, his
//! last logout and the files he shared. It does not hold what is another person's (their
//! copies of conversations) nor the reports made by or about him, which the school keeps
//! under its safety duty (docs/safety.md).

use causerie_store::{
    AccountArchiveStore, AccountStore, ActivityStore, ArchiveQuery, BlockStore, OfflineStore,
    PepStore, PrivacyStore, PushStore, RoomStore, RosterStore, StoreError, VcardStore,
};
use serde_json::{Value, json};

use crate::server::Server;

/// The export format's version, in the document.
pub const FORMAT: &str = "causerie-export/1";

/// Messages read per page of the archive while exporting.
const PAGE: i64 = 500;

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Which conversations an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversations {
    /// All of his (the person himself, with his password).
    Included,
    /// None: an administrator asks for it on his behalf. Reading someone's messages
    /// is the safety staff's, under a grant with a reason, bounded in time, each reading
    /// audited (docs/safety.md « Accès aux archives »); the export does not go around
    /// it. `archive` and `offline_messages` are then null and `conversations` says why.
    Withheld,
}

/// Everything the server keeps that is `login`'s (see the module docs), or
/// Err(NotFound) when he has no account.
pub async fn export(
    server: &Server,
    login: &str,
    conversations: Conversations,
) -> Result<Value, StoreError> {
    let store = &server.store;
    if !store.account_exists(login).await? {
        return Err(StoreError::NotFound);
    }
    let domain = server.config.domain.clone();
    let dir = server.directory().await;
    let directory = dir.user(login).map(|u| {
        json!({
            "last_name": u.last_name,
            "first_name": u.first_name,
            "name": u.display_name(),
            "profile": u.profile.as_str(),
            "structures": u.structures.iter().map(|s| json!({
                "id": s,
                "name": dir.structure(s).map(|x| x.name.clone()),
            })).collect::<Vec<_>>(),
            "classes": dir.class_names(login),
        })
    });
    let roster: Vec<Value> = store
        .roster(login)
        .await?
        .iter()
        .map(|i| {
            json!({
                "jid": i.contact,
                "name": i.name,
                "subscription": i.subscription.as_str(),
                "groups": i.groups,
            })
        })
        .collect();
    let mut pep = Vec::new();
    for node in store.pep_nodes(login).await? {
        let items: Vec<Value> = store
            .pep_items(login, &node.node, None)
            .await?
            .into_iter()
            .map(|i| json!({"id": i.id, "xml": i.xml}))
            .collect();
        pep.push(json!({"node": node.node, "items": items}));
    }
    let private: Vec<Value> = store
        .private_entries(login)
        .await?
        .into_iter()
        .map(|p| json!({"name": p.name, "namespace": p.namespace, "xml": p.xml}))
        .collect();
    let (offline, archive) = match conversations {
        Conversations::Included => {
            let (o, a) = conversations_of(store, login).await?;
            (Value::Array(o), Value::Array(a))
        }
        Conversations::Withheld => (Value::Null, Value::Null),
    };
    let rooms: Vec<Value> = store
        .rooms_of(login)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "jid": format!("{}@{}", r.name, server.muc_domain()),
                "title": r.title,
            })
        })
        .collect();
    let push: Vec<Value> = store
        .push_registrations(login)
        .await?
        .into_iter()
        .map(|p| json!({"jid": p.jid, "node": p.node}))
        .collect();
    let files: Vec<Value> = store
        .uploads_of(login)
        .await?
        .into_iter()
        .map(|u| {
            json!({
                "id": u.id,
                "filename": u.filename,
                "size": u.size,
                "content_type": u.content_type,
                "time": iso(u.created_ms),
            })
        })
        .collect();
    let last_logout = store
        .last_logout(login)
        .await?
        .map(|l| json!({"time": iso(l.at_ms), "status": l.status}));
    Ok(json!({
        "format": FORMAT,
        "exported": iso(chrono::Utc::now().timestamp_millis()),
        "account": {
            "login": login,
            "jid": format!("{login}@{domain}"),
            "directory": directory,
        },
        "contacts": roster,
        "blocked": store.blocklist(login).await?,
        "vcard": store.vcard(login).await?,
        "pep": pep,
        "private": private,
        "conversations": match conversations {
            Conversations::Included => "included",
            Conversations::Withheld => "withheld: an administrator's export holds no messages; the person exports them himself, and the safety staff read them under a grant",
        },
        "offline_messages": offline,
        "archive": archive,
        "rooms": rooms,
        "push": push,
        "files": files,
        "last_logout": last_logout,
    }))
}

/// `login`'s offline messages and his whole one-to-one archive, oldest first.
async fn conversations_of(
    store: &causerie_store::Store,
    login: &str,
) -> Result<(Vec<Value>, Vec<Value>), StoreError> {
    let offline: Vec<Value> = store
        .offline_messages(login)
        .await?
        .into_iter()
        .map(|m| json!({"time": iso(m.stamp_ms), "stanza": m.stanza}))
        .collect();
    // The whole one-to-one archive, oldest first, page by page.
    let mut archive = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .account_archive_page(
                login,
                &ArchiveQuery {
                    after_id: after.clone(),
                    max: PAGE,
                    ..ArchiveQuery::default()
                },
            )
            .await?;
        for m in &page.messages {
            archive.push(json!({
                "id": m.stanza_id,
                "with": m.with,
                "direction": if m.outgoing { "sent" } else { "received" },
                "time": iso(m.stamp_ms),
                "stanza": m.stanza,
            }));
        }
        match page.messages.last() {
            Some(last) if !page.complete => after = Some(last.stanza_id.clone()),
            _ => break,
        }
    }
    Ok((offline, archive))
}
