//! What the administration (the admin API of `causerie-web`) needs from the running
//! server: a user's sessions and their disconnection, and the live figures (messages per
//! minute, rooms open, uptime). Closing the sessions that an access change or an account
//! lock refuses is not done here: every change moves the directory generation, and the
//! server enforces each new generation (`enforce`).
//!
//! Nothing here is on a stanza's path (the counters are `services::stats`).

pub use crate::services::sessions::SessionInfo;
pub use crate::services::stats::Stats;

use crate::server::Server;

/// The text of the stream error that ends sessions closed by an administrator.
pub const CLOSED_BY_ADMIN: &str = "Un administrateur a fermé ta session. — \
     An administrator closed your session.";

impl Server {
    /// The bound sessions of `user`.
    pub fn sessions_of(&self, user: &str) -> Vec<SessionInfo> {
        self.sessions.described(user)
    }

    /// Whether `user` has a bound session.
    pub fn is_online(&self, user: &str) -> bool {
        self.sessions.is_online(user)
    }

    /// Users with at least one bound session, sorted.
    pub fn online_users(&self) -> Vec<String> {
        self.sessions.users()
    }

    /// Closes every session of `user` with `<policy-violation/>` and a text saying an
    /// administrator did it; the number of sessions asked to close.
    pub fn disconnect_user(&self, user: &str) -> usize {
        self.sessions
            .close_user(user, "policy-violation", Some(CLOSED_BY_ADMIN))
    }

    /// Rooms with at least one occupant.
    pub fn rooms_open(&self) -> usize {
        self.rooms.open_count()
    }
}
