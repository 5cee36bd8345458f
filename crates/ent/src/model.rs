//! The school directory as the ENT exports it (`docs/directory.md`,
//! `../shared/design/DIRECTORY.md`): structures, classes, users with one
//! profile each, parent–child links, and ENT groups.
//!
//! These types are the import format (serde) and the shape the store keeps.

use serde::{Deserialize, Serialize};

/// A user's profile (one per user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Student,
    Relative,
    Teacher,
    Personnel,
    Guest,
}

impl Profile {
    pub const ALL: [Profile; 5] = [
        Profile::Student,
        Profile::Relative,
        Profile::Teacher,
        Profile::Personnel,
        Profile::Guest,
    ];

    /// The wire/database name (`student`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Student => "student",
            Profile::Relative => "relative",
            Profile::Teacher => "teacher",
            Profile::Personnel => "personnel",
            Profile::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The French label shown to users (Élève, Parent, Enseignant, Personnel, Invité).
    pub fn label_fr(self) -> &'static str {
        match self {
            Profile::Student => "Élève",
            Profile::Relative => "Parent",
            Profile::Teacher => "Enseignant",
            Profile::Personnel => "Personnel",
            Profile::Guest => "Invité",
        }
    }

    /// The English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Profile::Student => "Student",
            Profile::Relative => "Parent",
            Profile::Teacher => "Teacher",
            Profile::Personnel => "Staff",
            Profile::Guest => "Guest",
        }
    }
}

/// A school (an "établissement", identified by its UAI for instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structure {
    pub id: String,
    pub name: String,
}

/// A class of one structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Class {
    pub id: String,
    pub structure: String,
    pub name: String,
}

/// A person. Their JID is `login@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    pub last_name: String,
    pub first_name: String,
    pub profile: Profile,
    #[serde(default)]
    pub structures: Vec<String>,
    /// Classes the user belongs to (a pupil) or teaches (a teacher).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Logins of the user's children (relatives only).
    #[serde(default)]
    pub children: Vec<String>,
    /// Optional password for standalone use; stored only as SCRAM keys.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// Structures this user administers (a local administrator, « correspondant ENT »):
    /// ids of structures of the same snapshot. Each import replaces these grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_of: Vec<String>,
    /// The user's functions in his structures, as the ENT knows them (lowercase words:
    /// `cpe`, `direction`, …; others are kept and shown, not interpreted). A teacher or
    /// staff member with a [`SAFETY_FUNCTIONS`] function receives his structures'
    /// reports until the school names its safety staff (docs/safety.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
}

/// The functions whose holders read their structures' reports by default: the CPE
/// (conseiller principal d'éducation) and the school's direction.
pub const SAFETY_FUNCTIONS: [&str; 2] = ["cpe", "direction"];

impl User {
    /// « NOM Prénom »: the last name in capitals, then the first name.
    pub fn display_name(&self) -> String {
        display_name(&self.last_name, &self.first_name)
    }

    /// Whether he reads his structures' reports when they name no safety staff: an
    /// adult of the school (teacher or staff) with a CPE or direction function.
    pub fn has_safety_function(&self) -> bool {
        matches!(self.profile, Profile::Teacher | Profile::Personnel)
            && self
                .functions
                .iter()
                .any(|f| SAFETY_FUNCTIONS.contains(&f.as_str()))
    }
}

/// « NOM Prénom » from its parts.
pub fn display_name(last_name: &str, first_name: &str) -> String {
    format!("{} {}", last_name.trim().to_uppercase(), first_name.trim())
}

/// An ENT group: any set of users, made by an administrator; its members may
/// reach each other whatever their profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub structure: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

/// A full directory snapshot, as imported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default)]
    pub structures: Vec<Structure>,
    #[serde(default)]
    pub classes: Vec<Class>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
    /// The collectivités and the structures each covers (`crate::collectivite`). None
    /// when the document has no `collectivites` list: an import then leaves the stored
    /// ones as they are; a list (even empty) replaces them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collectivites: Option<Vec<Collectivite>>,
}

impl Snapshot {
    /// The collectivités it carries (none when it has no list).
    pub fn collectivites(&self) -> &[Collectivite] {
        self.collectivites.as_deref().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_is_nom_prenom() {
        assert_eq!(display_name("Martin", " Léa"), "MARTIN Léa");
        assert_eq!(
            display_name("de la Fontaine", "Jean"),
            "DE LA FONTAINE Jean"
        );
    }

    #[test]
    fn profiles_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.as_str()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert_eq!(Profile::parse("pupil"), None);
    }
}

/// What kind of local authority a collectivité is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectiviteKind {
    /// A région (lycées).
    Region,
    /// A département (collèges).
    Departement,
    /// A commune (écoles).
    Commune,
}

impl CollectiviteKind {
    pub const ALL: [CollectiviteKind; 3] = [
        CollectiviteKind::Region,
        CollectiviteKind::Departement,
        CollectiviteKind::Commune,
    ];

    /// The wire/database name (`region`, `departement`, `commune`).
    pub fn as_str(self) -> &'static str {
        match self {
            CollectiviteKind::Region => "region",
            CollectiviteKind::Departement => "departement",
            CollectiviteKind::Commune => "commune",
        }
    }

    pub fn parse(s: &str) -> Option<CollectiviteKind> {
        CollectiviteKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The French label (Région, Département, Commune).
    pub fn label_fr(self) -> &'static str {
        match self {
            CollectiviteKind::Region => "Région",
            CollectiviteKind::Departement => "Département",
            CollectiviteKind::Commune => "Commune",
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
    pub kind: CollectiviteKind,
    /// Ids of the structures it covers.
    #[serde(default)]
    pub structures: Vec<String>,
}
