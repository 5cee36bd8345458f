//! XEP-0054 vcard-temp: an account's own card (set and get), and other
//! accounts' cards (get). The directory will fill the full name with
//! « NOM Prénom ».

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::VcardStore;

use super::{IqResult, internal};
use crate::Server;
use crate::c2s::Session;

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
    match stored.and_then(|x| x.parse::<Element>().ok()) {
        Some(card) if card.is("vCard", ns::VCARD) => Ok(Some(card)),
        // XEP-0054 §3.1: no card yet is an empty card.
        _ => Ok(Some(Element::bare("vCard", ns::VCARD))),
    }
}
