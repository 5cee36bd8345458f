//! The session registry: which resources of which account are bound here, what each
//! last said about its presence, and which IQ requests each is waiting an answer for.
//!
//! It hands out no handle to anyone outside the services: delivering to an account takes a
//! [`Pass`] to it, which the gate (`services::gate`) gives after deciding, so no feature
//! can write to someone else's session on its own. The router finds recipients only
//! through this registry (never through a process-wide global), so that running several
//! nodes means another implementation of the same calls, not a rewrite. Each session owns
//! a bounded queue; a session that does not read its queue is closed rather than allowed
//! to grow without bound.
//!
//! With several nodes (`crate::cluster`), the registry also holds the other nodes'
//! sessions as this node knows them ([`Remote`]): finding an account's sessions looks at
//! both, delivering to a remote one goes through the outbox to its node, and every change
//! of a local session's visible state (bound, presence, what it asked pushes for, ended)
//! is told to the other nodes ([`Sessions::publish`]). Session ids of remote sessions
//! have their top bit set ([`Remote::is_remote_id`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use causerie_proto::Element;

use super::pass::Pass;
use super::remote::{Remote, RemoteSession, SessionState};
use crate::outbound::Shared;
use crate::session::SessionHandle;
use crate::stream_mgmt::Resumption;

/// IQ requests one session may wait answers for at once; past it, the oldest is forgotten
/// (its answer will be dropped).
pub const MAX_PENDING_IQS: usize = 64;
/// How long an answer to a routed IQ request is accepted.
pub const PENDING_IQ_TTL: Duration = Duration::from_secs(120);

/// An IQ request a session sent to another account's full JID, awaiting its answer.
#[derive(Debug)]
struct PendingIq {
    /// The full JID the request was routed to (the only one that may answer).
    peer: String,
    id: String,
    at: Instant,
}

#[derive(Debug)]
struct Entry {
    handle: SessionHandle,
    /// The last available presence broadcast, `None` while unavailable.
    presence: Option<Element>,
    /// The same serialised once (`Shared::presence`), for the contacts it is written to.
    shared_presence: Option<Arc<Shared>>,
    priority: i32,
    /// The session asked for the roster, so it gets roster pushes (RFC 6121 §2.1.6).
    interested: bool,
    /// It asked for the roster with a version (RFC 6121 §2.6): pushes carry `ver`.
    roster_ver: bool,
    /// It asked for the blocklist, so it gets blocklist pushes (XEP-0191 §3.2).
    blocklist: bool,
    /// Bare or full JIDs this session sent directed presence to.
    directed: HashSet<String>,
    /// XEP-0280 message carbons enabled.
    carbons: bool,
    /// IQ requests routed to another account's full JID, oldest first.
    pending: VecDeque<PendingIq>,
    /// How and since when the session is connected (for the administrator).
    meta: Option<SessionMeta>,
    /// XEP-0198 resumption, when the session enabled it (its id and window).
    resumption: Option<Arc<Resumption>>,
    /// The portal's browser session it logged in from (single sign-on, `crate::sso::tag`),
    /// or the app password it logged in with (`crate::app_passwords::tag`).
    credential: Option<Box<str>>,
}

/// What the tag of a session opened with an app password starts with
/// (`crate::app_passwords::tag`); a portal session's tag is hex digits (`crate::sso::tag`).
pub const APP_PASSWORD_TAG: &str = "app-password:";

/// How a session is connected, as the administrator sees it.
#[derive(Debug, Clone)]
pub struct SessionMeta {
    /// `tcp` or `websocket`.
    pub transport: &'static str,
    /// The client's software and device, as its XEP-0388 `<user-agent/>` named them
    /// (`crate::sasl2::UserAgent::label`); None for a login that did not say.
    pub agent: Option<Arc<str>>,
    pub address: Option<std::net::SocketAddr>,
    pub since: std::time::SystemTime,
}

/// One bound session, as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub resource: String,
    /// `tcp` or `websocket`.
    pub transport: &'static str,
    pub since: std::time::SystemTime,
    pub address: Option<std::net::SocketAddr>,
    /// See [`SessionMeta::agent`].
    pub agent: Option<String>,
}

/// A bound session that has sent available presence, as features see it.
#[derive(Debug, Clone)]
pub struct Available {
    pub id: u64,
    pub resource: String,
    pub presence: Element,
    pub priority: i32,
}

/// What is left of a session after it is removed.
#[derive(Debug)]
pub struct Departed {
    pub was_available: bool,
    /// The status text of its last available presence.
    pub status: Option<String>,
    pub directed: HashSet<String>,
}

/// Which sessions of an account a push is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Roster pushes (RFC 6121 §2.1.6): the sessions that asked for the roster, and those
    /// that sent available presence — a client sends presence with a roster in hand, even
    /// one it kept from an earlier connection and did not ask for again (Converse after
    /// a page reload): without a push it would never see the change.
    Roster,
    /// Blocklist pushes (XEP-0191 §3.2): the sessions that asked for the blocklist.
    Blocklist,
}

/// The registry itself (see the module docs).
#[derive(Default, Debug)]
pub struct Sessions {
    inner: RwLock<HashMap<String, Vec<Entry>>>,
    arrivals: Arrivals,
    /// The other nodes' sessions, with several nodes.
    remote: std::sync::OnceLock<Arc<Remote>>,
}

/// Locks that serialise, per account, "no session is available: the message goes to
/// offline storage" with "a session becomes available and reads its offline storage"
/// ([`Sessions::arrival`]). Striped: a fixed number of locks, whichever accounts share
/// one only wait for each other in that rare moment.
#[derive(Debug)]
struct Arrivals([tokio::sync::Mutex<()>; ARRIVAL_STRIPES]);

const ARRIVAL_STRIPES: usize = 64;

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

/// Outcome of [`Sessions::register`].
pub enum Registered {
    /// Bound; a previous session with the same resource, if any, was replaced.
    Ok { replaced: Option<SessionHandle> },
    /// The account already has the maximum number of resources.
    TooMany,
}

/// Outcome of [`Sessions::deliver_full`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Queued for the session.
    Queued,
    /// The session's queue was full (it is being closed).
    Overflow,
    /// No session is bound to that resource.
    NoSuchResource,
}

impl Sessions {
    /// Held while a message for `user` is kept offline because none of his sessions is
    /// available, and while one of his sessions becomes available and reads what was kept
    /// (`features::message`, `features::presence`): either the message is committed
    /// before the session reads, or the session is available before the message looks.
    /// Nothing else is awaited under it but those steps.
    pub async fn arrival(&self, user: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        user.hash(&mut h);
        self.arrivals.0[(h.finish() as usize) % ARRIVAL_STRIPES]
            .lock()
            .await
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<Entry>>> {
        // A poisoned lock means a panic elsewhere while holding it; the map
        // itself is still consistent (every update is a single operation).
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Entry>>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn with_entry<T>(&self, user: &str, id: u64, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        self.write()
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
            .map(f)
    }

    // -- several nodes ------------------------------------------------------------------

    /// Makes this registry one node's of several (once, at start).
    pub fn join_cluster(&self, remote: Arc<Remote>) {
        let _ = self.remote.set(remote);
    }

    /// The other nodes' sessions, with several nodes.
    pub fn remote(&self) -> Option<&Arc<Remote>> {
        self.remote.get()
    }

    /// Tells the other nodes what session `id` of `user` looks like now (or that it
    /// ended, `resource` given): nothing with one node.
    fn publish(&self, user: &str, id: u64, ended: Option<&str>) {
        let Some(remote) = self.remote.get() else {
            return;
        };
        let (resource, state) = match ended {
            Some(r) => (r.to_string(), None),
            None => {
                let found = self.read().get(user).and_then(|l| {
                    l.iter().find(|e| e.handle.id == id).map(|e| {
                        (
                            e.handle.resource.clone(),
                            SessionState {
                                // The text kept for the contacts when there is one
                                // (the same presence, without `to`): copied, not
                                // serialised again under the registry's lock.
                                presence: match &e.shared_presence {
                                    Some(shared) => Some(shared.text().to_owned()),
                                    None => e.presence.as_ref().map(causerie_proto::xml::to_string),
                                },
                                priority: e.priority,
                                interested: e.interested,
                                roster_ver: e.roster_ver,
                                blocklist: e.blocklist,
                                carbons: e.carbons,
                            },
                        )
                    })
                });
                let Some((r, st)) = found else { return };
                (r, Some(st))
            }
        };
        remote.send(super::remote::Outgoing::Session {
            user: user.to_string(),
            resource,
            state,
        });
    }

    /// The remote sessions of `user` that `keep` selects (none with one node).
    fn remote_select(
        &self,
        user: &str,
        keep: impl Fn(&RemoteSession) -> bool,
    ) -> Vec<RemoteSession> {
        match self.remote.get() {
            Some(r) => r.select(user, keep),
            None => Vec::new(),
        }
    }

    fn remote_any(&self, user: &str, keep: impl Fn(&RemoteSession) -> bool) -> bool {
        self.remote.get().is_some_and(|r| r.any(user, keep))
    }

    /// The handle of the local session `user/resource`.
    fn handle_of(&self, user: &str, resource: &str) -> Option<SessionHandle> {
        self.read()
            .get(user)
            .and_then(|l| l.iter().find(|e| e.handle.resource == resource))
            .map(|e| e.handle.clone())
    }

    /// Delivers a stanza relayed by another node for `user/resource`, its gate having
    /// decided (`crate::cluster`); an IQ answer (`answer`) only if the session awaits it
    /// from its sender.
    pub fn deliver_relayed(
        &self,
        user: &str,
        resource: &str,
        stanza: Element,
        answer: bool,
    ) -> Full {
        if answer {
            let from = stanza.attr("from").unwrap_or_default().to_string();
            let id = stanza.attr("id").unwrap_or_default().to_string();
            if !self.take_answer_at(user, resource, &from, &id, Instant::now()) {
                return Full::Queued;
            }
        }
        match self.handle_of(user, resource) {
            Some(h) if h.send(stanza) => Full::Queued,
            Some(_) => Full::Overflow,
            None => Full::NoSuchResource,
        }
    }

    /// Closes the local session `user/resource` (asked by another node).
    pub fn stop_relayed(
        &self,
        user: &str,
        resource: &str,
        condition: &'static str,
        text: Option<&str>,
    ) {
        if let Some(h) = self.handle_of(user, resource) {
            match text {
                Some(t) => h.stop_with_text(condition, t),
                None => h.stop(condition),
            }
        }
    }

    /// Tells the other nodes again what every local session looks like (after the
    /// connection to them was lost and found again).
    pub fn publish_all(&self) {
        let all: Vec<(String, u64)> = self
            .read()
            .iter()
            .flat_map(|(u, l)| l.iter().map(move |e| (u.clone(), e.handle.id)))
            .collect();
        for (user, id) in all {
            self.publish(&user, id, None);
        }
    }

    // -- binding ------------------------------------------------------------------------

    /// Binds `handle` for `user`, replacing a session of the same resource.
    pub fn register(&self, user: &str, handle: SessionHandle, max: usize) -> Registered {
        let mut map = self.write();
        // Most users have one session: room for one (`or_default` and a push
        // would reserve four entries, about a kilobyte, per connected user).
        let list = map
            .entry(user.to_string())
            .or_insert_with(|| Vec::with_capacity(1));
        let replaced = list
            .iter()
            .position(|e| e.handle.resource == handle.resource)
            .map(|i| list.remove(i).handle);
        let elsewhere = self.remote_select(user, |_| true);
        let remote_count = elsewhere
            .iter()
            .filter(|s| s.resource != handle.resource)
            .count();
        if replaced.is_none() && list.len() + remote_count >= max {
            return Registered::TooMany;
        }
        // The same resource on another node: the newer binding wins (RFC 6120 §7.7.2.2).
        if let Some(remote) = self.remote.get() {
            for s in elsewhere.iter().filter(|s| s.resource == handle.resource) {
                remote.stop(user, s, "conflict", None);
            }
        }
        let id = handle.id;
        list.push(Entry {
            handle,
            presence: None,
            shared_presence: None,
            priority: 0,
            interested: false,
            roster_ver: false,
            blocklist: false,
            directed: HashSet::new(),
            carbons: false,
            pending: VecDeque::new(),
            meta: None,
            resumption: None,
            credential: None,
        });
        drop(map);
        // A replaced session had the same resource: the new state overwrites its key.
        self.publish(user, id, None);
        Registered::Ok { replaced }
    }

    /// Makes session `id` of `user` resumable (XEP-0198).
    pub fn set_resumption(&self, user: &str, id: u64, resumption: Arc<Resumption>) {
        self.with_entry(user, id, |e| e.resumption = Some(resumption));
    }

    /// The session of `user` (only: a resumption id is bound to its account) whose
    /// resumption id is `previd`, still registered, with its handle.
    pub fn resumable(&self, user: &str, previd: &str) -> Option<(SessionHandle, Arc<Resumption>)> {
        self.read().get(user)?.iter().find_map(|e| {
            e.resumption
                .as_ref()
                .filter(|r| r.matches(previd))
                .map(|r| (e.handle.clone(), r.clone()))
        })
    }

    /// Removes the session `id` of `user`, if still registered.
    pub fn unregister(&self, user: &str, id: u64) -> Option<Departed> {
        let mut map = self.write();
        let list = map.get_mut(user)?;
        let i = list.iter().position(|e| e.handle.id == id)?;
        let entry = list.remove(i);
        if list.is_empty() {
            map.remove(user);
        }
        drop(map);
        // `register` replaced any other session of this resource: the key is this one's.
        self.publish(user, id, Some(&entry.handle.resource));
        let status = entry
            .presence
            .as_ref()
            .and_then(|p| p.get_child("status", causerie_proto::ns::CLIENT))
            .map(|s| s.text());
        Some(Departed {
            was_available: entry.presence.is_some(),
            status,
            directed: entry.directed,
        })
    }

    // -- delivery (against a pass) ------------------------------------------------------

    /// Queues `stanza` for the session bound to `pass.to()/resource`.
    pub fn deliver_full(&self, pass: &Pass, resource: &str, stanza: Element) -> Full {
        match self.handle_of(pass.to(), resource) {
            Some(h) => {
                if h.send(stanza) {
                    Full::Queued
                } else {
                    Full::Overflow
                }
            }
            None => {
                let remote = self.remote_select(pass.to(), |s| s.resource == resource);
                match (self.remote.get(), remote.first()) {
                    (Some(r), Some(s)) => {
                        r.deliver(pass.to(), s, &stanza, false);
                        Full::Queued
                    }
                    _ => Full::NoSuchResource,
                }
            }
        }
    }

    /// Queues `stanza` for every available session of `pass.to()` (only those of
    /// non-negative priority with `nonnegative`, RFC 6121 §8.5.2.1); how many.
    pub fn deliver_available(&self, pass: &Pass, stanza: &Element, nonnegative: bool) -> usize {
        self.deliver_available_cow(pass, Cow::Borrowed(stanza), nonnegative)
    }

    /// [`Self::deliver_available`] of a stanza the caller has no use for after: the last
    /// session gets it without a copy (a presence broadcast at login makes one per contact).
    pub fn deliver_available_owned(
        &self,
        pass: &Pass,
        stanza: Element,
        nonnegative: bool,
    ) -> usize {
        self.deliver_available_cow(pass, Cow::Owned(stanza), nonnegative)
    }

    /// The available sessions of `pass.to()` (with `nonnegative`, those of a priority of
    /// 0 or more): this node's handles, and the other nodes' sessions.
    fn available_targets(
        &self,
        pass: &Pass,
        nonnegative: bool,
    ) -> (Vec<SessionHandle>, Vec<RemoteSession>) {
        let handles: Vec<SessionHandle> = self
            .read()
            .get(pass.to())
            .map(|l| {
                l.iter()
                    .filter(|e| e.presence.is_some() && (!nonnegative || e.priority >= 0))
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default();
        let remote = self.remote_select(pass.to(), |s| {
            s.presence.is_some() && (!nonnegative || s.state.priority >= 0)
        });
        (handles, remote)
    }

    /// [`Self::deliver_available`] of a presence serialised once (`Shared::presence`):
    /// each session of this node gets the shared text, addressed to it; `stanza` makes
    /// the stanza (addressed to `pass.to()`) for the other nodes' sessions, only when
    /// there are some.
    pub fn deliver_available_shared(
        &self,
        pass: &Pass,
        shared: &Arc<Shared>,
        stanza: impl FnOnce() -> Element,
    ) -> usize {
        let (handles, remote) = self.available_targets(pass, false);
        if let Some(r) = self.remote.get()
            && !remote.is_empty()
        {
            let stanza = stanza();
            let only = handles.is_empty() && remote.len() == 1;
            for s in &remote {
                r.deliver(pass.to(), s, &stanza, only);
            }
        }
        for h in &handles {
            h.send_shared(shared);
        }
        handles.len() + remote.len()
    }

    fn deliver_available_cow(
        &self,
        pass: &Pass,
        stanza: Cow<'_, Element>,
        nonnegative: bool,
    ) -> usize {
        let (handles, remote) = self.available_targets(pass, nonnegative);
        if let Some(r) = self.remote.get() {
            // The only copy: if its session is gone, a message goes offline there.
            let only = handles.is_empty() && remote.len() == 1;
            for s in &remote {
                r.deliver(pass.to(), s, &stanza, only);
            }
        }
        if let Some((last, others)) = handles.split_last() {
            for h in others {
                h.send(stanza.as_ref().clone());
            }
            last.send(stanza.into_owned());
        }
        handles.len() + remote.len()
    }

    /// Queues `stanza` for the available session of `pass.to()` with the highest
    /// non-negative priority; false when there is none.
    pub fn deliver_best(&self, pass: &Pass, stanza: Element) -> bool {
        let best = self.read().get(pass.to()).and_then(|l| {
            l.iter()
                .filter(|e| e.presence.is_some() && e.priority >= 0)
                .max_by_key(|e| e.priority)
                .map(|e| (e.handle.clone(), e.priority))
        });
        let remote = self
            .remote_select(pass.to(), |s| s.presence.is_some() && s.state.priority >= 0)
            .into_iter()
            .max_by_key(|s| s.state.priority);
        match (remote, self.remote.get()) {
            (Some(s), Some(r)) if best.as_ref().is_none_or(|(_, p)| s.state.priority > *p) => {
                r.deliver(pass.to(), &s, &stanza, true);
                true
            }
            _ => best.is_some_and(|(h, _)| h.send(stanza)),
        }
    }

    /// Queues, for each session of `pass.to()` with that `interest` ([`Interest`]), the
    /// stanza `make` builds for that session's resource.
    pub fn deliver_interested(
        &self,
        pass: &Pass,
        interest: Interest,
        make: impl Fn(&str) -> Element,
    ) {
        let handles: Vec<SessionHandle> = self
            .read()
            .get(pass.to())
            .map(|l| {
                l.iter()
                    .filter(|e| match interest {
                        Interest::Roster => e.interested || e.presence.is_some(),
                        Interest::Blocklist => e.blocklist,
                    })
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default();
        for h in handles {
            h.send(make(&h.resource));
        }
        if let Some(r) = self.remote.get() {
            for s in self.remote_select(pass.to(), |s| match interest {
                Interest::Roster => s.state.interested || s.presence.is_some(),
                Interest::Blocklist => s.state.blocklist,
            }) {
                r.deliver(pass.to(), &s, &make(&s.resource), false);
            }
        }
    }

    /// Queues, for each session of `pass.to()` with carbons enabled (XEP-0280) except
    /// `except`, the stanza `make` builds for its resource.
    pub fn deliver_carbons(&self, pass: &Pass, except: u64, make: impl Fn(&str) -> Element) {
        let handles: Vec<SessionHandle> = self
            .read()
            .get(pass.to())
            .map(|l| {
                l.iter()
                    .filter(|e| e.carbons && e.handle.id != except)
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default();
        for h in handles {
            h.send(make(&h.resource));
        }
        if let Some(r) = self.remote.get() {
            for s in self.remote_select(pass.to(), |s| s.state.carbons && s.id != except) {
                r.deliver(pass.to(), &s, &make(&s.resource), false);
            }
        }
    }

    // -- closing ------------------------------------------------------------------------

    /// Asks every session of `user`, on every node, to close with `condition` and
    /// `text`; how many.
    pub fn close_user(&self, user: &str, condition: &'static str, text: Option<&str>) -> usize {
        let here = self.close_user_here(user, condition, text);
        let remote = self.remote_select(user, |_| true);
        if let Some(r) = self.remote.get() {
            for s in &remote {
                r.stop(user, s, condition, text);
            }
        }
        here + remote.len()
    }

    /// [`Self::close_user`] for this node's sessions only (what every node does itself
    /// after a directory change, `crate::enforce`).
    pub fn close_user_here(
        &self,
        user: &str,
        condition: &'static str,
        text: Option<&str>,
    ) -> usize {
        let handles: Vec<SessionHandle> = self
            .read()
            .get(user)
            .map(|l| l.iter().map(|e| e.handle.clone()).collect())
            .unwrap_or_default();
        for h in &handles {
            match text {
                Some(t) => h.stop_with_text(condition, t),
                None => h.stop(condition),
            }
        }
        handles.len()
    }

    /// Marks session `id` of `user` as logged in from the portal's browser session `tag`.
    pub fn tag_credential(&self, user: &str, id: u64, tag: &str) {
        self.with_entry(user, id, |e| e.credential = Some(tag.into()));
    }

    /// The credential session `id` of `user` now holds (a resumption by another login):
    /// its tag, or none for a password login.
    pub fn retag(&self, user: &str, id: u64, tag: Option<&str>) {
        self.with_entry(user, id, |e| e.credential = tag.map(Into::into));
    }

    /// Users with a session whose tag starts with `prefix`.
    pub fn users_tagged(&self, prefix: &str) -> Vec<String> {
        self.read()
            .iter()
            .filter(|(_, l)| {
                l.iter().any(|e| {
                    e.credential
                        .as_deref()
                        .is_some_and(|t| t.starts_with(prefix))
                })
            })
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// Closes the sessions of `user` whose tag starts with `prefix`, with `condition`
    /// and a text; returns how many.
    pub fn close_tag_prefix(
        &self,
        user: &str,
        prefix: &str,
        condition: &'static str,
        text: &str,
    ) -> usize {
        let handles: Vec<SessionHandle> = self
            .read()
            .get(user)
            .map(|l| {
                l.iter()
                    .filter(|e| {
                        e.credential
                            .as_deref()
                            .is_some_and(|t| t.starts_with(prefix))
                    })
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default();
        for h in &handles {
            h.stop_with_text(condition, text);
        }
        handles.len()
    }

    /// Closes the sessions of `user` tagged `tag` ([`Self::tag_credential`]) with `condition`
    /// and a text, on every node; returns how many on this one.
    pub fn close_tagged(
        &self,
        user: &str,
        tag: &str,
        condition: &'static str,
        text: &str,
    ) -> usize {
        if let Some(r) = self.remote.get() {
            r.send(super::remote::Outgoing::Invalidate(
                super::remote::Invalidation::CloseTagged {
                    user: user.to_string(),
                    tag: tag.to_string(),
                    condition: condition.to_string(),
                    text: text.to_string(),
                },
            ));
        }
        self.close_tagged_here(user, tag, condition, text)
    }

    /// [`Self::close_tagged`] on this node only (asked by another node).
    pub fn close_tagged_here(
        &self,
        user: &str,
        tag: &str,
        condition: &'static str,
        text: &str,
    ) -> usize {
        let handles: Vec<SessionHandle> = self
            .read()
            .get(user)
            .map(|l| {
                l.iter()
                    .filter(|e| e.credential.as_deref() == Some(tag))
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default();
        for h in &handles {
            h.stop_with_text(condition, text);
        }
        handles.len()
    }

    /// Asks every session to close with `condition` (server shutdown).
    pub fn stop_all(&self, condition: &'static str) {
        for list in self.read().values() {
            for e in list {
                e.handle.stop(condition);
            }
        }
    }

    // -- what features may know ---------------------------------------------------------

    /// Whether `user` has a bound session.
    pub fn is_online(&self, user: &str) -> bool {
        self.read().get(user).is_some_and(|l| !l.is_empty()) || self.remote_any(user, |_| true)
    }

    /// Whether `user` has an available resource (on any node).
    pub fn has_available(&self, user: &str) -> bool {
        self.read()
            .get(user)
            .is_some_and(|l| l.iter().any(|e| e.presence.is_some()))
            || self.remote_any(user, |s| s.presence.is_some())
    }

    /// Whether `user` has a bound session on this node.
    pub fn is_online_here(&self, user: &str) -> bool {
        self.read().get(user).is_some_and(|l| !l.is_empty())
    }

    /// Whether a resource name is bound for `user`.
    pub fn has_resource(&self, user: &str, resource: &str) -> bool {
        self.read()
            .get(user)
            .is_some_and(|l| l.iter().any(|e| e.handle.resource == resource))
            || self.remote_any(user, |s| s.resource == resource)
    }

    /// The id of the session bound to `user/resource`.
    pub fn session_id(&self, user: &str, resource: &str) -> Option<u64> {
        let local = self
            .read()
            .get(user)
            .and_then(|l| l.iter().find(|e| e.handle.resource == resource))
            .map(|e| e.handle.id);
        local.or_else(|| {
            self.remote_select(user, |s| s.resource == resource)
                .first()
                .map(|s| s.id)
        })
    }

    /// The sessions of `user` on this node that sent available presence.
    pub fn available_here(&self, user: &str) -> Vec<Available> {
        self.read()
            .get(user)
            .map(|l| {
                l.iter()
                    .filter_map(|e| {
                        e.presence.as_ref().map(|p| Available {
                            id: e.handle.id,
                            resource: e.handle.resource.clone(),
                            presence: p.clone(),
                            priority: e.priority,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sessions of `user` that sent available presence, on every node.
    pub fn available(&self, user: &str) -> Vec<Available> {
        let mut all = self.available_here(user);
        all.extend(
            self.remote_select(user, |s| s.presence.is_some())
                .into_iter()
                .filter_map(|s| {
                    Some(Available {
                        id: s.id,
                        presence: s.presence?,
                        resource: s.resource,
                        priority: s.state.priority,
                    })
                }),
        );
        all
    }

    /// The presence of each session of `user` that sent available presence, on every
    /// node, serialised once (`Shared::presence`): a local one as it was set, a remote one
    /// serialised now.
    pub fn available_shared(&self, user: &str) -> Vec<Arc<Shared>> {
        let mut all: Vec<Arc<Shared>> = self
            .read()
            .get(user)
            .map(|l| l.iter().filter_map(|e| e.shared_presence.clone()).collect())
            .unwrap_or_default();
        all.extend(
            self.remote_select(user, |s| s.presence.is_some())
                .into_iter()
                .filter_map(|s| Shared::presence(s.presence.as_ref()?)),
        );
        all
    }

    /// The available presence of this node's session `id` of `user` as [`Self::set_presence`]
    /// serialised it (`Shared::presence`); None while it is unavailable.
    pub fn shared_presence(&self, user: &str, id: u64) -> Option<Arc<Shared>> {
        self.read()
            .get(user)
            .and_then(|l| l.iter().find(|e| e.handle.id == id))
            .and_then(|e| e.shared_presence.clone())
    }

    /// Whether the session `id` is available.
    pub fn is_available(&self, user: &str, id: u64) -> bool {
        if Remote::is_remote_id(id) {
            return self.remote_any(user, |s| s.id == id && s.presence.is_some());
        }
        self.read()
            .get(user)
            .and_then(|l| l.iter().find(|e| e.handle.id == id))
            .is_some_and(|e| e.presence.is_some())
    }

    /// Records the session's presence (`None` for unavailable). Returns the
    /// previous availability.
    pub fn set_presence(
        &self,
        user: &str,
        id: u64,
        presence: Option<Element>,
        priority: i32,
    ) -> bool {
        // Serialised before the registry's lock is taken (a class logs in at 8:00).
        let shared = presence.as_ref().and_then(Shared::presence);
        let was = self
            .with_entry(user, id, |e| {
                let was = e.presence.is_some();
                e.shared_presence = shared;
                e.presence = presence;
                e.priority = priority;
                if e.presence.is_none() {
                    e.directed.clear();
                }
                was
            })
            .unwrap_or(false);
        self.publish(user, id, None);
        was
    }

    /// Marks the session as interested in roster pushes (`versioned`: it asked with a
    /// version, so pushes carry one).
    pub fn set_interested(&self, user: &str, id: u64, versioned: bool) {
        let changed = self.with_entry(user, id, |e| {
            let before = (e.interested, e.roster_ver);
            e.interested = true;
            e.roster_ver |= versioned;
            before != (e.interested, e.roster_ver)
        });
        if changed == Some(true) {
            self.publish(user, id, None);
        }
    }

    /// Whether a session of `user` asked for its roster with a version.
    pub fn wants_roster_ver(&self, user: &str) -> bool {
        self.read()
            .get(user)
            .is_some_and(|l| l.iter().any(|e| e.roster_ver))
            || self.remote_any(user, |s| s.state.roster_ver)
    }

    /// Marks the session as interested in blocklist pushes.
    pub fn set_blocklist_interest(&self, user: &str, id: u64) {
        if self.with_entry(user, id, |e| !std::mem::replace(&mut e.blocklist, true)) == Some(true) {
            self.publish(user, id, None);
        }
    }

    /// Enables or disables message carbons (XEP-0280) for the session.
    pub fn set_carbons(&self, user: &str, id: u64, enabled: bool) {
        if self.with_entry(user, id, |e| {
            std::mem::replace(&mut e.carbons, enabled) != enabled
        }) == Some(true)
        {
            self.publish(user, id, None);
        }
    }

    /// Whether some session of `user` other than `except` has carbons enabled.
    pub fn wants_carbons(&self, user: &str, except: u64) -> bool {
        self.read()
            .get(user)
            .is_some_and(|l| l.iter().any(|e| e.carbons && e.handle.id != except))
            || self.remote_any(user, |s| s.state.carbons && s.id != except)
    }

    /// Remembers (or forgets, for unavailable) a directed presence that was delivered.
    pub fn note_directed(&self, user: &str, id: u64, to: &str, available: bool) {
        self.with_entry(user, id, |e| {
            if available {
                e.directed.insert(to.to_string());
            } else {
                e.directed.remove(to);
            }
        });
    }

    /// Whether session `id` of `user` sent `to` (a bare or full JID) a directed
    /// presence that is still in force.
    pub fn has_directed(&self, user: &str, id: u64, to: &str) -> bool {
        self.read()
            .get(user)
            .and_then(|l| l.iter().find(|e| e.handle.id == id))
            .is_some_and(|e| e.directed.contains(to))
    }

    /// Takes the set of JIDs the session sent directed presence to.
    pub fn take_directed(&self, user: &str, id: u64) -> HashSet<String> {
        self.with_entry(user, id, |e| std::mem::take(&mut e.directed))
            .unwrap_or_default()
    }

    // -- answers only answer ------------------------------------------------------------

    /// Remembers that session `id` of `user` sent IQ request `iq_id` to `peer` (a full
    /// JID): its answer from `peer` will be let through once, within
    /// [`PENDING_IQ_TTL`]. At most [`MAX_PENDING_IQS`] per session.
    pub fn note_request(&self, user: &str, id: u64, peer: &str, iq_id: &str) {
        self.note_request_at(user, id, peer, iq_id, Instant::now());
    }

    fn note_request_at(&self, user: &str, id: u64, peer: &str, iq_id: &str, now: Instant) {
        self.with_entry(user, id, |e| {
            while e
                .pending
                .front()
                .is_some_and(|p| now.duration_since(p.at) >= PENDING_IQ_TTL)
                || e.pending.len() >= MAX_PENDING_IQS
            {
                e.pending.pop_front();
            }
            e.pending.push_back(PendingIq {
                peer: peer.to_string(),
                id: iq_id.to_string(),
                at: now,
            });
        });
    }

    /// Whether an answer from `peer` with `iq_id` answers a request the session bound to
    /// `user/resource` is waiting for; the request is then no longer waiting.
    pub fn take_answer(&self, user: &str, resource: &str, peer: &str, iq_id: &str) -> bool {
        // A session of another node: its node checks, when the answer reaches it
        // (`deliver_relayed`).
        if !self
            .read()
            .get(user)
            .is_some_and(|l| l.iter().any(|e| e.handle.resource == resource))
            && self.remote_any(user, |s| s.resource == resource)
        {
            return true;
        }
        self.take_answer_at(user, resource, peer, iq_id, Instant::now())
    }

    fn take_answer_at(
        &self,
        user: &str,
        resource: &str,
        peer: &str,
        iq_id: &str,
        now: Instant,
    ) -> bool {
        let mut map = self.write();
        let Some(e) = map
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.resource == resource))
        else {
            return false;
        };
        let found = e.pending.iter().position(|p| {
            p.id == iq_id && p.peer == peer && now.duration_since(p.at) < PENDING_IQ_TTL
        });
        match found {
            Some(i) => {
                e.pending.remove(i);
                true
            }
            None => false,
        }
    }

    // -- for the administrator ----------------------------------------------------------

    /// Number of bound sessions.
    pub fn count(&self) -> usize {
        self.read().values().map(Vec::len).sum()
    }

    /// Records how session `id` of `user` is connected.
    pub fn describe(&self, user: &str, id: u64, meta: SessionMeta) {
        self.with_entry(user, id, |e| e.meta = Some(meta));
    }

    /// The sessions of `user` as the administrator sees them.
    pub fn described(&self, user: &str) -> Vec<SessionInfo> {
        self.read()
            .get(user)
            .map(|l| {
                l.iter()
                    .map(|e| {
                        let meta = e.meta.as_ref();
                        SessionInfo {
                            resource: e.handle.resource.clone(),
                            transport: meta.map_or("tcp", |m| m.transport),
                            since: meta.map_or(std::time::UNIX_EPOCH, |m| m.since),
                            address: meta.and_then(|m| m.address),
                            agent: meta.and_then(|m| m.agent.as_deref()).map(str::to_owned),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Users with at least one bound session, sorted.
    pub fn users(&self) -> Vec<String> {
        let mut users: Vec<String> = self.read().keys().cloned().collect();
        users.sort_unstable();
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Outbound;

    fn presence() -> Element {
        Element::bare("presence", "jabber:client")
    }

    #[test]
    fn register_replace_and_limit() {
        let s = Sessions::default();
        let (a, _ra) = SessionHandle::new("phone".into(), 8);
        let (b, _rb) = SessionHandle::new("phone".into(), 8);
        let (c, _rc) = SessionHandle::new("pc".into(), 8);
        assert!(matches!(
            s.register("alice", a.clone(), 2),
            Registered::Ok { replaced: None }
        ));
        match s.register("alice", b.clone(), 2) {
            Registered::Ok {
                replaced: Some(old),
            } => assert_eq!(old.id, a.id),
            _ => panic!("same resource must replace"),
        }
        assert!(matches!(
            s.register("alice", c.clone(), 2),
            Registered::Ok { replaced: None }
        ));
        let (d, _rd) = SessionHandle::new("tablet".into(), 8);
        assert!(matches!(s.register("alice", d, 2), Registered::TooMany));
        assert_eq!(s.count(), 2);
        assert_eq!(s.session_id("alice", "phone"), Some(b.id));
        assert!(
            s.unregister("alice", a.id).is_none(),
            "replaced session is gone"
        );
        assert!(s.unregister("alice", b.id).is_some());
        assert!(s.unregister("alice", c.id).is_some());
        assert_eq!(s.count(), 0);
        assert!(!s.is_online("alice"));
    }

    #[tokio::test]
    async fn delivery_goes_only_to_the_account_of_the_pass() {
        let s = Sessions::default();
        let (a, ra) = SessionHandle::new("r1".into(), 8);
        let (b, rb) = SessionHandle::new("r2".into(), 8);
        let (c, rc) = SessionHandle::new("r1".into(), 8);
        s.register("bob", a.clone(), 5);
        s.register("bob", b.clone(), 5);
        s.register("carol", c.clone(), 5);
        let bob = Pass::new("bob");
        assert_eq!(s.deliver_full(&bob, "r1", presence()), Full::Queued);
        assert_eq!(s.deliver_full(&bob, "r9", presence()), Full::NoSuchResource);
        // Nobody is available yet.
        assert_eq!(s.deliver_available(&bob, &presence(), false), 0);
        s.set_presence("bob", b.id, Some(presence()), -1);
        assert_eq!(s.deliver_available(&bob, &presence(), true), 0, "priority");
        assert_eq!(s.deliver_available(&bob, &presence(), false), 1);
        assert!(!s.deliver_best(&bob, presence()));
        assert_eq!(ra.queued(), 1);
        assert_eq!(rb.queued(), 1);
        assert_eq!(rc.queued(), 0, "carol got nothing for bob");
    }

    /// A presence is serialised once when it is set: a probe's answer and a broadcast
    /// write that text, addressed by each session, to this node's sessions; nothing once
    /// unavailable.
    #[tokio::test]
    async fn a_presence_is_serialised_once_for_its_contacts() {
        let s = Sessions::default();
        let (a, _ra) = SessionHandle::new("phone".into(), 8);
        let (b, rb) = SessionHandle::new("pc".into(), 8);
        s.register("lea", a.clone(), 5);
        s.register("hugo", b.clone(), 5);
        assert!(s.available_shared("lea").is_empty());
        let away: Element = "<presence xmlns='jabber:client' from='lea@x/phone'>\
             <show>away</show><status>En cours &amp; «bientôt»</status></presence>"
            .parse()
            .unwrap();
        s.set_presence("lea", a.id, Some(away.clone()), 0);
        let shared = s.available_shared("lea");
        assert_eq!(shared.len(), 1);
        assert!(Arc::ptr_eq(
            &s.shared_presence("lea", a.id).unwrap(),
            &shared[0]
        ));
        let got: Element = shared[0]
            .addressed_to(&crate::outbound::to_attribute("hugo@x/pc"))
            .parse()
            .unwrap();
        let mut want = away.clone();
        causerie_proto::xml::set_attr(&mut want, "to", "hugo@x/pc");
        assert_eq!(got, want);
        assert_eq!(shared[0].held_as(), Some("lea@x/phone"), "CSI holds it");
        // Broadcast to hugo: nothing while he is unavailable, his session once he is.
        let hugo = Pass::new("hugo");
        let made = std::cell::Cell::new(0);
        let addressed = || {
            made.set(made.get() + 1);
            away.clone()
        };
        assert_eq!(s.deliver_available_shared(&hugo, &shared[0], addressed), 0);
        s.set_presence("hugo", b.id, Some(presence()), 0);
        assert_eq!(s.deliver_available_shared(&hugo, &shared[0], addressed), 1);
        assert_eq!(
            made.get(),
            0,
            "no stanza made without another node's session"
        );
        let mut queued = VecDeque::new();
        rb.take_now(&mut queued);
        assert!(
            matches!(queued.pop_front(), Some(Outbound::Shared(q)) if Arc::ptr_eq(&q, &shared[0]))
        );
        s.set_presence("lea", a.id, None, 0);
        assert!(s.available_shared("lea").is_empty());
        assert!(s.shared_presence("lea", a.id).is_none());
    }

    #[test]
    fn presence_interest_and_directed() {
        let s = Sessions::default();
        let (a, _ra) = SessionHandle::new("r1".into(), 8);
        let (b, _rb) = SessionHandle::new("r2".into(), 8);
        s.register("bob", a.clone(), 5);
        s.register("bob", b.clone(), 5);
        assert!(s.available("bob").is_empty());
        assert!(!s.set_presence("bob", a.id, Some(presence()), 5));
        assert_eq!(s.available("bob").len(), 1);
        assert_eq!(s.available("bob")[0].priority, 5);
        s.note_directed("bob", a.id, "carol@x", true);
        assert!(s.has_directed("bob", a.id, "carol@x"));
        assert!(!s.has_directed("bob", b.id, "carol@x"));
        let gone = s.unregister("bob", a.id).unwrap();
        assert!(gone.was_available);
        assert!(gone.directed.contains("carol@x"));
    }

    #[test]
    fn an_answer_answers_one_routed_request_once() {
        let s = Sessions::default();
        let (a, _ra) = SessionHandle::new("pc".into(), 8);
        s.register("lea", a.clone(), 5);
        let t0 = Instant::now();
        s.note_request_at("lea", a.id, "hugo@x/phone", "q1", t0);
        // Not from another resource, nor with another id, nor to another resource.
        assert!(!s.take_answer_at("lea", "pc", "hugo@x/pc", "q1", t0));
        assert!(!s.take_answer_at("lea", "pc", "hugo@x/phone", "q2", t0));
        assert!(!s.take_answer_at("lea", "tab", "hugo@x/phone", "q1", t0));
        assert!(s.take_answer_at("lea", "pc", "hugo@x/phone", "q1", t0));
        assert!(
            !s.take_answer_at("lea", "pc", "hugo@x/phone", "q1", t0),
            "a second answer is not one"
        );
        // Expired.
        s.note_request_at("lea", a.id, "hugo@x/phone", "q3", t0);
        assert!(!s.take_answer_at("lea", "pc", "hugo@x/phone", "q3", t0 + PENDING_IQ_TTL));
        // Bounded: the oldest is forgotten.
        for i in 0..=MAX_PENDING_IQS {
            s.note_request_at("lea", a.id, "hugo@x/phone", &format!("n{i}"), t0);
        }
        assert!(!s.take_answer_at("lea", "pc", "hugo@x/phone", "n0", t0));
        assert!(s.take_answer_at("lea", "pc", "hugo@x/phone", "n1", t0));
        // Gone with the session.
        s.unregister("lea", a.id);
        assert!(!s.take_answer_at("lea", "pc", "hugo@x/phone", "n2", t0));
    }

    #[test]
    fn a_resumption_id_is_found_only_among_its_own_accounts_sessions() {
        let s = Sessions::default();
        let (a, _ra) = SessionHandle::new("phone".into(), 8);
        let (b, _rb) = SessionHandle::new("phone".into(), 8);
        s.register("lea", a.clone(), 5);
        s.register("hugo", b.clone(), 5);
        let r = Resumption::new(Duration::from_secs(60));
        s.set_resumption("lea", a.id, r.clone());
        assert_eq!(s.resumable("lea", r.id()).map(|(h, _)| h.id), Some(a.id));
        assert!(
            s.resumable("hugo", r.id()).is_none(),
            "another account's id"
        );
        assert!(s.resumable("lea", "0123").is_none());
        s.unregister("lea", a.id);
        assert!(
            s.resumable("lea", r.id()).is_none(),
            "gone with the session"
        );
    }

    #[tokio::test]
    async fn a_full_queue_closes_the_session() {
        let (h, rx) = SessionHandle::new("r".into(), 8);
        let s = Sessions::default();
        s.register("bob", h.clone(), 5);
        let bob = Pass::new("bob");
        for _ in 0..8 {
            assert_eq!(s.deliver_full(&bob, "r", presence()), Full::Queued);
        }
        assert_eq!(
            s.deliver_full(&bob, "r", presence()),
            Full::Overflow,
            "queue is bounded"
        );
        // The overflow was signalled, so the connection task wakes up at once.
        tokio::time::timeout(std::time::Duration::from_secs(1), rx.overflowed())
            .await
            .expect("overflow notified");
        let mut buf = std::collections::VecDeque::new();
        assert_eq!(rx.next(&mut buf).await, crate::mailbox::Next::Overflow);
    }
}
