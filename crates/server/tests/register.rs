//! « tu » or « vous », checked on the sources of the server and of `causerie-ent`: every
//! text the server shows a user either states its three forms (`Text::new`, `said!`:
//! French with « tu », French with « vous », English), each in its register, or speaks to
//! nobody in particular (`Text::same`, `error`, `with_text("fr", …)`, a room's `body`).
//! A new text that says « tu » (or « vous ») to everyone fails here.

use std::path::{Path, PathBuf};

use causerie_ent::Text;
use causerie_ent::register::{speaks_tu, speaks_vous};

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

/// The code of every source file of the server and of `causerie-ent`, without its test
/// module (which writes bodies such as « tu es là ? » on purpose), named by its path.
fn code() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    sources(&root.join("../ent/src"), &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            // The test module only: a `#[cfg(test)]` on one item above it (pep.rs,
            // auth.rs) must not hide the rest of the file from the checks.
            let text = match text.find("#[cfg(test)]\nmod ") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let text: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (f.to_string_lossy().to_string(), text)
        })
        .collect()
}

/// The string literals of the call that opens at `open` (just past its `(`), in order,
/// up to its closing parenthesis.
fn literals(code: &str, open: usize) -> Vec<String> {
    let bytes = code.as_bytes();
    let (mut i, mut depth, mut out) = (open, 1, Vec::new());
    while i < bytes.len() && depth > 0 {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'"' => {
                let mut s = String::new();
                let mut j = i + 1;
                while bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        j += 1;
                        // A line continuation: the break and the next line's indent.
                        if bytes[j] == b'\n' {
                            j += 1;
                            while bytes[j] == b' ' {
                                j += 1;
                            }
                            continue;
                        }
                    }
                    let c = code[j..].chars().next().unwrap();
                    s.push(c);
                    j += c.len_utf8();
                }
                out.push(s);
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Every call of `name(` (not part of a longer name) in the code: (file, its literals).
fn calls(name: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for (file, code) in code() {
        let mut from = 0;
        while let Some(at) = code[from..].find(name) {
            let start = from + at;
            from = start + name.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            found.push((file.clone(), literals(&code, from)));
        }
    }
    found
}

/// The `{name}` placeholders of a format string.
fn placeholders(s: &str) -> Vec<&str> {
    let mut out: Vec<&str> = s
        .split('{')
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(n, _)| n))
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn every_text_with_three_forms_speaks_in_each_register() {
    let mut seen = 0;
    for name in ["Text::new(", "said!("] {
        for (file, lits) in calls(name) {
            if file.ends_with("register.rs") {
                continue; // its own docs and definitions
            }
            let [tu, vous, en] = &lits[..] else {
                panic!("{file}: {name} with literals {lits:?}");
            };
            let text = Text {
                tu: tu.as_str(),
                vous: vous.as_str(),
                en: en.as_str(),
            };
            assert_eq!(text.check(), Ok(()), "{file}");
            assert_ne!(tu, vous, "{file}: one form for both is Text::same");
            assert!(
                speaks_tu(tu),
                "{file}: the « tu » form says no « tu »: {tu}"
            );
            assert!(
                speaks_vous(vous),
                "{file}: the « vous » form says no « vous »: {vous}"
            );
            assert_eq!(placeholders(tu), placeholders(vous), "{file}: {tu}");
            // The English may name its own values (a profile's English label).
            assert_eq!(
                placeholders(tu).len(),
                placeholders(en).len(),
                "{file}: {en}"
            );
            seen += 1;
        }
    }
    // The refusals by the rules, of a blocked contact, of a non-contact… are among them.
    assert!(seen >= 30, "only {seen} texts with three forms found");
}

#[test]
fn texts_for_everyone_address_nobody() {
    let mut seen = 0;
    // `error(Condition::…, fr, en)`, `Text::same(fr, en)`, `with_text("fr", fr)` and a
    // room's `body(lang, message, fr, en)`: the first French literal of each.
    for name in ["error(", "Text::same(", "with_text(", "body("] {
        for (file, lits) in calls(name) {
            let fr = match name {
                "with_text(" if lits.first().is_some_and(|l| l == "fr") => lits.get(1),
                "with_text(" => None,
                _ => lits.first(),
            };
            let Some(fr) = fr else { continue };
            assert!(
                !speaks_tu(fr) && !speaks_vous(fr),
                "{file}: a text for everyone says « tu » or « vous »: {fr:?} \
                 (write its three forms: stanza::addressed with Text::new or said!)"
            );
            seen += 1;
        }
    }
    assert!(seen >= 80, "only {seen} texts for everyone found");
}
