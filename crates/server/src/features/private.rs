//! XEP-0049 private XML storage (`jabber:iq:private`): an account keeps arbitrary XML
//! elements on the server, one per element name and namespace, that only it reads back.
//!
//! As the XEP says: a request for another account is `forbidden`; a get names exactly
//! one element (none: `not-acceptable`; several: `bad-request`), a set may carry several;
//! reserved namespaces (`jabber:…`, `http://jabber.org/…`, `vcard-temp`) are refused with
//! `not-acceptable` (optional in the XEP: they belong to protocols of their own). Sizes are
//! bounded (`[pep] max_item_bytes` per element, `max_private_bytes_per_user` in all), with
//! a text saying so. xmpp-parsers' `private::Query` only knows XEP-0048 bookmarks, so the
//! query is read by hand.
//!
//!
//! `<storage xmlns='storage:bookmarks'/>` (XEP-0048) is XEP-0402's node seen the old way
//! (`features::bookmarks`, `urn:xmpp:bookmarks:1#compat`): read from the node, and a
//! stored list becomes the node's; only what else the element holds stays here, and
//! counts against these limits.

use crate::stanza::addressed;
use causerie_ent::{Text, said};
use causerie_proto::errors::Condition;
use causerie_proto::{Element, ns, xml};
use causerie_store::{PrivateEntry, PrivateStore};

use super::bookmarks;
use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, error, internal};

pub const NS_PRIVATE: &str = "jabber:iq:private";

fn reserved(namespace: &str) -> bool {
    namespace.starts_with("jabber:")
        || namespace.starts_with("http://jabber.org/")
        || namespace == ns::VCARD
        || namespace == ns::CLIENT
}

pub async fn handle(
    server: &Server,
    session: &Session,
    user: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    if user != session.user {
        return Err(error(
            Condition::Forbidden,
            "Les données privées d'un compte ne sont qu'à lui.",
            "An account's private data is its own.",
        ));
    }
    let children: Vec<&Element> = payload.children().collect();
    if children.is_empty() {
        return Err(addressed(
            Condition::NotAcceptable,
            Text::new(
                "Dis quel élément lire ou enregistrer (un enfant de <query/> dans son espace de noms).",
                "Dites quel élément lire ou enregistrer (un enfant de <query/> dans son espace de noms).",
                "Say which element to read or store (a child of <query/> in its namespace).",
            ),
        ));
    }
    if let Some(c) = children.iter().find(|c| reserved(&c.ns())) {
        let n = c.ns();
        return Err(error(
            Condition::NotAcceptable,
            format!("L'espace de noms {n} est réservé : il a son propre protocole."),
            format!("The namespace {n} is reserved: it has a protocol of its own."),
        ));
    }
    if !set {
        let [wanted] = children.as_slice() else {
            return Err(error(
                Condition::BadRequest,
                "Une lecture demande un seul élément.",
                "A get asks for one element.",
            ));
        };
        if bookmarks::is_legacy(wanted) {
            let mut q = Element::bare("query", NS_PRIVATE);
            q.append_child(bookmarks::legacy_get(server, user).await?);
            return Ok(Some(q));
        }
        let stored = server
            .store
            .private_get(user, wanted.name(), &wanted.ns())
            .await
            .map_err(internal)?;
        let el = stored
            .and_then(|x| x.parse::<Element>().ok())
            .unwrap_or_else(|| Element::bare(wanted.name(), wanted.ns()));
        let mut q = Element::bare("query", NS_PRIVATE);
        q.append_child(el);
        return Ok(Some(q));
    }
    let max = server.config.pep.max_item_bytes;
    let mut entries = Vec::with_capacity(children.len());
    let mut legacy = None;
    for c in children {
        let entry = if bookmarks::is_legacy(c) {
            if legacy.is_some() {
                return Err(error(
                    Condition::BadRequest,
                    "Un seul élément <storage xmlns='storage:bookmarks'/> à la fois.",
                    "One <storage xmlns='storage:bookmarks'/> element at a time.",
                ));
            }
            // Its conferences go to the PEP node, checked against its limits now.
            let set = bookmarks::legacy_parse(server, user, c).await?;
            let rest = set.rest.clone();
            legacy = Some(set);
            rest
        } else {
            PrivateEntry {
                name: c.name().to_string(),
                namespace: c.ns(),
                xml: xml::to_string(c),
            }
        };
        if entry.xml.len() > max {
            return Err(error(
                Condition::NotAcceptable,
                format!("Un élément privé ne dépasse pas {max} octets."),
                format!("A private element is at most {max} bytes."),
            ));
        }
        entries.push(entry);
    }
    let quota = server.config.pep.max_private_bytes_per_user;
    if server
        .store
        .private_set(user, &entries, quota)
        .await
        .map_err(internal)?
    {
        if let Some(set) = legacy {
            bookmarks::legacy_apply(server, session, set).await?;
        }
        Ok(None)
    } else {
        Err(addressed(
            Condition::ResourceConstraint,
            said!(tu: "Tes données privées dépasseraient {quota} octets : rien n'a été enregistré.", vous: "Vos données privées dépasseraient {quota} octets : rien n'a été enregistré.", en: "Your private data would exceed {quota} bytes: nothing was stored."),
        ))
    }
}
