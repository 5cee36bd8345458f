//! Who may use the chat at all: the one access decision ([`decide`]) that the login, the
//! admin console's user card and the enforcement of a directory change all ask, with a
//! typed reason ([`Denied`]) and the texts users see.
//!
//! An account may chat when no administrator locked it and, for a directory user, when he
//! is active and one of his structures has the chat on for his profile. Accounts outside
//! the directory (plain XMPP accounts) may, unless locked.

use crate::model::{Profile, User};
use crate::register::{Register, Text};

/// Whether a structure may use the service, and which profiles of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub enabled: bool,
    pub profiles: Vec<Profile>,
}

impl Default for Access {
    /// Enabled, for all profiles: the setting of a structure nobody configured.
    fn default() -> Access {
        Access {
            enabled: true,
            profiles: Profile::ALL.to_vec(),
        }
    }
}

/// Why an account may not use the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Denied {
    /// An administrator locked the account.
    Locked,
    /// A directory user who is no longer in the directory (deactivated).
    Inactive,
    /// None of the user's structures has the chat on.
    Disabled,
    /// His structures would have it on for him, but a collectivité above them (région,
    /// département, commune) does not (`crate::collectivite`).
    DisabledByCollectivite,
    /// The chat is on in one of his structures, but for other profiles.
    ProfileNotAllowed(Profile),
    /// One of his structures turned its kill switch to `off` (`crate::shutdown`); the
    /// school's own text goes with it (the server has it).
    Shutdown,
}

impl Denied {
    /// A stable name for APIs and logs.
    pub fn code(self) -> &'static str {
        match self {
            Denied::Locked => "account-locked",
            Denied::Inactive => "user-inactive",
            Denied::Disabled => "structure-disabled",
            Denied::DisabledByCollectivite => "collectivite-disabled",
            Denied::ProfileNotAllowed(_) => "profile-not-allowed",
            Denied::Shutdown => "structure-shutdown",
        }
    }

    /// The text shown to the user himself, in its three forms (« tu » for a pupil,
    /// « vous » for an adult: [`crate::register`]).
    pub fn text(self) -> Text<String> {
        match self {
            Denied::Locked => Text::new(
                "Ton compte a été bloqué par un administrateur.",
                "Votre compte a été bloqué par un administrateur.",
                "Your account was locked by an administrator.",
            )
            .to_owned(),
            Denied::Inactive => Text::new(
                "Ton compte n'est plus actif dans l'annuaire de l'établissement.",
                "Votre compte n'est plus actif dans l'annuaire de l'établissement.",
                "Your account is no longer active in the school directory.",
            )
            .to_owned(),
            Denied::Disabled => Text::new(
                "Le chat n'est pas activé dans ton établissement.",
                "Le chat n'est pas activé dans votre établissement.",
                "Chat is not enabled in your school.",
            )
            .to_owned(),
            Denied::DisabledByCollectivite => Text::new(
                "Le chat n'est pas activé pour ton établissement par sa collectivité (région, département ou commune).",
                "Le chat n'est pas activé pour votre établissement par sa collectivité (région, département ou commune).",
                "Chat is not enabled for your school by its local authority (région, département or commune).",
            )
            .to_owned(),
            Denied::Shutdown => crate::shutdown::mode_text(crate::shutdown::Mode::Off).to_owned(),
            Denied::ProfileNotAllowed(p) => {
                let (fr, en) = (p.label_fr(), p.label_en());
                crate::said!(
                    tu: "Le chat n'est pas ouvert au profil « {fr} » dans ton établissement.",
                    vous: "Le chat n'est pas ouvert au profil « {fr} » dans votre établissement.",
                    en: "Chat is not open to the profile \"{en}\" in your school.",
                )
            }
        }
    }

    /// « French — English » for a reader in `register`, for a SASL failure or a stream
    /// error text, which carry one text.
    pub fn text_both(self, register: Register) -> String {
        let t = self.text();
        format!("{} — {}", t.fr(register), t.en())
    }
}

/// Whether an account may use the chat. `user` is his directory record (None for a plain
/// account, and for a deactivated directory user, who is `inactive`); `access` gives a
/// structure's setting, None when it has none (the default: on for everyone).
pub fn decide<'a>(
    user: Option<&User>,
    inactive: bool,
    locked: bool,
    access: impl Fn(&str) -> Option<&'a Access>,
) -> Result<(), Denied> {
    if locked {
        return Err(Denied::Locked);
    }
    if inactive {
        return Err(Denied::Inactive);
    }
    let Some(u) = user else {
        return Ok(());
    };
    if u.structures.is_empty() {
        return Ok(());
    }
    let mut enabled_somewhere = false;
    for s in &u.structures {
        let Some(a) = access(s) else {
            // Never set: on for every profile.
            return Ok(());
        };
        if a.enabled {
            enabled_somewhere = true;
            if a.profiles.contains(&u.profile) {
                return Ok(());
            }
        }
    }
    Err(if enabled_somewhere {
        Denied::ProfileNotAllowed(u.profile)
    } else {
        Denied::Disabled
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(profile: Profile, structures: &[&str]) -> User {
        User {
            login: "x".into(),
            last_name: "X".into(),
            first_name: "Y".into(),
            profile,
            structures: structures.iter().map(|s| s.to_string()).collect(),
            classes: Vec::new(),
            children: Vec::new(),
            password: None,
            admin_of: Vec::new(),
            functions: Vec::new(),
        }
    }

    #[test]
    fn the_decision_in_order() {
        let off_access = Access {
            enabled: false,
            profiles: Profile::ALL.to_vec(),
        };
        let teachers_access = Access {
            enabled: true,
            profiles: vec![Profile::Teacher],
        };
        let set = Access::default();
        let open = |_: &str| None;
        let on = |_: &str| Some(&set);
        let off = |_: &str| Some(&off_access);
        let teachers = |_: &str| Some(&teachers_access);
        let pupil = user(Profile::Student, &["S"]);
        assert_eq!(decide(Some(&pupil), false, false, open), Ok(()));
        assert_eq!(decide(Some(&pupil), false, false, on), Ok(()));
        assert_eq!(decide(None, false, false, off), Ok(()), "a plain account");
        assert_eq!(
            decide(None, false, true, open),
            Err(Denied::Locked),
            "a lock comes first"
        );
        assert_eq!(decide(None, true, false, open), Err(Denied::Inactive));
        assert_eq!(
            decide(Some(&pupil), false, false, off),
            Err(Denied::Disabled)
        );
        assert_eq!(
            decide(Some(&pupil), false, false, teachers),
            Err(Denied::ProfileNotAllowed(Profile::Student))
        );
        // One structure that allows him is enough.
        let two = user(Profile::Student, &["A", "B"]);
        let only_b = |s: &str| if s == "B" { None } else { Some(&off_access) };
        assert_eq!(decide(Some(&two), false, false, only_b), Ok(()));
        // A directory user with no structure is not restricted by any.
        assert_eq!(
            decide(Some(&user(Profile::Guest, &[])), false, false, off),
            Ok(())
        );
    }

    #[test]
    fn texts_name_the_reason_in_both_languages() {
        let t = Denied::ProfileNotAllowed(Profile::Student);
        assert!(t.text().tu.contains("Élève") && t.text().en.contains("Student"));
        assert_eq!(t.code(), "profile-not-allowed");
        for d in [
            Denied::Locked,
            Denied::Inactive,
            Denied::Disabled,
            Denied::ProfileNotAllowed(Profile::Relative),
            Denied::Shutdown,
        ] {
            assert_eq!(d.text().check(), Ok(()), "{d:?}");
        }
        assert_eq!(
            Denied::Locked.text_both(Register::Vous),
            "Votre compte a été bloqué par un administrateur. — \
             Your account was locked by an administrator."
        );
        assert!(
            Denied::Locked
                .text_both(Register::Tu)
                .starts_with("Ton compte")
        );
    }
}
