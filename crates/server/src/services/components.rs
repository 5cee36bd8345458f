//! The external components (XEP-0114) configured and connected, and the requests the
//! server itself sent them and waits answers for.
//!
//! [`Components::owner`] tells which configured component a domain belongs to (its own
//! domain, or a subdomain of it). One connection per component: a second one that
//! completes its handshake replaces the first ([`Components::connect`] hands back the old
//! handle, which the caller closes with `<conflict/>`), as a newer client session wins a
//! resource (RFC 6120 §7.7.2.2) — an app server that reconnects after a network failure
//! is not locked out by its own half-dead connection.
//!
//! Nothing here decides who may send what: the gate (`services::gate`) does. What goes
//! to a component is only what the server itself composes: its requests
//! ([`Components::request`], whose answers come back through the gate as an [`Awaited`])
//! and its answers to the component's own requests ([`Components::send`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use causerie_proto::Element;
use tokio::sync::oneshot;

use crate::session::SessionHandle;

/// Requests awaited at once, all components together; past it a request is not sent.
const MAX_AWAITED: usize = 10_000;
/// An awaited request older than this is forgotten (its waiter gave up long before).
const AWAITED_TTL: Duration = Duration::from_secs(600);

/// A server request waiting for its answer.
struct Waiting {
    component: String,
    /// The JID the request went to: the answer must come from it.
    peer: String,
    /// The JID the request came from (the server, or an account it spoke for): the
    /// answer must go to it.
    requester: String,
    since: Instant,
    tx: oneshot::Sender<Element>,
}

#[derive(Default)]
struct Inner {
    connected: HashMap<String, SessionHandle>,
    awaited: HashMap<String, Waiting>,
}

/// See the module docs.
pub struct Components {
    configured: HashSet<String>,
    inner: Mutex<Inner>,
}

/// The waiter of an answer to one of the server's requests, which only the gate hands
/// out (`Gate::from_component`) for an answer that matches the request.
#[derive(Debug)]
pub struct Awaited(oneshot::Sender<Element>);

impl Awaited {
    /// Hands the answer to whoever sent the request.
    pub fn deliver(self, answer: Element) {
        let _ = self.0.send(answer);
    }
}

impl Components {
    /// The configured component domains (normalised to lower case).
    pub fn new<'a>(domains: impl IntoIterator<Item = &'a str>) -> Components {
        Components {
            configured: domains.into_iter().map(str::to_lowercase).collect(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any component is configured.
    pub fn any(&self) -> bool {
        !self.configured.is_empty()
    }

    /// The configured component `domain` belongs to: that component's own domain, or
    /// one it is a subdomain of.
    pub fn owner(&self, domain: &str) -> Option<&str> {
        let domain = domain.to_lowercase();
        self.configured
            .iter()
            .find(|c| {
                domain == **c
                    || domain
                        .strip_suffix(c.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            })
            .map(String::as_str)
    }

    /// Registers the connection of `component` (just authenticated); returns the
    /// connection it replaces, which the caller closes.
    pub fn connect(&self, component: &str, handle: SessionHandle) -> Option<SessionHandle> {
        self.lock().connected.insert(component.to_string(), handle)
    }

    /// The connection `id` of `component` ended; the requests it had not answered are
    /// dropped (their waiters see the channel close: no answer, not an error).
    pub fn disconnect(&self, component: &str, id: u64) {
        let mut inner = self.lock();
        if inner.connected.get(component).is_some_and(|h| h.id == id) {
            inner.connected.remove(component);
            inner.awaited.retain(|_, w| w.component != component);
        }
    }

    /// Whether `component` is connected now.
    pub fn is_connected(&self, component: &str) -> bool {
        self.lock().connected.contains_key(component)
    }

    /// Queues a stanza the server composed for `component` (an answer to its request);
    /// false when it is not connected or its queue is full.
    pub fn send(&self, component: &str, stanza: Element) -> bool {
        let handle = self.lock().connected.get(component).cloned();
        handle.is_some_and(|h| h.send(stanza))
    }

    /// Sends the server's IQ request `iq` (with its `id`, `from` = `requester`, `to` =
    /// `peer`) to `component` and returns the receiver of its answer; None when the
    /// component is not connected or too many requests are awaited.
    pub fn request(
        &self,
        component: &str,
        id: &str,
        requester: &str,
        peer: &str,
        iq: Element,
    ) -> Option<oneshot::Receiver<Element>> {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner.awaited.len() >= MAX_AWAITED {
            inner
                .awaited
                .retain(|_, w| now.duration_since(w.since) < AWAITED_TTL && !w.tx.is_closed());
            if inner.awaited.len() >= MAX_AWAITED {
                return None;
            }
        }
        let handle = inner.connected.get(component)?.clone();
        let (tx, rx) = oneshot::channel();
        inner.awaited.insert(
            id.to_string(),
            Waiting {
                component: component.to_string(),
                peer: peer.to_lowercase(),
                requester: requester.to_lowercase(),
                since: now,
                tx,
            },
        );
        if !handle.send(iq) {
            inner.awaited.remove(id);
            return None;
        }
        Some(rx)
    }

    /// A waiter gave up on request `id` (no answer in time).
    pub fn forget(&self, id: &str) {
        self.lock().awaited.remove(id);
    }

    /// The waiter of request `id` if `from` (on `component`) answers it to `to`: the
    /// request went from `to` to `from`. Taken once. For the gate.
    pub(crate) fn take_awaited(
        &self,
        component: &str,
        from: &str,
        to: &str,
        id: &str,
    ) -> Option<Awaited> {
        let mut inner = self.lock();
        let w = inner.awaited.get(id)?;
        let matches = w.component == component
            && w.peer == from.to_lowercase()
            && w.requester == to.to_lowercase();
        if !matches {
            return None;
        }
        inner.awaited.remove(id).map(|w| Awaited(w.tx))
    }

    /// Closes every component connection (shutdown).
    pub fn stop_all(&self, condition: &'static str) {
        for h in self.lock().connected.values() {
            h.stop(condition);
        }
    }

    /// Connected components (a clean shutdown waits for them).
    pub fn count(&self) -> usize {
        self.lock().connected.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_is_the_domain_or_a_subdomain() {
        let c = Components::new(["push.example.org"]);
        assert_eq!(c.owner("push.example.org"), Some("push.example.org"));
        assert_eq!(c.owner("PUSH.example.org"), Some("push.example.org"));
        assert_eq!(c.owner("a.push.example.org"), Some("push.example.org"));
        assert_eq!(c.owner("xpush.example.org"), None);
        assert_eq!(c.owner("example.org"), None);
    }

    #[test]
    fn an_answer_is_taken_once_from_the_peer_to_the_requester() {
        let c = Components::new(["push.example.org"]);
        let (handle, _rx) = SessionHandle::new("push.example.org".into(), 8);
        assert!(c.connect("push.example.org", handle.clone()).is_none());
        let iq = Element::bare("iq", causerie_proto::ns::CLIENT);
        let mut rx = c
            .request(
                "push.example.org",
                "r1",
                "lea@example.org",
                "push.example.org",
                iq,
            )
            .unwrap();
        assert!(
            c.take_awaited(
                "push.example.org",
                "evil.push.example.org",
                "lea@example.org",
                "r1"
            )
            .is_none()
        );
        assert!(
            c.take_awaited(
                "push.example.org",
                "push.example.org",
                "tom@example.org",
                "r1"
            )
            .is_none()
        );
        let a = c
            .take_awaited(
                "push.example.org",
                "push.example.org",
                "lea@example.org",
                "r1",
            )
            .unwrap();
        assert!(
            c.take_awaited(
                "push.example.org",
                "push.example.org",
                "lea@example.org",
                "r1"
            )
            .is_none()
        );
        a.deliver(Element::bare("iq", causerie_proto::ns::CLIENT));
        assert!(rx.try_recv().is_ok());
        // A replaced connection's end does not unregister the new one.
        let (newer, _rx2) = SessionHandle::new("push.example.org".into(), 8);
        assert!(c.connect("push.example.org", newer).is_some());
        c.disconnect("push.example.org", handle.id);
        assert!(c.is_connected("push.example.org"));
    }
}
