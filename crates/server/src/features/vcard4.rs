//! XEP-0292 vCard4 over PEP (node `urn:xmpp:vcard4`, item `current`) mapped onto the
//! directory's names: for a directory user, the school's name is the name.
//!
//! A publication whose `fn` or `n` differs from the school's name is refused with
//! `not-allowed` and a text (French and English), not silently changed; one without them
//! is accepted and stored with the school's name, as is every other field. Reads (and the
//! notifications and last items sent from this node) carry the school's name as it is
//! now, also when nothing was published yet (a `current` item made of the name alone).
//! Plain accounts' vCards are theirs.
//!
//! Not done: conversion between vcard-temp (XEP-0054, `features::vcard`) and vCard4 or
//! the avatar nodes (XEP-0398), so `urn:xmpp:pep-vcard-conversion:0` is not advertised.
//! Written by hand: xmpp-parsers 0.23 has no vCard4 type.

use crate::stanza::addressed;
use causerie_ent::said;
use causerie_proto::Element;
use causerie_proto::errors::Condition;

use crate::server::Server;
use crate::stanza::error;

pub const NODE: &str = "urn:xmpp:vcard4";
pub const NS: &str = "urn:ietf:params:xml:ns:vcard-4.0";
/// The item id XEP-0292 §3.1 uses.
pub const ITEM: &str = "current";

/// The school's name of a directory user: (full « NOM Prénom », family, given).
async fn school_name(server: &Server, user: &str) -> Option<(String, String, String)> {
    let dir = server.directory().await;
    dir.user(user)
        .map(|u| (u.display_name(), u.last_name.clone(), u.first_name.clone()))
}

/// The text of `<NAME><text>…</text></NAME>` (fn) — whitespace folded.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_of(el: &Element, name: &str) -> Option<String> {
    el.get_child(name, NS).map(|c| fold(&c.text()))
}

/// Checks a vCard4 `payload` `user` publishes: Ok(the card to store, with the school's
/// name for a directory user), or the refusal.
pub async fn check_publish(
    server: &Server,
    user: &str,
    payload: &Element,
) -> Result<Element, causerie_proto::errors::StanzaError> {
    if !payload.is("vcard", NS) {
        return Err(error(
            Condition::BadRequest,
            format!("Le nœud {NODE} ne contient qu'un élément <vcard xmlns='{NS}'/>."),
            format!("The node {NODE} holds only a <vcard xmlns='{NS}'/> element."),
        ));
    }
    let Some((full, family, given)) = school_name(server, user).await else {
        return Ok(payload.clone());
    };
    let fn_text = payload.get_child("fn", NS).and_then(|f| text_of(f, "text"));
    let n = payload.get_child("n", NS);
    let surname = n.and_then(|n| text_of(n, "surname"));
    let given_sent = n.and_then(|n| text_of(n, "given"));
    // The case is not the name: « MARTIN » and « Martin » are the same family name.
    let differs = |sent: &Option<String>, school: &str| {
        sent.as_deref()
            .is_some_and(|s| !s.is_empty() && s.to_lowercase() != fold(school).to_lowercase())
    };
    if differs(&fn_text, &full) || differs(&surname, &family) || differs(&given_sent, &given) {
        return Err(addressed(
            Condition::NotAllowed,
            said!(tu: "Ton nom est celui que l'établissement a enregistré ({full}) : il ne peut pas être changé ici. Les autres champs peuvent l'être.", vous: "Votre nom est celui que l'établissement a enregistré ({full}) : il ne peut pas être changé ici. Les autres champs peuvent l'être.", en: "Your name is the one the school recorded ({full}): it cannot be changed here. The other fields can."),
        ));
    }
    Ok(with_names(payload, &full, &family, &given))
}

/// `card` with the school's name of `user` (a directory user), as it is now.
pub async fn with_school_name(server: &Server, user: &str, card: &Element) -> Element {
    match school_name(server, user).await {
        Some((full, family, given)) if card.is("vcard", NS) => {
            with_names(card, &full, &family, &given)
        }
        _ => card.clone(),
    }
}

/// The card of a directory user who published none: his name alone.
pub async fn name_only(server: &Server, user: &str) -> Option<Element> {
    let (full, family, given) = school_name(server, user).await?;
    Some(with_names(
        &Element::bare("vcard", NS),
        &full,
        &family,
        &given,
    ))
}

fn with_names(card: &Element, full: &str, family: &str, given: &str) -> Element {
    let mut fresh = Element::bare("vcard", NS);
    let mut f = Element::bare("fn", NS);
    f.append_child(text("text", full));
    fresh.append_child(f);
    let mut n = Element::bare("n", NS);
    n.append_child(text("surname", family));
    n.append_child(text("given", given));
    fresh.append_child(n);
    for c in card
        .children()
        .filter(|c| !(c.is("fn", NS) || c.is("n", NS)))
    {
        fresh.append_child(c.clone());
    }
    fresh
}

fn text(name: &str, value: &str) -> Element {
    let mut e = Element::bare(name, NS);
    e.append_text_node(value);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_school_names_replace_the_card_names_and_keep_the_rest() {
        let card: Element = format!(
            "<vcard xmlns='{NS}'><fn><text>X</text></fn><note><text>hi</text></note></vcard>"
        )
        .parse()
        .unwrap();
        let out = with_names(&card, "MARTIN Léa", "MARTIN", "Léa");
        assert_eq!(
            text_of(out.get_child("fn", NS).unwrap(), "text").unwrap(),
            "MARTIN Léa"
        );
        let n = out.get_child("n", NS).unwrap();
        assert_eq!(text_of(n, "surname").unwrap(), "MARTIN");
        assert_eq!(text_of(n, "given").unwrap(), "Léa");
        assert!(out.get_child("note", NS).is_some());
        assert_eq!(out.children().filter(|c| c.is("fn", NS)).count(), 1);
    }
}
