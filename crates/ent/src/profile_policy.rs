//! What a pupil's account may publish about himself (issue 16, « Photos et chiffrement »,
//! docs/safety.md), as pure decisions over PEP node names and texts:
//!
//! - **No end-to-end encryption for pupils.** Publishing to an OMEMO node (the legacy
//!   `eu.siacs.conversations.axolotl.devicelist` and `…axolotl.bundles:N`, OMEMO 2's
//!   `urn:xmpp:omemo:2:devices` and `urn:xmpp:omemo:2:bundles`, any `urn:xmpp:omemo:*`)
//!   or to an OpenPGP for XMPP key node (XEP-0373, `urn:xmpp:openpgp:0:*`) is refused
//!   with [`OMEMO_REFUSED`]: without keys published no client encrypts to him, so the
//!   school can act on what is reported. A message that carries an end-to-end encrypted
//!   payload ([`end_to_end_payload`]) from or to a pupil is refused with
//!   [`END_TO_END_REFUSED`] (keys exchanged some other way). Adults keep their choice
//!   between themselves.
//! - **No photos for pupils unless their structure allows them.** The XEP-0084 avatar
//!   nodes and a vCard's `PHOTO` are refused with [`PHOTO_REFUSED`]; a structure may allow
//!   them (`Change::SetPupilPhotos`). A pupil of several structures gets photos only if
//!   each allows them (the most protective choice).
//! - **The name is the school's.** The XEP-0172 nickname node is a displayed name: it is
//!   the directory's or nothing ([`NICK_NODE`]).

use crate::register::Text;

/// XEP-0172 User Nickname's PEP node.
pub const NICK_NODE: &str = "http://jabber.org/protocol/nick";

/// Whether a PEP node publishes end-to-end encryption keys: OMEMO's (any version) or
/// OpenPGP for XMPP's (XEP-0373: public keys, their list, a secret key backup).
pub fn is_end_to_end_node(node: &str) -> bool {
    node == "eu.siacs.conversations.axolotl.devicelist"
        || node.starts_with("eu.siacs.conversations.axolotl.bundles:")
        || node.starts_with("urn:xmpp:omemo:")
        || node.starts_with("urn:xmpp:openpgp:0:")
}

/// Whether a message's child (name, namespace) is an end-to-end encrypted payload: OMEMO
/// (legacy and versions 1 and 2), OpenPGP for XMPP (XEP-0373), legacy OpenPGP (XEP-0027).
pub fn end_to_end_payload(name: &str, ns: &str) -> bool {
    matches!(
        (name, ns),
        ("encrypted", "eu.siacs.conversations.axolotl")
            | ("encrypted", "urn:xmpp:omemo:1")
            | ("encrypted", "urn:xmpp:omemo:2")
            | ("openpgp", "urn:xmpp:openpgp:0")
            | ("x", "jabber:x:encrypted")
    )
}

/// Whether a PEP node is one of XEP-0084's (avatar data and metadata).
pub fn is_avatar_node(node: &str) -> bool {
    node == "urn:xmpp:avatar:data" || node == "urn:xmpp:avatar:metadata"
}

/// Why a pupil's client cannot turn on OMEMO (or OpenPGP).
pub const OMEMO_REFUSED: Text = Text::new(
    "Le chiffrement de bout en bout (OMEMO, OpenPGP) n'est pas proposé aux élèves : ton établissement doit pouvoir lire un message signalé pour te protéger en cas de harcèlement. Tes messages restent chiffrés entre ton appareil et le serveur.",
    "Le chiffrement de bout en bout (OMEMO, OpenPGP) n'est pas proposé aux comptes des élèves : votre établissement doit pouvoir lire un message signalé pour protéger les élèves en cas de harcèlement. Vos messages restent chiffrés entre votre appareil et le serveur.",
    "End-to-end encryption (OMEMO, OpenPGP) is not offered to pupils: the school must be able to read a reported message to act on harassment. Messages stay encrypted between the device and the server.",
);

/// Why an end-to-end encrypted message from or to a pupil is not sent.
pub const END_TO_END_REFUSED: Text = Text::new(
    "Un message chiffré de bout en bout (OMEMO, OpenPGP) ne peut pas être envoyé par un élève ni à un élève : ton établissement doit pouvoir lire un message signalé pour te protéger. Envoie-le sans ce chiffrement : il reste chiffré entre ton appareil et le serveur.",
    "Un message chiffré de bout en bout (OMEMO, OpenPGP) ne peut pas être envoyé par un élève ni à un élève : l'établissement doit pouvoir lire un message signalé pour protéger les élèves. Envoyez-le sans ce chiffrement : il reste chiffré entre votre appareil et le serveur.",
    "An end-to-end encrypted message (OMEMO, OpenPGP) cannot be sent by or to a pupil: the school must be able to read a reported message to protect pupils. Send it without that encryption: it stays encrypted between the device and the server.",
);

/// Why a pupil cannot set a profile photo.
pub const PHOTO_REFUSED: Text = Text::new(
    "Les photos de profil ne sont pas activées pour les élèves de ton établissement.",
    "Les photos de profil ne sont pas activées pour les élèves de votre établissement.",
    "Profile photos are turned off for pupils at this school.",
);

/// Why a directory user cannot choose another displayed name.
pub const NAME_REFUSED: Text = Text::new(
    "Ton nom est celui de l'annuaire de l'établissement : il ne peut pas être changé ici.",
    "Votre nom est celui de l'annuaire de l'établissement : il ne peut pas être changé ici.",
    "Your name is the one in the school's directory: it cannot be changed here.",
);

/// Whether a pupil of `structures` may have photos, given each structure's own choice
/// (`choice(id)`: None for the default, off).
pub fn pupil_photos_allowed(structures: &[String], choice: impl Fn(&str) -> Option<bool>) -> bool {
    !structures.is_empty() && structures.iter().all(|s| choice(s).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_nodes_and_payloads() {
        for n in [
            "eu.siacs.conversations.axolotl.devicelist",
            "eu.siacs.conversations.axolotl.bundles:12345",
            "urn:xmpp:omemo:2:devices",
            "urn:xmpp:omemo:2:bundles",
            "urn:xmpp:omemo:1:bundles",
        ] {
            assert!(is_end_to_end_node(n), "{n}");
        }
        for n in [
            "urn:xmpp:openpgp:0:public-keys",
            "urn:xmpp:openpgp:0:public-keys:1357B01865B2503C18453D208CAC2A9678548E35",
            "urn:xmpp:openpgp:0:secret-key",
        ] {
            assert!(is_end_to_end_node(n), "{n}");
        }
        for n in [
            "urn:xmpp:avatar:data",
            "eu.siacs.conversations.axolotl",
            "urn:xmpp:bookmarks:1",
            "urn:xmpp:omemo",
        ] {
            assert!(!is_end_to_end_node(n), "{n}");
        }
        assert!(end_to_end_payload("encrypted", "urn:xmpp:omemo:2"));
        assert!(end_to_end_payload(
            "encrypted",
            "eu.siacs.conversations.axolotl"
        ));
        assert!(end_to_end_payload("openpgp", "urn:xmpp:openpgp:0"));
        assert!(end_to_end_payload("x", "jabber:x:encrypted"));
        assert!(!end_to_end_payload("body", "jabber:client"));
        assert!(!end_to_end_payload("encryption", "urn:xmpp:eme:0"));
        assert!(is_avatar_node("urn:xmpp:avatar:metadata"));
        assert!(!is_avatar_node("urn:xmpp:avatar"));
    }

    #[test]
    fn texts_speak_in_their_register() {
        for t in [
            OMEMO_REFUSED,
            END_TO_END_REFUSED,
            PHOTO_REFUSED,
            NAME_REFUSED,
        ] {
            t.check().unwrap();
        }
    }

    #[test]
    fn photos_need_every_structure() {
        let one = vec!["A".to_string()];
        let two = vec!["A".to_string(), "B".to_string()];
        assert!(!pupil_photos_allowed(&one, |_| None));
        assert!(pupil_photos_allowed(&one, |_| Some(true)));
        assert!(!pupil_photos_allowed(&two, |s| (s == "A").then_some(true)));
        assert!(pupil_photos_allowed(&two, |_| Some(true)));
        assert!(!pupil_photos_allowed(&[], |_| Some(true)));
    }
}
