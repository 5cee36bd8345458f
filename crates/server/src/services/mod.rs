//! The services: the server's state, each owned by one type with methods only, so that
//! no feature changes it behind the others' backs.
//!
//! - [`policy`]: the school's directory as applied now (rules, access, locks), reloaded
//!   when the directory generation moves, atomically for stanzas.
//! - [`gate`]: the one decision of who may send what to whom, and the [`pass::Pass`] it
//!   hands out.
//! - [`sessions`]: the registry of bound sessions, which delivers only against a pass;
//!   [`remote`]: the other nodes' sessions as this node knows them, and the outbox of
//!   what it tells them (several nodes, `crate::cluster`).
//! - [`blocking`]: the blocklists (XEP-0191), in memory for the gate.
//! - [`contacts`]: the only writer of rosters, requests and refusals, with its cache.
//! - [`rooms`]: who is in which room right now; [`archive`]: the writer of the rooms' and
//!   the accounts' archives (and their durability, [`archive::Archiver::durable`]);
//!   [`retention`]: the accounts' archive purged past each structure's retention.
//! - [`caps`]: the client capabilities (XEP-0115) learnt, for PEP notifications.
//! - [`stats`]: the live view's counters.
//! - [`components`]: the external components (XEP-0114) configured and connected, and
//!   the server's requests awaiting their answers; [`push`]: the pace of push
//!   notifications (XEP-0357), coalesced per account.
//! - [`uploads`]: shared files' signing key, directory and URLs (XEP-0363).
//! - [`report_pace`]: the pace of report attempts (XEP-0377), per account.
//! - [`quiet`]: quiet hours remembered: senders already told, the windows' last phases.
//! - [`rates`]: what each account sent lately, against its profile's rate limits (the
//!   gate counts).
//!
//! None of them imports the server or the features: they take what they need (the store,
//! the domain) when made.

pub mod archive;
pub mod blocking;
pub mod caps;
pub mod components;
pub mod contacts;
pub mod gate;
pub mod pass;
pub mod policy;
pub mod push;
pub mod quiet;
pub mod rates;
pub mod remote;
pub mod report_pace;
pub mod retention;
pub mod rooms;
pub mod sessions;
pub mod stats;
pub mod uploads;

pub use archive::{Archiver, Mark, NotDurable};
pub use blocking::Blocklists;
pub use caps::Caps;
pub use components::Components;
pub use contacts::Contacts;
pub use gate::{Class, Gate, Sender, Verdict};
pub use pass::Pass;
pub use policy::{Policy, View};
pub use push::Pushes;
pub use rooms::Rooms;
pub use sessions::Sessions;
