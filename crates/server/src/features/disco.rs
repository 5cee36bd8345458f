//! XEP-0030 service discovery: what the server and its accounts are and do (an account
//! is also a PEP service, XEP-0163, whose items are its nodes, and advertises its
//! archive, XEP-0313 with the extended queries). The server's items are its services:
//! the directory search (`search.DOMAIN`) and the
//! conversations (`conference.DOMAIN`, see `features::muc::disco`), and file sharing
//! (`upload.DOMAIN`, `features::upload`) for the users who may share files.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};

use super::pep;
use crate::server::Server;
use crate::session::Session;
use crate::stanza::IqResult;

/// Features the server itself supports.
const SERVER_FEATURES: &[&str] = &[
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    ns::PING,
    ns::VCARD,
    ns::VERSION,
    ns::ROSTER,
    ns::MSGOFFLINE,
    ns::CARBONS,
    ns::DELAY,
    "urn:xmpp:features:pre-approval",
    super::private::NS_PRIVATE,
    ns::BLOCKING,
    // Reports (XEP-0377) in a block and on their own.
    super::report::NS_REPORTING,
    ns::LAST,
    // Accounts' archives (XEP-0313 at each account's bare JID) and stable ids (XEP-0359).
    ns::MAM,
    ns::SID,
];

/// Features of an account's bare JID (the server answers them on its behalf), besides
/// its PEP service's (`pep::FEATURES`).
const ACCOUNT_FEATURES: &[&str] = &[
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    ns::VCARD,
    ns::MAM,
    ns::MAM_EXTENDED,
    ns::SID,
    ns::PUSH,
    // XEP-0402: its node and XEP-0048's list in private storage are one.
    super::bookmarks::FEATURE_COMPAT,
];

fn info(
    identities: &[(&str, &str, Option<&str>)],
    features: &[&str],
    node: Option<&str>,
) -> Element {
    let mut q = Element::bare("query", ns::DISCO_INFO);
    if let Some(node) = node {
        xml::set_attr(&mut q, "node", node);
    }
    for (category, kind, name) in identities {
        let mut id = xml::elem(
            "identity",
            ns::DISCO_INFO,
            &[("category", category), ("type", kind)],
        );
        if let Some(name) = name {
            xml::set_attr(&mut id, "name", *name);
        }
        q.append_child(id);
    }
    for f in features {
        q.append_child(xml::elem("feature", ns::DISCO_INFO, &[("var", f)]));
    }
    q
}

fn check(payload: &Element, set: bool) -> Result<(), StanzaError> {
    if set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    if payload.attr("node").is_some() {
        return Err(StanzaError::new(Condition::ItemNotFound));
    }
    Ok(())
}

pub fn server_info(_server: &Server, payload: &Element, set: bool) -> IqResult {
    check(payload, set)?;
    Ok(Some(info(
        &[("server", "im", Some("Causerie"))],
        SERVER_FEATURES,
        None,
    )))
}

pub fn server_items(server: &Server, payload: &Element, set: bool) -> IqResult {
    check(payload, set)?;
    let mut q = Element::bare("query", ns::DISCO_ITEMS);
    q.append_child(xml::elem(
        "item",
        ns::DISCO_ITEMS,
        &[("jid", &server.search_domain()), ("name", "Annuaire")],
    ));
    q.append_child(xml::elem(
        "item",
        ns::DISCO_ITEMS,
        &[("jid", &server.muc_domain()), ("name", "Conversations")],
    ));
    Ok(Some(q))
}

/// The server's items as account `session` sees them: file sharing only if he may share.
pub async fn server_items_for(
    server: &Server,
    session: &Session,
    payload: &Element,
    set: bool,
) -> IqResult {
    let mut q = server_items(server, payload, set)?;
    if let Some(q) = q.as_mut()
        && super::upload::offered_to(server, &session.user).await
    {
        q.append_child(xml::elem(
            "item",
            ns::DISCO_ITEMS,
            &[
                ("jid", &server.upload_domain()),
                ("name", "Partage de fichiers"),
            ],
        ));
    }
    Ok(q)
}

/// An account's bare JID: a registered account and its PEP service (XEP-0163 §6.1).
pub async fn account_info(server: &Server, user: &str, payload: &Element, set: bool) -> IqResult {
    check(payload, set)?;
    if !server.user_exists(user).await {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    }
    let mut features = ACCOUNT_FEATURES.to_vec();
    features.extend_from_slice(pep::FEATURES);
    Ok(Some(info(
        &[("account", "registered", None), ("pubsub", "pep", None)],
        &features,
        None,
    )))
}

/// An account's items: its PEP nodes that the asker may read.
pub async fn account_items(
    server: &Server,
    session: &Session,
    user: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    check(payload, set)?;
    if !server.user_exists(user).await {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    }
    let jid = server.bare_jid(user);
    let mut q = Element::bare("query", ns::DISCO_ITEMS);
    for node in pep::visible_nodes(server, user, &session.user).await {
        q.append_child(xml::elem(
            "item",
            ns::DISCO_ITEMS,
            &[("jid", &jid), ("node", &node)],
        ));
    }
    Ok(Some(q))
}
