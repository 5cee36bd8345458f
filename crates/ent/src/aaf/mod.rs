//! The académie's directory feed (AAF, « Annuaire Académique Fédérateur ») mapped onto
//! the directory snapshot (docs/aaf-import.md): structures, pupils, their legal
//! representatives, teachers and staff, the classes and groups they name, the functions
//! that mean something to Causerie (`cpe`, `direction`), with a [`Report`] of every
//! entry skipped and every reference dropped, and why.
//!
//! Pure: the caller reads the files and hands their bytes to a [`Feed`]
//! ([`Feed::add_file`], one file at a time, so that only the attributes used are held),
//! then [`Feed::finish`] maps. Whatever the input, nothing panics and the snapshot
//! returned passes [`crate::validate`]: entries that would not are skipped and reported.

pub mod read;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use std::fmt;

use crate::model::{Class, Group, Profile, Snapshot, Structure, User};
use crate::validate::{
    MAX_FUNCTION_LEN, MAX_FUNCTIONS, Refs, check_class, check_group, check_structure, check_user,
    is_valid_login,
};
pub use read::{ReadError, Request, RequestKind};

/// The four kinds of entries the mapping uses, by the feed's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// `EtabEducNat`: a school.
    Structure,
    /// `Eleve`: a pupil.
    Pupil,
    /// `PersRelEleve`: a person related to a pupil (parent, guardian).
    Relative,
    /// `PersEducNat`: a teacher or another member of staff.
    Staff,
}

impl Category {
    /// From the feed's `categoriePersonne` / `categorieStructure` value.
    pub fn from_feed(value: &str) -> Option<Category> {
        match value {
            "EtabEducNat" => Some(Category::Structure),
            "Eleve" => Some(Category::Pupil),
            "PersRelEleve" => Some(Category::Relative),
            "PersEducNat" => Some(Category::Staff),
            _ => None,
        }
    }

    /// From a file's name (`ENT_Complet_20250901_Eleve_0000.xml`), for entries that do not
    /// say their category.
    pub fn from_file_name(name: &str) -> Option<Category> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        [
            ("_EtabEducNat_", Category::Structure),
            ("_PersRelEleve_", Category::Relative),
            ("_PersEducNat_", Category::Staff),
            ("_Eleve_", Category::Pupil),
        ]
        .into_iter()
        .find(|(part, _)| base.contains(part))
        .map(|(_, c)| c)
    }

    /// How the report names an entry of this category.
    pub fn noun(self) -> &'static str {
        match self {
            Category::Structure => "structure",
            Category::Pupil => "pupil",
            Category::Relative => "relative",
            Category::Staff => "staff member",
        }
    }
}

/// Why an entry was skipped, or a reference of a kept entry dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The file could not be read at all (encoding, XML, root element).
    MalformedFile(String),
    /// A `modifyRequest` or `deleteRequest`: delta exports are not applied.
    Delta(RequestKind),
    /// Neither the entry nor the file's name says what it is.
    NoCategory,
    /// No `<identifier><id>`.
    NoIdentifier,
    /// An earlier entry of the same category has the same identifier (or, for a
    /// structure, the same UAI).
    DuplicateId,
    /// A required attribute is missing or empty (`sn`, `givenName`,
    /// `ENTStructureNomCourant`).
    MissingName(&'static str),
    /// None of the person's structures is in the feed.
    NoStructure,
    /// `ENTPersonLogin` is not a usable login.
    InvalidLogin(String),
    /// Another person kept earlier has the same login.
    DuplicateLogin { login: String, first: String },
    /// A relative whom no imported pupil names as legal representative.
    RelativeWithoutPupil,
    /// The directory's own validation refused the entry (a name too long…).
    Refused(String),
    /// Reference dropped: a structure that is not in the feed.
    UnknownStructure { attr: &'static str, value: String },
    /// Reference dropped: a value not of the expected `STRUCTURE$CODE…` form.
    MalformedValue { attr: &'static str, value: String },
    /// Reference dropped: a pupil's relative absent from the relatives' files.
    UnknownRelative(String),
    /// Reference dropped: more functions than a user may have.
    TooManyFunctions(usize),
}

impl Reason {
    /// Whether the whole entry (or file) was left out, rather than one reference.
    pub fn skips_entry(&self) -> bool {
        !matches!(
            self,
            Reason::UnknownStructure { .. }
                | Reason::MalformedValue { .. }
                | Reason::UnknownRelative(_)
                | Reason::TooManyFunctions(_)
        )
    }

    /// A short key grouping reports (`unknown structure`, `duplicate id`…).
    pub fn key(&self) -> &'static str {
        match self {
            Reason::MalformedFile(_) => "malformed file",
            Reason::Delta(_) => "delta request",
            Reason::NoCategory => "no category",
            Reason::NoIdentifier => "no identifier",
            Reason::DuplicateId => "duplicate id",
            Reason::MissingName(_) => "missing name",
            Reason::NoStructure => "no structure",
            Reason::InvalidLogin(_) => "invalid login",
            Reason::DuplicateLogin { .. } => "duplicate login",
            Reason::RelativeWithoutPupil => "relative without pupil",
            Reason::Refused(_) => "refused by validation",
            Reason::UnknownStructure { .. } => "unknown structure",
            Reason::MalformedValue { .. } => "malformed value",
            Reason::UnknownRelative(_) => "unknown relative",
            Reason::TooManyFunctions(_) => "too many functions",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MalformedFile(e) => write!(f, "file not read: {e}"),
            Reason::Delta(kind) => write!(
                f,
                "skipped: <{}> is a delta update; only full exports (« Complet », addRequest) are imported",
                kind.element()
            ),
            Reason::NoCategory => f.write_str(
                "skipped: no categoriePersonne or categorieStructure, and the file's name does not tell",
            ),
            Reason::NoIdentifier => f.write_str("skipped: no <identifier><id>"),
            Reason::DuplicateId => f.write_str("skipped: an earlier entry has the same identifier"),
            Reason::MissingName(attr) => write!(f, "skipped: no {attr}"),
            Reason::NoStructure => f.write_str("skipped: none of its structures is in the feed"),
            Reason::InvalidLogin(l) => write!(
                f,
                "skipped: ENTPersonLogin \"{l}\" is not a usable login (a-z, 0-9, '.', '-', '_')"
            ),
            Reason::DuplicateLogin { login, first } => {
                write!(f, "skipped: login \"{login}\" is already {first}'s")
            }
            Reason::RelativeWithoutPupil => {
                f.write_str("skipped: no imported pupil names this person as legal representative")
            }
            Reason::Refused(e) => write!(f, "skipped: {e}"),
            Reason::UnknownStructure { attr, value } => {
                write!(f, "{attr} \"{value}\" dropped: structure not in the feed")
            }
            Reason::MalformedValue { attr, value } => {
                write!(f, "{attr} \"{value}\" dropped: not of the expected form")
            }
            Reason::UnknownRelative(id) => {
                write!(f, "relative \"{id}\" dropped: not in the relatives' files (PersRelEleve)")
            }
            Reason::TooManyFunctions(n) => {
                write!(f, "{n} function(s) dropped: at most {MAX_FUNCTIONS} are kept")
            }
        }
    }
}

/// One line of the report: where, which entry, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub file: String,
    /// `pupil 2605692 (LONG Kù)`; `None` for the whole file.
    pub entry: Option<String>,
    pub reason: Reason,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(e) => write!(f, "{}: {e}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// What the mapping left out, and what it made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files handed to the feed.
    pub files: usize,
    /// Every entry skipped and reference dropped, in the order met.
    pub skipped: Vec<Skip>,
    /// Entries of categories the mapping does not use (`MefEducNat`, `MatiereEducNat`…),
    /// counted by category.
    pub ignored: BTreeMap<String, usize>,
}

impl Report {
    /// Entries (and files) left out.
    pub fn entries_skipped(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| s.reason.skips_entry())
            .count()
    }

    /// References dropped from kept entries.
    pub fn references_dropped(&self) -> usize {
        self.skipped.len() - self.entries_skipped()
    }

    /// How many skips of each kind ([`Reason::key`]), in a stable order.
    pub fn by_reason(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for s in &self.skipped {
            *m.entry(s.reason.key()).or_insert(0) += 1;
        }
        m
    }
}

/// The mapped snapshot and its report.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub snapshot: Snapshot,
    pub report: Report,
}

/// A feed being read: the files' entries, kept until [`Feed::finish`].
#[derive(Debug, Default)]
pub struct Feed {
    files: Vec<String>,
    /// (file index, category, entry), in file order.
    entries: Vec<(usize, Category, Request)>,
    report: Report,
}

impl Feed {
    pub fn new() -> Feed {
        Feed::default()
    }

    /// Reads one file (`name` is how the report names it; it also tells the category
    /// of entries that do not say theirs). A file that cannot be read is reported whole.
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) {
        let index = self.files.len();
        self.files.push(name.to_string());
        self.report.files += 1;
        let requests = match read::read_file(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.skip(index, None, Reason::MalformedFile(e.0));
                return;
            }
        };
        let from_name = Category::from_file_name(name);
        for req in requests {
            let category = match req.category.as_deref() {
                Some(c) => match Category::from_feed(c) {
                    Some(c) => c,
                    None => {
                        *self.report.ignored.entry(c.to_string()).or_insert(0) += 1;
                        continue;
                    }
                },
                None => match from_name {
                    Some(c) => c,
                    None => {
                        let entry = req.id.as_ref().map(|id| format!("entry {id}"));
                        self.skip(index, entry, Reason::NoCategory);
                        continue;
                    }
                },
            };
            let Some(id) = req.id.clone() else {
                self.skip(
                    index,
                    Some(format!("{} without identifier", category.noun())),
                    Reason::NoIdentifier,
                );
                continue;
            };
            if req.kind != RequestKind::Add {
                self.skip(
                    index,
                    Some(format!("{} {id}", category.noun())),
                    Reason::Delta(req.kind),
                );
                continue;
            }
            self.entries.push((index, category, req));
        }
    }

    fn skip(&mut self, file: usize, entry: Option<String>, reason: Reason) {
        self.report.skipped.push(Skip {
            file: self.files[file].clone(),
            entry,
            reason,
        });
    }

    /// Maps what was read onto a snapshot.
    pub fn finish(self) -> Mapped {
        Mapper::new(self).run()
    }
}

/// A person being mapped (pupil, staff member or relative).
struct Person {
    file: usize,
    label: String,
    user: User,
    /// (structure id, code) of the classes and groups the feed names.
    classes: Vec<(String, String)>,
    groups: Vec<(String, String)>,
    /// A pupil's legal representatives (identifiers).
    relatives: Vec<String>,
}

struct Mapper {
    files: Vec<String>,
    entries: Vec<(usize, Category, Request)>,
    report: Report,
    structures: Vec<Structure>,
    /// The ids of `structures`, for the checks' lookups.
    structure_ids: HashSet<String>,
    /// Every way the feed names a structure (identifier, jointure, UAI) → its id.
    structure_ref: HashMap<String, String>,
    classes: BTreeMap<String, Class>,
    profiles: HashMap<String, Profile>,
    /// Login → the label of who has it.
    logins: HashMap<String, String>,
}

impl Refs for Mapper {
    fn has_structure(&self, id: &str) -> bool {
        self.structure_ids.contains(id)
    }

    fn class_of(&self, id: &str) -> Option<(&str, &str)> {
        self.classes
            .get(id)
            .map(|c| (c.structure.as_str(), c.name.as_str()))
    }

    fn profile_of(&self, login: &str) -> Option<Profile> {
        self.profiles.get(login).copied()
    }
}

/// How a value names a class or group after its structure.
#[derive(Clone, Copy)]
enum Code {
    /// `STRUCTURE$CODE`.
    Whole,
    /// `STRUCTURE$CODE$SUBJECT` (…`Matieres` attributes): the subject is dropped.
    WithSubject,
}

impl Mapper {
    fn new(feed: Feed) -> Mapper {
        Mapper {
            files: feed.files,
            entries: feed.entries,
            report: feed.report,
            structures: Vec::new(),
            structure_ids: HashSet::new(),
            structure_ref: HashMap::new(),
            classes: BTreeMap::new(),
            profiles: HashMap::new(),
            logins: HashMap::new(),
        }
    }

    fn skip(&mut self, file: usize, entry: &str, reason: Reason) {
        self.report.skipped.push(Skip {
            file: self.files[file].clone(),
            entry: Some(entry.to_string()),
            reason,
        });
    }

    fn run(mut self) -> Mapped {
        let entries = std::mem::take(&mut self.entries);
        let mut seen: HashSet<(Category, String)> = HashSet::new();
        let mut by_category: BTreeMap<Category, Vec<(usize, Request)>> = BTreeMap::new();
        for (file, category, req) in entries {
            let id = req.id.clone().unwrap_or_default();
            if !seen.insert((category, id.clone())) {
                let label = format!("{} {id}", category.noun());
                self.skip(file, &label, Reason::DuplicateId);
                continue;
            }
            by_category.entry(category).or_default().push((file, req));
        }
        let mut take = |c| by_category.remove(&c).unwrap_or_default();
        let (structures, pupils, staff, relatives) = (
            take(Category::Structure),
            take(Category::Pupil),
            take(Category::Staff),
            take(Category::Relative),
        );

        for (file, req) in structures {
            self.structure(file, &req);
        }
        let mut people: Vec<Person> = Vec::new();
        for (file, req) in &pupils {
            if let Some(p) = self.person(*file, req, Category::Pupil) {
                people.push(p);
            }
        }
        for (file, req) in &staff {
            if let Some(p) = self.person(*file, req, Category::Staff) {
                people.push(p);
            }
        }
        self.make_classes(&people);
        // Pupils and staff checked as the import will check them; then relatives, whose
        // children must be kept pupils.
        let mut kept: Vec<Person> = Vec::new();
        for mut p in people {
            p.user.classes = self.class_ids(&p);
            if let Err(e) = check_user(&p.user, &self) {
                self.skip(p.file, &p.label, Reason::Refused(e.to_string()));
                self.logins.remove(&p.user.login);
                continue;
            }
            self.profiles.insert(p.user.login.clone(), p.user.profile);
            kept.push(p);
        }
        let known_relatives: HashSet<&str> = relatives
            .iter()
            .filter_map(|(_, r)| r.id.as_deref())
            .collect();
        let mut children_of: HashMap<String, Vec<(String, Vec<String>)>> = HashMap::new();
        let mut unknown = Vec::new();
        for p in &kept {
            for r in &p.relatives {
                if known_relatives.contains(r.as_str()) {
                    let list = children_of.entry(r.clone()).or_default();
                    if !list.iter().any(|(l, _)| *l == p.user.login) {
                        list.push((p.user.login.clone(), p.user.structures.clone()));
                    }
                } else {
                    unknown.push((p.file, p.label.clone(), r.clone()));
                }
            }
        }
        for (file, label, r) in unknown {
            self.skip(file, &label, Reason::UnknownRelative(r));
        }
        for (file, req) in &relatives {
            if let Some(p) = self.relative(*file, req, &children_of) {
                kept.push(p);
            }
        }
        let groups = self.make_groups(&kept);

        // Classes no kept user names are left out.
        let used: HashSet<&str> = kept
            .iter()
            .flat_map(|p| p.user.classes.iter().map(String::as_str))
            .collect();
        let classes: Vec<Class> = self
            .classes
            .values()
            .filter(|c| used.contains(c.id.as_str()))
            .cloned()
            .collect();
        Mapped {
            snapshot: Snapshot {
                structures: std::mem::take(&mut self.structures),
                classes,
                users: kept.into_iter().map(|p| p.user).collect(),
                groups,
                // The feed names no collectivité: the import leaves the stored ones as
                // they are.
                collectivites: None,
            },
            report: self.report,
        }
    }

    fn structure(&mut self, file: usize, req: &Request) {
        let id = req.id.clone().unwrap_or_default();
        let name = req
            .first("ENTStructureNomCourant")
            .unwrap_or("")
            .to_string();
        let uai = req
            .first("ENTStructureUAI")
            .or(req.first("ENTEtablissementUAI"));
        let jointure = req.first("ENTStructureJointure").unwrap_or(&id).to_string();
        let sid = uai.unwrap_or(&jointure).to_string();
        let label = if name.is_empty() {
            format!("structure {id}")
        } else {
            format!("structure {id} ({name})")
        };
        if name.is_empty() {
            self.skip(file, &label, Reason::MissingName("ENTStructureNomCourant"));
            return;
        }
        if self.structure_ids.contains(&sid) {
            self.skip(file, &label, Reason::DuplicateId);
            return;
        }
        let s = Structure {
            id: sid.clone(),
            name,
        };
        if let Err(e) = check_structure(&s) {
            self.skip(file, &label, Reason::Refused(e.to_string()));
            return;
        }
        self.structure_ids.insert(sid.clone());
        self.structures.push(s);
        for alias in [Some(id.as_str()), Some(jointure.as_str()), uai, Some(&sid)]
            .into_iter()
            .flatten()
        {
            self.structure_ref
                .entry(alias.to_string())
                .or_insert_with(|| sid.clone());
        }
    }

    /// A structure named by a value, or the reason the reference is dropped.
    fn structure_of(&self, attr: &'static str, value: &str) -> Result<String, Reason> {
        self.structure_ref
            .get(value)
            .cloned()
            .ok_or_else(|| Reason::UnknownStructure {
                attr,
                value: value.to_string(),
            })
    }

    /// `STRUCTURE$CODE[$SUBJECT]` → (structure id, code).
    fn coded(
        &self,
        attr: &'static str,
        value: &str,
        form: Code,
    ) -> Result<(String, String), Reason> {
        let malformed = || Reason::MalformedValue {
            attr,
            value: value.to_string(),
        };
        let (structure, rest) = value.split_once('$').ok_or_else(malformed)?;
        let code = match form {
            Code::Whole => rest,
            Code::WithSubject => rest.rsplit_once('$').map(|(c, _)| c).unwrap_or(rest),
        }
        .trim();
        if code.is_empty() || structure.trim().is_empty() {
            return Err(malformed());
        }
        let sid =
            self.structure_of(attr, structure.trim())
                .map_err(|_| Reason::UnknownStructure {
                    attr,
                    value: value.to_string(),
                })?;
        Ok((sid, code.to_string()))
    }

    /// The login: `ENTPersonLogin` when the feed has one (ASCII letters lowered), else the
    /// person's jointure (or identifier), lowered, other characters than a-z, 0-9, `.`,
    /// `-`, `_` replaced with `_`.
    fn login(req: &Request) -> Result<String, Reason> {
        if let Some(given) = req.first("ENTPersonLogin") {
            let login = given.to_ascii_lowercase();
            return if is_valid_login(&login) {
                Ok(login)
            } else {
                Err(Reason::InvalidLogin(given.to_string()))
            };
        }
        let id = req
            .first("ENTPersonJointure")
            .or(req.id.as_deref())
            .unwrap_or("");
        Ok(derive_login(id))
    }

    /// The common part of a pupil, staff member or relative: identifier, names, login.
    fn identity(
        &mut self,
        file: usize,
        req: &Request,
        category: Category,
    ) -> Option<(String, User)> {
        let id = req.id.clone().unwrap_or_default();
        let last = req.first("sn").unwrap_or("").to_string();
        let first = req.first("givenName").unwrap_or("").to_string();
        let names = format!("{last} {first}");
        let label = match names.trim() {
            "" => format!("{} {id}", category.noun()),
            names => format!("{} {id} ({names})", category.noun()),
        };
        if last.is_empty() {
            self.skip(file, &label, Reason::MissingName("sn"));
            return None;
        }
        if first.is_empty() {
            self.skip(file, &label, Reason::MissingName("givenName"));
            return None;
        }
        let login = match Self::login(req) {
            Ok(l) => l,
            Err(r) => {
                self.skip(file, &label, r);
                return None;
            }
        };
        if let Some(owner) = self.logins.get(&login) {
            let reason = Reason::DuplicateLogin {
                login: login.clone(),
                first: owner.clone(),
            };
            self.skip(file, &label, reason);
            return None;
        }
        let user = User {
            login,
            last_name: last,
            first_name: first,
            profile: Profile::Guest,
            structures: Vec::new(),
            classes: Vec::new(),
            children: Vec::new(),
            password: None,
            admin_of: Vec::new(),
            functions: Vec::new(),
        };
        Some((label, user))
    }

    /// A pupil or a staff member.
    fn person(&mut self, file: usize, req: &Request, category: Category) -> Option<Person> {
        let (label, mut user) = self.identity(file, req, category)?;
        let mut dropped = Vec::new();
        let mut structures = Vec::new();
        for v in req.values("ENTPersonStructRattach") {
            match self.structure_of("ENTPersonStructRattach", v) {
                Ok(s) => structures.push(s),
                Err(r) => dropped.push(r),
            }
        }
        let mut classes = Vec::new();
        let mut groups = Vec::new();
        let mut relatives = Vec::new();
        let mut functions = Vec::new();
        let read = |attrs: &[(&'static str, Code)],
                    out: &mut Vec<(String, String)>,
                    dropped: &mut Vec<Reason>| {
            for &(attr, form) in attrs {
                for v in req.values(attr) {
                    match self.coded(attr, v, form) {
                        Ok(c) => {
                            if !out.contains(&c) {
                                out.push(c);
                            }
                        }
                        Err(r) => dropped.push(r),
                    }
                }
            }
        };
        match category {
            Category::Pupil => {
                user.profile = Profile::Student;
                read(
                    &[("ENTEleveClasses", Code::Whole)],
                    &mut classes,
                    &mut dropped,
                );
                read(
                    &[("ENTEleveGroupes", Code::Whole)],
                    &mut groups,
                    &mut dropped,
                );
                relatives = legal_representatives(req, &mut dropped);
            }
            _ => {
                user.profile = staff_profile(req);
                if user.profile == Profile::Teacher {
                    read(
                        &[
                            ("ENTAuxEnsClasses", Code::Whole),
                            ("ENTAuxEnsClassesMatieres", Code::WithSubject),
                            ("ENTAuxEnsClassesPrincipal", Code::Whole),
                        ],
                        &mut classes,
                        &mut dropped,
                    );
                }
                read(
                    &[
                        ("ENTAuxEnsGroupes", Code::Whole),
                        ("ENTAuxEnsGroupesMatieres", Code::WithSubject),
                    ],
                    &mut groups,
                    &mut dropped,
                );
                for v in req.values("ENTPersonFonctions") {
                    let parts: Vec<&str> = v.split('$').collect();
                    if parts.len() < 2 || parts[0].trim().is_empty() {
                        dropped.push(Reason::MalformedValue {
                            attr: "ENTPersonFonctions",
                            value: v.clone(),
                        });
                        continue;
                    }
                    match self.structure_of("ENTPersonFonctions", parts[0].trim()) {
                        Ok(s) => structures.push(s),
                        Err(r) => {
                            dropped.push(r);
                            continue;
                        }
                    }
                    if let Some(f) = function_word(&parts) {
                        functions.push(f);
                    }
                }
                for v in req.values("ENTEnsFonctionDir") {
                    match self.structure_of("ENTEnsFonctionDir", v) {
                        Ok(s) => {
                            structures.push(s);
                            functions.push("direction".to_string());
                        }
                        Err(r) => dropped.push(r),
                    }
                }
            }
        }
        structures.extend(classes.iter().map(|(s, _)| s.clone()));
        user.structures = dedup(structures);
        user.functions = dedup(functions);
        // The two functions Causerie reads first, so that a cut never drops them.
        user.functions
            .sort_by_key(|f| !matches!(f.as_str(), "cpe" | "direction"));
        if user.functions.len() > MAX_FUNCTIONS {
            dropped.push(Reason::TooManyFunctions(
                user.functions.len() - MAX_FUNCTIONS,
            ));
            user.functions.truncate(MAX_FUNCTIONS);
        }
        for r in dropped {
            self.skip(file, &label, r);
        }
        if user.structures.is_empty() {
            self.skip(file, &label, Reason::NoStructure);
            return None;
        }
        self.logins.insert(user.login.clone(), label.clone());
        Some(Person {
            file,
            label,
            user,
            classes,
            groups,
            relatives,
        })
    }

    /// A relative, with the kept pupils who name him (`children_of`: relative's
    /// identifier → (pupil's login, pupil's structures)).
    fn relative(
        &mut self,
        file: usize,
        req: &Request,
        children_of: &HashMap<String, Vec<(String, Vec<String>)>>,
    ) -> Option<Person> {
        let id = req.id.clone().unwrap_or_default();
        let Some(children) = children_of.get(&id).filter(|c| !c.is_empty()) else {
            let label = format!("{} {id}", Category::Relative.noun());
            let label = match (req.first("sn"), req.first("givenName")) {
                (Some(l), Some(f)) => format!("{label} ({l} {f})"),
                _ => label,
            };
            self.skip(file, &label, Reason::RelativeWithoutPupil);
            return None;
        };
        let (label, mut user) = self.identity(file, req, Category::Relative)?;
        user.profile = Profile::Relative;
        user.children = children.iter().map(|(l, _)| l.clone()).collect();
        user.structures = dedup(
            children
                .iter()
                .flat_map(|(_, s)| s.iter().cloned())
                .collect(),
        );
        if let Err(e) = check_user(&user, &*self) {
            self.skip(file, &label, Reason::Refused(e.to_string()));
            return None;
        }
        self.logins.insert(user.login.clone(), label.clone());
        self.profiles.insert(user.login.clone(), user.profile);
        Some(Person {
            file,
            label,
            user,
            classes: Vec::new(),
            groups: Vec::new(),
            relatives: Vec::new(),
        })
    }

    /// The classes the people name, each checked; one refused is reported once and left
    /// out.
    fn make_classes(&mut self, people: &[Person]) {
        let mut refused = HashSet::new();
        for p in people {
            for (sid, code) in &p.classes {
                let id = format!("{sid}-{code}");
                if self.classes.contains_key(&id) || refused.contains(&id) {
                    continue;
                }
                let class = Class {
                    id: id.clone(),
                    structure: sid.clone(),
                    name: code.clone(),
                };
                match check_class(&class, &*self) {
                    Ok(()) => {
                        self.classes.insert(id, class);
                    }
                    Err(e) => {
                        let label = format!("{} (class {code})", p.label);
                        self.skip(p.file, &label, Reason::Refused(e.to_string()));
                        refused.insert(id);
                    }
                }
            }
        }
    }

    /// The ids of a person's classes that were made.
    fn class_ids(&self, p: &Person) -> Vec<String> {
        p.classes
            .iter()
            .map(|(s, c)| format!("{s}-{c}"))
            .filter(|id| self.classes.contains_key(id))
            .collect()
    }

    /// The groups the kept people name, with them as members.
    fn make_groups(&mut self, people: &[Person]) -> Vec<Group> {
        let mut groups: BTreeMap<String, (usize, String, Group)> = BTreeMap::new();
        for p in people {
            for (sid, code) in &p.groups {
                let id = format!("{sid}-{code}");
                let entry = groups.entry(id.clone()).or_insert_with(|| {
                    (
                        p.file,
                        p.label.clone(),
                        Group {
                            id,
                            name: code.clone(),
                            structure: Some(sid.clone()),
                            members: Vec::new(),
                        },
                    )
                });
                if !entry.2.members.contains(&p.user.login) {
                    entry.2.members.push(p.user.login.clone());
                }
            }
        }
        let mut out = Vec::new();
        for (_, (file, label, group)) in groups {
            match check_group(&group, &*self) {
                Ok(()) => out.push(group),
                Err(e) => {
                    let label = format!("{label} (group {})", group.name);
                    self.skip(file, &label, Reason::Refused(e.to_string()));
                }
            }
        }
        out
    }
}

/// A derived login: `id` lowered, characters other than a-z, 0-9, `.`, `-`, `_` made `_`.
pub fn derive_login(id: &str) -> String {
    id.trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A pupil's legal representatives: the relatives of `ENTElevePersRelEleve`
/// (`ID$RELATION$FINANCIAL$LEGAL$CONTACT$PAYMENT`) whose LEGAL field is not `0`; when
/// the entry has none of those values, the identifiers of `ENTEleveAutoriteParentale`.
fn legal_representatives(req: &Request, dropped: &mut Vec<Reason>) -> Vec<String> {
    let links = req.values("ENTElevePersRelEleve");
    let mut out = Vec::new();
    if links.is_empty() {
        out.extend(req.values("ENTEleveAutoriteParentale").iter().cloned());
    }
    for v in links {
        let parts: Vec<&str> = v.split('$').map(str::trim).collect();
        if parts.len() < 4 || parts[0].is_empty() {
            dropped.push(Reason::MalformedValue {
                attr: "ENTElevePersRelEleve",
                value: v.clone(),
            });
            continue;
        }
        if !matches!(parts[3], "" | "0") {
            out.push(parts[0].to_string());
        }
    }
    dedup(out)
}

/// Teacher or staff: `ENTPersonProfils` when the feed has it (`National_ENS` and
/// `National_DOC` teach), else `ENTPersonCategorieEnseignant`, else
/// `PersEducNatPresenceDevantEleves` = `O`, else a function of code `ENS` or `DOC`.
fn staff_profile(req: &Request) -> Profile {
    let profils = req.values("ENTPersonProfils");
    if profils
        .iter()
        .any(|p| p == "National_ENS" || p == "National_DOC")
    {
        return Profile::Teacher;
    }
    if profils.iter().any(|p| p.starts_with("National_")) {
        return Profile::Personnel;
    }
    let yes = |v: Option<&str>| matches!(v, Some("O" | "o" | "true" | "TRUE" | "1"));
    let no = |v: Option<&str>| matches!(v, Some("N" | "n" | "false" | "FALSE" | "0"));
    let category = req.first("ENTPersonCategorieEnseignant");
    if yes(category) {
        return Profile::Teacher;
    }
    if no(category) {
        return Profile::Personnel;
    }
    if yes(req.first("PersEducNatPresenceDevantEleves")) {
        return Profile::Teacher;
    }
    let teaches = req.values("ENTPersonFonctions").iter().any(|f| {
        f.split('$')
            .nth(1)
            .is_some_and(|c| c.eq_ignore_ascii_case("ENS") || c.eq_ignore_ascii_case("DOC"))
    });
    if teaches {
        Profile::Teacher
    } else {
        Profile::Personnel
    }
}

/// The word kept for a function (`STRUCTURE$CODE$LABEL$DISCIPLINE$DISCIPLINE_LABEL`):
/// `DIR` is `direction`; `EDU` is `cpe` when the discipline is the CPE's (« conseiller
/// principal d'éducation »), else `education`; another code is kept lowered (`ens`,
/// `doc`, `ori`…); `-` or an empty code is none.
fn function_word(parts: &[&str]) -> Option<String> {
    let code = parts.get(1)?.trim();
    if code.eq_ignore_ascii_case("DIR") {
        return Some("direction".into());
    }
    if code.eq_ignore_ascii_case("EDU") {
        let discipline: String = parts
            .get(4)
            .unwrap_or(&"")
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_uppercase();
        let cpe = discipline.contains("CONSEILLERPRINCIPAL") || discipline.starts_with("CPE");
        return Some(if cpe { "cpe" } else { "education" }.into());
    }
    let word: String = code
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        .take(MAX_FUNCTION_LEN)
        .collect();
    word.chars()
        .any(|c| c.is_ascii_alphanumeric())
        .then_some(word)
}

/// `v` without repeats, first occurrences kept in order.
fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}
