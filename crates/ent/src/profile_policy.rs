//! What a pupil's account may publish about himself (issue 16, « Photos et chiffrement »,
//! docs/safety.md), as pure decisions over PEP node names and texts:
//!
//! - **No end-to-end encryption for pupils.** Publishing to an OMEMO node (the legacy
//!   `eu.siacs.conversations.axolotl.devicelist` and `…axolotl.bundles:N`, OMEMO 2's
//!   `urn:xmpp:omemo:2:devices` and `urn:xmpp:omemo:2:bundles`, any `urn:xmpp:omemo:*`)
//!   is refused with [`OMEMO_REFUSED`]: without a device list no client encrypts to him,
//!   so the school can act on what is reported. Adults keep OMEMO.
//! - **No photos for pupils unless their structure allows them.** The XEP-0084 avatar
//!   nodes and a vCard's `PHOTO` are refused with [`PHOTO_REFUSED`]; a structure may allow
//!   them (`Change::SetPupilPhotos`). A pupil of several structures gets photos only if
//!   each allows them (the most protective choice).
//! - **The name is the school's.** The XEP-0172 nickname node is a displayed name: it is
//!   the directory's or nothing ([`NICK_NODE`]).

use crate::register::Text;

/// XEP-0172 User Nickname's PEP node.
pub const NICK_NODE: &str = "http://jabber.org/protocol/nick";

/// Whether a PEP node is one of OMEMO's (any version).
pub fn is_omemo_node(node: &str) -> bool {
    node == "eu.siacs.conversations.axolotl.devicelist"
        || node.starts_with("eu.siacs.conversations.axolotl.bundles:")
        || node.starts_with("urn:xmpp:omemo:")
}

/// Whether a PEP node is one of XEP-0084's (avatar data and metadata).
pub fn is_avatar_node(node: &str) -> bool {
    node == "urn:xmpp:avatar:data" || node == "urn:xmpp:avatar:metadata"
}

/// Why a pupil's client cannot turn on OMEMO.
pub const OMEMO_REFUSED: Text = Text::new(
    "Le chiffrement de bout en bout (OMEMO) n'est pas proposé aux élèves : ton établissement doit pouvoir lire un message signalé pour te protéger en cas de harcèlement. Tes messages restent chiffrés entre ton appareil et le serveur.",
    "Le chiffrement de bout en bout (OMEMO) n'est pas proposé aux comptes des élèves : votre établissement doit pouvoir lire un message signalé pour protéger les élèves en cas de harcèlement. Vos messages restent chiffrés entre votre appareil et le serveur.",
    "End-to-end encryption (OMEMO) is not offered to pupils: the school must be able to read a reported message to act on harassment. Messages stay encrypted between the device and the server.",
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
    fn omemo_nodes() {
        for n in [
            "eu.siacs.conversations.axolotl.devicelist",
            "eu.siacs.conversations.axolotl.bundles:12345",
            "urn:xmpp:omemo:2:devices",
            "urn:xmpp:omemo:2:bundles",
            "urn:xmpp:omemo:1:bundles",
        ] {
            assert!(is_omemo_node(n), "{n}");
        }
        for n in [
            "urn:xmpp:avatar:data",
            "eu.siacs.conversations.axolotl",
            "urn:xmpp:bookmarks:1",
            "urn:xmpp:omemo",
        ] {
            assert!(!is_omemo_node(n), "{n}");
        }
        assert!(is_avatar_node("urn:xmpp:avatar:metadata"));
        assert!(!is_avatar_node("urn:xmpp:avatar"));
    }

    #[test]
    fn texts_speak_in_their_register() {
        for t in [OMEMO_REFUSED, PHOTO_REFUSED, NAME_REFUSED] {
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
