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

use crate::access::Access;
use crate::model::Profile;

pub use crate::model::{Collectivite, CollectiviteKind as Kind};

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
