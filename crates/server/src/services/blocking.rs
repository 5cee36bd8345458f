//! The blocklists (XEP-0191): whom each account blocked, kept in memory for the gate.
//!
//! The gate asks, for every stanza between two accounts, whether either blocked the
//! other; asking the store each time would cost a query per stanza. Blocklists are few and
//! short (an account blocks a handful of people, most block nobody), so every non-empty
//! list is loaded once at start ([`Blocklists::load`]) and kept in memory, and every
//! change goes through [`Blocklists::block`] / [`Blocklists::unblock`], which write the
//! store, then the memory (this service is the only writer of the `blocklist` table).
//! With no list at all, a decision costs one atomic load. The lists are per process: a
//! deployment of several nodes must broadcast the changes, as for the contacts' cache.
//!
//! Entries are normalised JIDs (bare, full, or a domain). A stanza from `from` (a full
//! JID) is blocked by a list holding its full JID, its bare JID or its domain (XEP-0191
//! §3.5, after XEP-0016's order of matching).
//!
//! With several nodes, each write is told to the other nodes ([`Remote`]'s
//! [`Invalidation::Blocklist`]), which read that list again ([`Blocklists::reload`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use causerie_store::{BlockStore, Store};

use super::remote::{Invalidation, Outgoing, Remote};

type Result<T> = causerie_store::Result<T>;

/// See the module docs.
pub struct Blocklists {
    store: Store,
    mem: Lists,
    /// Serialises writers, so the memory follows the store's order.
    writing: tokio::sync::Mutex<()>,
    /// The other nodes, told of each write.
    remote: std::sync::OnceLock<Arc<Remote>>,
}

/// The lists in memory.
#[derive(Default)]
struct Lists {
    /// Non-empty lists only, each sorted.
    lists: RwLock<HashMap<String, Arc<[String]>>>,
    /// How many lists are non-empty (the gate's fast path when none is).
    count: AtomicUsize,
}

impl Blocklists {
    pub fn new(store: Store) -> Blocklists {
        Blocklists {
            store,
            mem: Lists::default(),
            writing: tokio::sync::Mutex::new(()),
            remote: std::sync::OnceLock::new(),
        }
    }

    /// Tells the other nodes of each write from now on (several nodes, at start).
    pub fn join_cluster(&self, remote: Arc<Remote>) {
        let _ = self.remote.set(remote);
    }

    fn told(&self, user: &str) {
        if let Some(r) = self.remote.get() {
            r.send(Outgoing::Invalidate(Invalidation::Blocklist(
                user.to_string(),
            )));
        }
    }

    /// Reads `user`'s list again (another node changed it).
    pub async fn reload(&self, user: &str) -> Result<()> {
        let _w = self.writing.lock().await;
        let mut list = self.store.blocklist(user).await?;
        list.sort_unstable();
        self.mem.set(user, list);
        Ok(())
    }

    /// Loads every list from the store (at start).
    pub async fn load(&self) -> Result<()> {
        let _w = self.writing.lock().await;
        let all = self.store.blocklists().await?;
        for (user, jids) in all {
            self.mem.set(&user, jids);
        }
        Ok(())
    }

    /// `user`'s list, sorted (empty when he blocked nobody).
    pub fn list(&self, user: &str) -> Arc<[String]> {
        self.mem.list(user)
    }

    /// Whether anyone blocked anyone.
    pub fn any(&self) -> bool {
        self.mem.count.load(Ordering::Relaxed) > 0
    }

    /// Whether `user` blocked `jid` (a full or bare JID, or a domain): his list holds it,
    /// its bare JID or its domain.
    pub fn blocks(&self, user: &str, jid: &str) -> bool {
        self.mem.blocks(user, jid)
    }

    /// Adds `jids` (normalised) to `user`'s list; the ones that were not there yet.
    pub async fn block(&self, user: &str, jids: &[String]) -> Result<Vec<String>> {
        let _w = self.writing.lock().await;
        let before = self.list(user);
        let added: Vec<String> = dedup(jids)
            .into_iter()
            .filter(|j| !before.contains(j))
            .collect();
        if added.is_empty() {
            return Ok(added);
        }
        self.store.block(user, &added).await?;
        let mut list: Vec<String> = before.iter().cloned().chain(added.clone()).collect();
        list.sort_unstable();
        self.mem.set(user, list);
        self.told(user);
        Ok(added)
    }

    /// Removes `jids` from `user`'s list, or everything when `jids` is empty (XEP-0191
    /// §3.4); the ones that were there.
    pub async fn unblock(&self, user: &str, jids: &[String]) -> Result<Vec<String>> {
        let _w = self.writing.lock().await;
        let before = self.list(user);
        let removed: Vec<String> = if jids.is_empty() {
            before.to_vec()
        } else {
            dedup(jids)
                .into_iter()
                .filter(|j| before.contains(j))
                .collect()
        };
        if removed.is_empty() {
            return Ok(removed);
        }
        if jids.is_empty() {
            self.store.unblock_all(user).await?;
        } else {
            self.store.unblock(user, &removed).await?;
        }
        let list: Vec<String> = before
            .iter()
            .filter(|j| !removed.contains(j))
            .cloned()
            .collect();
        self.mem.set(user, list);
        self.told(user);
        Ok(removed)
    }
}

impl Lists {
    /// `user`'s list, sorted (empty when he blocked nobody).
    fn list(&self, user: &str) -> Arc<[String]> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return Arc::new([]);
        }
        self.lists
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
            .cloned()
            .unwrap_or_else(|| Arc::new([]))
    }

    /// Whether `user` blocked `jid` (a full or bare JID, or a domain): his list holds it,
    /// its bare JID or its domain.
    fn blocks(&self, user: &str, jid: &str) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        let Some(list) = lists.get(user) else {
            return false;
        };
        let has = |j: &str| list.binary_search_by(|e| e.as_str().cmp(j)).is_ok();
        let bare = jid.split_once('/').map_or(jid, |(b, _)| b);
        let domain = bare.split_once('@').map_or(bare, |(_, d)| d);
        has(jid) || has(bare) || has(domain)
    }

    fn set(&self, user: &str, list: Vec<String>) {
        let mut lists = self.lists.write().unwrap_or_else(|e| e.into_inner());
        if list.is_empty() {
            lists.remove(user);
        } else {
            lists.insert(user.to_string(), list.into());
        }
        self.count.store(lists.len(), Ordering::SeqCst);
    }
}

fn dedup(jids: &[String]) -> Vec<String> {
    let mut v = jids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_blocks_a_full_jid_by_itself_its_bare_jid_or_its_domain() {
        let b = Lists::default();
        assert!(!b.blocks("lea", "hugo@x/pc"), "nobody blocked anyone");
        b.set(
            "lea",
            vec!["evil.example".into(), "hugo@x".into(), "zoe@x/phone".into()],
        );
        assert!(b.blocks("lea", "hugo@x/pc"));
        assert!(b.blocks("lea", "hugo@x"));
        assert!(b.blocks("lea", "zoe@x/phone"));
        assert!(!b.blocks("lea", "zoe@x/pc"), "another resource");
        assert!(!b.blocks("lea", "zoe@x"));
        assert!(b.blocks("lea", "anyone@evil.example/r"));
        assert!(!b.blocks("hugo", "lea@x"), "lists are per account");
        b.set("lea", Vec::new());
        assert!(!b.blocks("lea", "hugo@x"));
        assert_eq!(b.count.load(Ordering::SeqCst), 0);
    }
}
