//! docs/config.md documents every configuration option, with its default.
//!
//! The list of options is not kept by hand: it is read from the configuration types
//! themselves, by walking their `Deserialize` implementations (serde hands every struct's
//! field names to the deserializer). An option added to `Config` without a row in
//! docs/config.md fails this test, and so does a row for an option that does not exist or
//! whose default is not the code's.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use causerie_server::Config;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

const DOC: &str = include_str!("../../../docs/config.md");

// ---------------------------------------------------------------------------------------
// The options, from the types
// ---------------------------------------------------------------------------------------

/// Ends a traced deserialization (any error does: only what was recorded matters).
#[derive(Debug)]
struct Stop(String);

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(msg: T) -> Stop {
        Stop(msg.to_string())
    }
}

/// What sits at the end of a path of field names.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// A table of options, with its field names.
    Struct(&'static [&'static str]),
    /// One option.
    Leaf,
}

/// A deserializer that follows `path` through nested structs (a map with that one key at
/// each level) and records what it finds at its end: a struct (then it answers an empty
/// map, and the struct's `#[serde(default)]` fills it) or anything else, an option.
struct Tracer<'a> {
    path: &'a [&'static str],
    found: &'a RefCell<Option<Found>>,
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        if self.path.is_empty() {
            *self.found.borrow_mut() = Some(Found::Leaf);
        }
        Err(Stop("an option's value is not traced".into()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        match self.path.split_first() {
            None => {
                *self.found.borrow_mut() = Some(Found::Struct(fields));
                visitor.visit_map(OneField {
                    key: None,
                    rest: &[],
                    found: self.found,
                })
            }
            Some((head, rest)) => visitor.visit_map(OneField {
                key: Some(head),
                rest,
                found: self.found,
            }),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A map of at most one key, whose value is traced further.
struct OneField<'a> {
    key: Option<&'static str>,
    rest: &'a [&'static str],
    found: &'a RefCell<Option<Found>>,
}

impl<'de> MapAccess<'de> for OneField<'_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        match self.key {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        self.key = None;
        seed.deserialize(Tracer {
            path: self.rest,
            found: self.found,
        })
    }
}

fn trace(path: &[&'static str]) -> Option<Found> {
    let found = RefCell::new(None);
    let _ = Config::deserialize(Tracer {
        path,
        found: &found,
    });
    found.into_inner()
}

/// Every option of `Config`, as `key` or `section.key`.
fn options() -> BTreeSet<String> {
    let mut options = BTreeSet::new();
    let mut queue: VecDeque<Vec<&'static str>> = VecDeque::from([Vec::new()]);
    while let Some(path) = queue.pop_front() {
        match trace(&path) {
            Some(Found::Struct(fields)) => {
                for field in fields {
                    let mut child = path.clone();
                    child.push(field);
                    queue.push_back(child);
                }
            }
            Some(Found::Leaf) => {
                options.insert(path.join("."));
            }
            None => panic!("nothing found at {path:?}"),
        }
    }
    options
}

// ---------------------------------------------------------------------------------------
// The options, from the documentation
// ---------------------------------------------------------------------------------------

/// The rows of docs/config.md's table: `key` or `section.key`, and the default column.
fn documented() -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    let mut section: Option<String> = None;
    for line in DOC.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(first), Some(default)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        if let Some(name) = first
            .strip_prefix("**[")
            .and_then(|s| s.strip_suffix("]**"))
        {
            section = Some(name.to_string());
        } else if let Some(key) = first.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
            let key = match &section {
                Some(s) => format!("{s}.{key}"),
                None => key.to_string(),
            };
            let previous = rows.insert(key.clone(), default.to_string());
            assert!(previous.is_none(), "docs/config.md documents {key} twice");
        }
    }
    rows
}

/// A documented default that is a TOML value (`30`, `"info"`, `false`, `[]`), or None
/// when it is told in words (`off`, `none`, a URL built from `data_dir`).
fn literal(default: &str) -> Option<toml::Value> {
    let inner = default.strip_prefix('`')?.strip_suffix('`')?;
    let table: toml::Table = toml::from_str(&format!("v = {inner}")).ok()?;
    table.get("v").cloned()
}

/// The configuration with one option set to `value`.
fn with_option(key: &str, value: toml::Value) -> Config {
    // `a.b.c = v` is `{a = {b = {c = v}}}`: tables nest (`[rates.pupils]`).
    let mut value = value;
    for part in key.rsplit('.') {
        let mut table = toml::Table::new();
        table.insert(part.into(), value);
        value = toml::Value::Table(table);
    }
    Config::deserialize(value)
        .unwrap_or_else(|e| panic!("docs/config.md's default of {key} is not accepted: {e}"))
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

#[test]
fn every_option_is_documented_and_nothing_else() {
    let options = options();
    let documented = documented();
    // A sanity check of the walk itself: options of the top level and of tables.
    for known in [
        "domain",
        "listen.https",
        "admin.session_idle_minutes",
        "log.format",
    ] {
        assert!(
            options.contains(known),
            "the walk missed {known}: {options:?}"
        );
    }
    let missing: Vec<&String> = options
        .iter()
        .filter(|o| !documented.contains_key(*o))
        .collect();
    assert!(
        missing.is_empty(),
        "options without a row in docs/config.md: {missing:?}"
    );
    let unknown: Vec<&String> = documented
        .keys()
        .filter(|d| !options.contains(*d))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/config.md documents options that do not exist: {unknown:?}"
    );
}

#[test]
fn every_documented_default_is_the_code_default() {
    let default = format!("{:?}", Config::default());
    for (key, cell) in documented() {
        match literal(&cell) {
            // Set to its documented default, the option changes nothing.
            Some(value) => assert_eq!(
                format!("{:?}", with_option(&key, value)),
                default,
                "docs/config.md gives {key} the default {cell}, the code another"
            ),
            // A default told in words is the option's absence: the field is None.
            None => {
                let field = key.rsplit('.').next().unwrap_or(&key);
                assert!(
                    default.contains(&format!("{field}: None")),
                    "docs/config.md gives {key} the default {cell:?}, but the code has one"
                );
            }
        }
    }
}

/// The checks can fail: a table with a row removed, a row too many or a wrong default is
/// caught (on a copy of the documentation, edited here).
#[test]
fn the_checks_catch_an_undocumented_option_and_a_wrong_default() {
    let options = options();
    let mut documented = documented();
    documented.remove("listen.https");
    assert!(options.iter().any(|o| !documented.contains_key(o)));
    let wrong = with_option("admin.session_idle_minutes", toml::Value::Integer(31));
    assert_ne!(format!("{wrong:?}"), format!("{:?}", Config::default()));
    assert_eq!(literal("`30`"), Some(toml::Value::Integer(30)));
    assert_eq!(literal("none"), None);
    assert_eq!(literal("`sqlite://DATA_DIR/causerie.db?mode=rwc`"), None);
}
