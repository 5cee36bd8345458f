//! The school directory and its communication rules, as pure functions: no
//! I/O, no async runtime, no database.
//!
//! - [`aaf`]: the académie's directory feed (AAF exports) mapped onto a [`Snapshot`],
//!   with a report of what was skipped and why.
//! - [`app_passwords`]: who may have app passwords (« Mots de passe d'application »),
//!   per structure and profile.
//! - [`access`]: whether an account may use the chat at all ([`access::decide`]).
//! - [`collectivite`]: régions, départements, communes above their schools, and a
//!   structure's effective chat access under them ([`collectivite::effective`]).
//! - [`model`]: structures, classes, users, groups, the import snapshot.
//! - [`validate`]: parsing and validating an import ([`parse_snapshot`]).
//! - [`rules`]: communication rules, their defaults and JSON form.
//! - [`policy`]: decisions ([`Decision`]) and how rules read both ways.
//! - [`directory`]: the indexed directory the server asks on every stanza
//!   ([`Directory::may_reach`], [`Directory::search`]).
//! - [`fold`]: case and accent folding for search.
//! - [`retention`]: how long a structure keeps its users' one-to-one archives.
//! - [`upload`]: file sharing (XEP-0363) as each structure allows it.
//! - [`quiet`]: quiet hours (« Heures calmes »): when a profile is not disturbed.
//! - [`shutdown`]: the kill switch (« Coupure »): who may still send, in each mode.
//! - [`profile_policy`]: what a pupil may publish about himself (no OMEMO, photos per
//!   structure, the school's name).
//! - [`register`]: « tu » or « vous »: the server's texts in the reader's register
//!   ([`Text`], [`Register`]).

pub mod aaf;
pub mod access;
pub mod app_passwords;
pub mod collectivite;
pub mod directory;
pub mod fold;
pub mod model;
pub mod policy;
pub mod profile_policy;
pub mod quiet;
pub mod register;
pub mod retention;
pub mod rules;
pub mod shutdown;
pub mod upload;
pub mod validate;

pub use access::{Access, Denied};
pub use directory::{Directory, SearchHit, SearchQuery};
pub use fold::fold;
pub use model::{Class, Group, Profile, Snapshot, Structure, User, display_name};
pub use model::{Collectivite, CollectiviteKind};
pub use policy::{Decision, DenyReason, Why};
pub use quiet::{Quiet, QuietHours, QuietWindow, TimeOfDay};
pub use register::{Register, Text};
pub use retention::{Retention, YearStart};
pub use rules::{Rule, RuleError, Scope, default_rules, parse_rules, validate_rules};
pub use shutdown::{Mode as ShutdownMode, Shutdown};
pub use upload::UploadSettings;
pub use validate::{
    ImportError, MAX_ID_LEN, MAX_NAME_CHARS, Refs, check_class, check_collectivite, check_group,
    check_structure, check_user, is_valid_login, parse_snapshot, validate, validate_all,
};
