//! Collectivités (« disponible selon collectivité »): a région, a département or a commune
//! that decides for the schools it covers, above each school's own setting. This module
//! owns the type as the directory carries it ([`Collectivite`], [`Kind`]) and the one pure
//! decision of the level: a structure's effective chat access ([`effective`]), the
//! intersection of its own setting with those of every collectivité that covers it.
//!
//! A collectivité off beats a school on; a structure's own setting can only narrow what its
//! collectivités allow (a profile is allowed only if the structure and every collectivité
//! covering it allow it). A level that never set anything allows everything
//! ([`Access::default`]).

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::model::Profile;

/// What kind of local authority a collectivité is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A région (lycées).
    Region,
    /// A département (collèges).
    Departement,
    /// A commune (écoles).
    Commune,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Region, Kind::Departement, Kind::Commune];

    /// The wire/database name (`region`, `departement`, `commune`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Region => "region",
            Kind::Departement => "departement",
            Kind::Commune => "commune",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The French label (Région, Département, Commune).
    pub fn label_fr(self) -> &'static str {
        match self {
            Kind::Region => "Région",
            Kind::Departement => "Département",
            Kind::Commune => "Commune",
        }
    }
}

/// A collectivité of the directory: its id, name, kind and the structures it covers (a
/// structure may be covered by several: its commune, its département and its région).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collectivite {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    /// Ids of the structures it covers.
    #[serde(default)]
    pub structures: Vec<String>,
}

/// A structure's effective chat access: its own setting (`own`, None when never set)
/// narrowed by the setting of each collectivité covering it (`above`, those that set
/// one). None when no level set anything (on for everyone, the default).
///
/// Enabled only when every level is enabled; the profiles are those every level allows,
/// in the canonical order.
pub fn effective<'a>(
    own: Option<&'a Access>,
    above: impl IntoIterator<Item = &'a Access>,
) -> Option<Access> {
    let mut levels = own.into_iter().chain(above).peekable();
    levels.peek()?;
    let mut enabled = true;
    let mut allowed: Vec<Profile> = Profile::ALL.to_vec();
    for level in levels {
        enabled &= level.enabled;
        allowed.retain(|p| level.profiles.contains(p));
    }
    Some(Access {
        enabled,
        profiles: allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Profile::*;

    fn on(profiles: &[Profile]) -> Access {
        Access {
            enabled: true,
            profiles: profiles.to_vec(),
        }
    }

    fn off(profiles: &[Profile]) -> Access {
        Access {
            enabled: false,
            profiles: profiles.to_vec(),
        }
    }

    #[test]
    fn the_effective_access_is_the_intersection() {
        let all = Profile::ALL;
        // (structure's own, collectivités', effective)
        let table: Vec<(Option<Access>, Vec<Access>, Option<Access>)> = vec![
            // Nobody set anything: the default (on for everyone).
            (None, vec![], None),
            // The structure alone decides when no collectivité set anything.
            (Some(on(&[Teacher])), vec![], Some(on(&[Teacher]))),
            (Some(off(&all)), vec![], Some(off(&all))),
            // A collectivité off beats a school on (or never set).
            (Some(on(&all)), vec![off(&all)], Some(off(&all))),
            (None, vec![off(&all)], Some(off(&all))),
            // A school off stays off under a collectivité on.
            (Some(off(&all)), vec![on(&all)], Some(off(&all))),
            // The school narrows what the collectivité allows…
            (
                Some(on(&[Teacher, Personnel])),
                vec![on(&[Student, Teacher, Personnel])],
                Some(on(&[Teacher, Personnel])),
            ),
            // …and cannot widen it.
            (
                Some(on(&all)),
                vec![on(&[Teacher, Personnel])],
                Some(on(&[Teacher, Personnel])),
            ),
            (
                Some(on(&[Student, Teacher])),
                vec![on(&[Teacher, Personnel])],
                Some(on(&[Teacher])),
            ),
            // Several collectivités (commune, département, région): all of them count.
            (
                None,
                vec![
                    on(&[Student, Teacher, Personnel]),
                    on(&[Teacher, Personnel, Guest]),
                ],
                Some(on(&[Teacher, Personnel])),
            ),
            (
                Some(on(&all)),
                vec![on(&all), off(&all), on(&all)],
                Some(off(&all)),
            ),
            // No profile in common: on, for nobody.
            (Some(on(&[Student])), vec![on(&[Teacher])], Some(on(&[]))),
        ];
        for (i, (own, above, want)) in table.iter().enumerate() {
            assert_eq!(effective(own.as_ref(), above.iter()), *want, "row {i}");
        }
    }

    #[test]
    fn profiles_come_in_the_canonical_order() {
        let got = effective(
            Some(&on(&[Guest, Student, Teacher])),
            [&on(&[Teacher, Guest, Student])],
        );
        assert_eq!(got, Some(on(&[Student, Teacher, Guest])));
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(Kind::parse("département"), None);
    }
}
