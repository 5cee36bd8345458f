//! XEP-0115 entity capabilities the server learnt: which features (for PEP, which
//! `NODE+notify`) a client's capabilities hash stands for, and the disco#info queries the
//! server sent to learn new ones.
//!
//! Memory is bounded both ways: at most `capacity` hashes are remembered (the oldest
//! learnt is forgotten first, and asked again when seen), and at most [`MAX_PENDING`]
//! queries wait for their answer, each for [`PENDING_TTL`]. A hash whose answer matched it
//! (verified, SHA-1) is shared by every client that presents it; one that could not be
//! verified is remembered for that full JID only, so a client cannot teach others' hashes
//! a lie. The keys are built by the caller (`features::caps`); this service only keeps them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queries waiting for their answer at once; past it the oldest is forgotten.
pub const MAX_PENDING: usize = 256;
/// How long the answer to a query is awaited.
pub const PENDING_TTL: Duration = Duration::from_secs(60);

/// A disco#info query the server sent to learn a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The full JID asked (the only one whose answer counts).
    pub to: String,
    /// The caps `node` and `ver` presented.
    pub node: String,
    pub ver: String,
    /// The caps `hash` algorithm named (`sha-1` is the one verified).
    pub hash: String,
}

#[derive(Debug, Default)]
struct Inner {
    known: HashMap<String, Arc<[String]>>,
    order: VecDeque<String>,
    pending: VecDeque<(String, Query, Instant)>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Caps {
    capacity: usize,
    inner: Mutex<Inner>,
    /// The other nodes, told of what this one learns (several nodes).
    remote: std::sync::OnceLock<Arc<super::remote::Remote>>,
}

impl Caps {
    pub fn new(capacity: usize) -> Caps {
        Caps {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
            remote: std::sync::OnceLock::new(),
        }
    }

    /// Tells the other nodes what this one learns from now on (several nodes, at start):
    /// a session of another node is notified by the node of the publisher, which must
    /// know its capabilities too.
    pub fn join_cluster(&self, remote: Arc<super::remote::Remote>) {
        let _ = self.remote.set(remote);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update is a single operation: a poisoned map is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The features `key` stands for, if learnt.
    pub fn get(&self, key: &str) -> Option<Arc<[String]>> {
        self.lock().known.get(key).cloned()
    }

    /// Remembers the features of `key`, forgetting the oldest past the capacity; the
    /// other nodes learn it too.
    pub fn learn(&self, key: String, features: Vec<String>) {
        if let Some(r) = self.remote.get() {
            r.send(super::remote::Outgoing::Invalidate(
                super::remote::Invalidation::Caps {
                    key: key.clone(),
                    features: features.clone(),
                },
            ));
        }
        self.learn_here(key, features);
    }

    /// [`Self::learn`] on this node only (another node learnt it).
    pub fn learn_here(&self, key: String, features: Vec<String>) {
        let mut inner = self.lock();
        if inner.known.insert(key.clone(), features.into()).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.known.remove(&old);
            }
        }
    }

    /// Whether a query for `ver` to `to` is already waiting.
    pub fn asking(&self, to: &str, ver: &str) -> bool {
        self.lock()
            .pending
            .iter()
            .any(|(_, q, _)| q.to == to && q.ver == ver)
    }

    /// Remembers the query `id` sent.
    pub fn expect(&self, id: String, query: Query) {
        self.expect_at(id, query, Instant::now());
    }

    fn expect_at(&self, id: String, query: Query, now: Instant) {
        let mut inner = self.lock();
        while inner
            .pending
            .front()
            .is_some_and(|(_, _, at)| now.duration_since(*at) >= PENDING_TTL)
            || inner.pending.len() >= MAX_PENDING
        {
            inner.pending.pop_front();
        }
        inner.pending.push_back((id, query, now));
    }

    /// The query an answer with `id` from `from` answers, once.
    pub fn answered(&self, id: &str, from: &str) -> Option<Query> {
        self.answered_at(id, from, Instant::now())
    }

    fn answered_at(&self, id: &str, from: &str, now: Instant) -> Option<Query> {
        let mut inner = self.lock();
        let i = inner.pending.iter().position(|(qid, q, at)| {
            qid == id && q.to == from && now.duration_since(*at) < PENDING_TTL
        })?;
        inner.pending.remove(i).map(|(_, q, _)| q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(to: &str, ver: &str) -> Query {
        Query {
            to: to.into(),
            node: "n".into(),
            ver: ver.into(),
            hash: "sha-1".into(),
        }
    }

    #[test]
    fn learnt_hashes_are_bounded() {
        let c = Caps::new(2);
        c.learn("a".into(), vec!["x+notify".into()]);
        c.learn("b".into(), vec![]);
        c.learn("a".into(), vec!["y+notify".into()]);
        assert_eq!(&*c.get("a").unwrap(), ["y+notify".to_string()]);
        c.learn("c".into(), vec![]);
        assert!(c.get("a").is_none(), "the oldest went");
        assert!(c.get("b").is_some() && c.get("c").is_some());
    }

    #[test]
    fn an_answer_answers_one_query_from_whom_it_was_sent_to() {
        let c = Caps::new(10);
        let t0 = Instant::now();
        c.expect_at("q1".into(), q("a@x/r", "V"), t0);
        assert!(c.asking("a@x/r", "V"));
        assert!(
            c.answered_at("q1", "b@x/r", t0).is_none(),
            "not from another"
        );
        assert!(c.answered_at("q2", "a@x/r", t0).is_none());
        assert_eq!(c.answered_at("q1", "a@x/r", t0), Some(q("a@x/r", "V")));
        assert!(c.answered_at("q1", "a@x/r", t0).is_none(), "once");
        c.expect_at("q3".into(), q("a@x/r", "V"), t0);
        assert!(
            c.answered_at("q3", "a@x/r", t0 + PENDING_TTL).is_none(),
            "expired"
        );
        for i in 0..=MAX_PENDING {
            c.expect_at(format!("n{i}"), q("a@x/r", "V"), t0);
        }
        assert!(c.answered_at("n0", "a@x/r", t0).is_none(), "bounded");
        assert!(c.answered_at("n1", "a@x/r", t0).is_some());
    }
}
