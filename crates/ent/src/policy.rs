//! Communication decisions: whether one user may reach another ([`Decision`]),
//! why ([`Why`]) or why not ([`DenyReason`], with the texts shown to users),
//! and how a structure's rule list is read in both directions
//! ([`first_allowing_rule`]). The facts about the directory (who shares a class
//! with whom…) come from [`crate::directory::Directory`].

use serde::{Deserialize, Serialize};

use crate::model::Profile;
use crate::register::Text;
use crate::rules::{Rule, Scope};

/// The outcome of [`crate::Directory::may_reach`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow(Why),
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The refusal, if any.
    pub fn denied(&self) -> Option<DenyReason> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(r) => Some(*r),
        }
    }
}

/// What allowed a contact (for logs and the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// Both sides are the same account.
    SameAccount,
    /// Rule number `index` of the rules of `structure` (an index into
    /// [`crate::Directory::rules_for`]`(structure)`).
    Rule { structure: String, index: usize },
    /// Both are members of this ENT group (its id).
    Group { group: String },
    /// The directory enforces no rules ([`crate::Directory::open`]).
    Open,
}

/// Why a contact was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// No rule of any structure concerned, and no common group, allows it.
    NoRule,
    /// Either side is deactivated or unknown to the directory.
    Inactive,
}

impl DenyReason {
    /// A stable name for logs and error texts: `no-rule`, `inactive`.
    pub fn code(self) -> &'static str {
        match self {
            DenyReason::NoRule => "no-rule",
            DenyReason::Inactive => "inactive",
        }
    }

    /// The text shown to the user refused, in its three forms (« tu » for a pupil,
    /// « vous » for an adult: [`crate::register`]).
    pub fn text(&self) -> Text {
        match self {
            DenyReason::NoRule => Text::new(
                "Les règles de ton établissement ne permettent pas de communiquer avec cette personne.",
                "Les règles de votre établissement ne permettent pas de communiquer avec cette personne.",
                "Your school's communication rules do not allow you to contact this person.",
            ),
            DenyReason::Inactive => Text::same(
                "Ce compte n'existe pas ou n'est plus actif.",
                "This account does not exist or is no longer active.",
            ),
        }
    }
}

/// The two ends of a rule as tested by `holds`: `x` is the user on the rule's
/// `from` side, `y` the one on its `to` side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sides {
    /// `x` is the user who wants to reach, `y` the user reached.
    Forward,
    /// `x` is the user reached, `y` the one who wants to reach (the reverse of
    /// a two-way rule).
    Backward,
}

/// The index of the first rule of `rules` by which a user of profile `from`
/// may reach a user of profile `to`. For each rule in order: as written
/// (`from` on its `from` side), then, if two-way, reversed. `holds(scope,
/// sides)` tells whether the scope relation holds for the pair placed that
/// way; it is only called when the profiles fit.
pub fn first_allowing_rule(
    rules: &[Rule],
    from: Profile,
    to: Profile,
    mut holds: impl FnMut(Scope, Sides) -> bool,
) -> Option<usize> {
    rules.iter().position(|rule| {
        (rule.forward(from, to) && holds(rule.scope, Sides::Forward))
            || (rule.backward(to, from) && holds(rule.scope, Sides::Backward))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Register;
    use crate::rules::default_rules;

    #[test]
    fn texts() {
        for r in [DenyReason::NoRule, DenyReason::Inactive] {
            assert_eq!(r.text().check(), Ok(()), "{r:?}");
        }
        let t = DenyReason::NoRule.text();
        assert!(
            t.get("fr-FR", Register::Tu)
                .starts_with("Les règles de ton établissement")
        );
        assert!(
            t.get("fr", Register::Vous)
                .starts_with("Les règles de votre établissement")
        );
        assert!(t.get("en", Register::Tu).contains("rules"));
        assert!(
            DenyReason::Inactive
                .text()
                .get("", Register::Tu)
                .contains("account")
        );
    }

    #[test]
    fn one_way_rules_are_read_forward_only() {
        let rules = vec![Rule::new(
            &[Profile::Teacher],
            &[Profile::Student],
            Scope::SameClass,
            false,
        )];
        let mut seen = Vec::new();
        let r = first_allowing_rule(&rules, Profile::Teacher, Profile::Student, |s, d| {
            seen.push((s, d));
            true
        });
        assert_eq!(r, Some(0));
        assert_eq!(seen, [(Scope::SameClass, Sides::Forward)]);
        assert_eq!(
            first_allowing_rule(&rules, Profile::Student, Profile::Teacher, |_, _| true),
            None
        );
    }

    #[test]
    fn two_way_rules_are_read_backward_too() {
        let rules = default_rules();
        let mut seen = Vec::new();
        let r = first_allowing_rule(&rules, Profile::Student, Profile::Relative, |s, d| {
            seen.push((s, d));
            d == Sides::Backward
        });
        assert_eq!(r, Some(3));
        assert_eq!(seen, [(Scope::OwnChildren, Sides::Backward)]);
    }

    #[test]
    fn decisions_serialize_readably() {
        let d = Decision::Allow(Why::Rule {
            structure: "0750001A".into(),
            index: 0,
        });
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"allow":{"rule":{"structure":"0750001A","index":0}}}"#
        );
        assert_eq!(
            serde_json::to_string(&Decision::Deny(DenyReason::NoRule)).unwrap(),
            r#"{"deny":"no_rule"}"#
        );
    }
}
