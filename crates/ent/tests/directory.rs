//! Table-driven tests of the communication rules and the directory search,
//! over one fixture: a collège (6e A, 6e B) with pupils, a parent, two
//! teachers, a staff member, a guest and an ENT group, and a lycée with one
//! pupil and one teacher.

use std::collections::HashMap;

use causerie_ent::{
    Decision, DenyReason, Directory, Profile, Rule, Scope, SearchQuery, Snapshot, Why,
    default_rules, parse_rules, parse_snapshot,
};
use serde_json::{Value, json};

const COLLEGE: &str = "0750001A";
const LYCEE: &str = "0750002B";

fn fixture_json() -> Value {
    json!({
        "structures": [
            { "id": COLLEGE, "name": "Collège Jean Moulin" },
            { "id": LYCEE, "name": "Lycée Victor Hugo" }
        ],
        "classes": [
            { "id": "0750001A-6A", "structure": COLLEGE, "name": "6e A" },
            { "id": "0750001A-6B", "structure": COLLEGE, "name": "6e B" },
            { "id": "0750002B-2A", "structure": LYCEE, "name": "2de A" }
        ],
        "users": [
            // 6e A
            { "login": "lea.martin", "last_name": "Martin", "first_name": "Léa",
              "profile": "student", "structures": [COLLEGE], "classes": ["0750001A-6A"] },
            { "login": "eloise.lefevre", "last_name": "Lefèvre", "first_name": "Éloïse",
              "profile": "student", "structures": [COLLEGE], "classes": ["0750001A-6A"] },
            // 6e B
            { "login": "emma.petit", "last_name": "Petit", "first_name": "Emma",
              "profile": "student", "structures": [COLLEGE], "classes": ["0750001A-6B"] },
            { "login": "noe.roux", "last_name": "Roux", "first_name": "Noé",
              "profile": "student", "structures": [COLLEGE], "classes": ["0750001A-6B"] },
            // Léa's father
            { "login": "paul.martin", "last_name": "Martin", "first_name": "Paul",
              "profile": "relative", "structures": [COLLEGE], "children": ["lea.martin"] },
            // teachers of 6e A and 6e B
            { "login": "anne.durand", "last_name": "Durand", "first_name": "Anne",
              "profile": "teacher", "structures": [COLLEGE], "classes": ["0750001A-6A"] },
            { "login": "marc.leroy", "last_name": "Leroy", "first_name": "Marc",
              "profile": "teacher", "structures": [COLLEGE], "classes": ["0750001A-6B"] },
            // the CPE
            { "login": "sophie.garcon", "last_name": "Garçon", "first_name": "Sophie",
              "profile": "personnel", "structures": [COLLEGE] },
            // a storyteller invited by the school
            { "login": "invite.conteur", "last_name": "Conteur", "first_name": "Jean",
              "profile": "guest", "structures": [COLLEGE] },
            // the lycée
            { "login": "tom.girard", "last_name": "Girard", "first_name": "Tom",
              "profile": "student", "structures": [LYCEE], "classes": ["0750002B-2A"] },
            { "login": "julie.moreau", "last_name": "Moreau", "first_name": "Julie",
              "profile": "teacher", "structures": [LYCEE], "classes": ["0750002B-2A"] }
        ],
        "groups": [
            { "id": "chorale", "name": "Chorale", "structure": COLLEGE,
              "members": ["lea.martin", "emma.petit", "invite.conteur"] }
        ]
    })
}

fn snapshot_of(v: &Value) -> Snapshot {
    parse_snapshot(&v.to_string()).expect("fixture is valid")
}

fn fixture() -> Directory {
    Directory::new(snapshot_of(&fixture_json()), HashMap::new())
}

/// The expected outcome of one row.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Allowed by rule `index` of `structure`.
    Rule(&'static str, usize),
    Group(&'static str),
    Same,
    Open,
    No,
    Inactive,
}

impl Want {
    fn decision(self) -> Decision {
        match self {
            Want::Rule(structure, index) => Decision::Allow(Why::Rule {
                structure: structure.to_string(),
                index,
            }),
            Want::Group(g) => Decision::Allow(Why::Group {
                group: g.to_string(),
            }),
            Want::Same => Decision::Allow(Why::SameAccount),
            Want::Open => Decision::Allow(Why::Open),
            Want::No => Decision::Deny(DenyReason::NoRule),
            Want::Inactive => Decision::Deny(DenyReason::Inactive),
        }
    }
}

use Want::*;

fn check(dir: &Directory, table: &[(&str, &str, Want)]) {
    let mut failures = Vec::new();
    for &(from, to, want) in table {
        let got = dir.may_reach(from, to);
        if got != want.decision() {
            failures.push(format!("{from} -> {to}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn default_rules_over_the_fixture() {
    check(
        &fixture(),
        &[
            // 0: student <-> student, same class
            ("lea.martin", "eloise.lefevre", Rule(COLLEGE, 0)),
            ("eloise.lefevre", "lea.martin", Rule(COLLEGE, 0)),
            ("emma.petit", "noe.roux", Rule(COLLEGE, 0)),
            // ... but not across classes
            ("lea.martin", "noe.roux", No),
            ("noe.roux", "lea.martin", No),
            ("eloise.lefevre", "emma.petit", No),
            // 1: student <-> teacher of their class
            ("lea.martin", "anne.durand", Rule(COLLEGE, 1)),
            ("anne.durand", "lea.martin", Rule(COLLEGE, 1)),
            ("noe.roux", "marc.leroy", Rule(COLLEGE, 1)),
            ("marc.leroy", "noe.roux", Rule(COLLEGE, 1)),
            // a teacher of another class: rule 6 (teachers reach everyone of
            // the structure), read backwards since it is two-way
            ("lea.martin", "marc.leroy", Rule(COLLEGE, 6)),
            ("marc.leroy", "lea.martin", Rule(COLLEGE, 6)),
            // 2: student <-> personnel, same structure
            ("lea.martin", "sophie.garcon", Rule(COLLEGE, 2)),
            ("sophie.garcon", "noe.roux", Rule(COLLEGE, 2)),
            // 3: relative <-> own child
            ("paul.martin", "lea.martin", Rule(COLLEGE, 3)),
            ("lea.martin", "paul.martin", Rule(COLLEGE, 3)),
            // ... not other pupils, even of the child's class
            ("paul.martin", "eloise.lefevre", No),
            ("eloise.lefevre", "paul.martin", No),
            ("paul.martin", "noe.roux", No),
            ("noe.roux", "paul.martin", No),
            // 4: relative <-> teacher of the child's class
            ("paul.martin", "anne.durand", Rule(COLLEGE, 4)),
            ("anne.durand", "paul.martin", Rule(COLLEGE, 4)),
            // other teachers of the structure through rule 6
            ("paul.martin", "marc.leroy", Rule(COLLEGE, 6)),
            ("marc.leroy", "paul.martin", Rule(COLLEGE, 6)),
            // 5: relative <-> personnel
            ("paul.martin", "sophie.garcon", Rule(COLLEGE, 5)),
            ("sophie.garcon", "paul.martin", Rule(COLLEGE, 5)),
            // 6: teacher, personnel <-> everyone of the structure
            ("anne.durand", "marc.leroy", Rule(COLLEGE, 6)),
            ("marc.leroy", "anne.durand", Rule(COLLEGE, 6)),
            ("anne.durand", "noe.roux", Rule(COLLEGE, 6)),
            ("sophie.garcon", "anne.durand", Rule(COLLEGE, 6)),
            ("marc.leroy", "sophie.garcon", Rule(COLLEGE, 6)),
            // guests: nobody by rule, even in their structure...
            ("invite.conteur", "anne.durand", No),
            ("anne.durand", "invite.conteur", No),
            ("invite.conteur", "sophie.garcon", No),
            ("sophie.garcon", "invite.conteur", No),
            ("invite.conteur", "paul.martin", No),
            ("invite.conteur", "noe.roux", No),
            ("noe.roux", "invite.conteur", No),
            // ... only through their group
            ("invite.conteur", "lea.martin", Group("chorale")),
            ("lea.martin", "invite.conteur", Group("chorale")),
            ("emma.petit", "invite.conteur", Group("chorale")),
            // group members across classes
            ("lea.martin", "emma.petit", Group("chorale")),
            ("emma.petit", "lea.martin", Group("chorale")),
            // another structure
            ("lea.martin", "tom.girard", No),
            ("tom.girard", "lea.martin", No),
            ("anne.durand", "tom.girard", No),
            ("julie.moreau", "lea.martin", No),
            ("julie.moreau", "anne.durand", No),
            ("sophie.garcon", "julie.moreau", No),
            ("paul.martin", "julie.moreau", No),
            ("tom.girard", "julie.moreau", Rule(LYCEE, 1)),
            ("julie.moreau", "tom.girard", Rule(LYCEE, 1)),
            // oneself, and unknown accounts
            ("lea.martin", "lea.martin", Same),
            ("invite.conteur", "invite.conteur", Same),
            ("lea.martin", "nobody", Inactive),
            ("nobody", "lea.martin", Inactive),
            ("nobody", "nobody", Inactive),
            ("", "lea.martin", Inactive),
        ],
    );
}

#[test]
fn a_deactivated_user_is_denied() {
    let before = fixture();
    check(&before, &[("emma.petit", "noe.roux", Rule(COLLEGE, 0))]);
    // Deactivation: the next snapshot no longer holds the user.
    let mut v = fixture_json();
    v["users"]
        .as_array_mut()
        .unwrap()
        .retain(|u| u["login"] != "noe.roux");
    let after = Directory::new(snapshot_of(&v), HashMap::new());
    assert!(!after.contains("noe.roux"));
    check(
        &after,
        &[
            ("emma.petit", "noe.roux", Inactive),
            ("noe.roux", "emma.petit", Inactive),
            ("marc.leroy", "noe.roux", Inactive),
            ("noe.roux", "noe.roux", Inactive),
        ],
    );
}

#[test]
fn a_custom_one_way_rule_is_honoured_one_way() {
    let rules = parse_rules(
        r#"[{ "from": ["teacher"], "to": ["student"], "scope": "same_structure", "two_way": false }]"#,
    )
    .unwrap();
    let dir = Directory::new(
        snapshot_of(&fixture_json()),
        HashMap::from([(COLLEGE.to_string(), rules)]),
    );
    assert!(dir.has_custom_rules(COLLEGE));
    assert!(!dir.has_custom_rules(LYCEE));
    check(
        &dir,
        &[
            ("anne.durand", "lea.martin", Rule(COLLEGE, 0)),
            ("anne.durand", "noe.roux", Rule(COLLEGE, 0)),
            ("lea.martin", "anne.durand", No),
            ("noe.roux", "anne.durand", No),
            // everything else of the defaults is gone in the collège
            ("lea.martin", "eloise.lefevre", No),
            ("paul.martin", "lea.martin", No),
            ("anne.durand", "marc.leroy", No),
            // groups still widen the rules
            ("lea.martin", "emma.petit", Group("chorale")),
            // the lycée keeps its defaults
            ("tom.girard", "julie.moreau", Rule(LYCEE, 1)),
        ],
    );
}

#[test]
fn editing_the_rules_changes_the_outcome() {
    // The collège lets pupils reach every pupil of the structure.
    let mut rules = default_rules();
    rules.push(Rule::new(
        &[Profile::Student],
        &[Profile::Student],
        Scope::SameStructure,
        true,
    ));
    let dir = Directory::new(
        snapshot_of(&fixture_json()),
        HashMap::from([(COLLEGE.to_string(), rules)]),
    );
    check(
        &dir,
        &[
            ("lea.martin", "noe.roux", Rule(COLLEGE, 7)),
            ("noe.roux", "lea.martin", Rule(COLLEGE, 7)),
            ("lea.martin", "eloise.lefevre", Rule(COLLEGE, 0)),
            ("lea.martin", "tom.girard", No),
        ],
    );
    // Editing one structure leaves the other alone (the lycée has one pupil
    // here, so add a second in another class to show it).
    let mut v = fixture_json();
    v["classes"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "0750002B-2B", "structure": LYCEE, "name": "2de B" }));
    v["users"].as_array_mut().unwrap().push(json!({
        "login": "zoe.blanc", "last_name": "Blanc", "first_name": "Zoé",
        "profile": "student", "structures": [LYCEE], "classes": ["0750002B-2B"]
    }));
    let mut rules = default_rules();
    rules[0].scope = Scope::SameStructure;
    let dir = Directory::new(
        snapshot_of(&v),
        HashMap::from([(COLLEGE.to_string(), rules)]),
    );
    check(
        &dir,
        &[
            ("lea.martin", "noe.roux", Rule(COLLEGE, 0)),
            ("tom.girard", "zoe.blanc", No),
        ],
    );
}

#[test]
fn rules_of_an_unknown_structure_are_ignored() {
    let dir = Directory::new(
        snapshot_of(&fixture_json()),
        HashMap::from([("0999999Z".to_string(), Vec::new())]),
    );
    assert_eq!(dir.rules_for("0999999Z"), default_rules().as_slice());
    check(&dir, &[("lea.martin", "eloise.lefevre", Rule(COLLEGE, 0))]);
}

#[test]
fn moving_a_pupil_to_another_class_flips_reachability() {
    let before = fixture();
    check(
        &before,
        &[
            ("noe.roux", "emma.petit", Rule(COLLEGE, 0)),
            ("noe.roux", "lea.martin", No),
            ("noe.roux", "eloise.lefevre", No),
            ("noe.roux", "anne.durand", Rule(COLLEGE, 6)),
        ],
    );
    let mut v = fixture_json();
    for u in v["users"].as_array_mut().unwrap() {
        if u["login"] == "noe.roux" {
            u["classes"] = json!(["0750001A-6A"]);
        }
    }
    let after = Directory::new(snapshot_of(&v), HashMap::new());
    check(
        &after,
        &[
            ("noe.roux", "emma.petit", No),
            ("noe.roux", "lea.martin", Rule(COLLEGE, 0)),
            ("eloise.lefevre", "noe.roux", Rule(COLLEGE, 0)),
            ("noe.roux", "anne.durand", Rule(COLLEGE, 1)),
        ],
    );
    assert_eq!(after.class_names("noe.roux"), ["6e A"]);
}

#[test]
fn a_parent_of_pupils_in_two_structures() {
    // Paul's son is at the lycée; Paul is listed in both structures.
    let mut v = fixture_json();
    v["users"].as_array_mut().unwrap().push(json!({
        "login": "jules.martin", "last_name": "Martin", "first_name": "Jules",
        "profile": "student", "structures": [LYCEE], "classes": ["0750002B-2A"]
    }));
    for u in v["users"].as_array_mut().unwrap() {
        if u["login"] == "paul.martin" {
            u["structures"] = json!([COLLEGE, LYCEE]);
            u["children"] = json!(["lea.martin", "jules.martin"]);
        }
    }
    let dir = Directory::new(snapshot_of(&v), HashMap::new());
    check(
        &dir,
        &[
            // own_children only asks the parent to be in the structure: the
            // collège's rules, consulted first (Paul's first structure), allow it
            ("paul.martin", "jules.martin", Rule(COLLEGE, 3)),
            // from Jules's side, his own structure's rules come first
            ("jules.martin", "paul.martin", Rule(LYCEE, 3)),
            ("paul.martin", "julie.moreau", Rule(LYCEE, 4)),
            ("julie.moreau", "paul.martin", Rule(LYCEE, 4)),
            ("paul.martin", "tom.girard", No),
            // the children do not reach each other across structures
            ("lea.martin", "jules.martin", No),
        ],
    );
}

#[test]
fn an_open_directory_allows_every_known_pair() {
    let dir = Directory::open(snapshot_of(&fixture_json()));
    assert!(dir.is_open());
    check(
        &dir,
        &[
            ("lea.martin", "tom.girard", Open),
            ("invite.conteur", "julie.moreau", Open),
            ("lea.martin", "lea.martin", Same),
            ("lea.martin", "nobody", Inactive),
        ],
    );
    assert_eq!(
        dir.search("lea.martin", &SearchQuery::default(), 100).len(),
        10
    );
}

#[test]
fn lookups() {
    let dir = fixture();
    assert_eq!(dir.len(), 11);
    assert_eq!(dir.user("lea.martin").unwrap().display_name(), "MARTIN Léa");
    assert!(dir.user("nobody").is_none());
    assert_eq!(dir.class_names("anne.durand"), ["6e A"]);
    assert_eq!(dir.class_names("paul.martin"), Vec::<String>::new());
    assert_eq!(dir.class_names("nobody"), Vec::<String>::new());
    let names: Vec<&str> = dir
        .structure_of_user("tom.girard")
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["Lycée Victor Hugo"]);
    let logins = |users: Vec<&causerie_ent::User>| -> Vec<String> {
        users.iter().map(|u| u.login.clone()).collect()
    };
    assert_eq!(
        logins(dir.class_members("0750001A-6A")),
        ["lea.martin", "eloise.lefevre", "anne.durand"]
    );
    assert_eq!(
        logins(dir.structure_members(LYCEE)),
        ["tom.girard", "julie.moreau"]
    );
    assert_eq!(
        logins(dir.group_members("chorale")),
        ["lea.martin", "emma.petit", "invite.conteur"]
    );
    assert_eq!(logins(dir.children_of("paul.martin")), ["lea.martin"]);
    assert_eq!(logins(dir.parents_of("lea.martin")), ["paul.martin"]);
    assert_eq!(dir.groups_of("emma.petit")[0].name, "Chorale");
    assert!(dir.groups_of("noe.roux").is_empty());
    assert_eq!(dir.class("0750001A-6B").unwrap().name, "6e B");
    assert_eq!(dir.structure(COLLEGE).unwrap().name, "Collège Jean Moulin");
    assert_eq!(dir.group("chorale").unwrap().members.len(), 3);
    assert_eq!(dir.structures().len(), 2);
    assert_eq!(dir.classes().len(), 3);
    assert_eq!(dir.groups().len(), 1);
    assert_eq!(dir.snapshot().users.len(), 11);
    assert_eq!(dir.rules_for(COLLEGE), default_rules().as_slice());
}

// ---------------------------------------------------------------------------
// Search

fn hits(dir: &Directory, searcher: &str, q: &SearchQuery, limit: usize) -> Vec<String> {
    dir.search(searcher, q, limit)
        .into_iter()
        .map(|h| h.login)
        .collect()
}

fn text(s: &str) -> SearchQuery {
    SearchQuery::text(s)
}

#[test]
fn search_returns_only_reachable_users_sorted_by_display_name() {
    let dir = fixture();
    // Léa reaches her classmate, her father, every teacher and the CPE of
    // her school, and the chorale; not Noé (6e B) nor the lycée.
    assert_eq!(
        hits(&dir, "lea.martin", &SearchQuery::default(), 100),
        [
            "invite.conteur", // CONTEUR Jean
            "anne.durand",    // DURAND Anne
            "sophie.garcon",  // GARÇON Sophie
            "eloise.lefevre", // LEFÈVRE Éloïse
            "marc.leroy",     // LEROY Marc
            "paul.martin",    // MARTIN Paul
            "emma.petit",     // PETIT Emma
        ]
    );
    assert_eq!(
        hits(&dir, "noe.roux", &SearchQuery::default(), 100),
        ["anne.durand", "sophie.garcon", "marc.leroy", "emma.petit"]
    );
    assert_eq!(
        hits(&dir, "invite.conteur", &SearchQuery::default(), 100),
        ["lea.martin", "emma.petit"]
    );
    assert_eq!(
        hits(&dir, "tom.girard", &SearchQuery::default(), 100),
        ["julie.moreau"]
    );
    // Whatever is searched, unreachable users stay hidden.
    assert!(hits(&dir, "lea.martin", &text("roux"), 100).is_empty());
    assert_eq!(hits(&dir, "marc.leroy", &text("roux"), 100), ["noe.roux"]);
    assert!(hits(&dir, "lea.martin", &text("girard"), 100).is_empty());
    // An unknown searcher finds nobody; nobody finds themselves.
    assert!(hits(&dir, "nobody", &SearchQuery::default(), 100).is_empty());
    assert!(hits(&dir, "lea.martin", &text("lea"), 100).is_empty());
}

#[test]
fn search_folds_case_and_accents() {
    let dir = fixture();
    for q in [
        "eloise",
        "ÉLOÏSE",
        "éloïse",
        "Eloi",
        "lefevre",
        "LEFÈVRE",
        "Lefe\u{300}vre",
    ] {
        assert_eq!(
            hits(&dir, "lea.martin", &text(q), 100),
            ["eloise.lefevre"],
            "{q}"
        );
    }
    let last = SearchQuery {
        last: Some("garcon".into()),
        ..SearchQuery::default()
    };
    assert_eq!(hits(&dir, "lea.martin", &last, 100), ["sophie.garcon"]);
    let first = SearchQuery {
        first: Some("NOÉ".into()),
        ..SearchQuery::default()
    };
    assert_eq!(hits(&dir, "marc.leroy", &first, 100), ["noe.roux"]);
}

#[test]
fn search_text_matches_names_display_name_and_login() {
    let dir = fixture();
    let cases: &[(&str, &[&str])] = &[
        ("martin", &["paul.martin"]),       // last name
        ("paul", &["paul.martin"]),         // first name
        ("MARTIN Paul", &["paul.martin"]),  // display name
        ("paul  martin", &["paul.martin"]), // first then last, spaces collapsed
        ("sophie.g", &["sophie.garcon"]),   // login
        (
            "  ",
            &[
                "invite.conteur",
                "anne.durand",
                "sophie.garcon",
                "eloise.lefevre",
                "marc.leroy",
                "paul.martin",
                "emma.petit",
            ],
        ), // blank: everyone reachable
        ("le", &["eloise.lefevre", "marc.leroy"]),
        ("zzz", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(hits(&dir, "lea.martin", &text(q), 100), *want, "{q:?}");
    }
    // Fields combine: all given fields must match.
    let q = SearchQuery {
        first: Some("marc".into()),
        last: Some("durand".into()),
        ..SearchQuery::default()
    };
    assert!(hits(&dir, "lea.martin", &q, 100).is_empty());
    let q = SearchQuery {
        nick: Some("leroy m".into()),
        ..SearchQuery::default()
    };
    assert_eq!(hits(&dir, "lea.martin", &q, 100), ["marc.leroy"]);
}

#[test]
fn search_respects_the_limit() {
    let dir = fixture();
    let all = hits(&dir, "lea.martin", &SearchQuery::default(), 100);
    assert_eq!(
        hits(&dir, "lea.martin", &SearchQuery::default(), 3),
        all[..3]
    );
    assert_eq!(
        hits(&dir, "lea.martin", &SearchQuery::default(), 1),
        ["invite.conteur"]
    );
    assert!(hits(&dir, "lea.martin", &SearchQuery::default(), 0).is_empty());
    assert_eq!(hits(&dir, "lea.martin", &text("le"), 1), ["eloise.lefevre"]);
}

#[test]
fn search_hits_carry_display_data() {
    let dir = fixture();
    let hit = dir
        .search("anne.durand", &text("eloise"), 10)
        .pop()
        .unwrap();
    assert_eq!(hit.display_name, "LEFÈVRE Éloïse");
    assert_eq!(hit.first_name, "Éloïse");
    assert_eq!(hit.last_name, "Lefèvre");
    assert_eq!(hit.profile, Profile::Student);
    assert_eq!(hit.classes, ["6e A"]);
}

/// A directory of 20 000 users: decisions and search stay correct, and the
/// indexes keep them local (this runs in well under a second in debug).
#[test]
fn a_large_directory() {
    let mut v = json!({ "structures": [], "classes": [], "users": [], "groups": [] });
    for s in 0..20 {
        let sid = format!("S{s}");
        v["structures"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "id": sid, "name": sid }));
        for c in 0..20 {
            let cid = format!("S{s}-C{c}");
            v["classes"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "id": cid, "structure": sid, "name": format!("{c}e") }));
            for p in 0..50 {
                v["users"].as_array_mut().unwrap().push(json!({
                    "login": format!("p{s}.{c}.{p}"), "last_name": format!("Nom{p}"),
                    "first_name": "Élève", "profile": "student",
                    "structures": [sid], "classes": [cid]
                }));
            }
        }
    }
    let dir = Directory::new(snapshot_of(&v), HashMap::new());
    assert_eq!(dir.len(), 20_000);
    check(
        &dir,
        &[
            ("p3.4.5", "p3.4.49", Rule("S3", 0)),
            ("p3.4.5", "p3.5.5", No),
            ("p3.4.5", "p4.4.5", No),
        ],
    );
    let found = dir.search("p3.4.5", &text("eleve"), 1000);
    assert_eq!(found.len(), 49);
    assert!(found.iter().all(|h| h.login.starts_with("p3.4.")));
    assert_eq!(dir.search("p3.4.5", &text("nom1"), 5).len(), 5);
}

/// The JSON examples of `docs/directory.md` parse, and its custom rule set
/// does what the page says.
#[test]
fn the_documentation_examples_hold() {
    let doc = include_str!("../../../docs/directory.md");
    let blocks: Vec<&str> = doc
        .split("```json\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 2);
    let snapshot = parse_snapshot(blocks[0]).expect("the import example is valid");
    let rules = parse_rules(blocks[1]).expect("the rules example is valid");
    let defaults = Directory::new(snapshot.clone(), HashMap::new());
    check(
        &defaults,
        &[
            ("lea.martin", "noe.roux", Group("chorale")),
            ("paul.martin", "anne.durand", Rule(COLLEGE, 4)),
            ("invite.conteur", "sophie.garcon", No),
        ],
    );
    let mut v: Value = serde_json::from_str(blocks[0]).unwrap();
    v["groups"] = json!([]);
    v["users"].as_array_mut().unwrap().push(json!({
        "login": "marc.leroy", "last_name": "Leroy", "first_name": "Marc",
        "profile": "teacher", "structures": [COLLEGE], "classes": ["0750001A-6B"]
    }));
    let custom = Directory::new(
        snapshot_of(&v),
        HashMap::from([(COLLEGE.to_string(), rules)]),
    );
    check(
        &custom,
        &[
            ("lea.martin", "noe.roux", Rule(COLLEGE, 0)),
            ("lea.martin", "anne.durand", Rule(COLLEGE, 1)),
            ("anne.durand", "lea.martin", Rule(COLLEGE, 1)),
            ("marc.leroy", "lea.martin", Rule(COLLEGE, 5)),
            ("lea.martin", "marc.leroy", No),
            ("paul.martin", "anne.durand", Rule(COLLEGE, 3)),
            ("paul.martin", "marc.leroy", No),
            ("marc.leroy", "paul.martin", Rule(COLLEGE, 5)),
            ("paul.martin", "sophie.garcon", Rule(COLLEGE, 4)),
            ("anne.durand", "marc.leroy", Rule(COLLEGE, 6)),
            ("paul.martin", "noe.roux", No),
        ],
    );
}
