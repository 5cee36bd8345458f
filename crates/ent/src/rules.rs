//! Communication rules: what a rule is ([`Rule`], [`Scope`]), the defaults of
//! `docs/directory.md` ([`default_rules`]), and the JSON form in which a
//! structure's administrator edits them ([`parse_rules`], [`validate_rules`]).
//!
//! A rule links two profile groups in a scope, one-way or two-way (the Open ENT
//! NG model). Evaluating rules against the directory is [`crate::policy`]'s and
//! [`crate::directory`]'s job; this module only describes them.

use serde::{Deserialize, Serialize};

use crate::model::Profile;

/// Where a rule applies, for a rule of structure S with `x` on its `from` side
/// and `y` on its `to` side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `x` and `y` share a class whose structure is S (a teacher's classes are
    /// the classes they teach).
    SameClass,
    /// `x` and `y` both belong to S.
    SameStructure,
    /// `y` is one of `x`'s children, and `x` belongs to S.
    OwnChildren,
    /// `y` shares a class of structure S with one of `x`'s children.
    ChildrenClasses,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::SameClass,
        Scope::SameStructure,
        Scope::OwnChildren,
        Scope::ChildrenClasses,
    ];

    /// The JSON name (`same_class`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SameClass => "same_class",
            Scope::SameStructure => "same_structure",
            Scope::OwnChildren => "own_children",
            Scope::ChildrenClasses => "children_classes",
        }
    }
}

/// One communication rule: users whose profile is in `from` may reach users
/// whose profile is in `to`, within `scope`; if `two_way`, the reverse too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub from: Vec<Profile>,
    pub to: Vec<Profile>,
    pub scope: Scope,
    /// Defaults to `true` when absent, like the default rules.
    #[serde(default = "two_way_default")]
    pub two_way: bool,
}

fn two_way_default() -> bool {
    true
}

impl Rule {
    pub fn new(from: &[Profile], to: &[Profile], scope: Scope, two_way: bool) -> Rule {
        Rule {
            from: from.to_vec(),
            to: to.to_vec(),
            scope,
            two_way,
        }
    }

    /// Whether a user of profile `x` may reach one of profile `y` by this rule
    /// as written, `x` on the `from` side (the scope aside).
    pub fn forward(&self, x: Profile, y: Profile) -> bool {
        self.from.contains(&x) && self.to.contains(&y)
    }

    /// Whether a user of profile `y` may reach one of profile `x` through the
    /// reverse of this rule, `x` still on the `from` side (the scope aside).
    pub fn backward(&self, x: Profile, y: Profile) -> bool {
        self.two_way && self.forward(x, y)
    }
}

/// The default rules of every structure whose administrator changed nothing
/// (`docs/directory.md`). All two-way. Indices matter: a decision names the
/// rule that allowed it by its index.
///
/// | # | from | to | scope |
/// |---|---|---|---|
/// | 0 | student | student | same class |
/// | 1 | student | teacher | same class |
/// | 2 | student | personnel | same structure |
/// | 3 | relative | student | own children |
/// | 4 | relative | teacher | children's classes |
/// | 5 | relative | personnel | same structure |
/// | 6 | teacher, personnel | student, relative, teacher, personnel | same structure |
///
/// Guests are in no rule: they reach and are reached only through ENT groups.
/// That is why rule 6 does not list `guest` among its targets: being two-way,
/// it would otherwise let guests reach every teacher and staff member.
pub fn default_rules() -> Vec<Rule> {
    use Profile::*;
    vec![
        Rule::new(&[Student], &[Student], Scope::SameClass, true),
        Rule::new(&[Student], &[Teacher], Scope::SameClass, true),
        Rule::new(&[Student], &[Personnel], Scope::SameStructure, true),
        Rule::new(&[Relative], &[Student], Scope::OwnChildren, true),
        Rule::new(&[Relative], &[Teacher], Scope::ChildrenClasses, true),
        Rule::new(&[Relative], &[Personnel], Scope::SameStructure, true),
        Rule::new(
            &[Teacher, Personnel],
            &[Student, Relative, Teacher, Personnel],
            Scope::SameStructure,
            true,
        ),
    ]
}

/// A rule set that cannot be used, with the rule and field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry}{}: {reason}", .field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default())]
pub struct RuleError {
    /// `rules[2]`, or `line 4 column 7` for JSON that does not parse.
    pub entry: String,
    /// `from`, `to[1]`, `scope`, `two_way`, when one field is at fault.
    pub field: Option<String>,
    pub reason: String,
}

/// Parses a structure's rule set: a JSON list of [`Rule`] objects, e.g.
/// `[{"from": ["student"], "to": ["student"], "scope": "same_structure", "two_way": true}]`.
pub fn parse_rules(json: &str) -> Result<Vec<Rule>, RuleError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let rules: Vec<Rule> = match serde_path_to_error::deserialize(&mut de) {
        Ok(r) => r,
        Err(e) => {
            let located = crate::validate::locate(e);
            return Err(RuleError {
                entry: located
                    .entry
                    .map(|(_, i)| format!("rules[{i}]"))
                    .unwrap_or(located.position),
                field: located.field,
                reason: located.reason,
            });
        }
    };
    if let Err(e) = de.end() {
        return Err(RuleError {
            entry: format!("line {} column {}", e.line(), e.column()),
            field: None,
            reason: "trailing characters after the list of rules".into(),
        });
    }
    validate_rules(&rules)?;
    Ok(rules)
}

/// Refuses rules that can never apply (an empty `from` or `to`), which are
/// almost certainly mistakes. A profile listed twice is harmless and accepted.
pub fn validate_rules(rules: &[Rule]) -> Result<(), RuleError> {
    for (i, rule) in rules.iter().enumerate() {
        for (field, list) in [("from", &rule.from), ("to", &rule.to)] {
            if list.is_empty() {
                return Err(RuleError {
                    entry: format!("rules[{i}]"),
                    field: Some(field.into()),
                    reason: "empty list of profiles: the rule would never apply".into(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_json() {
        let json = serde_json::to_string(&default_rules()).unwrap();
        assert!(json.contains("\"scope\":\"children_classes\""));
        assert_eq!(parse_rules(&json).unwrap(), default_rules());
    }

    #[test]
    fn defaults_are_two_way_and_never_mention_guests() {
        for r in default_rules() {
            assert!(r.two_way);
            assert!(!r.from.contains(&Profile::Guest));
            assert!(!r.to.contains(&Profile::Guest));
        }
    }

    #[test]
    fn two_way_defaults_to_true() {
        let rules =
            parse_rules(r#"[{"from":["teacher"],"to":["student"],"scope":"same_class"}]"#).unwrap();
        assert!(rules[0].two_way);
    }

    #[test]
    fn scope_names() {
        for s in Scope::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn bad_rules_name_the_rule_and_field() {
        let e = parse_rules(
            r#"[{"from":["student"],"to":["student"],"scope":"same_class"},
                {"from":["student"],"to":["student","pupil"],"scope":"same_class"}]"#,
        )
        .unwrap_err();
        assert_eq!(e.entry, "rules[1]");
        assert_eq!(e.field.as_deref(), Some("to[1]"));
        assert!(e.reason.contains("student, relative"), "{e}");

        let e = parse_rules(r#"[{"from":["student"],"to":["student"],"scope":"same_school"}]"#)
            .unwrap_err();
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("rules[0]", Some("scope"))
        );
        assert!(e.reason.contains("same_class"), "{e}");

        let e = parse_rules(r#"[{"from":[],"to":["student"],"scope":"same_class"}]"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules[0], field from: empty list of profiles: the rule would never apply"
        );

        let e = parse_rules(
            r#"[{"from":["guest"],"to":["guest"],"scope":"same_class","twoway":false}]"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("rules[0]", Some("twoway"))
        );

        let e = parse_rules("[{\"from\": [\"guest\"],\n  \"to\": }]").unwrap_err();
        assert_eq!(e.entry, "line 2 column 9");
        assert_eq!(e.field, None);
    }
}
