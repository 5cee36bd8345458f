//! XEP-0402 `#compat`: the bookmarks of XEP-0048 in private storage (XEP-0049,
//! `<storage xmlns='storage:bookmarks'/>`, what Gajim 1.7 and older clients use) and the
//! PEP node `urn:xmpp:bookmarks:1` (Converse, newer clients) are one list.
//!
//! The node is the one copy of the conferences; `storage:bookmarks` in private storage is
//! a view of it:
//! - reading it renders the node's items as XEP-0048 conferences (`jid` = the item's id;
//!   name, autojoin, nick, password), followed by what else the element held (`<url/>`
//!   bookmarks, kept in private storage as they were);
//! - storing it replaces the node's list: a conference that is new or whose name,
//!   autojoin, nick or password changed is published (its XEP-0402 `<extensions/>` kept),
//!   one no longer listed is retracted, an unchanged one is left alone (XEP-0402 §6.3:
//!   no notification for unchanged items); the owner's clients that asked for the node's
//!   events (`+notify`) get them as for any publication (`pep_events`).
//!
//! The school's limits stay those of the node: each conference is an item of at most
//! `[pep] max_item_bytes`, the list at most the node's `max_items` (a new node is made as
//! XEP-0402 asks: whitelist, `max_items` = `max_items_per_node`, never sent on presence),
//! the account's publications at most `max_bytes_per_user`. A list past them is refused
//! with a text, nothing changed (except, past the byte quota, what fitted before it: the
//! text says so); so is a conference whose `jid` is not a JID or whose `autojoin` is not
//! a boolean. The rest of the element counts against private storage's limits.
//!
//! Conferences stored in private storage before this mirror existed move to the node the
//! first time either side is read or written (those the node already has stay the
//! node's). Changes to one account's list are made one at a time.

use crate::stanza::addressed;
use causerie_ent::said;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::LazyLock;

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use causerie_store::{
    AccessModel, PepItem, PepNode, PepStore, PrivateEntry, PrivateStore, Published, SendLast,
};
use tokio::sync::{Mutex, MutexGuard};
use tracing::warn;

use super::pep_events::{self, Event};
use super::pep_limits;
use crate::server::Server;
use crate::session::Session;
use crate::stanza::{error, internal};

/// The XEP-0402 node (and its payloads' namespace).
pub const NODE: &str = "urn:xmpp:bookmarks:1";
/// XEP-0048's namespace (in private storage).
pub const NS_LEGACY: &str = "storage:bookmarks";
/// Advertised on accounts: the two are kept as one.
pub const FEATURE_COMPAT: &str = "urn:xmpp:bookmarks:1#compat";

/// Whether `el` is XEP-0048's `<storage xmlns='storage:bookmarks'/>`.
pub fn is_legacy(el: &Element) -> bool {
    el.is("storage", NS_LEGACY)
}

// -- one change at a time per account -------------------------------------------------

const STRIPES: usize = 64;
static LOCKS: LazyLock<Vec<Mutex<()>>> =
    LazyLock::new(|| (0..STRIPES).map(|_| Mutex::new(())).collect());

async fn lock(user: &str) -> MutexGuard<'static, ()> {
    let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(user);
    LOCKS[(h % STRIPES as u64) as usize].lock().await
}

// -- one bookmark, both ways ----------------------------------------------------------

/// What XEP-0048 and XEP-0402 share about a room.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bookmark {
    name: Option<String>,
    autojoin: bool,
    nick: Option<String>,
    password: Option<String>,
}

fn child_text(el: &Element, name: &str, ns: &str) -> Option<String> {
    el.get_child(name, ns).map(|c| c.text())
}

fn autojoin(v: Option<&str>) -> Option<bool> {
    match v {
        None | Some("false" | "0") => Some(false),
        Some("true" | "1") => Some(true),
        Some(_) => None,
    }
}

/// A XEP-0402 payload's bookmark (an unreadable `autojoin` reads as false).
fn from_native(payload: &Element) -> Option<Bookmark> {
    if !payload.is("conference", NODE) {
        return None;
    }
    Some(Bookmark {
        name: payload.attr("name").map(str::to_string),
        autojoin: autojoin(payload.attr("autojoin")).unwrap_or(false),
        nick: child_text(payload, "nick", NODE),
        password: child_text(payload, "password", NODE),
    })
}

/// The XEP-0402 payload of `b`, with the `<extensions/>` of `previous` (XEP-0402 §3:
/// clients keep them; XEP-0048 has no place for them).
fn to_native(b: &Bookmark, previous: Option<&Element>) -> Element {
    let mut c = xml::elem(
        "conference",
        NODE,
        &[("autojoin", if b.autojoin { "true" } else { "false" })],
    );
    if let Some(n) = &b.name {
        xml::set_attr(&mut c, "name", n.as_str());
    }
    if let Some(n) = &b.nick {
        c.append_child(xml::text_elem("nick", NODE, n.as_str()));
    }
    if let Some(p) = &b.password {
        c.append_child(xml::text_elem("password", NODE, p.as_str()));
    }
    if let Some(ext) = previous.and_then(|p| p.get_child("extensions", NODE)) {
        c.append_child(ext.clone());
    }
    c
}

/// A client's value as an error text quotes it: its first 64 characters.
fn shown(v: &str) -> String {
    match v.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_string(),
    }
}

/// A XEP-0048 `<conference/>`: its room's JID (normalised) and bookmark.
fn from_legacy(c: &Element) -> Result<(String, Bookmark), StanzaError> {
    let raw = c.attr("jid").unwrap_or("");
    let jid = jid::BareJid::new(raw).map_err(|_| {
        let raw = shown(raw);
        error(
            Condition::BadRequest,
            format!("Marque-page : « {raw} » n'est pas l'adresse d'une conversation."),
            format!("Bookmark: '{raw}' is not a conversation's address."),
        )
    })?;
    let value = c.attr("autojoin");
    let autojoin = autojoin(value).ok_or_else(|| {
        let v = shown(value.unwrap_or(""));
        error(
            Condition::BadRequest,
            format!("Marque-page {jid} : autojoin vaut true ou false, reçu « {v} »."),
            format!("Bookmark {jid}: autojoin is true or false, got '{v}'."),
        )
    })?;
    Ok((
        jid.to_string(),
        Bookmark {
            name: c.attr("name").map(str::to_string),
            autojoin,
            nick: child_text(c, "nick", NS_LEGACY),
            password: child_text(c, "password", NS_LEGACY),
        },
    ))
}

fn to_legacy(jid: &str, b: &Bookmark) -> Element {
    let mut c = xml::elem(
        "conference",
        NS_LEGACY,
        &[
            ("jid", jid),
            ("autojoin", if b.autojoin { "true" } else { "false" }),
        ],
    );
    if let Some(n) = &b.name {
        xml::set_attr(&mut c, "name", n.as_str());
    }
    if let Some(n) = &b.nick {
        c.append_child(xml::text_elem("nick", NS_LEGACY, n.as_str()));
    }
    if let Some(p) = &b.password {
        c.append_child(xml::text_elem("password", NS_LEGACY, p.as_str()));
    }
    c
}

/// A XEP-0048 element split: its conferences, and a `<storage/>` with the rest.
fn split(storage: &Element) -> (Vec<&Element>, Element) {
    let mut rest = Element::bare("storage", NS_LEGACY);
    let mut conferences = Vec::new();
    for c in storage.children() {
        if c.is("conference", NS_LEGACY) {
            conferences.push(c);
        } else {
            rest.append_child(c.clone());
        }
    }
    (conferences, rest)
}

/// The node's readable bookmarks, oldest first: (item id, normalised JID, bookmark,
/// payload).
struct Native {
    node: Option<PepNode>,
    items: Vec<(String, String, Bookmark, Element)>,
}

async fn native(server: &Server, user: &str) -> Result<Native, StanzaError> {
    let node = server.store.pep_node(user, NODE).await.map_err(internal)?;
    let mut items = Vec::new();
    if node.is_some() {
        let stored = server
            .store
            .pep_items(user, NODE, None)
            .await
            .map_err(internal)?;
        for i in stored.into_iter().rev() {
            let Ok(payload) = i.xml.parse::<Element>() else {
                continue;
            };
            let (Ok(jid), Some(b)) = (jid::BareJid::new(&i.id), from_native(&payload)) else {
                continue;
            };
            items.push((i.id, jid.to_string(), b, payload));
        }
    }
    Ok(Native { node, items })
}

/// The node as XEP-0402 asks for it (§4), within the school's bound.
fn new_node(server: &Server) -> PepNode {
    let mut n = PepNode::new(NODE);
    n.access_model = AccessModel::Whitelist;
    n.max_items = server.config.pep.max_items_per_node;
    n.send_last = SendLast::Never;
    n
}

async fn stored_legacy(server: &Server, user: &str) -> Result<Option<Element>, StanzaError> {
    let stored = server
        .store
        .private_get(user, "storage", NS_LEGACY)
        .await
        .map_err(internal)?;
    Ok(stored.and_then(|x| x.parse::<Element>().ok()))
}

async fn keep_rest(server: &Server, user: &str, rest: &Element) -> Result<(), StanzaError> {
    let entry = PrivateEntry {
        name: "storage".into(),
        namespace: NS_LEGACY.into(),
        xml: xml::to_string(rest),
    };
    let quota = server.config.pep.max_private_bytes_per_user;
    match server.store.private_set(user, &[entry], quota).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(addressed(
            Condition::ResourceConstraint,
            said!(tu: "Tes données privées dépasseraient {quota} octets.", vous: "Vos données privées dépasseraient {quota} octets.", en: "Your private data would exceed {quota} bytes."),
        )),
        Err(e) => Err(internal(e)),
    }
}

// -- the mirror -----------------------------------------------------------------------

/// Moves conferences kept in private storage before the mirror existed to the node (the
/// node's own items win), leaving the rest of the element there.
pub async fn migrate(server: &Server, user: &str) {
    let _one = lock(user).await;
    if let Err(e) = migrate_locked(server, user).await {
        warn!(user, error = ?e.condition, "cannot move private-storage bookmarks to PEP");
    }
}

async fn migrate_locked(server: &Server, user: &str) -> Result<(), StanzaError> {
    let Some(stored) = stored_legacy(server, user).await? else {
        return Ok(());
    };
    let (conferences, rest) = split(&stored);
    if conferences.is_empty() {
        return Ok(());
    }
    let have = native(server, user).await?;
    let config = have.node.clone().unwrap_or_else(|| new_node(server));
    let max_bytes = server.config.pep.max_item_bytes;
    for c in conferences {
        let Ok((jid, b)) = from_legacy(c) else {
            warn!(user, "an unreadable private-storage bookmark was dropped");
            continue;
        };
        if have.items.iter().any(|(_, j, _, _)| *j == jid) {
            continue;
        }
        let text = xml::to_string(&to_native(&b, None));
        if text.len() > max_bytes {
            warn!(
                user,
                "a private-storage bookmark past the item size was dropped"
            );
            continue;
        }
        let item = PepItem { id: jid, xml: text };
        match server
            .store
            .pep_publish(user, &config, &item, pep_limits::quota(server))
            .await
            .map_err(internal)?
        {
            Published::Stored { .. } => {}
            _ => {
                warn!(
                    user,
                    "private-storage bookmarks past the PEP limits were not moved"
                );
                break;
            }
        }
    }
    keep_rest(server, user, &rest).await
}

/// `storage:bookmarks` as a XEP-0048 client reads it: the node's bookmarks, then the
/// rest of what it stored.
pub async fn legacy_get(server: &Server, user: &str) -> Result<Element, StanzaError> {
    migrate(server, user).await;
    let have = native(server, user).await?;
    let mut out = Element::bare("storage", NS_LEGACY);
    for (_, jid, b, _) in &have.items {
        out.append_child(to_legacy(jid, b));
    }
    if let Some(stored) = stored_legacy(server, user).await? {
        for c in split(&stored).1.children() {
            out.append_child(c.clone());
        }
    }
    Ok(out)
}

/// A change to the node that a stored XEP-0048 list makes, checked against the limits.
pub struct LegacySet {
    /// The rest of the element, for private storage.
    pub rest: PrivateEntry,
    wanted: Vec<(String, Bookmark)>,
}

/// Reads a XEP-0048 list a client stores and checks it against the node's rules and
/// limits before anything is written: a refusal changes nothing.
pub async fn legacy_parse(
    server: &Server,
    user: &str,
    storage: &Element,
) -> Result<LegacySet, StanzaError> {
    let (conferences, rest) = split(storage);
    let have = native(server, user).await?;
    let mut wanted: Vec<(String, Bookmark)> = Vec::with_capacity(conferences.len());
    let max_bytes = server.config.pep.max_item_bytes;
    for c in conferences {
        let (jid, b) = from_legacy(c)?;
        if wanted.iter().any(|(j, _)| *j == jid) {
            return Err(error(
                Condition::BadRequest,
                format!("Le marque-page {jid} est en double."),
                format!("The bookmark {jid} is there twice."),
            ));
        }
        // As it will be published: with the extensions the node's item has.
        let previous = have.items.iter().find(|i| i.1 == jid).map(|i| &i.3);
        if xml::to_string(&to_native(&b, previous)).len() > max_bytes {
            return Err(error(
                Condition::NotAcceptable,
                format!(
                    "Le marque-page {jid} dépasse {max_bytes} octets : rien n'a été enregistré."
                ),
                format!("The bookmark {jid} is larger than {max_bytes} bytes: nothing was stored."),
            ));
        }
        wanted.push((jid, b));
    }
    let node = have.node;
    let bound = node
        .as_ref()
        .map_or(server.config.pep.max_items_per_node, PepNode::kept) as usize;
    if wanted.len() > bound {
        return Err(addressed(
            Condition::NotAcceptable,
            said!(tu: "Tu gardes au plus {bound} marque-pages de conversations : rien n'a été enregistré.", vous: "Vous gardez au plus {bound} marque-pages de conversations : rien n'a été enregistré.", en: "You keep at most {bound} conference bookmarks: nothing was stored."),
        ));
    }
    if node.is_none() && !wanted.is_empty() {
        let nodes = server.store.pep_nodes(user).await.map_err(internal)?;
        if nodes.len() >= server.config.pep.max_nodes_per_user as usize {
            return Err(pep_limits::too_many_nodes(server));
        }
    }
    Ok(LegacySet {
        rest: PrivateEntry {
            name: "storage".into(),
            namespace: NS_LEGACY.into(),
            xml: xml::to_string(&rest),
        },
        wanted,
    })
}

/// Makes the node's list the one `set` names (its rest is stored by the caller, in the
/// same private-storage write as the request's other elements).
pub async fn legacy_apply(
    server: &Server,
    session: &Session,
    set: LegacySet,
) -> Result<(), StanzaError> {
    let user = &session.user;
    let _one = lock(user).await;
    let have = native(server, user).await?;
    let config = have.node.clone().unwrap_or_else(|| new_node(server));
    let by_jid: HashMap<&str, &(String, String, Bookmark, Element)> =
        have.items.iter().map(|i| (i.1.as_str(), i)).collect();
    // What is no longer listed goes first (it frees room in the quota).
    let gone: Vec<String> = have
        .items
        .iter()
        .filter(|(_, jid, _, _)| !set.wanted.iter().any(|(w, _)| w == jid))
        .map(|(id, _, _, _)| id.clone())
        .collect();
    let mut retracted = Vec::new();
    for id in gone {
        if server
            .store
            .pep_retract(user, NODE, &id)
            .await
            .map_err(internal)?
        {
            retracted.push(id);
        }
    }
    if let Some(node) = &have.node
        && node.notify_retract
        && !retracted.is_empty()
    {
        pep_events::tell(server, session, node, Event::Retract { ids: &retracted }).await;
    }
    let max_bytes = server.config.pep.max_item_bytes;
    for (jid, b) in &set.wanted {
        let previous = by_jid.get(jid.as_str());
        if previous.is_some_and(|p| p.2 == *b) {
            continue;
        }
        let payload = to_native(b, previous.map(|p| &p.3));
        let text = xml::to_string(&payload);
        if text.len() > max_bytes {
            // Only its XEP-0402 extensions can make it so: it stays as it was.
            warn!(
                user,
                "a bookmark with its extensions is past the item size: left as it was"
            );
            continue;
        }
        let id = previous.map_or_else(|| jid.clone(), |p| p.0.clone());
        let item = PepItem {
            id: id.clone(),
            xml: text,
        };
        match server
            .store
            .pep_publish(user, &config, &item, pep_limits::quota(server))
            .await
            .map_err(internal)?
        {
            Published::Stored { .. } => {}
            Published::TooManyNodes => return Err(pep_limits::too_many_nodes(server)),
            Published::OverQuota => {
                let n = server.config.pep.max_bytes_per_user;
                return Err(addressed(
                    Condition::ResourceConstraint,
                    said!(tu: "Tes publications dépassent {n} octets en tout : les marque-pages à partir de {jid} n'ont pas été enregistrés.", vous: "Vos publications dépassent {n} octets en tout : les marque-pages à partir de {jid} n'ont pas été enregistrés.", en: "Your publications exceed {n} bytes in all: the bookmarks from {jid} on were not stored."),
                ));
            }
        }
        pep_events::tell(
            server,
            session,
            &config,
            Event::Item {
                id: &id,
                payload: &payload,
            },
        )
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Element {
        s.parse().unwrap()
    }

    #[test]
    fn a_legacy_conference_becomes_a_native_one_and_back() {
        let c = parse(
            "<conference xmlns='storage:bookmarks' jid='Classe@Conference.Example' name='La classe' autojoin='1'><nick>Anna</nick><password>secret</password></conference>",
        );
        let (jid, b) = from_legacy(&c).unwrap();
        assert_eq!(jid, "classe@conference.example");
        assert_eq!(
            b,
            Bookmark {
                name: Some("La classe".into()),
                autojoin: true,
                nick: Some("Anna".into()),
                password: Some("secret".into()),
            }
        );
        let native = to_native(&b, None);
        assert_eq!(from_native(&native), Some(b.clone()));
        let back = to_legacy(&jid, &b);
        assert_eq!(from_legacy(&back).unwrap(), (jid, b));
    }

    #[test]
    fn extensions_are_kept_and_defaults_read_as_xep_0048_says() {
        let previous = parse(
            "<conference xmlns='urn:xmpp:bookmarks:1' name='Old'><extensions><state xmlns='urn:x' minimized='true'/></extensions></conference>",
        );
        let (_, b) = from_legacy(&parse(
            "<conference xmlns='storage:bookmarks' jid='club@conference.example' name='New'/>",
        ))
        .unwrap();
        assert!(!b.autojoin && b.nick.is_none());
        let merged = to_native(&b, Some(&previous));
        assert_eq!(merged.attr("name"), Some("New"));
        let ext = merged.get_child("extensions", NODE).unwrap();
        assert!(ext.get_child("state", "urn:x").is_some());
    }

    #[test]
    fn bad_jids_and_autojoin_values_are_refused_with_a_text() {
        for c in [
            "<conference xmlns='storage:bookmarks' jid='' name='x'/>",
            "<conference xmlns='storage:bookmarks' name='no jid'/>",
            "<conference xmlns='storage:bookmarks' jid='a@b@c'/>",
            "<conference xmlns='storage:bookmarks' jid='club@conference.example' autojoin='yes'/>",
        ] {
            let e = from_legacy(&parse(c)).unwrap_err();
            assert_eq!(e.condition, Condition::BadRequest, "{c}");
            assert_eq!(e.texts.len(), 2, "{c}");
        }
        let long = format!(
            "<conference xmlns='storage:bookmarks' jid='{}@@'/>",
            "é".repeat(300)
        );
        let e = from_legacy(&parse(&long)).unwrap_err();
        assert!(e.texts.iter().all(|(_, t)| t.chars().count() < 200));
    }

    #[test]
    fn the_rest_of_the_element_is_kept_apart() {
        let s = parse(
            "<storage xmlns='storage:bookmarks'><url name='ENT' url='https://ent.example'/><conference jid='a@conference.example'/><other xmlns='urn:x'/></storage>",
        );
        let (conferences, rest) = split(&s);
        assert_eq!(conferences.len(), 1);
        let names: Vec<_> = rest.children().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["url", "other"]);
    }
}
