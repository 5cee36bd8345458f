//! The kill switch (« Coupure »): a structure's head may, at once, restrict or stop the
//! chat of its users, with a text of the school's own that the users see.
//!
//! The modes ([`Mode`]), from the mildest:
//! - `normal`: nothing is restricted;
//! - `staff_to_families`: only the structure's teachers and staff (profiles teacher and
//!   personnel) may write, and only to pupils, parents, teachers and staff of the
//!   directory: pupils, parents and guests of the structure may log in and read but send
//!   nothing (no message, no post in a room, no invitation, no contact request);
//! - `read_only`: nobody of the structure sends anything of the kind; all may log in and
//!   read what they receive;
//! - `off`: no chat at all for the structure's users: their logins are refused with the
//!   school's text and their open sessions end.
//!
//! A user of several structures follows the strictest mode among them ([`strictest`]).
//! What the mode restricts is what a user of the structure *sends*; what others send him
//! is decided by their own structures (and, for `off`, he cannot be reached at all).

use serde::{Deserialize, Serialize};

use crate::model::Profile;
use crate::register::Text;

/// The longest text a school may show with its kill switch (characters).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// A kill switch mode (see the module docs), from the mildest to the strictest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Normal,
    StaffToFamilies,
    ReadOnly,
    Off,
}

impl Mode {
    pub const ALL: [Mode; 4] = [
        Mode::Normal,
        Mode::StaffToFamilies,
        Mode::ReadOnly,
        Mode::Off,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::StaffToFamilies => "staff_to_families",
            Mode::ReadOnly => "read_only",
            Mode::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A structure's kill switch: its mode and the school's text shown with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Shutdown {
    pub mode: Mode,
    /// The school's own text (« Suite à un incident, la messagerie est suspendue jusqu'à
    /// lundi. »), shown to its users with every refusal; None for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Shutdown {
    /// The setting checked: the text trimmed, empty as none, at most
    /// [`MAX_MESSAGE_CHARS`] characters, without control characters.
    pub fn validated(mut self) -> Result<Shutdown, String> {
        self.message = self
            .message
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty());
        if let Some(m) = &self.message {
            if m.chars().count() > MAX_MESSAGE_CHARS {
                return Err(format!("message: at most {MAX_MESSAGE_CHARS} characters"));
            }
            if m.chars().any(|c| c.is_control() && c != '\n') {
                return Err("message: control characters are not allowed".into());
            }
        }
        Ok(self)
    }

    pub fn is_normal(&self) -> bool {
        self.mode == Mode::Normal
    }
}

/// The strictest of several structures' kill switches (a user of several structures).
pub fn strictest<'a>(all: impl IntoIterator<Item = &'a Shutdown>) -> Option<&'a Shutdown> {
    all.into_iter()
        .filter(|s| !s.is_normal())
        .max_by_key(|s| s.mode)
}

/// Whether someone may write profile to profile.
pub fn is_staff(p: Profile) -> bool {
    matches!(p, Profile::Teacher | Profile::Personnel)
}

/// Whether a user of `sender` profile, under `shutdown`, may send something (a message,
/// a room post, an invitation, a contact request) to `recipient` (the recipient's profile;
/// None for a room, or an account outside the directory). Err: the refusal to show him.
pub fn may_send(
    shutdown: Option<&Shutdown>,
    sender: Profile,
    recipient: Option<Profile>,
) -> Result<(), Refusal> {
    let Some(s) = shutdown else {
        return Ok(());
    };
    match s.mode {
        Mode::Normal => Ok(()),
        Mode::Off => Err(Refusal::Off),
        Mode::ReadOnly => Err(Refusal::ReadOnly),
        Mode::StaffToFamilies => {
            if !is_staff(sender) {
                return Err(Refusal::StaffOnly);
            }
            match recipient {
                // A room: staff may post (its members were admitted by the rules).
                None => Ok(()),
                Some(Profile::Guest) => Err(Refusal::FamiliesOnly),
                Some(_) => Ok(()),
            }
        }
    }
}

/// Why the kill switch refused what someone sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Off,
    ReadOnly,
    StaffOnly,
    FamiliesOnly,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Off => "off",
            Refusal::ReadOnly => "read_only",
            Refusal::StaffOnly | Refusal::FamiliesOnly => "staff_to_families",
        }
    }

    /// The refusal, without the school's text.
    pub fn text(self) -> Text {
        match self {
            Refusal::Off => mode_text(Mode::Off),
            Refusal::ReadOnly => Text::new(
                "Ton établissement a suspendu l'envoi de messages : tu peux lire, pas écrire.",
                "Votre établissement a suspendu l'envoi de messages : vous pouvez lire, pas écrire.",
                "Your school has suspended sending messages: you can read, not write.",
            ),
            Refusal::StaffOnly => Text::new(
                "Ton établissement a restreint la messagerie : seuls les enseignants et le personnel peuvent écrire.",
                "Votre établissement a restreint la messagerie : seuls les enseignants et le personnel peuvent écrire.",
                "Your school has restricted the chat: only teachers and staff can write.",
            ),
            Refusal::FamiliesOnly => Text::new(
                "Ton établissement a restreint la messagerie : les messages ne vont qu'aux élèves, aux parents et au personnel.",
                "Votre établissement a restreint la messagerie : les messages ne vont qu'aux élèves, aux parents et au personnel.",
                "Your school has restricted the chat: messages go only to pupils, parents and staff.",
            ),
        }
    }

    /// The refusal with the school's text after it, in its three forms.
    pub fn with_message(self, message: Option<&str>) -> Text<String> {
        with_school_text(self.text(), message)
    }
}

/// What a mode means for the users of the structure (the web client's banner, the notice
/// sent when it changes), without the school's text.
pub fn mode_text(mode: Mode) -> Text {
    match mode {
        Mode::Normal => Text::new(
            "La messagerie de ton établissement fonctionne de nouveau normalement.",
            "La messagerie de votre établissement fonctionne de nouveau normalement.",
            "Your school's chat works normally again.",
        ),
        Mode::StaffToFamilies => Text::new(
            "Messagerie restreinte par ton établissement : seuls les enseignants et le personnel peuvent écrire.",
            "Messagerie restreinte par votre établissement : seuls les enseignants et le personnel peuvent écrire, aux élèves, aux parents et au personnel.",
            "Chat restricted by your school: only teachers and staff can write, to pupils, parents and staff.",
        ),
        Mode::ReadOnly => Text::new(
            "Messagerie en lecture seule : ton établissement a suspendu l'envoi de messages.",
            "Messagerie en lecture seule : votre établissement a suspendu l'envoi de messages.",
            "Chat is read-only: your school has suspended sending messages.",
        ),
        Mode::Off => Text::new(
            "La messagerie est coupée par ton établissement.",
            "La messagerie est coupée par votre établissement.",
            "Chat is turned off by your school.",
        ),
    }
}

/// `text`, then the school's own `message` (the same in every form: the school wrote it).
pub fn with_school_text(text: Text, message: Option<&str>) -> Text<String> {
    match message {
        None => text.to_owned(),
        Some(m) => Text {
            tu: format!("{} « {m} »", text.tu),
            vous: format!("{} « {m} »", text.vous),
            en: format!("{} \"{m}\"", text.en),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(mode: Mode) -> Shutdown {
        Shutdown {
            mode,
            message: Some("Incident en cours.".into()),
        }
    }

    #[test]
    fn who_may_send_in_each_mode() {
        use Profile::*;
        assert_eq!(may_send(None, Student, Some(Student)), Ok(()));
        let normal = set(Mode::Normal);
        assert_eq!(may_send(Some(&normal), Student, Some(Student)), Ok(()));
        let ro = set(Mode::ReadOnly);
        for p in Profile::ALL {
            assert_eq!(
                may_send(Some(&ro), p, Some(Student)),
                Err(Refusal::ReadOnly)
            );
            assert_eq!(may_send(Some(&ro), p, None), Err(Refusal::ReadOnly));
        }
        let stf = set(Mode::StaffToFamilies);
        for staff in [Teacher, Personnel] {
            for to in [Student, Relative, Teacher, Personnel] {
                assert_eq!(
                    may_send(Some(&stf), staff, Some(to)),
                    Ok(()),
                    "{staff:?}→{to:?}"
                );
            }
            assert_eq!(may_send(Some(&stf), staff, None), Ok(()), "a room");
            assert_eq!(
                may_send(Some(&stf), staff, Some(Guest)),
                Err(Refusal::FamiliesOnly)
            );
        }
        for family in [Student, Relative, Guest] {
            assert_eq!(
                may_send(Some(&stf), family, Some(Teacher)),
                Err(Refusal::StaffOnly)
            );
        }
        let off = set(Mode::Off);
        assert_eq!(
            may_send(Some(&off), Teacher, Some(Student)),
            Err(Refusal::Off)
        );
    }

    #[test]
    fn the_strictest_of_several_structures() {
        let (a, b, c) = (
            set(Mode::Normal),
            set(Mode::ReadOnly),
            set(Mode::StaffToFamilies),
        );
        assert_eq!(
            strictest([&a, &c, &b]).map(|s| s.mode),
            Some(Mode::ReadOnly)
        );
        assert_eq!(strictest([&a]), None);
        assert!(Mode::Off > Mode::ReadOnly && Mode::ReadOnly > Mode::StaffToFamilies);
    }

    #[test]
    fn settings_are_checked() {
        let s = Shutdown {
            mode: Mode::ReadOnly,
            message: Some("  ".into()),
        };
        assert_eq!(s.validated().unwrap().message, None);
        let long = Shutdown {
            mode: Mode::Off,
            message: Some("x".repeat(MAX_MESSAGE_CHARS + 1)),
        };
        assert!(long.validated().is_err());
        let ctrl = Shutdown {
            mode: Mode::Off,
            message: Some("a\u{7}b".into()),
        };
        assert!(ctrl.validated().is_err());
        assert_eq!(
            Mode::parse("staff_to_families"),
            Some(Mode::StaffToFamilies)
        );
        assert_eq!(Mode::parse("nope"), None);
        let j: Shutdown = serde_json::from_str(r#"{"mode":"read_only","message":"x"}"#).unwrap();
        assert_eq!(j.mode, Mode::ReadOnly);
    }

    #[test]
    fn texts_speak_in_each_register_and_carry_the_school_text() {
        for r in [
            Refusal::Off,
            Refusal::ReadOnly,
            Refusal::StaffOnly,
            Refusal::FamiliesOnly,
        ] {
            assert_eq!(r.text().check(), Ok(()), "{r:?}");
        }
        for m in Mode::ALL {
            assert_eq!(mode_text(m).check(), Ok(()), "{m:?}");
        }
        let t = Refusal::ReadOnly.with_message(Some("Reprise lundi."));
        assert!(t.tu.ends_with("« Reprise lundi. »"));
        assert!(t.en.ends_with("\"Reprise lundi.\""));
    }
}
