//! The AAF mapping, on the sample feed of `tests/fixtures/aaf/sample` (a collège and a
//! lycée) and on small feeds written here, one per reason a report gives.

use super::*;
use crate::validate;

const SAMPLE: &[(&str, &[u8])] = &[
    (
        "ENT_TEST_Complet_20250901_EtabEducNat_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/sample/ENT_TEST_Complet_20250901_EtabEducNat_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_Eleve_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/sample/ENT_TEST_Complet_20250901_Eleve_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_MatiereEducNat_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/sample/ENT_TEST_Complet_20250901_MatiereEducNat_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_PersEducNat_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/sample/ENT_TEST_Complet_20250901_PersEducNat_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_PersRelEleve_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/sample/ENT_TEST_Complet_20250901_PersRelEleve_0000.xml"
        ),
    ),
];

const BROKEN: &[(&str, &[u8])] = &[
    (
        "ENT_TEST_Complet_20250901_EtabEducNat_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/broken/ENT_TEST_Complet_20250901_EtabEducNat_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_Eleve_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/broken/ENT_TEST_Complet_20250901_Eleve_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_PersEducNat_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/broken/ENT_TEST_Complet_20250901_PersEducNat_0000.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_PersEducNat_0001.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/broken/ENT_TEST_Complet_20250901_PersEducNat_0001.xml"
        ),
    ),
    (
        "ENT_TEST_Complet_20250901_PersRelEleve_0000.xml",
        include_bytes!(
            "../../../../tests/fixtures/aaf/broken/ENT_TEST_Complet_20250901_PersRelEleve_0000.xml"
        ),
    ),
];

fn map(files: &[(&str, &[u8])]) -> Mapped {
    let mut feed = Feed::new();
    for (name, bytes) in files {
        feed.add_file(name, bytes);
    }
    let mapped = feed.finish();
    // Whatever the input, what comes out imports.
    if let Err(e) = validate(&mapped.snapshot) {
        panic!("mapped snapshot refused: {e}\n{:#?}", mapped.snapshot);
    }
    mapped
}

fn user<'a>(m: &'a Mapped, login: &str) -> &'a User {
    m.snapshot
        .users
        .iter()
        .find(|u| u.login == login)
        .unwrap_or_else(|| panic!("no user {login}: {:#?}", m.snapshot.users))
}

fn has_user(m: &Mapped, login: &str) -> bool {
    m.snapshot.users.iter().any(|u| u.login == login)
}

/// The report's reasons for entries whose label starts with `entry`.
fn reasons<'a>(m: &'a Mapped, entry: &str) -> Vec<&'a Reason> {
    m.report
        .skipped
        .iter()
        .filter(|s| s.entry.as_deref().is_some_and(|e| e.starts_with(entry)))
        .map(|s| &s.reason)
        .collect()
}

// ------------------------------------------------------------------ small feeds

fn file(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\n<ficAlimMENESR>\n{body}</ficAlimMENESR>\n"
    )
}

fn entry(category: &str, id: &str, attrs: &[(&str, &[&str])]) -> String {
    let cat_attr = if category == "EtabEducNat" {
        "categorieStructure"
    } else {
        "categoriePersonne"
    };
    let mut s = format!(
        "<addRequest><operationalAttributes><attr name=\"{cat_attr}\"><value>{category}</value></attr></operationalAttributes><identifier><id>{id}</id></identifier><attributes>"
    );
    for (name, values) in attrs {
        s.push_str(&format!("<attr name=\"{name}\">"));
        if values.is_empty() {
            s.push_str("<value/>");
        }
        for v in *values {
            s.push_str(&format!("<value>{v}</value>"));
        }
        s.push_str("</attr>");
    }
    s.push_str("</attributes></addRequest>\n");
    s
}

fn etab() -> String {
    entry(
        "EtabEducNat",
        "51001",
        &[
            ("ENTStructureJointure", &["51001"]),
            ("ENTStructureUAI", &["0750001A"]),
            ("ENTStructureNomCourant", &["CLG-JEAN MOULIN-PARIS 15E"]),
        ],
    )
}

fn pupil(id: &str, sn: &str, extra: &[(&str, &[&str])]) -> String {
    let mut attrs: Vec<(&str, &[&str])> = vec![
        ("ENTPersonJointure", &[]),
        ("sn", &[]),
        ("givenName", &["Léa"]),
        ("ENTPersonStructRattach", &["51001"]),
        ("ENTEleveClasses", &["51001$6A"]),
    ];
    let idv = [id];
    let snv = [sn];
    attrs[0].1 = &idv;
    attrs[1].1 = &snv;
    for (n, v) in extra {
        match attrs.iter_mut().find(|(m, _)| m == n) {
            Some(a) => a.1 = v,
            None => attrs.push((n, v)),
        }
    }
    entry("Eleve", id, &attrs)
}

fn one(body: String) -> Mapped {
    let f = file(&body);
    map(&[("ENT_T_Complet_20250901_X_0000.xml", f.as_bytes())])
}

// ------------------------------------------------------------------ the sample feed

#[test]
fn sample_feed_maps_structures_classes_users_groups() {
    let m = map(SAMPLE);
    let s = &m.snapshot;
    let structures: Vec<(&str, &str)> = s
        .structures
        .iter()
        .map(|x| (x.id.as_str(), x.name.as_str()))
        .collect();
    assert_eq!(
        structures,
        [
            ("0750001A", "CLG-JEAN MOULIN-PARIS 15E"),
            ("0750002B", "LYC-VICTOR HUGO-PARIS 13E")
        ]
    );
    let classes: Vec<(&str, &str, &str)> = s
        .classes
        .iter()
        .map(|c| (c.id.as_str(), c.structure.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        classes,
        [
            ("0750001A-6A", "0750001A", "6A"),
            ("0750001A-6B", "0750001A", "6B"),
            ("0750002B-2NDE1", "0750002B", "2NDE1"),
        ]
    );

    // Pupils: names decoded from ISO-8859-15, the feed's login, or the derived one.
    let lea = user(&m, "lea.martin");
    assert_eq!(
        (lea.last_name.as_str(), lea.first_name.as_str()),
        ("MARTIN", "Léa")
    );
    assert_eq!(lea.profile, Profile::Student);
    assert_eq!(lea.structures, ["0750001A"]);
    assert_eq!(lea.classes, ["0750001A-6A"]);
    let chloe = user(&m, "2605005");
    assert_eq!(chloe.last_name, "CŒURDEROI");
    assert_eq!(chloe.classes, ["0750001A-6B"]);
    assert_eq!(user(&m, "emma.garcia").classes, ["0750002B-2NDE1"]);

    // Relatives: the legal representatives, in their children's structures.
    let paul = user(&m, "paul.martin");
    assert_eq!(paul.profile, Profile::Relative);
    assert_eq!(paul.children, ["lea.martin"]);
    assert_eq!(paul.structures, ["0750001A"]);
    assert_eq!(user(&m, "2867002").children, ["lea.martin"]);
    assert_eq!(user(&m, "sophie.roux").children, ["noe.roux", "2605005"]);
    // A contact who is not a legal representative is no parent.
    assert!(!has_user(&m, "2867009"));
    assert_eq!(
        reasons(&m, "relative 2867009"),
        [&Reason::RelativeWithoutPupil]
    );

    // Staff: teachers with the classes they teach (all three attributes, once each).
    let anne = user(&m, "anne.durand");
    assert_eq!(anne.profile, Profile::Teacher);
    assert_eq!(anne.classes, ["0750001A-6A"]);
    assert_eq!(anne.functions, ["ens"]);
    assert_eq!(user(&m, "marc.leroy").classes, ["0750001A-6B"]);
    let cpe = user(&m, "sylvie.faure");
    assert_eq!(cpe.profile, Profile::Personnel);
    assert_eq!(cpe.functions, ["cpe"]);
    assert!(cpe.has_safety_function());
    let head = user(&m, "pierre.moreau");
    assert_eq!(head.profile, Profile::Personnel);
    assert_eq!(head.functions, ["direction"]);
    assert!(head.has_safety_function());
    let julie = user(&m, "julie.blanc");
    assert_eq!(julie.structures, ["0750002B"]);
    assert_eq!(
        reasons(&m, "staff member 2397005"),
        [&Reason::UnknownStructure {
            attr: "ENTPersonFonctions",
            value: "52999".into()
        }]
    );

    // The Latin group joins pupils of both classes and their teacher.
    assert_eq!(s.groups.len(), 1);
    let g = &s.groups[0];
    assert_eq!(
        (g.id.as_str(), g.name.as_str(), g.structure.as_deref()),
        ("0750001A-LATIN5", "LATIN5", Some("0750001A"))
    );
    assert_eq!(g.members, ["lea.martin", "ines.petit", "anne.durand"]);

    assert_eq!(s.users.len(), 6 + 3 + 5);
    assert_eq!(m.report.files, 5);
    assert_eq!(m.report.ignored.get("MatiereEducNat"), Some(&1));
    assert_eq!(m.report.entries_skipped(), 1);
    assert_eq!(m.report.references_dropped(), 1);
}

#[test]
fn the_mapped_school_follows_the_default_rules() {
    let m = map(SAMPLE);
    let dir = crate::Directory::new(m.snapshot.clone(), Default::default());
    assert!(dir.may_reach("lea.martin", "anne.durand").is_allowed());
    assert!(dir.may_reach("anne.durand", "lea.martin").is_allowed());
    assert!(!dir.may_reach("noe.roux", "lea.martin").is_allowed());
    assert!(
        dir.may_reach("ines.petit", "lea.martin").is_allowed(),
        "the Latin group"
    );
    assert!(dir.may_reach("paul.martin", "lea.martin").is_allowed());
    assert!(!dir.may_reach("emma.garcia", "lea.martin").is_allowed());
}

#[test]
fn the_same_feed_maps_the_same_way_whatever_the_file_order() {
    let a = map(SAMPLE);
    let mut reversed = SAMPLE.to_vec();
    reversed.reverse();
    let b = map(&reversed);
    assert_eq!(a.snapshot, b.snapshot);
}

#[test]
fn truncated_or_garbled_files_never_panic_and_still_import() {
    for (name, bytes) in SAMPLE {
        for cut in (0..bytes.len()).step_by(53) {
            let mut files = SAMPLE.to_vec();
            for f in files.iter_mut() {
                if f.0 == *name {
                    f.1 = &bytes[..cut];
                }
            }
            map(&files);
        }
        let mut garbled = bytes.to_vec();
        for i in (0..garbled.len()).step_by(31) {
            garbled[i] = garbled[i].wrapping_add(97);
        }
        map(&[(name, &garbled)]);
    }
}

// ------------------------------------------------------------------ each reason

#[test]
fn broken_feed_reports_each_problem_and_keeps_the_rest() {
    let m = map(BROKEN);
    let keys = m.report.by_reason();
    for key in [
        "malformed file",
        "missing name",
        "duplicate id",
        "no structure",
        "malformed value",
        "duplicate login",
        "invalid login",
        "delta request",
        "unknown relative",
        "relative without pupil",
    ] {
        assert!(
            keys.contains_key(key),
            "no {key:?} in {:#?}",
            m.report.skipped
        );
    }
    // Two files could not be read: a truncated one and one of another format.
    let files: Vec<&Skip> = m
        .report
        .skipped
        .iter()
        .filter(|s| matches!(s.reason, Reason::MalformedFile(_)))
        .collect();
    assert_eq!(files.len(), 2, "{files:#?}");
    assert!(
        files[1].to_string().contains("not <ficAlimMENESR>"),
        "{}",
        files[1]
    );
    // Léa (the first of her identifier and login) and her father are kept.
    assert_eq!(user(&m, "lea.martin").first_name, "Léa");
    assert_eq!(user(&m, "paul.martin").children, ["lea.martin"]);
    assert_eq!(m.snapshot.structures.len(), 1);
}

#[test]
fn a_structure_without_a_name_is_skipped_and_its_people_with_it() {
    let body = entry(
        "EtabEducNat",
        "51001",
        &[
            ("ENTStructureUAI", &["0750001A"]),
            ("ENTStructureNomCourant", &[]),
        ],
    ) + &pupil("1", "MARTIN", &[]);
    let m = one(body);
    assert!(m.snapshot.structures.is_empty());
    assert_eq!(
        reasons(&m, "structure 51001"),
        [&Reason::MissingName("ENTStructureNomCourant")]
    );
    assert!(m.snapshot.users.is_empty());
    let r = reasons(&m, "pupil 1");
    assert!(r.contains(&&Reason::NoStructure), "{r:?}");
}

#[test]
fn a_structure_is_named_by_its_uai_and_found_by_jointure_or_uai() {
    let body = etab()
        + &pupil("1", "UN", &[("ENTEleveClasses", &["0750001A$6A"])])
        + &pupil("2", "DEUX", &[("ENTPersonStructRattach", &["0750001A"])]);
    let m = one(body);
    assert_eq!(m.snapshot.structures[0].id, "0750001A");
    assert_eq!(user(&m, "1").classes, ["0750001A-6A"]);
    assert_eq!(user(&m, "2").structures, ["0750001A"]);
    assert!(m.report.skipped.is_empty(), "{:#?}", m.report.skipped);
}

#[test]
fn a_person_without_names_is_skipped() {
    let body = etab() + &pupil("1", "", &[]) + &pupil("2", "MARTIN", &[("givenName", &[])]);
    let m = one(body);
    assert!(m.snapshot.users.is_empty());
    assert_eq!(reasons(&m, "pupil 1"), [&Reason::MissingName("sn")]);
    assert_eq!(reasons(&m, "pupil 2"), [&Reason::MissingName("givenName")]);
}

#[test]
fn a_duplicate_identifier_keeps_the_first() {
    let body = etab() + &pupil("1", "PREMIER", &[]) + &pupil("1", "SECOND", &[]);
    let m = one(body);
    assert_eq!(m.snapshot.users.len(), 1);
    assert_eq!(user(&m, "1").last_name, "PREMIER");
    assert_eq!(reasons(&m, "pupil 1"), [&Reason::DuplicateId]);
}

#[test]
fn logins_come_from_the_feed_or_from_the_identifier() {
    let body = etab()
        + &pupil("1", "A", &[("ENTPersonLogin", &["Lea.Martin"])])
        + &pupil("2", "B", &[("ENTPersonLogin", &["léa martin"])])
        + &pupil("3", "C", &[("ENTPersonLogin", &["lea.martin"])])
        + &pupil("AB-12/3", "D", &[]);
    let m = one(body);
    assert_eq!(user(&m, "lea.martin").last_name, "A");
    assert_eq!(
        reasons(&m, "pupil 2"),
        [&Reason::InvalidLogin("léa martin".into())]
    );
    assert_eq!(
        reasons(&m, "pupil 3"),
        [&Reason::DuplicateLogin {
            login: "lea.martin".into(),
            first: "pupil 1 (A Léa)".into()
        }]
    );
    assert_eq!(user(&m, "ab-12_3").last_name, "D");
    assert_eq!(derive_login(" 2605692 "), "2605692");
}

#[test]
fn references_to_unknown_structures_or_malformed_values_are_dropped() {
    let body = etab()
        + &pupil(
            "1",
            "MARTIN",
            &[
                ("ENTPersonStructRattach", &["51001", "59999"]),
                ("ENTEleveClasses", &["51001$6A", "6B", "59999$6C", "51001$"]),
                ("ENTEleveGroupes", &["51001$LATIN"]),
            ],
        );
    let m = one(body);
    let u = user(&m, "1");
    assert_eq!(u.structures, ["0750001A"]);
    assert_eq!(u.classes, ["0750001A-6A"]);
    let r = reasons(&m, "pupil 1");
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(r.iter().all(|r| !r.skips_entry()));
    assert!(r.contains(&&Reason::UnknownStructure {
        attr: "ENTPersonStructRattach",
        value: "59999".into()
    }));
    assert!(r.contains(&&Reason::MalformedValue {
        attr: "ENTEleveClasses",
        value: "6B".into()
    }));
    assert!(r.contains(&&Reason::UnknownStructure {
        attr: "ENTEleveClasses",
        value: "59999$6C".into()
    }));
}

#[test]
fn only_legal_representatives_become_parents() {
    let rel =
        |id: &str, sn: &str| entry("PersRelEleve", id, &[("sn", &[sn]), ("givenName", &["X"])]);
    let body = etab()
        + &pupil(
            "1",
            "MARTIN",
            &[(
                "ENTElevePersRelEleve",
                &[
                    "10$1$1$1$0$0",
                    "11$4$0$0$1$0",
                    "12$2$0$2$0$0",
                    "99$2$0$1$0$0",
                    "bad",
                ],
            )],
        )
        + &pupil("2", "ROUX", &[("ENTEleveAutoriteParentale", &["13"])])
        + &rel("10", "PERE")
        + &rel("11", "VOISIN")
        + &rel("12", "MERE")
        + &rel("13", "TUTEUR")
        + &rel("14", "PERSONNE");
    let m = one(body);
    assert_eq!(user(&m, "10").children, ["1"]);
    assert_eq!(user(&m, "12").children, ["1"]);
    assert_eq!(user(&m, "13").children, ["2"]);
    assert!(!has_user(&m, "11") && !has_user(&m, "14"));
    assert_eq!(reasons(&m, "relative 11"), [&Reason::RelativeWithoutPupil]);
    let r = reasons(&m, "pupil 1");
    assert!(r.contains(&&Reason::UnknownRelative("99".into())), "{r:?}");
    assert!(r.contains(&&Reason::MalformedValue {
        attr: "ENTElevePersRelEleve",
        value: "bad".into()
    }));
}

#[test]
fn a_relative_whose_only_child_was_skipped_is_skipped() {
    let body = etab()
        + &pupil("1", "", &[("ENTElevePersRelEleve", &["10$1$1$1$0$0"])])
        + &entry(
            "PersRelEleve",
            "10",
            &[("sn", &["PERE"]), ("givenName", &["X"])],
        );
    let m = one(body);
    assert!(m.snapshot.users.is_empty());
    assert_eq!(reasons(&m, "relative 10"), [&Reason::RelativeWithoutPupil]);
}

#[test]
fn staff_profiles_and_functions() {
    let staff = |id: &str, attrs: &[(&str, &[&str])]| {
        let mut all: Vec<(&str, &[&str])> = vec![
            ("sn", &["NOM"]),
            ("givenName", &["Prénom"]),
            ("ENTPersonStructRattach", &["51001"]),
        ];
        for (n, v) in attrs {
            match all.iter_mut().find(|(m, _)| m == n) {
                Some(a) => a.1 = v,
                None => all.push((n, v)),
            }
        }
        entry("PersEducNat", id, &all)
    };
    let body = etab()
        + &staff("1", &[("PersEducNatPresenceDevantEleves", &["O"])])
        + &staff(
            "2",
            &[
                ("PersEducNatPresenceDevantEleves", &["N"]),
                (
                    "ENTPersonFonctions",
                    &["51001$DOC$DOCUMENTATION$D0010$DOCUMENTATION"],
                ),
            ],
        )
        + &staff(
            "3",
            &[(
                "ENTPersonFonctions",
                &[
                    "51001$EDU$EDUCATION$E0040$ASSISTANT D'EDUCATION",
                    "51001$-$-$-$-",
                    "x",
                ],
            )],
        )
        + &staff(
            "4",
            &[
                ("ENTPersonProfils", &["National_DIR"]),
                ("PersEducNatPresenceDevantEleves", &["O"]),
                ("ENTEnsFonctionDir", &["51001"]),
                ("ENTAuxEnsClasses", &["51001$6A"]),
            ],
        )
        + &staff(
            "5",
            &[
                ("ENTPersonProfils", &["National_ENS"]),
                ("ENTPersonStructRattach", &[]),
                ("ENTAuxEnsClassesMatieres", &["51001$6A$020700"]),
                ("ENTAuxEnsGroupesMatieres", &["51001$6A-GR1$020700"]),
            ],
        )
        + &staff("6", &[("ENTPersonStructRattach", &[])]);
    let m = one(body);
    assert_eq!(user(&m, "1").profile, Profile::Teacher);
    assert_eq!(user(&m, "2").profile, Profile::Teacher);
    assert_eq!(user(&m, "2").functions, ["doc"]);
    let aed = user(&m, "3");
    assert_eq!(aed.profile, Profile::Personnel);
    assert_eq!(aed.functions, ["education"]);
    assert!(!aed.has_safety_function());
    assert_eq!(
        reasons(&m, "staff member 3"),
        [&Reason::MalformedValue {
            attr: "ENTPersonFonctions",
            value: "x".into()
        }]
    );
    let head = user(&m, "4");
    assert_eq!(head.profile, Profile::Personnel);
    assert_eq!(head.functions, ["direction"]);
    assert!(head.classes.is_empty(), "staff teach no class");
    // Teaching a class puts a teacher in its structure.
    let t = user(&m, "5");
    assert_eq!(t.profile, Profile::Teacher);
    assert_eq!(t.structures, ["0750001A"]);
    assert_eq!(t.classes, ["0750001A-6A"]);
    assert_eq!(m.snapshot.groups[0].members, ["5"]);
    assert_eq!(reasons(&m, "staff member 6"), [&Reason::NoStructure]);
}

#[test]
fn functions_beyond_the_limit_are_cut_after_cpe_and_direction() {
    let mut functions: Vec<String> = (0..20).map(|i| format!("51001$F{i:02}$X$Y$Z")).collect();
    functions.push("51001$DIR$DIRECTION$D0010$DIRECTION".into());
    let refs: Vec<&str> = functions.iter().map(String::as_str).collect();
    let body = etab()
        + &entry(
            "PersEducNat",
            "1",
            &[
                ("sn", &["NOM"]),
                ("givenName", &["P"]),
                ("ENTPersonFonctions", &refs),
            ],
        );
    let m = one(body);
    let u = user(&m, "1");
    assert_eq!(u.functions.len(), MAX_FUNCTIONS);
    assert_eq!(u.functions[0], "direction");
    assert_eq!(
        reasons(&m, "staff member 1"),
        [&Reason::TooManyFunctions(5)]
    );
}

#[test]
fn names_the_directory_refuses_are_skipped_with_its_reason() {
    let long = "X".repeat(300);
    let body = etab()
        + &pupil("1", &long, &[])
        + &pupil(
            "2",
            "OK",
            &[("ENTEleveClasses", &[&format!("51001${long}")])],
        );
    let m = one(body);
    assert!(!has_user(&m, "1"));
    let r = reasons(&m, "pupil 1");
    assert!(
        matches!(r.as_slice(), [Reason::Refused(t)] if t.contains("last name longer")),
        "{r:?}"
    );
    // A class the directory refuses is left out; its pupil stays.
    assert!(user(&m, "2").classes.is_empty());
    assert!(m.snapshot.classes.is_empty());
}

#[test]
fn delta_requests_and_entries_without_category_or_identifier_are_skipped() {
    let body = etab()
        + "<modifyRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><identifier><id>7</id></identifier><modifications/></modifyRequest>\n"
        + "<deleteRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><identifier><id>8</id></identifier></deleteRequest>\n"
        + "<addRequest><identifier><id>9</id></identifier><attributes><attr name=\"sn\"><value>X</value></attr></attributes></addRequest>\n"
        + "<addRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><attributes><attr name=\"sn\"><value>X</value></attr></attributes></addRequest>\n";
    let m = one(body);
    assert_eq!(
        reasons(&m, "pupil 7"),
        [&Reason::Delta(RequestKind::Modify)]
    );
    assert_eq!(
        reasons(&m, "pupil 8"),
        [&Reason::Delta(RequestKind::Delete)]
    );
    assert_eq!(reasons(&m, "entry 9"), [&Reason::NoCategory]);
    assert_eq!(
        reasons(&m, "pupil without identifier"),
        [&Reason::NoIdentifier]
    );
    // The file's name tells the category of entries that do not say it.
    let f = file(
        "<addRequest><identifier><id>51001</id></identifier><attributes><attr name=\"ENTStructureNomCourant\"><value>CLG</value></attr></attributes></addRequest>",
    );
    let m = map(&[("X_Complet_EtabEducNat_0000.xml", f.as_bytes())]);
    assert_eq!(m.snapshot.structures[0].id, "51001");
}

#[test]
fn encodings_are_read_as_declared() {
    let body = |decl: &str, name: &[u8]| {
        let mut v = format!("<?xml version=\"1.0\" encoding=\"{decl}\"?>\n<!DOCTYPE ficAlimMENESR SYSTEM \"x.dtd\" [ <!ENTITY x \"]>\"> ]>\n<ficAlimMENESR><!-- c --><addRequest><operationalAttributes><attr name=\"categorieStructure\"><value>EtabEducNat</value></attr></operationalAttributes><identifier><id>1</id></identifier><attributes><attr name=\"ENTStructureNomCourant\"><value>").into_bytes();
        v.extend_from_slice(name);
        v.extend_from_slice(b"</value></attr></attributes></addRequest></ficAlimMENESR>");
        v
    };
    let name_of = |bytes: Vec<u8>| {
        let m = map(&[("a.xml", &bytes)]);
        m.snapshot
            .structures
            .first()
            .map(|s| s.name.clone())
            .ok_or_else(|| m.report.skipped[0].to_string())
    };
    assert_eq!(
        name_of(body("ISO-8859-15", b"C\xBCUR \xA4")).unwrap(),
        "CŒUR €"
    );
    assert_eq!(name_of(body("iso-8859-1", b"C\xBCUR")).unwrap(), "C¼UR");
    assert_eq!(name_of(body("UTF-8", "CŒUR".as_bytes())).unwrap(), "CŒUR");
    let e = name_of(body("UTF-8", b"C\xBCUR")).unwrap_err();
    assert!(e.contains("not valid UTF-8"), "{e}");
    let e = name_of(body("EBCDIC", b"X")).unwrap_err();
    assert!(e.contains("unsupported encoding \"ebcdic\""), "{e}");
}

#[test]
fn the_report_reads_well() {
    let m = map(SAMPLE);
    let lines: Vec<String> = m.report.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "ENT_TEST_Complet_20250901_PersEducNat_0000.xml: staff member 2397005 (BLANC Julie): ENTPersonFonctions \"52999\" dropped: structure not in the feed",
            "ENT_TEST_Complet_20250901_PersRelEleve_0000.xml: relative 2867009 (DUPONT Jean): skipped: no imported pupil names this person as legal representative",
        ]
    );
}
