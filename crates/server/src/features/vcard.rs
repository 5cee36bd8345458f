//! XEP-0054 vcard-temp: an account's own card (set and get), and other
//! accounts' cards (get). For directory users the names are the school's: a card
//! read carries the directory's FN (« NOM Prénom ») and N, and a card set that would
//! change them is refused with `not-allowed` and a text saying why (the rest of the card,
//! a photo for instance, is the user's own). A card that leaves FN and N out, or repeats
//! the directory's, is accepted.
//!
//! The card of a directory user also says his profile, the directory's too: vCard's
//! `ROLE` carries its French label (« Élève », « Parent », « Enseignant »…), which any
//! client shows, and `<profile xmlns='urn:causerie:directory:0'>student</profile>` its
//! machine-readable name (`student`, `relative`, `teacher`, `personnel`, `guest`), by
//! which the web client speaks to a pupil with « tu » and to an adult with « vous ».
//! Both are replaced by the directory's on every read and never stored from a card set
//! (a client writing back the card it read keeps working; nobody can claim a profile).
//!
//! A pupil's `PHOTO` follows his structures' choice (`features::profile_policy`): off by
//! default, a card set with a photo is refused with a text, and a photo stored before is
//! left out of the card read.

use crate::stanza::addressed;
use causerie_ent::Profile;
use causerie_ent::Text;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::VcardStore;

use super::profile_policy;
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
        if let Some(u) = server.directory().await.user(user) {
            names_unchanged(payload, &u.display_name(), &u.last_name, &u.first_name)?;
            if has_photo(payload) && !profile_policy::photos_allowed(server, u).await? {
                return Err(profile_policy::photo_refused());
            }
            // The profile is the directory's, added on every read.
            retain_children(&mut card, |c| !is_profile(c));
        }
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
        with_directory_profile(&mut card, u.profile);
        // A photo stored before its structure turned photos off is not shown.
        if has_photo(&card) && !profile_policy::photos_allowed(server, u).await? {
            retain_children(&mut card, |c| !c.is("PHOTO", ns::VCARD));
        }
    }
    Ok(Some(card))
}

/// Whether a card carries a photo (`PHOTO` with anything in it).
fn has_photo(card: &Element) -> bool {
    card.children().any(|c| {
        c.is("PHOTO", ns::VCARD) && (c.children().next().is_some() || !c.text().trim().is_empty())
    })
}

/// `ROLE` and Causerie's `profile` element: what says a card owner's profile.
fn is_profile(c: &Element) -> bool {
    c.is("ROLE", ns::VCARD) || c.is("profile", ns::CAUSERIE_DIRECTORY)
}

/// Keeps the children of `card` that `keep` accepts, in order.
fn retain_children(card: &mut Element, keep: impl Fn(&Element) -> bool) {
    let kept: Vec<Element> = card.children().filter(|c| keep(c)).cloned().collect();
    let mut fresh = Element::bare(card.name(), card.ns());
    for c in kept {
        fresh.append_child(c);
    }
    *card = fresh;
}

/// The directory is the source of truth for the profile too: `ROLE` with its French
/// label, and its wire name in `urn:causerie:directory:0`, whatever the user stored.
fn with_directory_profile(card: &mut Element, profile: Profile) {
    retain_children(card, |c| !is_profile(c));
    card.append_child(xml::text_elem("ROLE", ns::VCARD, profile.label_fr()));
    card.append_child(xml::text_elem(
        "profile",
        ns::CAUSERIE_DIRECTORY,
        profile.as_str(),
    ));
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

/// Whether `card` leaves a directory user's names as the school has them (see the module
/// docs); the error says what a pupil sees in his client.
fn names_unchanged(
    card: &Element,
    full: &str,
    family: &str,
    given: &str,
) -> Result<(), StanzaError> {
    // Spaces and case aside (a card read back says « MARTIN Léa » and « Martin »).
    let words = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let same = |got: String, want: &str| {
        let got = words(&got);
        got.is_empty() || got == words(want)
    };
    let mut ok = true;
    for c in card.children() {
        if c.is("FN", ns::VCARD) {
            ok &= same(c.text(), full);
        } else if c.is("N", ns::VCARD) {
            for part in c.children() {
                ok &= match part.name() {
                    "FAMILY" => same(part.text(), family),
                    "GIVEN" => same(part.text(), given),
                    _ => part.text().trim().is_empty(),
                };
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err(addressed(
            Condition::NotAllowed,
            Text::new(
                "Ton nom est celui de l'annuaire de l'établissement : il ne peut pas être changé ici.",
                "Votre nom est celui de l'annuaire de l'établissement : il ne peut pas être changé ici.",
                "Your name is the one in the school's directory: it cannot be changed here.",
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(inner: &str) -> Element {
        format!("<vCard xmlns='vcard-temp'>{inner}</vCard>")
            .parse()
            .unwrap()
    }

    #[test]
    fn a_directory_users_names_stay_the_schools() {
        let check = |inner: &str| names_unchanged(&card(inner), "MARTIN Léa", "MARTIN", "Léa");
        assert!(check("").is_ok(), "no name at all");
        assert!(check("<PHOTO><TYPE>image/png</TYPE><BINVAL>AA==</BINVAL></PHOTO>").is_ok());
        assert!(
            check("<FN>MARTIN Léa</FN><N><FAMILY>MARTIN</FAMILY><GIVEN>Léa</GIVEN></N>").is_ok()
        );
        assert!(
            check("<FN> MARTIN  Léa </FN><N><GIVEN/></N>").is_ok(),
            "spaces, empty parts"
        );
        assert!(check("<N><FAMILY>Martin</FAMILY></N>").is_ok(), "case");
        let e = check("<FN>Lili</FN>").unwrap_err();
        assert_eq!(e.condition, Condition::NotAllowed);
        // French for a pupil and for an adult (one goes out: `session::reply_error`), English.
        assert_eq!(e.texts.len(), 3);
        assert!(check("<N><FAMILY>DUPONT</FAMILY></N>").is_err());
        assert!(check("<N><GIVEN>Lili</GIVEN></N>").is_err());
        assert!(check("<N><MIDDLE>Marie</MIDDLE></N>").is_err());
    }

    #[test]
    fn the_profile_is_the_directorys() {
        let mut c = card(
            "<NICKNAME>lele</NICKNAME><ROLE>Enseignant</ROLE>\
             <profile xmlns='urn:causerie:directory:0'>teacher</profile>",
        );
        with_directory_profile(&mut c, Profile::Student);
        let roles: Vec<String> = c
            .children()
            .filter(|c| c.is("ROLE", ns::VCARD))
            .map(|c| c.text())
            .collect();
        assert_eq!(roles, ["Élève"]);
        let profiles: Vec<String> = c
            .children()
            .filter(|c| c.is("profile", ns::CAUSERIE_DIRECTORY))
            .map(|c| c.text())
            .collect();
        assert_eq!(profiles, ["student"]);
        assert_eq!(c.get_child("NICKNAME", ns::VCARD).unwrap().text(), "lele");
        assert!(c.is("vCard", ns::VCARD));
    }
}
