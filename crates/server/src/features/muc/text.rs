//! Checks on what people write into a room's shared state: nicknames, names,
//! descriptions, subjects and reasons. Pure functions; the callers turn a
//! [`TextError`] into a `not-acceptable` stanza error that says what is wrong, in French
//! and English.
//!
//! Nicknames refuse every control, bidirectional-formatting and invisible character (they
//! would let someone pass for someone else). Other texts may hold line breaks (not names)
//! and the marks right-to-left scripts need (U+200E, U+200F, U+061C), but not the
//! embeddings, overrides and isolates that reorder what others see.

use causerie_proto::errors::{Condition, StanzaError};

/// What is wrong with a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Empty, or only spaces (nicknames).
    Empty,
    /// Leading or trailing spaces (nicknames).
    Padded,
    /// Longer than the limit (in characters).
    TooLong(usize),
    /// A control character (line breaks included where not allowed).
    Control,
    /// A bidirectional-formatting or invisible character.
    Bidi,
}

use causerie_ent::validate::{is_bidi_override, is_invisible};

/// A nickname: 1 to `max` characters, no space at either end, nothing invisible.
pub fn check_nick(nick: &str, max: usize) -> Result<(), TextError> {
    if nick.trim().is_empty() {
        return Err(TextError::Empty);
    }
    if nick.trim() != nick {
        return Err(TextError::Padded);
    }
    if nick.chars().any(char::is_control) {
        return Err(TextError::Control);
    }
    if nick.chars().any(is_invisible) {
        return Err(TextError::Bidi);
    }
    if nick.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    Ok(())
}

/// A one-line text (a room's name): no control character, no bidi override; may be empty.
pub fn check_line(text: &str, max: usize) -> Result<(), TextError> {
    check_text(text, max, false)
}

/// A text that may span lines (description, subject, reason).
pub fn check_lines(text: &str, max: usize) -> Result<(), TextError> {
    check_text(text, max, true)
}

fn check_text(text: &str, max: usize, lines: bool) -> Result<(), TextError> {
    let allowed = |c: char| lines && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(TextError::Control);
    }
    if text.chars().any(is_bidi_override) {
        return Err(TextError::Bidi);
    }
    if text.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    Ok(())
}

impl TextError {
    /// The `not-acceptable` error about `what` (French and English names of the field,
    /// e.g. `("Le pseudo", "The nickname")`).
    pub fn stanza_error(self, what_fr: &str, what_en: &str) -> StanzaError {
        let (fr, en) = match self {
            TextError::Empty => (
                format!("{what_fr} est vide."),
                format!("{what_en} is empty."),
            ),
            TextError::Padded => (
                format!("{what_fr} commence ou finit par un espace."),
                format!("{what_en} starts or ends with a space."),
            ),
            TextError::TooLong(max) => (
                format!("{what_fr} est trop long ({max} caractères au plus)."),
                format!("{what_en} is too long (at most {max} characters)."),
            ),
            TextError::Control => (
                format!("{what_fr} contient des caractères de contrôle."),
                format!("{what_en} contains control characters."),
            ),
            TextError::Bidi => (
                format!("{what_fr} contient des caractères invisibles ou de direction d'écriture."),
                format!("{what_en} contains invisible or text-direction characters."),
            ),
        };
        StanzaError::new(Condition::NotAcceptable)
            .with_text("fr", fr)
            .with_text("en", en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames() {
        assert_eq!(check_nick("MARTIN Léa", 64), Ok(()));
        assert_eq!(
            check_nick("سارة", 64),
            Ok(()),
            "right-to-left scripts are fine"
        );
        assert_eq!(check_nick("Zoé 🎶", 64), Ok(()));
        assert_eq!(check_nick("", 64), Err(TextError::Empty));
        assert_eq!(check_nick("   ", 64), Err(TextError::Empty));
        assert_eq!(check_nick(" Léa", 64), Err(TextError::Padded));
        assert_eq!(check_nick("a\u{7}b", 64), Err(TextError::Control));
        assert_eq!(check_nick("a\u{85}b", 64), Err(TextError::Control));
        assert_eq!(check_nick("a\nb", 64), Err(TextError::Control));
        assert_eq!(check_nick("\u{202E}aeL", 64), Err(TextError::Bidi));
        assert_eq!(check_nick("Léa\u{2067}", 64), Err(TextError::Bidi));
        assert_eq!(check_nick("L\u{200B}éa", 64), Err(TextError::Bidi));
        assert_eq!(check_nick("L\u{200F}éa", 64), Err(TextError::Bidi));
        assert_eq!(check_nick("\u{3164}", 64), Err(TextError::Bidi));
        assert_eq!(
            check_nick(&"é".repeat(64), 64),
            Ok(()),
            "characters, not bytes"
        );
        assert_eq!(check_nick(&"é".repeat(65), 64), Err(TextError::TooLong(64)));
    }

    #[test]
    fn names_and_subjects() {
        assert_eq!(check_line("Sortie au musée 🎨", 100), Ok(()));
        assert_eq!(check_line("", 100), Ok(()));
        assert_eq!(check_line("a\nb", 100), Err(TextError::Control));
        assert_eq!(check_lines("a\nb\tc", 100), Ok(()));
        assert_eq!(check_lines("a\u{0}b", 100), Err(TextError::Control));
        assert_eq!(check_lines("abc\u{202E}def", 100), Err(TextError::Bidi));
        assert_eq!(check_lines("\u{200F}שלום", 100), Ok(()), "marks are fine");
        assert_eq!(
            check_lines(&"x".repeat(101), 100),
            Err(TextError::TooLong(100))
        );
    }

    #[test]
    fn errors_say_what_and_why_in_two_languages() {
        let e = TextError::TooLong(64).stanza_error("Le pseudo", "The nickname");
        assert_eq!(e.condition, Condition::NotAcceptable);
        assert!(e.texts[0].1.contains("64") && e.texts[0].0 == "fr");
        assert!(e.texts[1].1.contains("nickname") && e.texts[1].0 == "en");
    }
}
