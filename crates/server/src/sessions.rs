//! The session registry: which resources of which account are bound here, and
//! what each last said about its presence.
//!
//! The router finds recipients only through this registry (never through a
//! process-wide global), so that running several nodes means another
//! implementation of the same calls, not a rewrite. Each session owns a
//! bounded queue; a session that does not read its queue is closed rather
//! than allowed to grow without bound.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use causerie_proto::Element;

use crate::mailbox::{Inbox, Mailbox, mailbox};

/// What a connection task is asked to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write this stanza. Boxed so that a queue slot is two words (an inline
    /// `Element` is about 110 bytes, and a busy queue keeps its buffer).
    Stanza(Box<Element>),
    /// Write this stanza, serialised once for many recipients (a room's
    /// occupants): the connection task adds its own full JID as `to`.
    Shared(Arc<Shared>),
    /// Close the stream with this stream error (boxed too: it is rare, and
    /// the slot stays the size of a pointer).
    Stop(Box<Stop>),
}

/// A stanza serialised once for every recipient, without its `to` (see
/// [`Shared::addressed_to`]). A room of 30 used to clone and serialise each
/// post 30 times, once per occupant: that was most of a delivery's cost.
#[derive(Debug)]
pub struct Shared {
    /// The serialised stanza, without `to`.
    text: String,
    /// Where the `to` attribute goes: right after `<` and the element's name.
    at: usize,
}

impl Shared {
    /// Serialises `stanza` (its `to`, if any, left out). None when it cannot be
    /// serialised, or does not start with its own name (never expected).
    pub fn new(stanza: &Element) -> Option<Arc<Shared>> {
        let text = if stanza.attr("to").is_some() {
            let mut bare = stanza.clone();
            causerie_proto::xml::remove_attr(&mut bare, "to");
            causerie_proto::xml::to_string(&bare)
        } else {
            causerie_proto::xml::to_string(stanza)
        };
        let at = 1 + stanza.name().len();
        let starts = text.as_bytes().first() == Some(&b'<')
            && text.get(1..at) == Some(stanza.name())
            && matches!(text.as_bytes().get(at), Some(b' ' | b'>' | b'/'));
        starts.then(|| Arc::new(Shared { text, at }))
    }

    /// The serialised stanza, as it would be with no `to`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The stanza addressed to `to_attr`, an attribute made by [`to_attribute`].
    pub fn addressed_to(&self, to_attr: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + to_attr.len());
        out.push_str(&self.text[..self.at]);
        out.push_str(to_attr);
        out.push_str(&self.text[self.at..]);
        out
    }
}

/// ` to="JID"`, escaped for the attribute (a resource may hold quotes,
/// ampersands or angle brackets).
pub fn to_attribute(jid: &str) -> String {
    format!(" to=\"{}\"", causerie_proto::errors::escape(jid))
}

/// Why a connection task must close its stream.
#[derive(Debug)]
pub struct Stop {
    /// The stream error condition (e.g. `conflict`).
    pub condition: &'static str,
    /// Its text, if any (an administrator's action says so).
    pub text: Option<String>,
}

/// The sending side of one bound session.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    pub id: u64,
    /// The resource this session bound.
    pub resource: String,
    tx: Mailbox,
}

impl SessionHandle {
    /// A handle and the receiving side the connection task reads.
    pub fn new(resource: String, queue_len: usize) -> (SessionHandle, Inbox) {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let (tx, rx) = mailbox(queue_len);
        (
            SessionHandle {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                resource,
                tx,
            },
            rx,
        )
    }

    /// Queues a stanza. A full queue means the client stopped reading: the
    /// session is told to close, and the stanza is not queued (returns false).
    pub fn send(&self, stanza: Element) -> bool {
        self.tx.push(Outbound::Stanza(Box::new(stanza)))
    }

    /// Queues a stanza serialised once for several recipients; as [`Self::send`].
    pub fn send_shared(&self, stanza: &Arc<Shared>) -> bool {
        self.tx.push(Outbound::Shared(stanza.clone()))
    }

    /// Asks the session to close with a stream error.
    pub fn stop(&self, condition: &'static str) {
        self.tx.push(Outbound::Stop(Box::new(Stop {
            condition,
            text: None,
        })));
    }

    /// Asks the session to close with a stream error carrying a text.
    pub fn stop_with_text(&self, condition: &'static str, text: &str) {
        self.tx.push(Outbound::Stop(Box::new(Stop {
            condition,
            text: Some(text.to_string()),
        })));
    }
}

#[derive(Debug)]
struct Entry {
    handle: SessionHandle,
    /// The last available presence broadcast, `None` while unavailable.
    presence: Option<Element>,
    priority: i32,
    /// The session asked for the roster, so it gets roster pushes (RFC 6121 §2.1.6).
    interested: bool,
    /// Bare or full JIDs this session sent directed presence to.
    directed: HashSet<String>,
    /// XEP-0280 message carbons enabled.
    carbons: bool,
    /// How and since when the session is connected (for the administrator).
    meta: Option<SessionMeta>,
}

/// How a session is connected, as the administrator sees it.
#[derive(Debug, Clone, Copy)]
pub struct SessionMeta {
    /// `tcp` or `websocket`.
    pub transport: &'static str,
    pub address: Option<std::net::SocketAddr>,
    pub since: std::time::SystemTime,
}

/// A bound session that has sent available presence.
#[derive(Debug, Clone)]
pub struct Available {
    pub handle: SessionHandle,
    pub presence: Element,
    pub priority: i32,
}

/// What is left of a session after it is removed.
#[derive(Debug)]
pub struct Departed {
    pub was_available: bool,
    pub directed: HashSet<String>,
}

/// The registry itself (see the module docs).
#[derive(Default, Debug)]
pub struct Sessions {
    inner: RwLock<HashMap<String, Vec<Entry>>>,
}

/// Outcome of [`Sessions::register`].
pub enum Registered {
    /// Bound; a previous session with the same resource, if any, was replaced.
    Ok { replaced: Option<SessionHandle> },
    /// The account already has the maximum number of resources.
    TooMany,
}

impl Sessions {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<Entry>>> {
        // A poisoned lock means a panic elsewhere while holding it; the map
        // itself is still consistent (every update is a single operation).
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Entry>>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

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
        if replaced.is_none() && list.len() >= max {
            return Registered::TooMany;
        }
        list.push(Entry {
            handle,
            presence: None,
            priority: 0,
            interested: false,
            directed: HashSet::new(),
            carbons: false,
            meta: None,
        });
        Registered::Ok { replaced }
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
        Some(Departed {
            was_available: entry.presence.is_some(),
            directed: entry.directed,
        })
    }

    /// Whether a resource name is bound for `user`.
    pub fn has_resource(&self, user: &str, resource: &str) -> bool {
        self.read()
            .get(user)
            .is_some_and(|l| l.iter().any(|e| e.handle.resource == resource))
    }

    /// The session bound to `user/resource`.
    pub fn full(&self, user: &str, resource: &str) -> Option<SessionHandle> {
        self.read()
            .get(user)?
            .iter()
            .find(|e| e.handle.resource == resource)
            .map(|e| e.handle.clone())
    }

    /// Every bound session of `user`.
    pub fn all(&self, user: &str) -> Vec<SessionHandle> {
        self.read()
            .get(user)
            .map(|l| l.iter().map(|e| e.handle.clone()).collect())
            .unwrap_or_default()
    }

    /// The sessions of `user` that sent available presence.
    pub fn available(&self, user: &str) -> Vec<Available> {
        self.read()
            .get(user)
            .map(|l| {
                l.iter()
                    .filter_map(|e| {
                        e.presence.as_ref().map(|p| Available {
                            handle: e.handle.clone(),
                            presence: p.clone(),
                            priority: e.priority,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the session `id` is available.
    pub fn is_available(&self, user: &str, id: u64) -> bool {
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
        let mut map = self.write();
        let Some(e) = map
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
        else {
            return false;
        };
        let was = e.presence.is_some();
        e.presence = presence;
        e.priority = priority;
        if e.presence.is_none() {
            e.directed.clear();
        }
        was
    }

    /// Marks the session as interested in roster pushes.
    pub fn set_interested(&self, user: &str, id: u64) {
        if let Some(e) = self
            .write()
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
        {
            e.interested = true;
        }
    }

    /// Enables or disables message carbons (XEP-0280) for the session.
    pub fn set_carbons(&self, user: &str, id: u64, enabled: bool) {
        if let Some(e) = self
            .write()
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
        {
            e.carbons = enabled;
        }
    }

    /// Sessions of `user` with carbons enabled, except `except`.
    pub fn carbon_copies(&self, user: &str, except: u64) -> Vec<SessionHandle> {
        self.read()
            .get(user)
            .map(|l| {
                l.iter()
                    .filter(|e| e.carbons && e.handle.id != except)
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sessions of `user` that receive roster pushes.
    pub fn interested(&self, user: &str) -> Vec<SessionHandle> {
        self.read()
            .get(user)
            .map(|l| {
                l.iter()
                    .filter(|e| e.interested)
                    .map(|e| e.handle.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Remembers (or forgets, for unavailable) a directed presence.
    pub fn note_directed(&self, user: &str, id: u64, to: &str, available: bool) {
        if let Some(e) = self
            .write()
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
        {
            if available {
                e.directed.insert(to.to_string());
            } else {
                e.directed.remove(to);
            }
        }
    }

    /// Takes the set of JIDs the session sent directed presence to.
    pub fn take_directed(&self, user: &str, id: u64) -> HashSet<String> {
        self.write()
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
            .map(|e| std::mem::take(&mut e.directed))
            .unwrap_or_default()
    }

    /// Asks every session to close with `condition` (server shutdown).
    pub fn stop_all(&self, condition: &'static str) {
        for list in self.read().values() {
            for e in list {
                e.handle.stop(condition);
            }
        }
    }

    /// Number of bound sessions.
    pub fn count(&self) -> usize {
        self.read().values().map(Vec::len).sum()
    }

    /// Records how session `id` of `user` is connected.
    pub fn describe(&self, user: &str, id: u64, meta: SessionMeta) {
        if let Some(e) = self
            .write()
            .get_mut(user)
            .and_then(|l| l.iter_mut().find(|e| e.handle.id == id))
        {
            e.meta = Some(meta);
        }
    }

    /// The sessions of `user` as the administrator sees them.
    pub fn described(&self, user: &str) -> Vec<crate::admin::SessionInfo> {
        self.read()
            .get(user)
            .map(|l| {
                l.iter()
                    .map(|e| crate::admin::SessionInfo {
                        resource: e.handle.resource.clone(),
                        transport: e.meta.map_or("tcp", |m| m.transport),
                        since: e.meta.map_or(std::time::UNIX_EPOCH, |m| m.since),
                        address: e.meta.and_then(|m| m.address),
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

    #[test]
    fn a_shared_stanza_reads_as_the_stanza_addressed_to_each_recipient() {
        let sent: Element = "<message xmlns='jabber:client' from='r@conference.x/L&apos;éa' \
             to='someone@else' type='groupchat' id='m1'><body>a &lt; b &amp; \"c\"</body></message>"
            .parse()
            .unwrap();
        let shared = Shared::new(&sent).unwrap();
        assert!(
            !shared.text().contains("someone@else"),
            "the old 'to' is dropped"
        );
        for jid in ["lea@x/web", "hugo@x/a\"b<c>&'d\te"] {
            let text = shared.addressed_to(&to_attribute(jid));
            let got: Element = text.parse().unwrap();
            let mut want = sent.clone();
            causerie_proto::xml::set_attr(&mut want, "to", jid);
            assert_eq!(got, want, "{text}");
        }
        let empty = Element::bare("presence", "jabber:client");
        let got: Element = Shared::new(&empty)
            .unwrap()
            .addressed_to(&to_attribute("a@x/r"))
            .parse()
            .unwrap();
        assert_eq!(got.attr("to"), Some("a@x/r"));
    }

    fn presence() -> Element {
        Element::bare("presence", "jabber:client")
    }

    /// Every session's queue allocates its slots 32 at a time, idle or not:
    /// a slot must stay the size of a pointer and its tag.
    #[test]
    fn a_queue_slot_is_two_words() {
        assert!(std::mem::size_of::<Outbound>() <= 16);
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
        assert_eq!(s.full("alice", "phone").unwrap().id, b.id);
        assert!(
            s.unregister("alice", a.id).is_none(),
            "replaced session is gone"
        );
        assert!(s.unregister("alice", b.id).is_some());
        assert!(s.unregister("alice", c.id).is_some());
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn presence_and_interest() {
        let s = Sessions::default();
        let (a, _ra) = SessionHandle::new("r1".into(), 8);
        let (b, _rb) = SessionHandle::new("r2".into(), 8);
        s.register("bob", a.clone(), 5);
        s.register("bob", b.clone(), 5);
        assert!(s.available("bob").is_empty());
        assert!(!s.set_presence("bob", a.id, Some(presence()), 5));
        assert_eq!(s.available("bob").len(), 1);
        assert_eq!(s.available("bob")[0].priority, 5);
        s.set_interested("bob", b.id);
        assert_eq!(s.interested("bob").len(), 1);
        assert_eq!(s.interested("bob")[0].id, b.id);
        s.note_directed("bob", a.id, "carol@x", true);
        let gone = s.unregister("bob", a.id).unwrap();
        assert!(gone.was_available);
        assert!(gone.directed.contains("carol@x"));
    }

    #[tokio::test]
    async fn a_full_queue_closes_the_session() {
        let (h, rx) = SessionHandle::new("r".into(), 8);
        for _ in 0..8 {
            assert!(h.send(presence()));
        }
        assert!(!h.send(presence()), "queue is bounded");
        // The overflow was signalled, so the connection task wakes up at once.
        tokio::time::timeout(std::time::Duration::from_secs(1), rx.overflowed())
            .await
            .expect("overflow notified");
        let mut buf = std::collections::VecDeque::new();
        assert_eq!(rx.next(&mut buf).await, crate::mailbox::Next::Overflow);
    }
}
