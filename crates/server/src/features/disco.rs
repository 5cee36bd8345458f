//! XEP-0030 service discovery: what the server and its accounts are and do. The
//! server's items are its services: the directory search (`search.DOMAIN`) and the
//! conversations (`conference.DOMAIN`, see `features::muc::disco`).

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};

use crate::server::Server;
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

pub async fn account_info(server: &Server, user: &str, payload: &Element, set: bool) -> IqResult {
    check(payload, set)?;
    if !server.user_exists(user).await {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    }
    Ok(Some(info(
        &[("account", "registered", None)],
        &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::VCARD, ns::PUSH],
        None,
    )))
}

pub async fn account_items(server: &Server, user: &str, payload: &Element, set: bool) -> IqResult {
    check(payload, set)?;
    if !server.user_exists(user).await {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    }
    Ok(Some(Element::bare("query", ns::DISCO_ITEMS)))
}
