//! XEP-0054 vcard-temp: an account's own card (set and get), and other
//! accounts' cards (get). The directory will fill the full name with
//! « NOM Prénom ».

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::VcardStore;

use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

pub async fn handle(
    server: &Server,
    session: &Session,
    user: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    let own = user == session.user;
    if set {
        if !own {
            return Err(StanzaError::new(Condition::Forbidden)
                .with_text("en", "you may only change your own vCard"));
        }
        let mut card = payload.clone();
        // Store it addressless and in canonical form.
        xml::remove_attr(&mut card, "xmlns");
        server
            .store
            .set_vcard(user, &xml::to_string(&card))
            .await
            .map_err(internal)?;
        return Ok(None);
    }
    if !own && !server.user_exists(user).await {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    }
    let stored = server.store.vcard(user).await.map_err(internal)?;
    let mut card = match stored.and_then(|x| x.parse::<Element>().ok()) {
        Some(card) if card.is("vCard", ns::VCARD) => card,
        // XEP-0054 §3.1: no card yet is an empty card.
        _ => Element::bare("vCard", ns::VCARD),
    };
    let dir = server.directory().await;
    if let Some(u) = dir.user(user) {
        with_directory_names(&mut card, &u.display_name(), &u.last_name, &u.first_name);
    }
    Ok(Some(card))
}

/// The directory is the source of truth for names: FN is « NOM Prénom », N
/// holds the family and given names, whatever the user stored.
fn with_directory_names(card: &mut Element, full: &str, family: &str, given: &str) {
    let kept: Vec<Element> = card
        .children()
        .filter(|c| !(c.is("FN", ns::VCARD) || c.is("N", ns::VCARD)))
        .cloned()
        .collect();
    let mut fresh = Element::bare("vCard", ns::VCARD);
    fresh.append_child(xml::text_elem("FN", ns::VCARD, full));
    let mut n = Element::bare("N", ns::VCARD);
    n.append_child(xml::text_elem("FAMILY", ns::VCARD, family));
    n.append_child(xml::text_elem("GIVEN", ns::VCARD, given));
    fresh.append_child(n);
    for c in kept {
        fresh.append_child(c);
    }
    *card = fresh;
}
