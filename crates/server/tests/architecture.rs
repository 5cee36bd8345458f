//! The server's layering, checked on its sources: the rules that the types cannot hold on
//! their own inside one crate.
//!
//! - Features never touch rosters through the store (`RosterStore`): the contacts service
//!   is the only roster writer, so that its cache is dropped on every write.
//! - A pass to deliver to another account is made only by the gate (`Pass::new` lives in
//!   `services`); outside the services, the only passes are one's own account and the
//!   server's own notices, whose every use is listed here so that a new one is a decision.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// (file relative to src, line) of every line containing `needle`, comments excluded.
fn uses(needle: &str, under: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let root = src().join(under);
    if root.is_dir() {
        sources(&root, &mut files);
    } else {
        files.push(root);
    }
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
        for line in text.lines() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if code.contains(needle) {
                found.push((rel.clone(), code.to_string()));
            }
        }
    }
    found
}

#[test]
fn features_never_write_rosters_through_the_store() {
    for needle in [
        "RosterStore",
        "store.put_roster_item",
        "store.remove_roster_item",
        "store.add_pending_in",
        "store.remove_pending_in",
        "store.refuse",
    ] {
        let found = uses(needle, "features");
        assert!(
            found.is_empty(),
            "features must go through the contacts service, found {needle}: {found:?}"
        );
    }
}

#[test]
fn passes_to_others_come_from_the_gate() {
    let outside: Vec<_> = [
        "features",
        "router.rs",
        "c2s.rs",
        "enforce.rs",
        "admin.rs",
        "moderation.rs",
    ]
    .iter()
    .flat_map(|p| uses("Pass::new(", p))
    .collect();
    assert!(
        outside.is_empty(),
        "Pass::new outside the services: {outside:?}"
    );
    // The server's own notices: what it composes and says to an account itself.
    let mut notices: Vec<String> = uses("Pass::server_notice(", "features")
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    notices.sort();
    notices.dedup();
    assert_eq!(
        notices,
        [
            "features/blocking.rs", // a block by the school's staff, pushed to the account
            "features/muc/admin.rs", // « X vous a retiré de la conversation »
            "features/presence.rs", // presences ended by a rules change or a block
            "features/quiet.rs",    // quiet hours began or ended, the kill switch changed
            "features/roster_push.rs", // roster pushes
        ]
        .map(|f| f.replace('/', std::path::MAIN_SEPARATOR_STR)),
        "a new use of Pass::server_notice: is it really the server speaking?"
    );
}
