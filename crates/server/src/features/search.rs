//! XEP-0055 directory search on `search.DOMAIN`: find people to add as
//! contacts (« Ajouter contacts »). Only people the searcher may reach under
//! the school's rules are returned, with their display name « NOM Prénom »,
//! profile and classes.
//!
//! Basic fields (`first`, `last`, `nick`) get basic `<item/>` results whose
//! `nick` is the display name; a data form (XEP-0004) with the free-text
//! field `search` gets a result form with `jid`, `name`, `profile` and
//! `classes` columns.

use std::sync::Arc;

use causerie_ent::{Directory, SearchQuery};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};

use crate::config::PolicyMode;
use crate::server::Server;
use crate::session::Session;
use crate::stanza::IqResult;

pub const NS_SEARCH: &str = "jabber:iq:search";
pub const NS_DATA: &str = "jabber:x:data";
/// Most results returned by one search.
const MAX_RESULTS: usize = 50;

fn field(var: &str, kind: &str, label: &str) -> Element {
    xml::elem(
        "field",
        NS_DATA,
        &[("var", var), ("type", kind), ("label", label)],
    )
}

/// The search form (`get`).
fn form() -> Element {
    let mut q = Element::bare("query", NS_SEARCH);
    q.append_child(xml::text_elem(
        "instructions",
        NS_SEARCH,
        "Recherchez une personne de votre établissement par son nom ou son prénom. \
         (Search for a person of your school by name.)",
    ));
    for f in ["first", "last", "nick"] {
        q.append_child(Element::bare(f, NS_SEARCH));
    }
    let mut x = xml::elem("x", NS_DATA, &[("type", "form")]);
    x.append_child(xml::text_elem(
        "title",
        NS_DATA,
        "Rechercher dans l'annuaire",
    ));
    let mut ft = field("FORM_TYPE", "hidden", "");
    ft.append_child(xml::text_elem("value", NS_DATA, NS_SEARCH));
    x.append_child(ft);
    x.append_child(field("search", "text-single", "Rechercher"));
    x.append_child(field("first", "text-single", "Prénom"));
    x.append_child(field("last", "text-single", "Nom"));
    x.append_child(field("nick", "text-single", "Surnom"));
    q.append_child(x);
    q
}

fn text_or_none(s: String) -> Option<String> {
    let t = s.trim().to_string();
    (!t.is_empty()).then_some(t)
}

pub async fn handle(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if !payload.is("query", NS_SEARCH) {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    }
    if !set {
        return Ok(Some(form()));
    }
    let submitted = payload
        .children()
        .find(|c| c.is("x", NS_DATA) && c.attr("type") == Some("submit"));
    let mut query = SearchQuery::default();
    match submitted {
        Some(x) => {
            for f in x.children().filter(|c| c.is("field", NS_DATA)) {
                let value = f
                    .get_child("value", NS_DATA)
                    .map(|v| v.text())
                    .and_then(text_or_none);
                match f.attr("var") {
                    Some("search") => query.text = value,
                    Some("first") => query.first = value,
                    Some("last") => query.last = value,
                    Some("nick") => query.nick = value,
                    Some("FORM_TYPE") | None => {}
                    Some(other) => {
                        return Err(StanzaError::new(Condition::BadRequest)
                            .with_text("en", format!("unknown search field `{other}`")));
                    }
                }
            }
        }
        None => {
            let get = |n: &str| {
                payload
                    .get_child(n, NS_SEARCH)
                    .map(|c| c.text())
                    .and_then(text_or_none)
            };
            query.first = get("first");
            query.last = get("last");
            query.nick = get("nick");
        }
    }
    let mut dir = server.directory().await;
    if server.config.policy.mode == PolicyMode::Open {
        // No rules: everyone in the directory may be found.
        dir = Arc::new(Directory::open(dir.snapshot().clone()));
    }
    let hits = if dir.contains(&session.user) {
        dir.search(&session.user, &query, MAX_RESULTS)
    } else {
        Vec::new()
    };
    let mut q = Element::bare("query", NS_SEARCH);
    if submitted.is_some() {
        let mut x = xml::elem("x", NS_DATA, &[("type", "result")]);
        let mut ft = field("FORM_TYPE", "hidden", "");
        ft.append_child(xml::text_elem("value", NS_DATA, NS_SEARCH));
        x.append_child(ft);
        let mut reported = Element::bare("reported", NS_DATA);
        reported.append_child(field("jid", "jid-single", "JID"));
        reported.append_child(field("name", "text-single", "Nom"));
        reported.append_child(field("profile", "text-single", "Profil"));
        reported.append_child(field("classes", "text-single", "Classes"));
        x.append_child(reported);
        for h in &hits {
            let mut item = Element::bare("item", NS_DATA);
            for (var, value) in [
                ("jid", format!("{}@{}", h.login, server.domain)),
                ("name", h.display_name.clone()),
                ("profile", h.profile.label_fr().to_string()),
                ("classes", h.classes.join(", ")),
            ] {
                let mut f = xml::elem("field", NS_DATA, &[("var", var)]);
                f.append_child(xml::text_elem("value", NS_DATA, value));
                item.append_child(f);
            }
            x.append_child(item);
        }
        q.append_child(x);
    } else {
        for h in &hits {
            let mut item = xml::elem(
                "item",
                NS_SEARCH,
                &[("jid", &format!("{}@{}", h.login, server.domain))],
            );
            item.append_child(xml::text_elem("first", NS_SEARCH, h.first_name.clone()));
            item.append_child(xml::text_elem("last", NS_SEARCH, h.last_name.clone()));
            item.append_child(xml::text_elem("nick", NS_SEARCH, h.display_name.clone()));
            q.append_child(item);
        }
    }
    Ok(Some(q))
}

/// disco#info of the search service.
pub fn info() -> Element {
    let mut q = Element::bare("query", ns::DISCO_INFO);
    q.append_child(xml::elem(
        "identity",
        ns::DISCO_INFO,
        &[
            ("category", "directory"),
            ("type", "user"),
            ("name", "Annuaire"),
        ],
    ));
    for f in [ns::DISCO_INFO, NS_SEARCH] {
        q.append_child(xml::elem("feature", ns::DISCO_INFO, &[("var", f)]));
    }
    q
}
