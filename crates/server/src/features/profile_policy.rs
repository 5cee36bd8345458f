//! The pupils' profile policy applied to what an account publishes about himself
//! (`causerie_ent::profile_policy`, docs/safety.md « Photos et chiffrement »): PEP
//! publications and node creations (`features::pep`) and vCard sets (`features::vcard`)
//! ask [`check_node`] and [`photos_allowed`]; the router asks [`school_nick`] for the
//! XEP-0172 nickname a stanza carries. Refusals are `not-allowed` with the text in
//! the reader's register and in English.

use causerie_ent::profile_policy::{
    NAME_REFUSED, NICK_NODE, OMEMO_REFUSED, PHOTO_REFUSED, is_avatar_node, is_end_to_end_node,
    pupil_photos_allowed,
};
use causerie_ent::{Profile, User};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use causerie_store::PrivacyStore;

use crate::server::Server;
use crate::stanza::{addressed, internal};

/// The refusal of a photo to a pupil.
pub fn photo_refused() -> StanzaError {
    addressed(Condition::NotAllowed, PHOTO_REFUSED)
}

/// Whether `user` (a directory user) may have a profile photo: adults always, pupils when
/// each of their structures allows it.
pub async fn photos_allowed(server: &Server, user: &User) -> Result<bool, StanzaError> {
    if user.profile != Profile::Student {
        return Ok(true);
    }
    let mut choices = Vec::with_capacity(user.structures.len());
    for s in &user.structures {
        choices.push((
            s.clone(),
            server.store.pupil_photos(s).await.map_err(internal)?,
        ));
    }
    Ok(pupil_photos_allowed(&user.structures, |s| {
        choices.iter().find(|(id, _)| id == s).and_then(|(_, c)| *c)
    }))
}

/// Whether `owner` may create or publish to the PEP node `node` (`payload`: what he
/// publishes, for the nickname and vCard4's photo): OMEMO refused to pupils, avatars to pupils whose
/// structures do not allow photos, a nickname other than the school's name to directory
/// users.
pub async fn check_node(
    server: &Server,
    owner: &str,
    node: &str,
    payload: Option<&Element>,
) -> Result<(), StanzaError> {
    let dir = server.directory().await;
    let Some(user) = dir.user(owner) else {
        return Ok(());
    };
    if user.profile == Profile::Student {
        if is_end_to_end_node(node) {
            return Err(addressed(Condition::NotAllowed, OMEMO_REFUSED));
        }
        // XEP-0084's nodes, or a vCard4 (XEP-0292) that carries a photo.
        let vcard4_photo = node == super::vcard4::NODE
            && payload.is_some_and(|p| p.get_child("photo", super::vcard4::NS).is_some());
        if (is_avatar_node(node) || vcard4_photo) && !photos_allowed(server, user).await? {
            return Err(photo_refused());
        }
    }
    if node == NICK_NODE
        && let Some(nick) = payload
    {
        let fold = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        // Only text: a client shows what is inside a child element too (`<b>…</b>`), which
        // `text()` would not have compared.
        let given = fold(&nick.text());
        let nested = nick.children().next().is_some();
        if nested || (!given.is_empty() && given != fold(&user.display_name())) {
            return Err(addressed(Condition::NotAllowed, NAME_REFUSED));
        }
    }
    Ok(())
}

/// Replaces the text of an XEP-0172 `<nick/>` child of `stanza` (a subscription request
/// or a message that carries one) with `user`'s school name when he is a directory user:
/// nobody is introduced to another under a name the school did not give. Stanzas without
/// one (nearly all) cost a scan of their direct children.
pub async fn school_nick(server: &Server, user: &str, stanza: &mut Element) {
    if !stanza.children().any(|c| c.is("nick", NICK_NODE)) {
        return;
    }
    let Some(name) = server.directory().await.user(user).map(User::display_name) else {
        return;
    };
    for nick in stanza.children_mut().filter(|c| c.is("nick", NICK_NODE)) {
        *nick = xml::text_elem("nick", NICK_NODE, name.clone());
    }
}
