//! App passwords (« Mots de passe d'application »): who may have them, as each structure
//! chooses ([`Policy`]: pupils and adults separately; by default adults yes, pupils no),
//! and the texts of a refusal. A user of several structures may have them only if every
//! one of his structures allows his profile; an account outside the directory may.
//! docs/web-client.md « Mots de passe d'application ».

use serde::{Deserialize, Serialize};

use crate::model::Profile;
use crate::register::Text;

/// The most app passwords one account may have at a time.
pub const PER_ACCOUNT: usize = 10;

/// Longest label, in characters.
pub const MAX_LABEL: usize = 64;

/// Who may have app passwords in a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The structure's pupils.
    pub pupils: bool,
    /// Its adults: relatives, teachers, personnel, guests.
    pub adults: bool,
}

impl Default for Policy {
    /// Adults yes, pupils no.
    fn default() -> Self {
        Policy {
            pupils: false,
            adults: true,
        }
    }
}

impl Policy {
    /// Whether this policy allows a user of `profile`.
    pub fn allows(self, profile: Profile) -> bool {
        match profile {
            Profile::Student => self.pupils,
            _ => self.adults,
        }
    }
}

/// Whether a directory user of `profile` in `structures` may have and use app
/// passwords, given each structure's own choice (`choice(id)`: None for the default).
/// Without any structure, the default decides.
pub fn allowed(
    profile: Profile,
    structures: &[String],
    choice: impl Fn(&str) -> Option<Policy>,
) -> bool {
    if structures.is_empty() {
        return Policy::default().allows(profile);
    }
    structures
        .iter()
        .all(|s| choice(s).unwrap_or_default().allows(profile))
}

/// Why a user may not create or use an app password.
pub const REFUSED: Text = Text::new(
    "Les mots de passe d'application ne sont pas autorisés pour toi dans ton établissement.",
    "Les mots de passe d'application ne sont pas autorisés pour vous dans votre établissement.",
    "App passwords are not allowed for you at your school.",
);

/// Why a login with an app password that was revoked meanwhile, or a session opened with
/// it, ends.
pub const REVOKED: Text = Text::same(
    "Ce mot de passe d'application a été supprimé.",
    "This app password was revoked.",
);

/// What a user is told when an app password was made for his account (by himself in
/// another window, by an administrator, or by anyone holding his session): `{label}` and
/// `{who}` are filled by [`made_notice`].
pub const MADE: Text = Text::new(
    "Un mot de passe d'application « {label} » vient d'être créé pour ton compte ({who}). Si ce n'est pas toi qui l'as demandé, supprime-le dans « Réglages » et préviens ton établissement.",
    "Un mot de passe d'application « {label} » vient d'être créé pour votre compte ({who}). Si vous ne l'avez pas demandé, supprimez-le dans « Réglages » et prévenez votre établissement.",
    "An app password « {label} » was just made for your account ({who}). If you did not ask for it, delete it in « Settings » and tell your school.",
);

/// Who made an app password, for [`made_notice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadeBy<'a> {
    /// An administrator of the console, by login.
    Admin(&'a str),
    /// The server's operator (the command line).
    Operator,
    /// A session in the user's name (the web client, or the portal's session).
    Session,
}

/// [`MADE`] for `label`, made by `by`.
pub fn made_notice(label: &str, by: MadeBy<'_>) -> Text<String> {
    let (tu_who, vous_who, en_who) = match by {
        MadeBy::Admin(admin) => (
            format!("par l'administrateur {admin}"),
            format!("par l'administrateur {admin}"),
            format!("by the administrator {admin}"),
        ),
        MadeBy::Operator => (
            "par l'exploitant du serveur".to_string(),
            "par l'exploitant du serveur".to_string(),
            "by the server's operator".to_string(),
        ),
        MadeBy::Session => (
            "depuis une session à ton nom".to_string(),
            "depuis une session à votre nom".to_string(),
            "from a session in your name".to_string(),
        ),
    };
    let fill = |t: &str, who: &str| t.replace("{label}", label).replace("{who}", who);
    Text {
        tu: fill(MADE.tu, &tu_who),
        vous: fill(MADE.vous, &vous_who),
        en: fill(MADE.en, &en_who),
    }
}

/// Why a user may not create one more.
pub const TOO_MANY: Text = Text::new(
    "Tu as déjà 10 mots de passe d'application : supprime-en un d'abord.",
    "Vous avez déjà 10 mots de passe d'application : supprimez-en un d'abord.",
    "You already have 10 app passwords: revoke one first.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_structure_must_allow_the_profile() {
        let one = vec!["A".to_string()];
        let two = vec!["A".to_string(), "B".to_string()];
        let open = Policy {
            pupils: true,
            adults: true,
        };
        let closed = Policy {
            pupils: false,
            adults: false,
        };
        // The default: adults yes, pupils no.
        assert!(allowed(Profile::Relative, &one, |_| None));
        assert!(allowed(Profile::Teacher, &[], |_| None));
        assert!(!allowed(Profile::Student, &one, |_| None));
        assert!(!allowed(Profile::Student, &[], |_| Some(open)));
        assert!(allowed(Profile::Student, &one, |_| Some(open)));
        assert!(!allowed(Profile::Student, &two, |s| (s == "A").then_some(open)));
        assert!(!allowed(Profile::Personnel, &two, |s| (s == "B").then_some(closed)));
        assert!(allowed(Profile::Guest, &two, |s| (s == "B").then_some(open)));
    }

    #[test]
    fn texts_speak_in_their_register() {
        for t in [REFUSED, TOO_MANY, MADE, REVOKED] {
            t.check().unwrap();
        }
        for by in [
            MadeBy::Admin("admin.college"),
            MadeBy::Operator,
            MadeBy::Session,
        ] {
            let t = made_notice("Téléphone", by);
            t.check().unwrap();
            assert!(
                t.tu.contains("« Téléphone »") && !t.en.contains('{'),
                "{t:?}"
            );
        }
        assert!(TOO_MANY.en().contains(&PER_ACCOUNT.to_string()));
    }
}
