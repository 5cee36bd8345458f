//! File sharing (XEP-0363 HTTP File Upload) as the school allows it, as pure functions:
//! each structure's [`UploadSettings`] (on or off, largest file, allowed types), the
//! default of a structure that set nothing ([`default_for`]: off for a primary school),
//! the settings of a user of several structures ([`combine`]: the strictest of theirs),
//! the check of one request ([`check`]) and how a stored file is served back
//! ([`served_type`], [`safe_filename`]).
//!
//! The directory does not say what kind of school a structure is: only its name does. A
//! structure whose name reads like a primary school (« École … », « … primaire »,
//! « élémentaire », « maternelle », « groupe scolaire », accents and case folded) has file
//! sharing off until its administrator turns it on; other structures follow the
//! configured default (`[upload]`).

use serde::{Deserialize, Serialize};

use crate::fold::fold;
use crate::register::Text;

/// Largest file a structure may allow (100 MiB).
pub const MAX_BYTES_LIMIT: u64 = 100 * 1024 * 1024;

/// Most allowed types a structure may list.
pub const MAX_TYPES: usize = 32;

/// The types a structure allows unless it says otherwise: common images and PDF.
pub const DEFAULT_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
];

/// The only types ever served inline (shown in the page): plain raster images. Anything
/// else is a download (`Content-Disposition: attachment`); SVG, whose XML may carry
/// scripts, is not one of them.
pub const INLINE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];

/// What a structure allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    /// File sharing is on.
    pub enabled: bool,
    /// Largest file, in bytes (1 to [`MAX_BYTES_LIMIT`]).
    pub max_bytes: u64,
    /// Allowed MIME types (`type/subtype`, lower case).
    pub types: Vec<String>,
}

impl UploadSettings {
    /// Settings with the default types.
    pub fn new(enabled: bool, max_bytes: u64) -> UploadSettings {
        UploadSettings {
            enabled,
            max_bytes,
            types: DEFAULT_TYPES.iter().map(|t| (*t).to_string()).collect(),
        }
    }

    /// Checks the bounds and normalises the types (lower case, no parameters, no
    /// duplicates); the error says why, in English.
    pub fn validated(mut self) -> Result<UploadSettings, String> {
        if !(1..=MAX_BYTES_LIMIT).contains(&self.max_bytes) {
            return Err(format!(
                "the largest file is 1 to {MAX_BYTES_LIMIT} bytes, not {}",
                self.max_bytes
            ));
        }
        if self.types.len() > MAX_TYPES {
            return Err(format!("at most {MAX_TYPES} types"));
        }
        let mut types: Vec<String> = Vec::with_capacity(self.types.len());
        for t in &self.types {
            let n = normalize_type(t).ok_or_else(|| format!("`{t}` is not a MIME type"))?;
            if !types.contains(&n) {
                types.push(n);
            }
        }
        self.types = types;
        Ok(self)
    }
}

/// Whether a structure's name reads like a primary school's (see the module docs).
pub fn looks_primary(name: &str) -> bool {
    let folded = fold(name);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .iter()
        .any(|w| matches!(*w, "ecole" | "primaire" | "elementaire" | "maternelle"))
        || folded.contains("groupe scolaire")
}

/// The settings of a structure named `name` that set none of its own: off for a primary
/// school, else the configured default.
pub fn default_for(name: &str, configured: &UploadSettings) -> UploadSettings {
    UploadSettings {
        enabled: configured.enabled && !looks_primary(name),
        ..configured.clone()
    }
}

/// The settings of a user of several structures: on only if every one allows it, the
/// smallest largest file, the types all allow. `None` for a user in no structure.
pub fn combine<'a>(all: impl IntoIterator<Item = &'a UploadSettings>) -> Option<UploadSettings> {
    let mut out: Option<UploadSettings> = None;
    for s in all {
        out = Some(match out {
            None => s.clone(),
            Some(o) => UploadSettings {
                enabled: o.enabled && s.enabled,
                max_bytes: o.max_bytes.min(s.max_bytes),
                types: o
                    .types
                    .into_iter()
                    .filter(|t| s.types.contains(t))
                    .collect(),
            },
        });
    }
    out
}

/// Why a request for a slot is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// File sharing is off for the user.
    Disabled,
    /// Larger than `max` bytes.
    TooLarge { max: u64 },
    /// An empty file.
    Empty,
    /// A type the user's structures do not allow.
    TypeNotAllowed,
}

impl Refusal {
    /// The reason, in its three forms ([`crate::register`]).
    pub fn text(&self) -> Text<String> {
        match self {
            Refusal::Disabled => Text::new(
                "Le partage de fichiers n'est pas ouvert dans ton établissement.",
                "Le partage de fichiers n'est pas ouvert dans votre établissement.",
                "File sharing is not open in your school.",
            )
            .to_owned(),
            Refusal::TooLarge { max } => {
                let (fr, en) = (human_size(*max, true), human_size(*max, false));
                Text {
                    tu: format!("Fichier trop gros : {fr} au plus."),
                    vous: format!("Fichier trop gros : {fr} au plus."),
                    en: format!("File too large: at most {en}."),
                }
            }
            Refusal::Empty => Text::same("Le fichier est vide.", "The file is empty.").to_owned(),
            Refusal::TypeNotAllowed => Text::same(
                "Ce type de fichier n'est pas autorisé.",
                "This type of file is not allowed.",
            )
            .to_owned(),
        }
    }
}

/// `n` bytes for people: « 10 Mo » / "10 MB" (rounded down to a whole unit past 1 KiB).
pub fn human_size(n: u64, french: bool) -> String {
    let (value, unit_fr, unit_en) = if n >= 1024 * 1024 {
        (n / (1024 * 1024), "Mo", "MB")
    } else if n >= 1024 {
        (n / 1024, "ko", "KB")
    } else {
        (n, "octets", "bytes")
    };
    format!("{value} {}", if french { unit_fr } else { unit_en })
}

/// Checks a request for a slot of `size` bytes of type `content_type` (already
/// normalised) against the user's settings.
pub fn check(settings: &UploadSettings, size: u64, content_type: &str) -> Result<(), Refusal> {
    if !settings.enabled {
        return Err(Refusal::Disabled);
    }
    if size == 0 {
        return Err(Refusal::Empty);
    }
    if size > settings.max_bytes {
        return Err(Refusal::TooLarge {
            max: settings.max_bytes,
        });
    }
    if !settings.types.iter().any(|t| t == content_type) {
        return Err(Refusal::TypeNotAllowed);
    }
    Ok(())
}

/// A MIME type in its compared form: lower case, without parameters (`; charset=…`),
/// `type/subtype` of token characters; None when it is not one.
pub fn normalize_type(t: &str) -> Option<String> {
    let t = t.split(';').next()?.trim().to_ascii_lowercase();
    let (main, sub) = t.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    (token(main) && token(sub)).then_some(t)
}

/// The type a file's name suggests, for a request without one (the common types only).
pub fn type_from_filename(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// How a stored file of type `stored` is served: the `Content-Type` sent and whether it is
/// shown inline. Plain images are; PDF keeps its type but is a download; anything else is
/// `application/octet-stream`, a download (never HTML, SVG or script in the page).
pub fn served_type(stored: &str) -> (&'static str, bool) {
    if let Some(t) = INLINE_TYPES.iter().find(|t| **t == stored) {
        return (t, true);
    }
    if stored == "application/pdf" {
        return ("application/pdf", false);
    }
    ("application/octet-stream", false)
}

/// A file name safe in a URL path and a `Content-Disposition` header: the last path
/// component, ASCII letters, digits, `.`, `-` and `_` kept, anything else `_`, no leading
/// dot, at most 64 characters; `file` when nothing is left.
pub fn safe_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    if out.len() > 64 {
        // Keep the extension.
        let ext = out
            .rsplit_once('.')
            .map(|(_, e)| e.to_string())
            .filter(|e| e.len() <= 10);
        out.truncate(match &ext {
            Some(e) => 63 - e.len(),
            None => 64,
        });
        if let Some(e) = ext {
            out.push('.');
            out.push_str(&e);
        }
    }
    if out.is_empty() || out.chars().all(|c| c == '_') {
        return "file".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(max: u64) -> UploadSettings {
        UploadSettings::new(true, max)
    }

    #[test]
    fn primary_schools_are_recognised_by_name() {
        for (name, primary) in [
            ("École élémentaire Jules Ferry", true),
            ("ECOLE PRIMAIRE PUBLIQUE", true),
            ("Ecole maternelle Les Lilas", true),
            ("Groupe scolaire Jean Jaurès", true),
            ("École primaire privée Sainte-Marie", true),
            ("Collège Jean Moulin", false),
            ("Lycée Victor Hugo", false),
            ("Lycée professionnel Écoles-Vieilles", false),
            ("Collège de l'Écolier", false),
        ] {
            assert_eq!(looks_primary(name), primary, "{name}");
        }
    }

    #[test]
    fn defaults_are_off_for_primary_schools_only() {
        let configured = on(10 << 20);
        assert!(!default_for("École Jules Ferry", &configured).enabled);
        assert!(default_for("Collège Jean Moulin", &configured).enabled);
        let off = UploadSettings::new(false, 10 << 20);
        assert!(!default_for("Collège Jean Moulin", &off).enabled);
    }

    #[test]
    fn several_structures_give_the_strictest() {
        let a = on(10);
        let b = UploadSettings {
            enabled: true,
            max_bytes: 5,
            types: vec!["image/png".into(), "text/plain".into()],
        };
        let c = combine([&a, &b]).unwrap();
        assert_eq!(c.max_bytes, 5);
        assert_eq!(c.types, vec!["image/png".to_string()]);
        assert!(c.enabled);
        let off = UploadSettings::new(false, 100);
        assert!(!combine([&a, &off]).unwrap().enabled);
        assert_eq!(combine(std::iter::empty()), None);
    }

    #[test]
    fn requests_are_checked() {
        let s = on(1000);
        assert_eq!(check(&s, 10, "image/png"), Ok(()));
        assert_eq!(check(&s, 1000, "application/pdf"), Ok(()));
        assert_eq!(
            check(&s, 1001, "image/png"),
            Err(Refusal::TooLarge { max: 1000 })
        );
        assert_eq!(check(&s, 0, "image/png"), Err(Refusal::Empty));
        assert_eq!(check(&s, 10, "text/html"), Err(Refusal::TypeNotAllowed));
        assert_eq!(check(&s, 10, "image/svg+xml"), Err(Refusal::TypeNotAllowed));
        let off = UploadSettings::new(false, 1000);
        assert_eq!(check(&off, 10, "image/png"), Err(Refusal::Disabled));
    }

    #[test]
    fn types_are_normalised() {
        assert_eq!(
            normalize_type("Image/PNG; charset=x").as_deref(),
            Some("image/png")
        );
        assert_eq!(normalize_type("image"), None);
        assert_eq!(normalize_type("image/"), None);
        assert_eq!(normalize_type("text/html\r\nX: y"), None);
        assert_eq!(normalize_type("a b/c"), None);
        let s = UploadSettings {
            enabled: true,
            max_bytes: 10,
            types: vec!["IMAGE/png".into(), "image/png".into()],
        }
        .validated()
        .unwrap();
        assert_eq!(s.types, vec!["image/png".to_string()]);
        assert!(UploadSettings::new(true, 0).validated().is_err());
        assert!(
            UploadSettings::new(true, MAX_BYTES_LIMIT + 1)
                .validated()
                .is_err()
        );
        assert!(
            UploadSettings {
                types: vec!["nope".into()],
                ..on(10)
            }
            .validated()
            .is_err()
        );
    }

    #[test]
    fn only_plain_images_are_inline() {
        assert_eq!(served_type("image/png"), ("image/png", true));
        assert_eq!(served_type("application/pdf"), ("application/pdf", false));
        assert_eq!(
            served_type("text/html"),
            ("application/octet-stream", false)
        );
        assert_eq!(
            served_type("image/svg+xml"),
            ("application/octet-stream", false)
        );
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(safe_filename("photo.png"), "photo.png");
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\x\\été 1.jpg"), "_t__1.jpg");
        assert_eq!(safe_filename(".htaccess"), "htaccess");
        assert_eq!(safe_filename(""), "file");
        assert_eq!(safe_filename("<>"), "file");
        let long = format!("{}.jpeg", "a".repeat(100));
        let s = safe_filename(&long);
        assert_eq!(s.len(), 64);
        assert!(s.ends_with(".jpeg"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(10 * 1024 * 1024, true), "10 Mo");
        assert_eq!(human_size(2048, false), "2 KB");
        assert_eq!(human_size(5, true), "5 octets");
    }

    #[test]
    fn refusals_speak_in_each_register() {
        for r in [
            Refusal::Disabled,
            Refusal::TooLarge { max: 1024 },
            Refusal::Empty,
            Refusal::TypeNotAllowed,
        ] {
            assert_eq!(r.text().check(), Ok(()), "{r:?}");
        }
        assert!(Refusal::Disabled.text().tu.contains("ton établissement"));
        assert!(
            Refusal::Disabled
                .text()
                .vous
                .contains("votre établissement")
        );
    }
}
