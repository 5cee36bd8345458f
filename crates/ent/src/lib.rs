//! The school directory and its communication rules, as pure functions: no
//! I/O, no async runtime, no database.
//!
//! - [`model`]: structures, classes, users, groups, the import snapshot.

pub mod model;

pub use model::{Class, Group, Profile, Snapshot, Structure, User, display_name};
