//! The in-memory directory the server consults on every stanza: a
//! [`Snapshot`] plus each structure's rules, indexed so that
//! [`Directory::may_reach`] costs a few hash lookups and walks only the two
//! users' own classes, children and groups, never the whole directory; and
//! the directory search ([`Directory::search`], XEP-0055) limited to
//! reachable users.
//!
//! A `Directory` is immutable: when the directory changes (an import, a pupil
//! changing class), build a new one and swap it in; the new rules hold from the
//! next stanza on. Deactivated users are simply absent from the snapshot given
//! here, and so are denied ([`DenyReason::Inactive`]) like unknown ones.
//!
//! A snapshot that [`crate::validate`] would refuse is still indexed without
//! panicking: unknown references are ignored, and the first of duplicate ids or
//! logins wins.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::collectivite::Collectivite;
use crate::fold::fold;
use crate::model::{Class, Group, Profile, Snapshot, Structure, User};
use crate::policy::{Decision, DenyReason, Sides, Why, first_allowing_rule};
use crate::rules::{Rule, Scope, default_rules};

/// A user's relations, as indices into the snapshot's lists, sorted and
/// deduplicated (except `children`/`parents`, which are short).
#[derive(Debug, Default, Clone)]
struct Links {
    structures: Box<[usize]>,
    classes: Box<[usize]>,
    groups: Box<[usize]>,
    children: Box<[usize]>,
    parents: Box<[usize]>,
}

/// What allowed a contact, by index (turned into a [`Why`] for callers).
enum Reason {
    SameAccount,
    Open,
    Group(usize),
    Rule(usize, usize),
}

/// The directory, indexed. See the module documentation.
#[derive(Debug, Clone)]
pub struct Directory {
    snapshot: Snapshot,
    open: bool,
    user_index: HashMap<String, usize>,
    structure_index: HashMap<String, usize>,
    class_index: HashMap<String, usize>,
    group_index: HashMap<String, usize>,
    /// Parallel to `snapshot.users` (a duplicate login gets empty links).
    links: Vec<Links>,
    /// Parallel to `snapshot.classes`: the index of the class's structure.
    class_structure: Vec<Option<usize>>,
    class_members: Vec<Box<[usize]>>,
    structure_members: Vec<Box<[usize]>>,
    group_members: Vec<Box<[usize]>>,
    /// Parallel to `snapshot.structures`: `None` means the defaults.
    rules: Vec<Option<Vec<Rule>>>,
    defaults: Vec<Rule>,
}

impl Default for Directory {
    /// An empty directory: everybody is unknown, so everything is denied.
    fn default() -> Directory {
        Directory::new(Snapshot::default(), HashMap::new())
    }
}

/// A directory search (XEP-0055 fields). Every non-empty field must match,
/// as a case- and accent-insensitive substring ([`crate::fold`]): `first` the
/// first name, `last` the last name, `nick` the display name or login, and
/// `text` any of first name, last name, display name (« NOM Prénom » or
/// « Prénom NOM ») or login. An empty query matches everyone reachable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub first: Option<String>,
    #[serde(default)]
    pub last: Option<String>,
    #[serde(default)]
    pub nick: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

impl SearchQuery {
    /// A query on the `text` field only.
    pub fn text(text: &str) -> SearchQuery {
        SearchQuery {
            text: Some(text.to_string()),
            ..SearchQuery::default()
        }
    }

    /// Whether no field holds anything but whitespace.
    pub fn is_empty(&self) -> bool {
        [&self.first, &self.last, &self.nick, &self.text]
            .iter()
            .all(|f| f.as_deref().is_none_or(|s| s.trim().is_empty()))
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub login: String,
    /// « NOM Prénom ».
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    pub profile: Profile,
    /// The names of the user's classes (« 6e A »).
    pub classes: Vec<String>,
}

/// A search query, folded once.
struct Matcher {
    first: Option<String>,
    last: Option<String>,
    nick: Option<String>,
    text: Option<String>,
}

impl Matcher {
    fn new(q: &SearchQuery) -> Matcher {
        let f = |o: &Option<String>| o.as_deref().map(fold).filter(|s| !s.is_empty());
        Matcher {
            first: f(&q.first),
            last: f(&q.last),
            nick: f(&q.nick),
            text: f(&q.text),
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none() && self.last.is_none() && self.nick.is_none() && self.text.is_none()
    }

    fn matches(&self, u: &User) -> bool {
        if self.is_empty() {
            return true;
        }
        let first = fold(&u.first_name);
        let last = fold(&u.last_name);
        let has = |q: &Option<String>, hay: &str| q.as_deref().is_none_or(|q| hay.contains(q));
        let last_first = format!("{last} {first}");
        if !has(&self.first, &first) || !has(&self.last, &last) {
            return false;
        }
        if let Some(q) = &self.nick
            && !last_first.contains(q.as_str())
            && !u.login.contains(q.as_str())
        {
            return false;
        }
        if let Some(q) = &self.text {
            let q = q.as_str();
            let first_last = format!("{first} {last}");
            if !(last_first.contains(q) || first_last.contains(q) || u.login.contains(q)) {
                return false;
            }
        }
        true
    }
}

fn index_by<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<String, usize> {
    let mut map = HashMap::new();
    for (i, id) in ids.enumerate() {
        map.entry(id.to_string()).or_insert(i);
    }
    map
}

fn sorted(mut v: Vec<usize>) -> Box<[usize]> {
    v.sort_unstable();
    v.dedup();
    v.into_boxed_slice()
}

impl Directory {
    /// Indexes `snapshot`. `rules` maps structure ids to their rule lists;
    /// structures absent from it use [`default_rules`] (entries for unknown
    /// structures are ignored).
    pub fn new(snapshot: Snapshot, mut rules: HashMap<String, Vec<Rule>>) -> Directory {
        let user_index = index_by(snapshot.users.iter().map(|u| u.login.as_str()));
        let structure_index = index_by(snapshot.structures.iter().map(|s| s.id.as_str()));
        let class_index = index_by(snapshot.classes.iter().map(|c| c.id.as_str()));
        let group_index = index_by(snapshot.groups.iter().map(|g| g.id.as_str()));

        let class_structure: Vec<Option<usize>> = snapshot
            .classes
            .iter()
            .map(|c| structure_index.get(&c.structure).copied())
            .collect();

        let n = snapshot.users.len();
        let mut groups_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut group_members = Vec::with_capacity(snapshot.groups.len());
        for (gi, g) in snapshot.groups.iter().enumerate() {
            let members: Vec<usize> = if group_index.get(&g.id) == Some(&gi) {
                g.members
                    .iter()
                    .filter_map(|m| user_index.get(m).copied())
                    .collect()
            } else {
                Vec::new() // a duplicate group id
            };
            let members = sorted(members);
            for &u in members.iter() {
                groups_of[u].push(gi);
            }
            group_members.push(members);
        }

        let mut parents_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut class_members: Vec<Vec<usize>> = vec![Vec::new(); snapshot.classes.len()];
        let mut structure_members: Vec<Vec<usize>> = vec![Vec::new(); snapshot.structures.len()];
        let mut links: Vec<Links> = Vec::with_capacity(n);
        for (ui, u) in snapshot.users.iter().enumerate() {
            if user_index.get(&u.login) != Some(&ui) {
                links.push(Links::default()); // a duplicate login
                continue;
            }
            let structures = sorted(
                u.structures
                    .iter()
                    .filter_map(|s| structure_index.get(s).copied())
                    .collect(),
            );
            let classes = sorted(
                u.classes
                    .iter()
                    .filter_map(|c| class_index.get(c).copied())
                    .collect(),
            );
            let children = sorted(
                u.children
                    .iter()
                    .filter_map(|c| user_index.get(c).copied())
                    .filter(|&c| c != ui)
                    .collect(),
            );
            for &s in structures.iter() {
                structure_members[s].push(ui);
            }
            for &c in classes.iter() {
                class_members[c].push(ui);
            }
            for &c in children.iter() {
                parents_of[c].push(ui);
            }
            links.push(Links {
                structures,
                classes,
                groups: sorted(std::mem::take(&mut groups_of[ui])),
                children,
                parents: Box::default(),
            });
        }
        for (l, p) in links.iter_mut().zip(parents_of) {
            l.parents = sorted(p);
        }

        let rules = snapshot
            .structures
            .iter()
            .enumerate()
            .map(|(si, s)| {
                if structure_index.get(&s.id) == Some(&si) {
                    rules.remove(&s.id)
                } else {
                    None
                }
            })
            .collect();

        Directory {
            open: false,
            user_index,
            structure_index,
            class_index,
            group_index,
            links,
            class_structure,
            class_members: class_members.into_iter().map(sorted).collect(),
            structure_members: structure_members.into_iter().map(sorted).collect(),
            group_members,
            rules,
            defaults: default_rules(),
            snapshot,
        }
    }

    /// A directory that enforces no rules: any two known users may reach each
    /// other ([`Why::Open`]). For a standalone server with no school rules.
    pub fn open(snapshot: Snapshot) -> Directory {
        Directory {
            open: true,
            ..Directory::new(snapshot, HashMap::new())
        }
    }

    /// Whether this directory enforces no rules ([`Directory::open`]).
    pub fn is_open(&self) -> bool {
        self.open
    }

    // -- lookups ------------------------------------------------------------

    /// The whole snapshot, as given.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The number of (distinct) users.
    pub fn len(&self) -> usize {
        self.user_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.user_index.is_empty()
    }

    pub fn user(&self, login: &str) -> Option<&User> {
        self.user_index.get(login).map(|&i| &self.snapshot.users[i])
    }

    pub fn contains(&self, login: &str) -> bool {
        self.user_index.contains_key(login)
    }

    pub fn users(&self) -> &[User] {
        &self.snapshot.users
    }

    pub fn structures(&self) -> &[Structure] {
        &self.snapshot.structures
    }

    pub fn classes(&self) -> &[Class] {
        &self.snapshot.classes
    }

    pub fn groups(&self) -> &[Group] {
        &self.snapshot.groups
    }

    pub fn structure(&self, id: &str) -> Option<&Structure> {
        self.structure_index
            .get(id)
            .map(|&i| &self.snapshot.structures[i])
    }

    pub fn class(&self, id: &str) -> Option<&Class> {
        self.class_index.get(id).map(|&i| &self.snapshot.classes[i])
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.group_index.get(id).map(|&i| &self.snapshot.groups[i])
    }

    /// The collectivités, in directory order (few: a scan is enough).
    pub fn collectivites(&self) -> &[Collectivite] {
        self.snapshot.collectivites()
    }

    pub fn collectivite(&self, id: &str) -> Option<&Collectivite> {
        self.collectivites().iter().find(|c| c.id == id)
    }

    /// The collectivités that cover structure `id`.
    pub fn collectivites_of(&self, structure: &str) -> Vec<&Collectivite> {
        self.collectivites()
            .iter()
            .filter(|c| c.structures.iter().any(|s| s == structure))
            .collect()
    }

    fn users_at(&self, idx: &[usize]) -> Vec<&User> {
        idx.iter().map(|&i| &self.snapshot.users[i]).collect()
    }

    fn links_of(&self, login: &str) -> Option<&Links> {
        self.user_index.get(login).map(|&i| &self.links[i])
    }

    /// The known structures of a user, in directory order.
    pub fn structure_of_user(&self, login: &str) -> Vec<&Structure> {
        self.links_of(login)
            .map(|l| {
                l.structures
                    .iter()
                    .map(|&s| &self.snapshot.structures[s])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names (« 6e A ») of the user's classes, in directory order.
    pub fn class_names(&self, login: &str) -> Vec<String> {
        self.links_of(login)
            .map(|l| self.class_names_at(l))
            .unwrap_or_default()
    }

    fn class_names_at(&self, l: &Links) -> Vec<String> {
        l.classes
            .iter()
            .map(|&c| self.snapshot.classes[c].name.clone())
            .collect()
    }

    /// The ENT groups the user is a member of, in directory order.
    pub fn groups_of(&self, login: &str) -> Vec<&Group> {
        self.links_of(login)
            .map(|l| l.groups.iter().map(|&g| &self.snapshot.groups[g]).collect())
            .unwrap_or_default()
    }

    /// The user's children (known ones).
    pub fn children_of(&self, login: &str) -> Vec<&User> {
        self.links_of(login)
            .map(|l| self.users_at(&l.children))
            .unwrap_or_default()
    }

    /// The users who list this one among their children.
    pub fn parents_of(&self, login: &str) -> Vec<&User> {
        self.links_of(login)
            .map(|l| self.users_at(&l.parents))
            .unwrap_or_default()
    }

    /// Pupils and teachers of a class, in directory order.
    pub fn class_members(&self, class_id: &str) -> Vec<&User> {
        self.class_index
            .get(class_id)
            .map(|&c| self.users_at(&self.class_members[c]))
            .unwrap_or_default()
    }

    /// Users of a structure, in directory order.
    pub fn structure_members(&self, structure_id: &str) -> Vec<&User> {
        self.structure_index
            .get(structure_id)
            .map(|&s| self.users_at(&self.structure_members[s]))
            .unwrap_or_default()
    }

    /// The structure's members who read its reports when it names no safety staff: its
    /// teachers and staff with a CPE or direction function ([`User::has_safety_function`]).
    pub fn safety_function_holders(&self, structure_id: &str) -> Vec<&User> {
        self.structure_members(structure_id)
            .into_iter()
            .filter(|u| u.has_safety_function())
            .collect()
    }

    /// Known members of an ENT group, in directory order.
    pub fn group_members(&self, group_id: &str) -> Vec<&User> {
        self.group_index
            .get(group_id)
            .map(|&g| self.users_at(&self.group_members[g]))
            .unwrap_or_default()
    }

    /// The rules in force in a structure: its own, or [`default_rules`] (also
    /// for an unknown structure).
    pub fn rules_for(&self, structure_id: &str) -> &[Rule] {
        self.structure_index
            .get(structure_id)
            .map(|&s| self.rules_at(s))
            .unwrap_or(&self.defaults)
    }

    /// Whether the structure uses its own rules rather than the defaults.
    pub fn has_custom_rules(&self, structure_id: &str) -> bool {
        self.structure_index
            .get(structure_id)
            .is_some_and(|&s| self.rules[s].is_some())
    }

    fn rules_at(&self, s: usize) -> &[Rule] {
        self.rules[s].as_deref().unwrap_or(&self.defaults)
    }

    // -- the decision -------------------------------------------------------

    /// Whether `from` may reach `to` (logins), and why:
    ///
    /// 1. either unknown (or deactivated, hence absent): `Deny(Inactive)`;
    /// 2. the same login: `Allow(SameAccount)`;
    /// 3. in an open directory: `Allow(Open)`;
    /// 4. members of a common ENT group: `Allow(Group)` (the first such group);
    /// 5. the rules of each structure `from` belongs to, then of each one `to`
    ///    belongs to, each list in order, each two-way rule in both
    ///    directions: `Allow(Rule)` for the first that applies;
    /// 6. otherwise `Deny(NoRule)`.
    ///
    /// Looking at `to`'s structures too makes two-way rules symmetric: the
    /// answer does not depend on which side asks, even when only one side
    /// lists the structure (a parent whose record names only another school,
    /// under `children_classes`). Every scope ties at least one side to the
    /// rule's structure, so a structure's rules never decide for pairs foreign
    /// to it.
    pub fn may_reach(&self, from: &str, to: &str) -> Decision {
        let (Some(&a), Some(&b)) = (self.user_index.get(from), self.user_index.get(to)) else {
            return Decision::Deny(DenyReason::Inactive);
        };
        match self.decide(a, b) {
            Some(Reason::SameAccount) => Decision::Allow(Why::SameAccount),
            Some(Reason::Open) => Decision::Allow(Why::Open),
            Some(Reason::Group(g)) => Decision::Allow(Why::Group {
                group: self.snapshot.groups[g].id.clone(),
            }),
            Some(Reason::Rule(s, index)) => Decision::Allow(Why::Rule {
                structure: self.snapshot.structures[s].id.clone(),
                index,
            }),
            None => Decision::Deny(DenyReason::NoRule),
        }
    }

    fn decide(&self, a: usize, b: usize) -> Option<Reason> {
        if a == b {
            return Some(Reason::SameAccount);
        }
        if self.open {
            return Some(Reason::Open);
        }
        let (la, lb) = (&self.links[a], &self.links[b]);
        if let Some(g) = first_common(&la.groups, &lb.groups) {
            return Some(Reason::Group(g));
        }
        let (pa, pb) = (
            self.snapshot.users[a].profile,
            self.snapshot.users[b].profile,
        );
        let other = lb
            .structures
            .iter()
            .filter(|s| la.structures.binary_search(s).is_err());
        for &s in la.structures.iter().chain(other) {
            let found = first_allowing_rule(self.rules_at(s), pa, pb, |scope, sides| {
                let (x, y) = match sides {
                    Sides::Forward => (a, b),
                    Sides::Backward => (b, a),
                };
                self.holds(scope, s, x, y)
            });
            if let Some(i) = found {
                return Some(Reason::Rule(s, i));
            }
        }
        None
    }

    /// Whether `scope` of structure `s` holds with `x` on the rule's `from`
    /// side and `y` on its `to` side (see [`Scope`]).
    fn holds(&self, scope: Scope, s: usize, x: usize, y: usize) -> bool {
        let (lx, ly) = (&self.links[x], &self.links[y]);
        let in_s = |l: &Links| l.structures.binary_search(&s).is_ok();
        let shares_class_in_s = |classes: &[usize]| {
            classes.iter().any(|&c| {
                self.class_structure[c] == Some(s) && ly.classes.binary_search(&c).is_ok()
            })
        };
        match scope {
            Scope::SameClass => shares_class_in_s(&lx.classes),
            Scope::SameStructure => in_s(lx) && in_s(ly),
            Scope::OwnChildren => in_s(lx) && lx.children.contains(&y),
            Scope::ChildrenClasses => lx
                .children
                .iter()
                .any(|&ch| shares_class_in_s(&self.links[ch].classes)),
        }
    }

    // -- search -------------------------------------------------------------

    /// Directory search (XEP-0055): the users `searcher` may reach (never the
    /// searcher), matching `query`, sorted by display name (accents and case
    /// folded, then login), at most `limit`.
    ///
    /// It looks only at the users a rule scope or a group could ever relate to
    /// the searcher (their groups, structures, classes, children, parents,
    /// their children's classes and the parents of their classes' members),
    /// not at the whole directory, except in an open directory.
    pub fn search(&self, searcher: &str, query: &SearchQuery, limit: usize) -> Vec<SearchHit> {
        let Some(&me) = self.user_index.get(searcher) else {
            return Vec::new();
        };
        if limit == 0 {
            return Vec::new();
        }
        let matcher = Matcher::new(query);
        let candidates: Vec<usize> = if self.open {
            (0..self.snapshot.users.len())
                .filter(|&u| self.user_index.get(&self.snapshot.users[u].login) == Some(&u))
                .collect()
        } else {
            self.candidates(me)
        };
        let mut found: Vec<(String, usize)> = candidates
            .into_iter()
            .filter(|&u| u != me && self.decide(me, u).is_some())
            .filter(|&u| matcher.matches(&self.snapshot.users[u]))
            .map(|u| (fold(&self.snapshot.users[u].display_name()), u))
            .collect();
        let order = |a: &(String, usize), b: &(String, usize)| -> Ordering {
            a.0.cmp(&b.0).then_with(|| {
                self.snapshot.users[a.1]
                    .login
                    .cmp(&self.snapshot.users[b.1].login)
            })
        };
        if found.len() > limit {
            found.select_nth_unstable_by(limit, order);
            found.truncate(limit);
        }
        found.sort_unstable_by(order);
        found
            .into_iter()
            .map(|(_, u)| {
                let user = &self.snapshot.users[u];
                SearchHit {
                    login: user.login.clone(),
                    display_name: user.display_name(),
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    profile: user.profile,
                    classes: self.class_names_at(&self.links[u]),
                }
            })
            .collect()
    }

    /// Everyone a scope or a group could relate to `x` (a superset of the
    /// users `x` may reach), deduplicated.
    fn candidates(&self, x: usize) -> Vec<usize> {
        let l = &self.links[x];
        let mut out: Vec<usize> = Vec::new();
        for &g in l.groups.iter() {
            out.extend_from_slice(&self.group_members[g]);
        }
        for &s in l.structures.iter() {
            out.extend_from_slice(&self.structure_members[s]);
        }
        for &c in l.classes.iter() {
            for &m in self.class_members[c].iter() {
                out.push(m);
                out.extend_from_slice(&self.links[m].parents);
            }
        }
        out.extend_from_slice(&l.children);
        out.extend_from_slice(&l.parents);
        for &ch in l.children.iter() {
            for &c in self.links[ch].classes.iter() {
                out.extend_from_slice(&self.class_members[c]);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// An incremental change is checked against the directory in force.
impl crate::validate::Refs for Directory {
    fn has_structure(&self, id: &str) -> bool {
        self.structure(id).is_some()
    }

    fn class_of(&self, id: &str) -> Option<(&str, &str)> {
        self.class(id)
            .map(|c| (c.structure.as_str(), c.name.as_str()))
    }

    fn profile_of(&self, login: &str) -> Option<Profile> {
        self.user(login).map(|u| u.profile)
    }
}

/// The first element of two sorted slices that is in both.
fn first_common(a: &[usize], b: &[usize]) -> Option<usize> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => return Some(a[i]),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_common_of_sorted_slices() {
        assert_eq!(first_common(&[1, 4, 7], &[2, 4, 7]), Some(4));
        assert_eq!(first_common(&[1, 3], &[2, 4]), None);
        assert_eq!(first_common(&[], &[1]), None);
    }

    #[test]
    fn an_invalid_snapshot_is_indexed_without_panicking() {
        let json = r#"{
          "structures": [{"id": "S", "name": "S"}, {"id": "S", "name": "dup"}],
          "classes": [{"id": "C", "structure": "nowhere", "name": "C"}],
          "users": [
            {"login": "a", "last_name": "A", "first_name": "A", "profile": "student",
             "structures": ["S", "ghost"], "classes": ["C", "ghost"], "children": ["a", "ghost"]},
            {"login": "a", "last_name": "Dup", "first_name": "A", "profile": "teacher"},
            {"login": "b", "last_name": "B", "first_name": "B", "profile": "relative",
             "structures": ["S"], "children": ["a"]},
            {"login": "c", "last_name": "C", "first_name": "C", "profile": "relative",
             "children": ["a"]}
          ],
          "groups": [{"id": "g", "name": "G", "structure": "ghost", "members": ["a", "ghost", "a"]}]
        }"#;
        let s: Snapshot = serde_json::from_str(json).unwrap();
        assert!(crate::validate::validate(&s).is_err());
        let d = Directory::new(s, HashMap::new());
        assert_eq!(d.len(), 3);
        assert_eq!(d.user("a").unwrap().last_name, "A");
        assert_eq!(d.group_members("g").len(), 1);
        assert_eq!(d.may_reach("a", "a"), Decision::Allow(Why::SameAccount));
        assert_eq!(
            d.may_reach("b", "a"),
            Decision::Allow(Why::Rule {
                structure: "S".into(),
                index: 3
            })
        );
        assert_eq!(d.may_reach("a", "b"), d.may_reach("b", "a"));
        // own_children needs the parent to belong to the structure.
        assert_eq!(d.may_reach("c", "a"), Decision::Deny(DenyReason::NoRule));
        let _ = d.search("a", &SearchQuery::default(), 10);
        let _ = d.search("b", &SearchQuery::text("é"), 10);
    }
}
