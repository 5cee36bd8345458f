//! The mutual contacts of the users who are chatting, in memory.
//!
//! The seed's rule "one chats only with contacts who accepted" is checked on
//! every 1:1 message between directory users ([`Server::may_message`]). Asking
//! the store each time cost a query per message, about a third of the server's
//! CPU per message in the benchmark (BENCHMARKS.md, F4). Like Prosody and
//! ejabberd, which keep the rosters of connected users in memory, this keeps,
//! for each user who sent a message since his sessions began, the set of his
//! mutual contacts (subscription `both`).
//!
//! Correctness rests on one rule: every roster write of this process goes
//! through [`Server::put_roster_item`] / [`Server::remove_roster_item`], which
//! drop the user's entry after the write. A load that raced with a write is
//! not kept (the write counter changed meanwhile), so a stale set is never
//! stored. Entries go when the user's last session ends. The cache is per
//! process: a deployment of several nodes must broadcast the drops (the same
//! way it will broadcast sessions), which is why nothing else reads rosters
//! from here.
//!
//! Contacts are kept as 64-bit keyed hashes of their localparts (sorted, 8
//! bytes each), not strings: a few hundred bytes per chatting user. The keys
//! of the hasher are random per process, so nobody can choose a login that
//! collides with another.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use causerie_store::{RosterItem, RosterStore, Subscription};

use crate::Server;

/// See the module docs.
#[derive(Default)]
pub struct Contacts {
    sets: RwLock<HashMap<String, Arc<[u64]>>>,
    /// Incremented by every roster write (after it committed).
    writes: AtomicU64,
    hasher: RandomState,
}

impl Contacts {
    fn key(&self, contact: &str) -> u64 {
        self.hasher.hash_one(contact)
    }

    fn get(&self, user: &str) -> Option<Arc<[u64]>> {
        self.sets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
            .cloned()
    }

    /// Stores `user`'s mutual contacts read from the store, unless a roster
    /// write happened since `seen` (the counter before the read).
    fn keep(&self, user: &str, seen: u64, set: Arc<[u64]>) {
        let mut sets = self.sets.write().unwrap_or_else(|e| e.into_inner());
        if self.writes.load(Ordering::SeqCst) == seen {
            sets.insert(user.to_string(), set);
        }
    }

    /// Drops `user`'s entry (his roster changed, or he left).
    pub fn forget(&self, user: &str) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.sets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(user);
    }
}

impl Server {
    /// Whether `to` (a localpart) is a mutual contact of `from` on this server.
    pub(crate) async fn is_mutual_contact(
        &self,
        from: &str,
        to: &str,
    ) -> causerie_store::Result<bool> {
        let key = self.contacts.key(to);
        if let Some(set) = self.contacts.get(from) {
            return Ok(set.binary_search(&key).is_ok());
        }
        let seen = self.contacts.writes.load(Ordering::SeqCst);
        let roster = self.store.roster(from).await?;
        let suffix = format!("@{}", self.domain);
        let mut keys: Vec<u64> = roster
            .iter()
            .filter(|i| i.subscription == Subscription::Both)
            .filter_map(|i| i.contact.strip_suffix(&suffix))
            .map(|node| self.contacts.key(node))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let found = keys.binary_search(&key).is_ok();
        // Only for a user who is still here: the entry goes with his last session.
        if !self.sessions.all(from).is_empty() {
            self.contacts.keep(from, seen, keys.into());
        }
        Ok(found)
    }

    /// Writes a roster item: the only way this process changes a roster (see
    /// the module docs of `contacts`).
    pub async fn put_roster_item(
        &self,
        user: &str,
        item: &RosterItem,
    ) -> causerie_store::Result<()> {
        let r = self.store.put_roster_item(user, item).await;
        self.contacts.forget(user);
        r
    }

    /// Removes a roster item (see [`Server::put_roster_item`]).
    pub async fn remove_roster_item(
        &self,
        user: &str,
        contact: &str,
    ) -> causerie_store::Result<bool> {
        let r = self.store.remove_roster_item(user, contact).await;
        self.contacts.forget(user);
        r
    }
}
