//! The contacts service: the only writer of rosters, pending subscription requests and
//! refusals, and the keeper of the mutual contacts of the users who are chatting.
//!
//! Features read and change rosters through [`Contacts`] only (never through the store's
//! `RosterStore`), so that every write drops what the cache knew of that roster.
//!
//! The seed's rule "one chats only with contacts who accepted" is checked on every 1:1
//! message between directory users (by the gate). Asking the store each time cost a query
//! per message, about a third of the server's CPU per message in the benchmark
//! (BENCHMARKS.md, F4). Like Prosody and ejabberd, which keep the rosters of connected
//! users in memory, this keeps, for each user who sent a message since his sessions began,
//! the set of his mutual contacts (subscription `both`).
//!
//! Correctness rests on one rule: every roster write goes through [`Contacts::put`] /
//! [`Contacts::remove`], which drop the user's entry after the write. A load that raced
//! with a write is not kept (the write counter changed meanwhile), so a stale set is never
//! stored. Entries go when the user's last session ends ([`Contacts::forget`]). The cache
//! is per process: with several nodes each write is told to the others
//! ([`Invalidation::Roster`]), which drop their entry too ([`Contacts::forget`]).
//!
//! Contacts are kept as 64-bit keyed hashes of their localparts (sorted, 8 bytes each),
//! not strings: a few hundred bytes per chatting user. The keys of the hasher are random
//! per process, so nobody can choose a login that collides with another.
//!
//! It also hands the roster a client just fetched (the roster get of a login; with a
//! `ver` already current, the roster read but not sent) to the initial presence that
//! follows it, so that a login reads the roster once, not twice
//! ([`Contacts::roster_for_client`], [`Contacts::roster_with_version_for_client`],
//! [`Contacts::roster_for_presence`]). Such a roster is taken by the first presence,
//! dropped by a write like the sets, and ignored after [`LOGIN_ROSTER_TTL`]: nothing
//! stays for idle users.
//!
//! A refused contact request is final for the pair ([`Contacts::refuse`]): the requester's
//! later requests are not delivered to the refuser until he asks the requester himself.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use causerie_store::{RosterItem, RosterStore, Store, Subscription};

use super::remote::{Invalidation, Outgoing, Remote};

type Result<T> = causerie_store::Result<T>;

/// See the module docs.
pub struct Contacts {
    store: Store,
    /// The served domain (contacts of this server are `localpart@domain`).
    domain: String,
    cache: Cache,
    /// The other nodes, told of each write.
    remote: std::sync::OnceLock<Arc<Remote>>,
}

/// What the service keeps in memory (see the module docs).
#[derive(Default)]
struct Cache {
    sets: RwLock<HashMap<String, Arc<[u64]>>>,
    /// Incremented by every roster write (after it committed).
    writes: AtomicU64,
    hasher: RandomState,
    /// Rosters just read for a client's roster get, for its initial presence.
    fetched: Mutex<HashMap<String, Fetched>>,
}

/// A roster read for a client's roster get, and when.
type Fetched = (Instant, Arc<[RosterItem]>);

/// How long a roster read for a client's roster get may stand for the store's for the
/// initial presence that follows.
pub const LOGIN_ROSTER_TTL: Duration = Duration::from_secs(2);

impl Cache {
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
    fn forget(&self, user: &str) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.sets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(user);
        self.fetched_map().remove(user);
    }

    fn fetched_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fetched>> {
        self.fetched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the roster just read for `user`'s roster get, unless a roster write happened
    /// since `seen`; forgets the expired ones on the way.
    fn keep_fetched(&self, user: &str, seen: u64, roster: Arc<[RosterItem]>) {
        let mut fetched = self.fetched_map();
        let now = Instant::now();
        fetched.retain(|_, (at, _)| now.duration_since(*at) < LOGIN_ROSTER_TTL);
        if self.writes.load(Ordering::SeqCst) == seen {
            fetched.insert(user.to_string(), (now, roster));
        }
    }

    /// Takes the roster `user` was sent less than [`LOGIN_ROSTER_TTL`] ago.
    fn take_fetched(&self, user: &str) -> Option<Arc<[RosterItem]>> {
        let (at, roster) = self.fetched_map().remove(user)?;
        (at.elapsed() < LOGIN_ROSTER_TTL).then_some(roster)
    }
}

impl Contacts {
    pub fn new(store: Store, domain: &str) -> Contacts {
        Contacts {
            store,
            domain: domain.to_string(),
            cache: Cache::default(),
            remote: std::sync::OnceLock::new(),
        }
    }

    /// Whether `to` (a localpart) is a mutual contact of `from` on this server. `keep`:
    /// remember `from`'s contacts (he is connected; the entry goes with his last session).
    pub async fn is_mutual(&self, from: &str, to: &str, keep: bool) -> Result<bool> {
        let key = self.cache.key(to);
        if let Some(set) = self.cache.get(from) {
            return Ok(set.binary_search(&key).is_ok());
        }
        let seen = self.cache.writes.load(Ordering::SeqCst);
        let roster = self.store.roster(from).await?;
        let suffix = format!("@{}", self.domain);
        let mut keys: Vec<u64> = roster
            .iter()
            .filter(|i| i.subscription == Subscription::Both)
            .filter_map(|i| i.contact.strip_suffix(&suffix))
            .map(|node| self.cache.key(node))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let found = keys.binary_search(&key).is_ok();
        if keep {
            self.cache.keep(from, seen, keys.into());
        }
        Ok(found)
    }

    /// `user`'s whole roster.
    pub async fn roster(&self, user: &str) -> Result<Arc<[RosterItem]>> {
        Ok(self.store.roster(user).await?.into())
    }

    /// `user`'s roster for his client's roster get, kept for the initial
    /// presence that usually follows (see the module docs).
    pub async fn roster_for_client(&self, user: &str) -> Result<Arc<[RosterItem]>> {
        let seen = self.cache.writes.load(Ordering::SeqCst);
        let roster: Arc<[RosterItem]> = self.store.roster(user).await?.into();
        self.cache.keep_fetched(user, seen, roster.clone());
        Ok(roster)
    }

    /// `user`'s roster and its version, read together, for a versioned roster get
    /// (RFC 6121 §2.6); the roster is kept for the initial presence as
    /// [`Self::roster_for_client`] keeps it, whether the client gets it or not.
    pub async fn roster_with_version_for_client(
        &self,
        user: &str,
    ) -> Result<(i64, Arc<[RosterItem]>)> {
        let seen = self.cache.writes.load(Ordering::SeqCst);
        let (version, roster) = self.store.roster_with_version(user).await?;
        let roster: Arc<[RosterItem]> = roster.into();
        self.cache.keep_fetched(user, seen, roster.clone());
        Ok((version, roster))
    }

    /// `user`'s roster for his initial presence: the one read for his client's roster
    /// get if no write happened since, else the store's.
    pub async fn roster_for_presence(&self, user: &str) -> Result<Arc<[RosterItem]>> {
        match self.cache.take_fetched(user) {
            Some(roster) => Ok(roster),
            None => self.roster(user).await,
        }
    }

    /// `user`'s roster version (RFC 6121 §2.6), bumped by every write.
    pub async fn version(&self, user: &str) -> Result<i64> {
        self.store.roster_version(user).await
    }

    /// `user`'s item for `contact` (a bare JID).
    pub async fn item(&self, user: &str, contact: &str) -> Result<Option<RosterItem>> {
        self.store.roster_item(user, contact).await
    }

    /// Writes a roster item (see the module docs).
    pub async fn put(&self, user: &str, item: &RosterItem) -> Result<()> {
        let r = self.store.put_roster_item(user, item).await;
        self.wrote(user);
        r
    }

    /// Removes a roster item; true when there was one.
    pub async fn remove(&self, user: &str, contact: &str) -> Result<bool> {
        let r = self.store.remove_roster_item(user, contact).await;
        self.wrote(user);
        r
    }

    /// Keeps a subscription request from `from` (a bare JID) for `user` until answered.
    pub async fn add_pending_in(&self, user: &str, from: &str, stanza: &str) -> Result<()> {
        self.store.add_pending_in(user, from, stanza).await
    }

    /// Drops the request of `from` to `user`; true when there was one.
    pub async fn remove_pending_in(&self, user: &str, from: &str) -> Result<bool> {
        self.store.remove_pending_in(user, from).await
    }

    /// Whether a request of `from` to `user` waits.
    pub async fn has_pending_in(&self, user: &str, from: &str) -> Result<bool> {
        self.store.has_pending_in(user, from).await
    }

    /// `user` refused `requester`'s request (a bare JID) for good.
    pub async fn refuse(&self, user: &str, requester: &str) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        self.store.refuse(user, requester, now).await
    }

    /// Whether `user` refused `requester`'s request for good.
    pub async fn has_refused(&self, user: &str, requester: &str) -> Result<bool> {
        self.store.has_refused(user, requester).await
    }

    /// `user` asked `requester` himself: his refusal ends.
    pub async fn lift_refusal(&self, user: &str, requester: &str) -> Result<bool> {
        self.store.lift_refusal(user, requester).await
    }

    /// Whether accounts `a` and `b` (localparts) have anything to do with each other: a
    /// roster item of either for the other, or a request of either waiting for the other.
    pub async fn related(&self, a: &str, b: &str) -> Result<bool> {
        let (a_bare, b_bare) = (self.bare(a), self.bare(b));
        Ok(self.store.roster_item(a, &b_bare).await?.is_some()
            || self.store.roster_item(b, &a_bare).await?.is_some()
            || self.store.has_pending_in(a, &b_bare).await?
            || self.store.has_pending_in(b, &a_bare).await?)
    }

    /// Drops what is kept of `user`'s roster (his last session here ended, or another
    /// node wrote it).
    pub fn forget(&self, user: &str) {
        self.cache.forget(user);
    }

    /// Tells the other nodes of each write from now on (several nodes, at start).
    pub fn join_cluster(&self, remote: Arc<Remote>) {
        let _ = self.remote.set(remote);
    }

    /// `user`'s roster was written: this node's cache and the others' drop it.
    fn wrote(&self, user: &str) {
        self.cache.forget(user);
        if let Some(r) = self.remote.get() {
            r.send(Outgoing::Invalidate(Invalidation::Roster(user.to_string())));
        }
    }

    fn bare(&self, user: &str) -> String {
        format!("{user}@{}", self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(contact: &str) -> Arc<[RosterItem]> {
        vec![RosterItem {
            contact: contact.into(),
            name: None,
            subscription: Subscription::Both,
            ask: false,
            approved: false,
            refused: false,
            groups: Vec::new(),
        }]
        .into()
    }

    #[test]
    fn a_fetched_roster_is_taken_once_and_never_outlives_a_write() {
        let c = Cache::default();
        let seen = c.writes.load(Ordering::SeqCst);
        c.keep_fetched("lea", seen, roster("hugo@x"));
        assert_eq!(c.take_fetched("lea").unwrap()[0].contact, "hugo@x");
        assert!(c.take_fetched("lea").is_none(), "taken once");

        c.keep_fetched("lea", seen, roster("hugo@x"));
        c.forget("lea");
        assert!(c.take_fetched("lea").is_none(), "a write to it drops it");

        // A read that raced with a write (to anyone) is not kept.
        let seen = c.writes.load(Ordering::SeqCst);
        c.forget("anne");
        c.keep_fetched("lea", seen, roster("hugo@x"));
        assert!(c.take_fetched("lea").is_none());

        // An expired one is ignored, and forgotten at the next keep.
        let seen = c.writes.load(Ordering::SeqCst);
        c.fetched_map().insert(
            "old".into(),
            (Instant::now() - LOGIN_ROSTER_TTL, roster("a@x")),
        );
        c.keep_fetched("lea", seen, roster("hugo@x"));
        assert!(!c.fetched_map().contains_key("old"));
        c.fetched_map().insert(
            "old".into(),
            (Instant::now() - LOGIN_ROSTER_TTL, roster("a@x")),
        );
        assert!(c.take_fetched("old").is_none());
    }
}
