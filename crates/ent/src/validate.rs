//! Import validation: turns the ENT's JSON export into a [`Snapshot`] or
//! refuses it whole, naming the entry and field at fault ([`ImportError`]).
//!
//! [`parse_snapshot`] reports JSON and type errors (with serde_json's line and
//! column) and then calls [`validate`], which checks the references and names
//! listed in `docs/directory.md`. Errors come in document order: structures,
//! classes, users, groups, collectivités, each in file order, each entry's fields in the order
//! they are listed there; [`validate`] returns the first, [`validate_all`]
//! every one.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_path_to_error::Segment;

use crate::collectivite::Collectivite;
use crate::model::{Class, Group, Profile, Snapshot, Structure, User};

/// Why an import was refused: the entry and field at fault, and what is wrong.
///
/// Displays as `users[3] (lea.martin), field classes[1]: unknown class "0750001A-6C"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry}{}: {reason}", .field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default())]
pub struct ImportError {
    /// `users[3] (lea.martin)`, `classes[0] (0750001A-6A)`, or, for JSON that
    /// does not parse, `line 4 column 7`.
    pub entry: String,
    /// The field at fault within the entry: `profile`, `classes[1]`,
    /// `children[0]`, `structure`…; `None` when the entry as a whole is wrong.
    pub field: Option<String>,
    pub reason: String,
}

impl ImportError {
    fn new(entry: &str, field: Option<String>, reason: impl Into<String>) -> ImportError {
        ImportError {
            entry: entry.to_string(),
            field,
            reason: reason.into(),
        }
    }
}

/// The longest login accepted, in bytes (RFC 7622's localpart limit).
pub const MAX_LOGIN_LEN: usize = 1023;

/// Whether `login` can be used as the localpart of a JID as it is. The rule is
/// deliberately stricter than RFC 7622 so that a login never needs escaping or
/// case-folding: 1 to 1023 characters among lowercase ASCII letters, digits,
/// `.`, `-` and `_`.
pub fn is_valid_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= MAX_LOGIN_LEN
        && login.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// The longest name accepted (a user's first or last name, a structure's, a class's or a
/// group's), in characters: names are shown in lists and titles, never paragraphs.
pub const MAX_NAME_CHARS: usize = 200;

/// The longest id accepted (a structure's, a class's or a group's), in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Most functions one user may have, and the longest one (bytes).
pub const MAX_FUNCTIONS: usize = 16;
pub const MAX_FUNCTION_LEN: usize = 40;

/// What an entry's references are checked against: the snapshot being imported, or the
/// directory in force when one entry changes (the sync API). One entry is checked by the
/// same code either way ([`check_user`], [`check_class`], [`check_group`],
/// [`check_structure`]).
pub trait Refs {
    /// Whether a structure of this id exists.
    fn has_structure(&self, id: &str) -> bool;
    /// The structure and name of a class, if it exists.
    fn class_of(&self, id: &str) -> Option<(&str, &str)>;
    /// The profile of a user, if he exists.
    fn profile_of(&self, login: &str) -> Option<Profile>;
}

/// Checks one user as an import would (its login, names and references), against
/// `refs`; the first error, its entry named `users (LOGIN)`.
pub fn check_user(u: &User, refs: &impl Refs) -> Result<(), ImportError> {
    let entry = format!("users ({})", u.login);
    if !is_valid_login(&u.login) {
        return Err(ImportError::new(
            &entry,
            Some("login".into()),
            login_reason(&u.login),
        ));
    }
    first(&entry, |err| user_fields(u, refs, err))
}

/// Checks one class as an import would, against `refs`.
pub fn check_class(c: &Class, refs: &impl Refs) -> Result<(), ImportError> {
    first(&format!("classes ({})", c.id), |err| {
        id_field(&c.id, "class", err);
        if !refs.has_structure(&c.structure) {
            err(
                Some("structure".into()),
                format!("unknown structure \"{}\"", c.structure),
            );
        }
        name_field("name", &c.name, err);
    })
}

/// Checks one group as an import would, against `refs`.
pub fn check_group(g: &Group, refs: &impl Refs) -> Result<(), ImportError> {
    first(&format!("groups ({})", g.id), |err| {
        id_field(&g.id, "group", err);
        group_fields(g, refs, err);
    })
}

/// Checks one structure as an import would.
pub fn check_structure(s: &Structure) -> Result<(), ImportError> {
    first(&format!("structures ({})", s.id), |err| {
        id_field(&s.id, "structure", err);
        name_field("name", &s.name, err);
    })
}

/// Checks one collectivité as an import would (its id, name and the structures it
/// covers), against `refs`.
pub fn check_collectivite(c: &Collectivite, refs: &impl Refs) -> Result<(), ImportError> {
    first(&format!("collectivites ({})", c.id), |err| {
        id_field(&c.id, "collectivite", err);
        collectivite_fields(c, refs, err);
    })
}

/// A collectivité's name and covered structures: each known, none twice.
fn collectivite_fields(
    c: &Collectivite,
    refs: &impl Refs,
    err: &mut dyn FnMut(Option<String>, String),
) {
    name_field("name", &c.name, err);
    for (k, st) in c.structures.iter().enumerate() {
        if !refs.has_structure(st) {
            err(
                Some(format!("structures[{k}]")),
                format!("unknown structure \"{st}\""),
            );
        } else if c.structures[..k].contains(st) {
            err(
                Some(format!("structures[{k}]")),
                format!("structure \"{st}\" listed twice"),
            );
        }
    }
}

/// The first error `check` reports, for `entry`.
fn first(
    entry: &str,
    check: impl FnOnce(&mut dyn FnMut(Option<String>, String)),
) -> Result<(), ImportError> {
    let mut found = None;
    check(&mut |field, reason| {
        if found.is_none() {
            found = Some(ImportError::new(entry, field, reason));
        }
    });
    found.map_or(Ok(()), Err)
}

fn login_reason(login: &str) -> String {
    if login.is_empty() {
        "empty login".into()
    } else {
        // Quoted with its escapes, and cut: what is printed to the operator's terminal
        // and kept with the import's record is never raw control characters nor megabytes.
        let shown: String = login.chars().take(64).collect();
        let cut = if shown.len() < login.len() { "…" } else { "" };
        format!(
            "{shown:?}{cut} is not a valid login: use 1 to {MAX_LOGIN_LEN} lowercase ASCII \
             letters, digits, '.', '-' or '_' (it becomes the JID's localpart)"
        )
    }
}

/// An id: not empty, at most [`MAX_ID_LEN`] bytes, no control character.
fn id_field(id: &str, what: &str, err: &mut dyn FnMut(Option<String>, String)) {
    if id.trim().is_empty() {
        err(Some("id".into()), format!("empty {what} id"));
    } else if id.len() > MAX_ID_LEN {
        err(
            Some("id".into()),
            format!("{what} id longer than {MAX_ID_LEN} bytes"),
        );
    } else if id.chars().any(char::is_control) {
        err(
            Some("id".into()),
            format!("{what} id with a control character"),
        );
    }
}

/// A name: not empty, at most [`MAX_NAME_CHARS`] characters, no control character.
/// Embeddings, overrides and isolates: they reorder the text that follows.
pub fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Every bidirectional mark and invisible formatting character: in a name, they would let
/// someone pass for someone else (and a room refuses them in the nickname a name makes).
pub fn is_invisible(c: char) -> bool {
    is_bidi_override(c)
        || matches!(
            c,
            '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

fn name_field(field: &str, value: &str, err: &mut dyn FnMut(Option<String>, String)) {
    let what = field.replace('_', " ");
    if value.trim().is_empty() {
        err(Some(field.to_string()), format!("empty {what}"));
    } else if value.chars().count() > MAX_NAME_CHARS {
        err(
            Some(field.to_string()),
            format!("{what} longer than {MAX_NAME_CHARS} characters"),
        );
    } else if value.chars().any(char::is_control) {
        err(
            Some(field.to_string()),
            format!("{what} with a control character"),
        );
    } else if value.chars().any(is_invisible) {
        err(
            Some(field.to_string()),
            format!("{what} with an invisible or text-direction character"),
        );
    }
}

/// A user's names and references (not his login's uniqueness, which only a whole
/// snapshot can tell).
fn user_fields(u: &User, refs: &impl Refs, err: &mut dyn FnMut(Option<String>, String)) {
    name_field("last_name", &u.last_name, err);
    name_field("first_name", &u.first_name, err);
    for (k, st) in u.structures.iter().enumerate() {
        if !refs.has_structure(st) {
            err(
                Some(format!("structures[{k}]")),
                format!("unknown structure \"{st}\""),
            );
        }
    }
    if u.functions.len() > MAX_FUNCTIONS {
        err(
            Some("functions".into()),
            format!("more than {MAX_FUNCTIONS} functions"),
        );
    }
    for (k, f) in u.functions.iter().enumerate() {
        let ok = !f.is_empty()
            && f.len() <= MAX_FUNCTION_LEN
            && f.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            err(
                Some(format!("functions[{k}]")),
                format!(
                    "function \"{}\" is not a lowercase word (a-z, 0-9, _ or -, at most {MAX_FUNCTION_LEN})",
                    f.chars()
                        .filter(|c| !c.is_control())
                        .take(40)
                        .collect::<String>()
                ),
            );
        }
    }
    for (k, st) in u.admin_of.iter().enumerate() {
        if !refs.has_structure(st) {
            err(
                Some(format!("admin_of[{k}]")),
                format!("unknown structure \"{st}\""),
            );
        }
    }
    for (k, c) in u.classes.iter().enumerate() {
        match refs.class_of(c) {
            None => err(
                Some(format!("classes[{k}]")),
                format!("unknown class \"{c}\""),
            ),
            Some((structure, name)) => {
                if !u.structures.iter().any(|s| s == structure) {
                    err(
                        Some(format!("classes[{k}]")),
                        format!(
                            "class \"{c}\" ({name}) belongs to structure \"{structure}\", which is not \
                             among the user's structures"
                        ),
                    );
                }
            }
        }
    }
    if !u.children.is_empty() && u.profile != Profile::Relative {
        err(
            Some("children".into()),
            format!(
                "only relatives have children; this user's profile is {}",
                u.profile.as_str()
            ),
        );
    } else {
        for (k, c) in u.children.iter().enumerate() {
            if *c == u.login {
                err(
                    Some(format!("children[{k}]")),
                    "a user cannot be his own child".into(),
                );
                continue;
            }
            match refs.profile_of(c) {
                None => err(
                    Some(format!("children[{k}]")),
                    format!("unknown user \"{c}\""),
                ),
                Some(p) if p != Profile::Student => err(
                    Some(format!("children[{k}]")),
                    format!("\"{c}\" is a {}, not a student", p.as_str()),
                ),
                Some(_) => {}
            }
        }
    }
}

/// A group's id, name and references.
fn group_fields(g: &Group, refs: &impl Refs, err: &mut dyn FnMut(Option<String>, String)) {
    name_field("name", &g.name, err);
    if let Some(st) = &g.structure
        && !refs.has_structure(st)
    {
        err(
            Some("structure".into()),
            format!("unknown structure \"{st}\""),
        );
    }
    for (k, m) in g.members.iter().enumerate() {
        if refs.profile_of(m).is_none() {
            err(
                Some(format!("members[{k}]")),
                format!("unknown user \"{m}\""),
            );
        }
    }
}

/// Parses and validates an import file. Nothing is returned unless the whole
/// file is acceptable.
pub fn parse_snapshot(json: &str) -> Result<Snapshot, ImportError> {
    // An object, not serde's positional form of a struct (an array): fields in the wrong
    // order would otherwise be read silently.
    if !json
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
    {
        return Err(ImportError::new(
            "the document",
            None,
            "must be a JSON object with structures, classes, users and groups",
        ));
    }
    // The fast path deserializes straight into the model; only a failure pays
    // for a second pass that tracks where in the document it happened.
    let json = json.trim_start_matches('\u{feff}');
    let snapshot = match serde_json::from_str::<Snapshot>(json) {
        Ok(s) => s,
        Err(first) => return Err(locate_snapshot_error(json, first)),
    };
    validate(&snapshot)?;
    Ok(snapshot)
}

/// Checks a snapshot's ids, logins, names and references; the first error in
/// document order.
pub fn validate(s: &Snapshot) -> Result<(), ImportError> {
    match Checker::new(s, true).run().into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every error of a snapshot, in document order (empty when it is valid), so
/// that an operator can fix a file in one go.
pub fn validate_all(s: &Snapshot) -> Vec<ImportError> {
    Checker::new(s, false).run()
}

// ---------------------------------------------------------------------------
// Locating serde errors

/// A deserialization error, located: the part shared by snapshot and rule
/// parsing.
pub(crate) struct Located {
    /// `line L column C`.
    pub position: String,
    /// The top-level section (`users`, or empty for a top-level list) and the
    /// index of the entry in it, when the error is inside one.
    pub entry: Option<(String, usize)>,
    pub field: Option<String>,
    pub reason: String,
}

pub(crate) fn locate(e: serde_path_to_error::Error<serde_json::Error>) -> Located {
    let path: Vec<Segment> = e.path().iter().cloned().collect();
    let inner = e.into_inner();
    let position = format!("line {} column {}", inner.line(), inner.column());
    let message = bare_message(&inner);
    if !inner.is_data() {
        // Syntax error or truncated file: only the position means anything.
        return Located {
            position,
            entry: None,
            field: None,
            reason: message,
        };
    }

    let mut segments = path.iter().peekable();
    let mut section = String::new();
    if let Some(Segment::Map { key }) = segments.peek() {
        section = key.clone();
        segments.next();
    }
    let mut entry = None;
    if let Some(Segment::Seq { index }) = segments.peek() {
        entry = Some((section.clone(), *index));
        segments.next();
    }
    let mut field = String::new();
    for seg in segments {
        match seg {
            Segment::Map { key } if field.is_empty() => field.push_str(key),
            Segment::Map { key } => {
                field.push('.');
                field.push_str(key);
            }
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let mut field = (!field.is_empty()).then_some(field);
    if field.is_none() {
        // serde reports these from the enclosing object, not the field.
        for prefix in ["missing field `", "unknown field `"] {
            if let Some(rest) = message.strip_prefix(prefix) {
                field = rest.split('`').next().map(str::to_string);
            }
        }
    }
    let mut reason = explain_variant(&message).unwrap_or(message);
    if entry.is_none() && field.is_none() && section.is_empty() {
        return Located {
            position,
            entry: None,
            field: None,
            reason,
        };
    }
    if entry.is_none() && !section.is_empty() {
        // e.g. `"users": 3`: the section itself is wrong.
        field = Some(section.clone());
    }
    reason.push_str(&format!(" ({position})"));
    Located {
        position,
        entry,
        field,
        reason,
    }
}

/// serde_json's message without its trailing ` at line L column C`.
fn bare_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// Rewrites serde's `unknown variant` message for profiles and scopes, with the allowed
/// values serde's message lists (so that this module needs neither type).
fn explain_variant(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown variant `")?;
    let value = rest.split('`').next()?;
    let what = if rest.contains("`student`") {
        "profile"
    } else if rest.contains("`same_class`") {
        "scope"
    } else if rest.contains("`departement`") {
        "kind"
    } else {
        return None;
    };
    // `…`, expected one of `a`, `b`, `c`: every other quoted word after the value.
    let allowed: Vec<&str> = rest
        .split('`')
        .skip(2)
        .step_by(2)
        .filter(|w| !w.is_empty())
        .collect();
    Some(format!(
        "unknown {what} \"{value}\" (allowed: {})",
        allowed.join(", ")
    ))
}

fn locate_snapshot_error(json: &str, first: serde_json::Error) -> ImportError {
    let mut de = serde_json::Deserializer::from_str(json);
    let located = match serde_path_to_error::deserialize::<_, Snapshot>(&mut de) {
        Err(e) => locate(e),
        // The typed pass only fails after the value, on trailing characters.
        Ok(_) => {
            let e = de.end().err().unwrap_or(first);
            Located {
                position: format!("line {} column {}", e.line(), e.column()),
                entry: None,
                field: None,
                reason: bare_message(&e),
            }
        }
    };
    match located.entry {
        None => ImportError {
            entry: if located.field.is_some() {
                "document".into()
            } else {
                located.position
            },
            field: located.field,
            reason: located.reason,
        },
        Some((section, index)) => {
            let key = entry_keys(json, &section, index);
            ImportError {
                entry: label(&section, index, key.as_deref()),
                field: located.field,
                reason: located.reason,
            }
        }
    }
}

/// `users[3] (lea.martin)`, or `users[3]` without a usable key.
fn label(section: &str, index: usize, key: Option<&str>) -> String {
    match key {
        Some(k) if !k.trim().is_empty() => format!("{section}[{index}] ({k})"),
        _ => format!("{section}[{index}]"),
    }
}

/// The id or login of one entry of a file that failed to deserialize, read
/// with a lenient pass that ignores everything else.
fn entry_keys(json: &str, section: &str, index: usize) -> Option<String> {
    #[derive(Deserialize)]
    struct Keys {
        #[serde(default)]
        structures: Vec<Key>,
        #[serde(default)]
        classes: Vec<Key>,
        #[serde(default)]
        users: Vec<Key>,
        #[serde(default)]
        groups: Vec<Key>,
        #[serde(default)]
        collectivites: Vec<Key>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Key {
        Object {
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            login: Option<String>,
        },
        Other(IgnoredAny),
    }
    let keys: Keys = serde_json::from_str(json).ok()?;
    let list = match section {
        "structures" => keys.structures,
        "classes" => keys.classes,
        "users" => keys.users,
        "groups" => keys.groups,
        "collectivites" => keys.collectivites,
        _ => return None,
    };
    match list.into_iter().nth(index)? {
        Key::Object { id, login } => {
            if section == "users" {
                login
            } else {
                id
            }
        }
        Key::Other(_) => None,
    }
}

// ---------------------------------------------------------------------------
// Semantic checks

struct Checker<'a> {
    s: &'a Snapshot,
    first_only: bool,
    errors: Vec<ImportError>,
    /// First index of each id/login, so that references to later entries
    /// resolve and duplicates are reported where they occur.
    structures: HashMap<&'a str, usize>,
    classes: HashMap<&'a str, usize>,
    users: HashMap<&'a str, usize>,
    groups: HashMap<&'a str, usize>,
    collectivites: HashMap<&'a str, usize>,
}

fn first_index<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut map = HashMap::new();
    for (i, id) in ids.enumerate() {
        map.entry(id).or_insert(i);
    }
    map
}

impl<'a> Checker<'a> {
    fn new(s: &'a Snapshot, first_only: bool) -> Checker<'a> {
        Checker {
            s,
            first_only,
            errors: Vec::new(),
            structures: first_index(s.structures.iter().map(|x| x.id.as_str())),
            classes: first_index(s.classes.iter().map(|x| x.id.as_str())),
            users: first_index(s.users.iter().map(|x| x.login.as_str())),
            groups: first_index(s.groups.iter().map(|x| x.id.as_str())),
            collectivites: first_index(s.collectivites().iter().map(|x| x.id.as_str())),
        }
    }

    fn done(&self) -> bool {
        self.first_only && !self.errors.is_empty()
    }

    fn err(&mut self, entry: &str, field: impl Into<Option<String>>, reason: impl Into<String>) {
        if !self.done() {
            self.errors
                .push(ImportError::new(entry, field.into(), reason.into()));
        }
    }

    fn run(mut self) -> Vec<ImportError> {
        let s = self.s;
        for (i, x) in s.structures.iter().enumerate() {
            let entry = label("structures", i, Some(&x.id));
            self.id(&entry, "structure", &x.id, i, |c| &c.structures);
            self.name(&entry, "name", &x.name);
            if self.done() {
                return self.errors;
            }
        }
        for (i, x) in s.classes.iter().enumerate() {
            let entry = label("classes", i, Some(&x.id));
            self.id(&entry, "class", &x.id, i, |c| &c.classes);
            if !self.structures.contains_key(x.structure.as_str()) {
                self.err(
                    &entry,
                    "structure".to_string(),
                    format!("unknown structure \"{}\"", x.structure),
                );
            }
            self.name(&entry, "name", &x.name);
            if self.done() {
                return self.errors;
            }
        }
        for (i, u) in s.users.iter().enumerate() {
            self.user(i, u);
            if self.done() {
                return self.errors;
            }
        }
        for (i, g) in s.groups.iter().enumerate() {
            self.group(i, g);
            if self.done() {
                return self.errors;
            }
        }
        for (i, c) in s.collectivites().iter().enumerate() {
            let entry = label("collectivites", i, Some(&c.id));
            self.id(&entry, "collectivite", &c.id, i, |c| &c.collectivites);
            let mut found = Vec::new();
            collectivite_fields(c, &self, &mut |f, r| found.push((f, r)));
            for (f, r) in found {
                self.err(&entry, f, r);
            }
            if self.done() {
                return self.errors;
            }
        }
        self.errors
    }

    /// An id: as [`id_field`] says, and not used by an earlier entry of the same list.
    fn id(
        &mut self,
        entry: &str,
        what: &str,
        id: &str,
        index: usize,
        map: impl Fn(&Self) -> &HashMap<&'a str, usize>,
    ) {
        let mut found = Vec::new();
        id_field(id, what, &mut |f, r| found.push((f, r)));
        for (f, r) in found {
            self.err(entry, f, r);
        }
        if let Some(&first) = map(self).get(id)
            && first != index
            && !id.trim().is_empty()
        {
            self.err(
                entry,
                "id".to_string(),
                format!("duplicate {what} id \"{id}\" (first used at index {first})"),
            );
        }
    }

    fn name(&mut self, entry: &str, field: &str, value: &str) {
        let mut found = Vec::new();
        name_field(field, value, &mut |f, r| found.push((f, r)));
        for (f, r) in found {
            self.err(entry, f, r);
        }
    }

    fn user(&mut self, i: usize, u: &'a User) {
        let entry = label("users", i, Some(&u.login));
        if !is_valid_login(&u.login) {
            self.err(&entry, "login".to_string(), login_reason(&u.login));
        } else if let Some(&first) = self.users.get(u.login.as_str())
            && first != i
        {
            self.err(
                &entry,
                "login".to_string(),
                format!(
                    "duplicate login \"{}\" (first used by users[{first}])",
                    u.login
                ),
            );
        }
        let mut found = Vec::new();
        user_fields(u, &*self, &mut |f, r| found.push((f, r)));
        for (f, r) in found {
            self.err(&entry, f, r);
        }
    }

    fn group(&mut self, i: usize, g: &'a Group) {
        let entry = label("groups", i, Some(&g.id));
        self.id(&entry, "group", &g.id, i, |c| &c.groups);
        let mut found = Vec::new();
        group_fields(g, &*self, &mut |f, r| found.push((f, r)));
        for (f, r) in found {
            self.err(&entry, f, r);
        }
    }
}

impl Refs for Checker<'_> {
    fn has_structure(&self, id: &str) -> bool {
        self.structures.contains_key(id)
    }

    fn class_of(&self, id: &str) -> Option<(&str, &str)> {
        self.classes.get(id).map(|&i| {
            let c = &self.s.classes[i];
            (c.structure.as_str(), c.name.as_str())
        })
    }

    fn profile_of(&self, login: &str) -> Option<Profile> {
        self.users.get(login).map(|&i| self.s.users[i].profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn base() -> Value {
        json!({
            "structures": [
                { "id": "0750001A", "name": "Collège Jean Moulin" },
                { "id": "0750002B", "name": "Lycée Victor Hugo" }
            ],
            "classes": [
                { "id": "0750001A-6A", "structure": "0750001A", "name": "6e A" },
                { "id": "0750001A-6B", "structure": "0750001A", "name": "6e B" },
                { "id": "0750002B-2A", "structure": "0750002B", "name": "2de A" }
            ],
            "users": [
                { "login": "lea.martin", "last_name": "MARTIN", "first_name": "Léa",
                  "profile": "student", "structures": ["0750001A"], "classes": ["0750001A-6A"] },
                { "login": "paul.martin", "last_name": "MARTIN", "first_name": "Paul",
                  "profile": "relative", "structures": ["0750001A"], "children": ["lea.martin"] },
                { "login": "anne.durand", "last_name": "DURAND", "first_name": "Anne",
                  "profile": "teacher", "structures": ["0750001A", "0750002B"],
                  "classes": ["0750001A-6A", "0750002B-2A"] },
                { "login": "invite_1", "last_name": "Visiteur", "first_name": "Un",
                  "profile": "guest" }
            ],
            "groups": [
                { "id": "chorale", "name": "Chorale", "structure": "0750001A",
                  "members": ["lea.martin", "anne.durand", "invite_1"] },
                { "id": "ecoles", "name": "Inter-écoles", "members": [] }
            ],
            "extra_field_from_a_newer_ent": true
        })
    }

    /// Applies `edit` to the base document and parses it.
    fn parse_edited(edit: impl FnOnce(&mut Value)) -> Result<Snapshot, ImportError> {
        let mut v = base();
        edit(&mut v);
        parse_snapshot(&serde_json::to_string_pretty(&v).unwrap())
    }

    /// Asserts a refusal at `entry`/`field` whose reason contains `needle`.
    fn refused(edit: impl FnOnce(&mut Value), entry: &str, field: Option<&str>, needle: &str) {
        let e = parse_edited(edit).expect_err("import should be refused");
        assert_eq!(e.entry, entry, "{e}");
        assert_eq!(e.field.as_deref(), field, "{e}");
        assert!(
            e.reason.contains(needle),
            "reason {:?} lacks {needle:?}",
            e.reason
        );
    }

    #[test]
    fn the_base_document_is_valid() {
        let s = parse_edited(|_| {}).unwrap();
        assert_eq!(s.users.len(), 4);
        assert_eq!(s.users[0].display_name(), "MARTIN Léa");
    }

    #[test]
    fn display_names_entry_and_field() {
        let e = parse_edited(|v| v["users"][0]["classes"] = json!(["0750001A-6A", "0750001A-6C"]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "users[0] (lea.martin), field classes[1]: unknown class \"0750001A-6C\""
        );
    }

    #[test]
    fn bad_json_gives_line_and_column() {
        let e =
            parse_snapshot("{\n  \"structures\": [\n    { \"id\": \"a\", }\n  ]\n}").unwrap_err();
        assert_eq!(e.entry, "line 3 column 18");
        assert_eq!(e.field, None);
        assert!(e.reason.contains("trailing comma"), "{e}");

        let e = parse_snapshot("{\"users\": [").unwrap_err();
        assert_eq!(e.entry, "line 1 column 11");
        assert!(e.reason.contains("EOF"), "{e}");

        let e = parse_snapshot("{} {}").unwrap_err();
        assert_eq!(e.entry, "line 1 column 4");
        assert!(e.reason.contains("trailing"), "{e}");
    }

    #[test]
    fn unknown_profile_lists_the_allowed_ones() {
        refused(
            |v| v["users"][2]["profile"] = json!("pupil"),
            "users[2] (anne.durand)",
            Some("profile"),
            "unknown profile \"pupil\" (allowed: student, relative, teacher, personnel, guest)",
        );
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field() {
        refused(
            |v| v["users"][0]["classes"][0] = json!(6),
            "users[0] (lea.martin)",
            Some("classes[0]"),
            "invalid type: integer `6`, expected a string",
        );
        refused(
            |v| {
                v["users"][1].as_object_mut().unwrap().remove("first_name");
            },
            "users[1] (paul.martin)",
            Some("first_name"),
            "missing field",
        );
        refused(
            |v| v["users"] = json!(3),
            "document",
            Some("users"),
            "invalid type",
        );
    }

    #[test]
    fn empty_ids_and_logins() {
        refused(
            |v| v["structures"][1]["id"] = json!(" "),
            "structures[1]",
            Some("id"),
            "empty structure id",
        );
        refused(
            |v| v["classes"][0]["id"] = json!(""),
            "classes[0]",
            Some("id"),
            "empty class id",
        );
        refused(
            |v| v["groups"][1]["id"] = json!(""),
            "groups[1]",
            Some("id"),
            "empty group id",
        );
        refused(
            |v| v["users"][3]["login"] = json!(""),
            "users[3]",
            Some("login"),
            "empty login",
        );
    }

    #[test]
    fn duplicate_ids_and_logins() {
        refused(
            |v| v["structures"][1]["id"] = json!("0750001A"),
            "structures[1] (0750001A)",
            Some("id"),
            "duplicate structure id \"0750001A\" (first used at index 0)",
        );
        refused(
            |v| v["classes"][1]["id"] = json!("0750001A-6A"),
            "classes[1] (0750001A-6A)",
            Some("id"),
            "duplicate class id",
        );
        refused(
            |v| v["users"][3]["login"] = json!("lea.martin"),
            "users[3] (lea.martin)",
            Some("login"),
            "duplicate login \"lea.martin\" (first used by users[0])",
        );
        refused(
            |v| v["groups"][1]["id"] = json!("chorale"),
            "groups[1] (chorale)",
            Some("id"),
            "duplicate group id",
        );
    }

    #[test]
    fn logins_must_be_strict_localparts() {
        for bad in ["Lea.Martin", "léa", "lea martin", "lea@martin", "lea/x"] {
            refused(
                |v| v["users"][0]["login"] = json!(bad),
                &format!("users[0] ({bad})"),
                Some("login"),
                "lowercase ASCII letters, digits",
            );
        }
        assert!(is_valid_login("jean-pierre.dupont_2"));
        assert!(!is_valid_login(&"a".repeat(MAX_LOGIN_LEN + 1)));
    }

    #[test]
    fn empty_names() {
        refused(
            |v| v["structures"][0]["name"] = json!(""),
            "structures[0] (0750001A)",
            Some("name"),
            "empty name",
        );
        refused(
            |v| v["classes"][2]["name"] = json!("  "),
            "classes[2] (0750002B-2A)",
            Some("name"),
            "empty name",
        );
        refused(
            |v| v["users"][1]["last_name"] = json!(""),
            "users[1] (paul.martin)",
            Some("last_name"),
            "empty last name",
        );
        refused(
            |v| v["users"][1]["first_name"] = json!(" "),
            "users[1] (paul.martin)",
            Some("first_name"),
            "empty first name",
        );
        refused(
            |v| v["groups"][0]["name"] = json!(""),
            "groups[0] (chorale)",
            Some("name"),
            "empty name",
        );
    }

    #[test]
    fn class_of_an_unknown_structure() {
        refused(
            |v| v["classes"][2]["structure"] = json!("0999999Z"),
            "classes[2] (0750002B-2A)",
            Some("structure"),
            "unknown structure \"0999999Z\"",
        );
    }

    #[test]
    fn user_of_an_unknown_structure_or_class() {
        refused(
            |v| v["users"][2]["structures"][1] = json!("0999999Z"),
            "users[2] (anne.durand)",
            Some("structures[1]"),
            "unknown structure \"0999999Z\"",
        );
        refused(
            |v| v["users"][2]["classes"][1] = json!("0750002B-2Z"),
            "users[2] (anne.durand)",
            Some("classes[1]"),
            "unknown class \"0750002B-2Z\"",
        );
    }

    #[test]
    fn admin_of_names_known_structures() {
        refused(
            |v| v["users"][2]["admin_of"] = json!(["0750001A", "0999999Z"]),
            "users[2] (anne.durand)",
            Some("admin_of[1]"),
            "unknown structure \"0999999Z\"",
        );
        let ok = parse_edited(|v| v["users"][2]["admin_of"] = json!(["0750002B"])).unwrap();
        assert_eq!(ok.users[2].admin_of, vec!["0750002B".to_string()]);
    }

    #[test]
    fn functions_are_lowercase_words() {
        refused(
            |v| v["users"][2]["functions"] = json!(["cpe", "Direction"]),
            "users[2] (anne.durand)",
            Some("functions[1]"),
            "function \"Direction\" is not a lowercase word (a-z, 0-9, _ or -, at most 40)",
        );
        refused(
            |v| v["users"][2]["functions"] = json!(vec!["x"; MAX_FUNCTIONS + 1]),
            "users[2] (anne.durand)",
            Some("functions"),
            "more than 16 functions",
        );
        let ok = parse_edited(|v| v["users"][2]["functions"] = json!(["cpe", "prof_principal"]))
            .unwrap();
        assert_eq!(
            ok.users[2].functions,
            vec!["cpe".to_string(), "prof_principal".into()]
        );
        // A teacher with the function reads reports; without, or as a pupil, not.
        assert_eq!(ok.users[2].profile, crate::Profile::Teacher);
        assert!(ok.users[2].has_safety_function());
        let mut pupil = ok.users[2].clone();
        pupil.profile = crate::Profile::Student;
        assert!(!pupil.has_safety_function());
        let plain = parse_edited(|_| {}).unwrap();
        assert!(!plain.users[2].has_safety_function());
    }

    #[test]
    fn class_outside_the_users_structures() {
        refused(
            |v| v["users"][0]["classes"] = json!(["0750002B-2A"]),
            "users[0] (lea.martin)",
            Some("classes[0]"),
            "class \"0750002B-2A\" (2de A) belongs to structure \"0750002B\", which is not among the user's structures",
        );
    }

    #[test]
    fn children_must_exist_and_be_students() {
        refused(
            |v| v["users"][1]["children"] = json!(["lea.martin", "tom.martin"]),
            "users[1] (paul.martin)",
            Some("children[1]"),
            "unknown user \"tom.martin\"",
        );
        refused(
            |v| v["users"][1]["children"] = json!(["anne.durand"]),
            "users[1] (paul.martin)",
            Some("children[0]"),
            "\"anne.durand\" is a teacher, not a student",
        );
        // A child listed before the parent or after it resolves the same way.
        let ok = parse_edited(|v| {
            let users = v["users"].as_array_mut().unwrap();
            users.swap(0, 1);
        });
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn children_only_on_relatives() {
        refused(
            |v| v["users"][2]["children"] = json!(["lea.martin"]),
            "users[2] (anne.durand)",
            Some("children"),
            "only relatives have children; this user's profile is teacher",
        );
    }

    #[test]
    fn group_members_and_structure_must_exist() {
        refused(
            |v| v["groups"][0]["members"][2] = json!("nobody"),
            "groups[0] (chorale)",
            Some("members[2]"),
            "unknown user \"nobody\"",
        );
        refused(
            |v| v["groups"][1]["structure"] = json!("0999999Z"),
            "groups[1] (ecoles)",
            Some("structure"),
            "unknown structure \"0999999Z\"",
        );
    }

    #[test]
    fn first_error_in_document_order_and_all_errors() {
        let mut v = base();
        v["groups"][0]["members"][0] = json!("nobody");
        v["users"][3]["login"] = json!("BAD");
        v["classes"][0]["name"] = json!("");
        let s: Snapshot = serde_json::from_value(v).unwrap();
        let e = validate(&s).unwrap_err();
        assert_eq!(e.entry, "classes[0] (0750001A-6A)");
        let all = validate_all(&s);
        let entries: Vec<_> = all.iter().map(|e| e.entry.as_str()).collect();
        assert_eq!(
            entries,
            [
                "classes[0] (0750001A-6A)",
                "users[3] (BAD)",
                "groups[0] (chorale)",
                "groups[0] (chorale)"
            ]
        );
        assert_eq!(all[2].field.as_deref(), Some("members[0]"));
        // The member "invite_1" no longer exists once its login changed.
        assert_eq!(all[3].field.as_deref(), Some("members[2]"));
    }

    #[test]
    fn collectivites_name_known_structures_once_with_a_known_kind() {
        let with = |list: Value| move |v: &mut Value| v["collectivites"] = list;
        let ok = parse_edited(with(json!([
            { "id": "reg-idf", "name": "Région Île-de-France", "kind": "region",
              "structures": ["0750002B"] },
            { "id": "dep-75", "name": "Paris", "kind": "departement",
              "structures": ["0750001A", "0750002B"] },
            { "id": "com-1", "name": "Commune", "kind": "commune" }
        ])))
        .unwrap();
        assert_eq!(ok.collectivites().len(), 3);
        assert_eq!(
            ok.collectivites()[1].kind,
            crate::CollectiviteKind::Departement
        );
        assert_eq!(
            parse_edited(|_| {}).unwrap().collectivites,
            None,
            "no list: None"
        );
        refused(
            with(json!([{ "id": "x", "name": "X", "kind": "canton" }])),
            "collectivites[0] (x)",
            Some("kind"),
            "unknown kind \"canton\" (allowed: region, departement, commune)",
        );
        refused(
            with(json!([{ "id": "x", "name": "X", "kind": "commune",
                          "structures": ["0750001A", "nowhere"] }])),
            "collectivites[0] (x)",
            Some("structures[1]"),
            "unknown structure \"nowhere\"",
        );
        refused(
            with(json!([{ "id": "x", "name": "X", "kind": "commune",
                          "structures": ["0750001A", "0750001A"] }])),
            "collectivites[0] (x)",
            Some("structures[1]"),
            "listed twice",
        );
        refused(
            with(json!([
                { "id": "x", "name": "X", "kind": "commune" },
                { "id": "x", "name": "Y", "kind": "region" }
            ])),
            "collectivites[1] (x)",
            Some("id"),
            "duplicate collectivite id \"x\" (first used at index 0)",
        );
        refused(
            with(json!([{ "id": "x", "name": " ", "kind": "commune" }])),
            "collectivites[0] (x)",
            Some("name"),
            "empty name",
        );
        // One collectivité (the sync API) is checked the same way.
        let snapshot = parse_edited(|_| {}).unwrap();
        let dir = crate::Directory::new(snapshot, std::collections::HashMap::new());
        let mut c = ok.collectivites()[1].clone();
        assert_eq!(check_collectivite(&c, &dir), Ok(()));
        c.structures.push("nowhere".into());
        let e = check_collectivite(&c, &dir).unwrap_err();
        assert_eq!(e.entry, "collectivites (dep-75)");
        assert_eq!(e.field.as_deref(), Some("structures[2]"));
    }

    #[test]
    fn names_refuse_invisible_and_text_direction_characters() {
        for bad in [
            "L\u{202E}ea",
            "Le\u{200B}a",
            "\u{2066}Lea\u{2069}",
            "Lea\u{FEFF}",
        ] {
            let e = parse_edited(|v| v["users"][0]["first_name"] = bad.into()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("first_name"), "{bad:?}");
            assert!(e.reason.contains("invisible"), "{}", e.reason);
        }
        parse_edited(|v| v["users"][0]["first_name"] = "Zoé-Éléonore".into()).unwrap();
    }

    #[test]
    fn a_bad_login_is_quoted_escaped_and_cut_in_the_error() {
        let e = login_reason("\u{1b}]0;pwned\u{7}\u{1b}[2J");
        assert!(!e.contains('\u{1b}') && e.contains("\\u{1b}"), "{e}");
        let e = login_reason(&"x".repeat(10_000));
        assert!(e.len() < 300 && e.contains('…'), "{}", e.len());
        // A document that is not an object is refused as such.
        let e = parse_snapshot("[[], [], []]").unwrap_err();
        assert_eq!(e.entry, "the document");
    }

    #[test]
    fn an_empty_document_is_a_valid_empty_snapshot() {
        assert_eq!(parse_snapshot("{}").unwrap(), Snapshot::default());
    }

    #[test]
    fn one_entry_is_checked_against_the_directory_as_an_import_would() {
        let snapshot = parse_edited(|_| {}).unwrap();
        let dir = crate::Directory::new(snapshot.clone(), std::collections::HashMap::new());
        let mut u = snapshot.users[0].clone();
        assert_eq!(check_user(&u, &dir), Ok(()));
        // A class of a structure the user is not in (a sync PUT once let that through).
        let other = snapshot
            .classes
            .iter()
            .find(|c| !u.structures.contains(&c.structure))
            .expect("a class of another structure");
        u.classes = vec![other.id.clone()];
        let e = check_user(&u, &dir).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("classes[0]"), "{e}");
        assert!(e.reason.contains("not among the user's structures"), "{e}");
        let mut u = snapshot.users[0].clone();
        u.admin_of = vec!["nowhere".into()];
        let e = check_user(&u, &dir).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("admin_of[0]"), "{e}");
        let mut u = snapshot.users[0].clone();
        u.first_name = "x".repeat(MAX_NAME_CHARS + 1);
        let e = check_user(&u, &dir).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("first_name"), "{e}");
        assert!(e.reason.contains("longer than"), "{e}");
        let mut u = snapshot.users[0].clone();
        u.last_name = "Martin\nDupont".into();
        assert!(check_user(&u, &dir).unwrap_err().reason.contains("control"));
        let mut u = snapshot.users[0].clone();
        u.login = "Léa".into();
        assert_eq!(
            check_user(&u, &dir).unwrap_err().field.as_deref(),
            Some("login")
        );
        let mut g = Group {
            id: "g".into(),
            name: "G".into(),
            structure: Some("nowhere".into()),
            members: vec![],
        };
        assert_eq!(
            check_group(&g, &dir).unwrap_err().field.as_deref(),
            Some("structure")
        );
        g.structure = None;
        g.members = vec!["ghost".into()];
        assert_eq!(
            check_group(&g, &dir).unwrap_err().field.as_deref(),
            Some("members[0]")
        );
        let c = Class {
            id: "c".into(),
            structure: "nowhere".into(),
            name: "C".into(),
        };
        assert_eq!(
            check_class(&c, &dir).unwrap_err().field.as_deref(),
            Some("structure")
        );
        let st = Structure {
            id: "x".repeat(MAX_ID_LEN + 1),
            name: "S".into(),
        };
        assert_eq!(
            check_structure(&st).unwrap_err().field.as_deref(),
            Some("id")
        );
    }

    #[test]
    fn an_import_refuses_names_too_long_too() {
        refused(
            |v| v["users"][0]["first_name"] = json!("é".repeat(MAX_NAME_CHARS + 1)),
            "users[0] (lea.martin)",
            Some("first_name"),
            "longer than",
        );
    }
}
