//! How the server's texts speak to whoever reads them: French has two registers, « tu »
//! for pupils and « vous » for adults (parents, teachers, staff, guests) and for accounts
//! outside the directory — the rule the web client follows (web/src/i18n.ts,
//! `registerOf`). Every text the server shows a user states its three forms in one place,
//! a [`Text`]: French in « tu », French in « vous », English. The reader's
//! [`Register`] comes from his directory profile ([`Register::of`]); the language from
//! his stream's `xml:lang`, as for every other text.
//!
//! A text that speaks to nobody in particular (« Ce compte n'existe pas. ») is
//! [`Text::same`]: one French form for both registers. A text broadcast to several readers
//! (a room's notice) is written that way, impersonal.
//!
//! [`speaks_tu`] and [`speaks_vous`] tell which register a French text uses; the tests of
//! every crate that writes texts use them to check each form.

use crate::model::Profile;

/// How a French text addresses its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Register {
    /// « tu »: a pupil.
    Tu,
    /// « vous »: an adult, or someone the server does not know (the default).
    #[default]
    Vous,
}

impl Register {
    /// The register for a directory profile: « tu » for a pupil only, « vous » for every
    /// other profile and for an account outside the directory (`None`).
    pub fn of(profile: Option<Profile>) -> Register {
        match profile {
            Some(Profile::Student) => Register::Tu,
            _ => Register::Vous,
        }
    }

    /// `tu` or `vous` (logs, tests).
    pub fn as_str(self) -> &'static str {
        match self {
            Register::Tu => "tu",
            Register::Vous => "vous",
        }
    }
}

/// A text shown to a user, in its three forms: French addressed with « tu », French
/// addressed with « vous », English. `S` is `&'static str` for a fixed text, `String` for
/// one with values in it ([`said!`](crate::said)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Text<S = &'static str> {
    pub tu: S,
    pub vous: S,
    pub en: S,
}

impl Text<&'static str> {
    /// A fixed text in its three forms.
    pub const fn new(tu: &'static str, vous: &'static str, en: &'static str) -> Self {
        Text { tu, vous, en }
    }

    /// A text that addresses nobody: the same French in both registers.
    pub const fn same(fr: &'static str, en: &'static str) -> Self {
        Text {
            tu: fr,
            vous: fr,
            en,
        }
    }
}

impl<S: AsRef<str>> Text<S> {
    /// The French form for a reader in `register`.
    pub fn fr(&self, register: Register) -> &str {
        match register {
            Register::Tu => self.tu.as_ref(),
            Register::Vous => self.vous.as_ref(),
        }
    }

    /// The English form.
    pub fn en(&self) -> &str {
        self.en.as_ref()
    }

    /// The form for an `xml:lang` value and a register: French for `fr`, `fr-FR`…,
    /// English otherwise.
    pub fn get(&self, lang: &str, register: Register) -> &str {
        if is_french(lang) {
            self.fr(register)
        } else {
            self.en()
        }
    }

    /// The same text with owned strings.
    pub fn to_owned(&self) -> Text<String> {
        Text {
            tu: self.tu.as_ref().to_owned(),
            vous: self.vous.as_ref().to_owned(),
            en: self.en.as_ref().to_owned(),
        }
    }

    /// Whether each form speaks in its register: the « tu » form has nothing of
    /// « vous », the « vous » form nothing of « tu » ([`speaks_tu`], [`speaks_vous`]).
    /// `Err` says which form is wrong.
    pub fn check(&self) -> Result<(), String> {
        let (tu, vous, en) = (self.tu.as_ref(), self.vous.as_ref(), self.en.as_ref());
        if tu.trim().is_empty() || vous.trim().is_empty() || en.trim().is_empty() {
            return Err(format!("a form is empty: {tu:?} / {vous:?} / {en:?}"));
        }
        if speaks_vous(tu) {
            return Err(format!("the « tu » form says « vous »: {tu:?}"));
        }
        if speaks_tu(vous) {
            return Err(format!("the « vous » form says « tu »: {vous:?}"));
        }
        if tu == en || vous == en {
            return Err(format!("the English form is the French one: {en:?}"));
        }
        Ok(())
    }
}

/// Whether an `xml:lang` value is French (`fr`, `fr-FR`, `fr_CA`…).
pub fn is_french(lang: &str) -> bool {
    lang.split(['-', '_'])
        .next()
        .is_some_and(|p| p.eq_ignore_ascii_case("fr"))
}

/// A [`Text<String>`] from three format strings, whose `{name}` placeholders take the
/// variables of that name in scope (as `format!`'s): `said!(tu: "Tu fais déjà partie de
/// {max} conversations.", vous: "Vous faites déjà partie de {max} conversations.", en:
/// "You are already in {max} conversations.")`.
#[macro_export]
macro_rules! said {
    (tu: $tu:literal, vous: $vous:literal, en: $en:literal $(,)?) => {
        $crate::register::Text {
            tu: format!($tu),
            vous: format!($vous),
            en: format!($en),
        }
    };
}

/// The imperatives of « tu » the server's texts use (its pronouns and possessives are in
/// [`speaks_tu`]). Those that are also nouns (« demande », « adresse ») are in
/// `TU_IF_DETERMINER`.
const TU_WORDS: &[&str] = &[
    "attends",
    "dis",
    "débloque",
    "donne",
    "écris",
    "entre",
    "indique",
    "quitte",
    "quittes",
    "réessaie",
    "choisis",
    "ouvre",
    "saisis",
    "connecte",
    "contacte",
    "crée",
];

/// The words of « vous »: pronouns, possessives, imperatives not in -ez (and any verb in
/// -ez, below).
const VOUS_WORDS: &[&str] = &["vous", "votre", "vos", "dites", "faites"];

/// Words in -ez that are not verbs.
const NOT_VERBS_IN_EZ: &[&str] = &["chez", "assez", "nez", "rez"];

/// Imperatives of « tu » that are also nouns: « tu » only before a determiner
/// (« demande une affiliation », not « Demande de blocage inconnue »).
const TU_IF_DETERMINER: &[&str] = &["demande", "adresse", "recherche"];
const DETERMINERS: &[&str] = &[
    "un", "une", "le", "la", "les", "l", "ta", "ton", "tes", "son", "sa", "ses", "au",
];

/// The words of a text, lowercase, each with whether it starts a sentence or clause
/// (after `.`, `:`, `;`, `,`, `!`, `?`, or first). `t'` stays one word.
fn words(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut clause_start = true;
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || ((c == '\'' || c == '’') && word == "t") {
            word.extend(c.to_lowercase());
            continue;
        }
        if !word.is_empty() {
            out.push((std::mem::take(&mut word), clause_start));
            clause_start = false;
        }
        if matches!(c, '.' | ':' | ';' | ',' | '!' | '?') {
            clause_start = true;
        }
    }
    out
}

/// Whether a French text addresses its reader with « tu »: a pronoun or possessive of
/// « tu » (`tu`, `te`, `toi`, `ton`, `ta`, `tes`, `t'`), or an imperative of « tu » the
/// server uses at the start of a sentence or clause (« Attends un peu. »,
/// « … : quitte-la »).
pub fn speaks_tu(text: &str) -> bool {
    let words = words(text);
    words.iter().enumerate().any(|(i, (w, clause_start))| {
        let w = w.as_str();
        let next = words.get(i + 1).map(|(n, _)| n.as_str()).unwrap_or("");
        ["tu", "te", "toi", "ton", "ta", "tes"].contains(&w)
            || w.starts_with("t'")
            || w.starts_with("t’")
            || (*clause_start && TU_WORDS.contains(&w))
            || (*clause_start && TU_IF_DETERMINER.contains(&w) && DETERMINERS.contains(&next))
    })
}

/// Whether a French text addresses its reader with « vous »: `vous`, `votre`, `vos`,
/// `dites`, `faites`, or a verb in -ez.
pub fn speaks_vous(text: &str) -> bool {
    words(text).into_iter().any(|(w, _)| {
        VOUS_WORDS.contains(&w.as_str())
            || (w.len() > 3 && w.ends_with("ez") && !NOT_VERBS_IN_EZ.contains(&w.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pupils_are_tu_everyone_else_vous() {
        assert_eq!(Register::of(Some(Profile::Student)), Register::Tu);
        for p in [
            Profile::Relative,
            Profile::Teacher,
            Profile::Personnel,
            Profile::Guest,
        ] {
            assert_eq!(Register::of(Some(p)), Register::Vous, "{p:?}");
        }
        assert_eq!(Register::of(None), Register::Vous, "outside the directory");
        assert_eq!(Register::default(), Register::Vous);
    }

    #[test]
    fn a_text_gives_the_form_for_its_reader() {
        const T: Text = Text::new("Attends un peu.", "Attendez un peu.", "Wait a little.");
        assert_eq!(T.get("fr", Register::Tu), "Attends un peu.");
        assert_eq!(T.get("fr-FR", Register::Vous), "Attendez un peu.");
        assert_eq!(T.get("en", Register::Tu), "Wait a little.");
        assert_eq!(T.get("de", Register::Vous), "Wait a little.");
        assert_eq!(T.check(), Ok(()));
        let max = 20;
        let t = said!(
            tu: "Tu fais déjà partie de {max} conversations.",
            vous: "Vous faites déjà partie de {max} conversations.",
            en: "You are already in {max} conversations.",
        );
        assert_eq!(
            t.fr(Register::Tu),
            "Tu fais déjà partie de 20 conversations."
        );
        assert_eq!(t.en(), "You are already in 20 conversations.");
        assert_eq!(t.check(), Ok(()));
        assert_eq!(T.to_owned().vous, "Attendez un peu.");
    }

    #[test]
    fn the_register_of_a_french_text() {
        for tu in [
            "Tu as bloqué cette personne.",
            "Les règles de ton établissement ne le permettent pas.",
            "Attends un peu.",
            "Tu es dans cette conversation : quitte-la plutôt.",
            "Le message n'a pas pu être enregistré ; réessaie.",
            "Pour entrer, adresse ta présence à la conversation.",
            "MARTIN Léa t'a retiré de la conversation.",
            "Pour retirer un participant, donne son pseudo.",
            "Liste inconnue : demande une affiliation.",
            "Indique au moins une adresse à bloquer.",
        ] {
            assert!(speaks_tu(tu), "{tu}");
            assert!(!speaks_vous(tu), "{tu}");
        }
        for vous in [
            "Vous avez bloqué cette personne.",
            "Les règles de votre établissement ne le permettent pas.",
            "Attendez un peu.",
            "Réessayez plus tard.",
            "MARTIN Léa vous a retiré de la conversation.",
        ] {
            assert!(speaks_vous(vous), "{vous}");
            assert!(!speaks_tu(vous), "{vous}");
        }
        for neither in [
            "Ce compte n'existe pas.",
            "Seuls ses contacts voient la dernière activité de quelqu'un.",
            "L'adresse de la conversation est trop longue.",
            "Messages privés entre participants",
            "Les règles de l'établissement ne permettent pas à MARTIN Léa de communiquer.",
            "Type de message, de présence ou de requête inconnu.",
            "Demande de blocage inconnue : <blocklist/> se lit.",
            "Adresse invalide dans la demande de blocage.",
            "Le texte (cette fois) est trop long.",
        ] {
            assert!(!speaks_tu(neither), "{neither}");
            assert!(!speaks_vous(neither), "{neither}");
        }
    }

    #[test]
    fn check_finds_a_form_in_the_wrong_register() {
        assert!(
            Text::new("Attendez.", "Attendez.", "Wait.")
                .check()
                .is_err()
        );
        assert!(Text::new("Attends.", "Attends.", "Wait.").check().is_err());
        assert!(Text::new("Attends.", "", "Wait.").check().is_err());
        assert!(
            Text::same("Ce compte n'existe pas.", "No such account.")
                .check()
                .is_ok()
        );
        assert!(Text::same("Non.", "Non.").check().is_err());
    }

    #[test]
    fn french_tags() {
        assert!(is_french("fr") && is_french("FR-fr") && is_french("fr_CA"));
        assert!(!is_french("en") && !is_french("") && !is_french("frr"));
    }
}
