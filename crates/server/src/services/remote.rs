//! The other nodes' sessions, as this node knows them, and the outbox of what this node
//! tells the other nodes (several nodes, `crate::cluster`, docs/operations.md).
//!
//! [`Sessions`](super::Sessions) stays the one registry the router asks: with a cluster it
//! holds a [`Remote`] beside its own map, and every call that finds or delivers to an
//! account's sessions also looks here. What it finds here it does not write to: it puts
//! an [`Outgoing::Deliver`] in the outbox, which `crate::cluster` publishes on NATS to the
//! node holding the session, whose registry then delivers it as its own (after the gate
//! of the sending node decided: the decision travels with the stanza, never a
//! way around it).
//!
//! What this node's sessions look like to the others ([`SessionState`]: presence,
//! priority, what each asked pushes for) goes into the outbox as [`Outgoing::Session`]
//! at each change; `crate::cluster` keeps it in a NATS key-value bucket whose watch feeds
//! every other node's [`Remote::apply`]. A remote session counts only while its node is
//! alive ([`Remote::set_alive`]): a dead node's sessions are forgotten at once, so that
//! nothing is sent into the void and its users show as gone.
//!
//! Rooms live on one node each ([`Remote::room_owner`]): the first node a stanza for a
//! room reaches claims it in a NATS key-value bucket (`crate::cluster`), unless a live
//! node holds it; a stanza for a room of another node goes there whole
//! ([`What::Muc`]), with what the room needs of its sender's session, and the room's
//! node answers through a stand-in session (`crate::cluster`) whose queue comes back to
//! the sender's node.
//!
//! The outbox is an unbounded channel on purpose: each item is the consequence of a
//! stanza or a session change already accepted, and dropping one would lose a message or
//! leave a stale session in the other nodes' view; it drains at NATS's pace (tens of
//! thousands of items a second on loopback), far above what sessions produce.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use causerie_proto::Element;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// What the other nodes know of one session of this node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// Its last available presence (serialised), none while unavailable.
    pub presence: Option<String>,
    pub priority: i32,
    /// It gets roster pushes (`Interest::Roster`, with `presence`).
    pub interested: bool,
    pub roster_ver: bool,
    /// It gets blocklist pushes.
    pub blocklist: bool,
    /// XEP-0280 carbons enabled.
    pub carbons: bool,
}

/// A session of another node.
#[derive(Debug, Clone)]
pub struct RemoteSession {
    pub node: Arc<str>,
    pub resource: String,
    /// Stands for the session in calls that name sessions by id: never one of this
    /// node's (the top bit is set), stable while the session lives.
    pub id: u64,
    pub presence: Option<Element>,
    pub state: SessionState,
}

/// What this node sends to one session of another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub user: String,
    pub resource: String,
    pub what: What,
}

/// See [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum What {
    /// A stanza the gate of this node let through (serialised). `fallback`: it was the
    /// only copy, so if the session is gone a message goes to offline storage there.
    /// `answer`: an IQ answer, delivered only if the session awaits it.
    Stanza {
        xml: String,
        fallback: bool,
        answer: bool,
    },
    /// Close the session with a stream error (a resource conflict, an account closed).
    Stop {
        condition: String,
        text: Option<String>,
    },
    /// A stanza the session sent to a room this node holds (its `from` stamped, the
    /// sending node's router having run up to the rooms): `session` is its id on the
    /// sending node (`node`), `tu` its register, `lang` its stream's language; `invitee`: a
    /// direct invitation (XEP-0249) to that account.
    Muc {
        node: String,
        /// Answered with [`What::MucDone`] once what it did is durable on the room's node.
        seq: u64,
        session: u64,
        lang: String,
        tu: bool,
        xml: String,
        invitee: Option<String>,
    },
    /// The room's node handled [`What::Muc`] `seq` of this node, and what it did is
    /// committed (`durable`) or could not be.
    MucDone { seq: u64, durable: bool },
    /// A request for the node that holds something (a room): `kind` says what `body`
    /// asks; answered with [`What::Reply`] to `node`.
    Request {
        node: String,
        seq: u64,
        kind: String,
        body: String,
    },
    /// The answer to this node's request `seq`.
    Reply { seq: u64, body: String },
}

/// What every node must change in what it keeps or has open (a write, a sign-out, a
/// capability learnt on this node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Invalidation {
    /// The account's roster changed: forget its mutual contacts.
    Roster(String),
    /// The account's blocklist changed: read it again.
    Blocklist(String),
    /// Session `id` of node `node` ended (or left every room): its stand-ins leave the
    /// rooms they are in.
    Session { node: String, id: u64 },
    /// Close `user`'s sessions opened with credential `tag` (a portal sign-out, an app
    /// password revoked).
    CloseTagged {
        user: String,
        tag: String,
        condition: String,
        text: String,
    },
    /// A structure's app passwords' choice changed: each node ends the sessions opened
    /// with one that it now refuses.
    AppPasswordsPolicy,
    /// Capabilities (XEP-0115) learnt: the `+notify` nodes of `key`.
    Caps { key: String, features: Vec<String> },
    /// A node loaded directory generation `n`: the others read it now rather than at
    /// their next poll.
    Generation(i64),
}

/// An item of the outbox.
#[derive(Debug)]
pub enum Outgoing {
    /// A session of this node changed (`None`: it ended).
    Session {
        user: String,
        resource: String,
        state: Option<SessionState>,
    },
    /// To a session of another node.
    Deliver { node: Arc<str>, envelope: Envelope },
    /// To every other node.
    Invalidate(Invalidation),
    /// Claim room `room` for this node unless a live node holds it; the holder is
    /// answered.
    Claim {
        room: String,
        reply: tokio::sync::oneshot::Sender<Arc<str>>,
    },
}

/// See the module docs.
#[derive(Debug)]
pub struct Remote {
    /// This node's incarnation (its name and start).
    pub node: Arc<str>,
    sessions: RwLock<HashMap<String, Vec<RemoteSession>>>,
    alive: RwLock<HashSet<Arc<str>>>,
    /// Which node holds each room claimed so far.
    rooms: RwLock<HashMap<String, Arc<str>>>,
    /// Stanzas sent to other nodes' rooms whose durability is not known yet.
    forwards: std::sync::Mutex<Forwards>,
    forwards_lost: std::sync::atomic::AtomicU64,
    forwards_settled: tokio::sync::Notify,
    /// Requests to other nodes awaiting their answers, by sequence number.
    requests: std::sync::Mutex<(u64, HashMap<u64, tokio::sync::oneshot::Sender<String>>)>,
    out: mpsc::UnboundedSender<Outgoing>,
}

/// See [`Remote::forwards_durable`].
#[derive(Debug, Default)]
struct Forwards {
    next: u64,
    /// By sequence number, the node each went to.
    outstanding: std::collections::BTreeMap<u64, Arc<str>>,
}

impl Remote {
    /// A view for node `node`, and the receiving end of its outbox.
    pub fn new(node: &str) -> (Remote, mpsc::UnboundedReceiver<Outgoing>) {
        let (out, rx) = mpsc::unbounded_channel();
        (
            Remote {
                node: node.into(),
                sessions: RwLock::default(),
                alive: RwLock::default(),
                rooms: RwLock::default(),
                forwards: std::sync::Mutex::default(),
                forwards_lost: std::sync::atomic::AtomicU64::new(0),
                forwards_settled: tokio::sync::Notify::new(),
                requests: std::sync::Mutex::default(),
                out,
            },
            rx,
        )
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<RemoteSession>>> {
        self.sessions.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<RemoteSession>>> {
        self.sessions.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts an item in the outbox (nothing when the cluster task is gone: shutting down).
    pub fn send(&self, item: Outgoing) {
        let _ = self.out.send(item);
    }

    /// The id standing for session `resource` of node `node`.
    pub fn id_of(node: &str, resource: &str) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        node.hash(&mut h);
        resource.hash(&mut h);
        h.finish() | (1 << 63)
    }

    /// Whether `id` stands for a remote session.
    pub fn is_remote_id(id: u64) -> bool {
        id & (1 << 63) != 0
    }

    // -- fed by the cluster -------------------------------------------------------------

    /// A session of node `node` changed (`None`: it ended).
    pub fn apply(&self, node: &str, user: &str, resource: &str, state: Option<SessionState>) {
        if node == &*self.node {
            return;
        }
        let mut map = self.write();
        match state {
            None => {
                if let Some(list) = map.get_mut(user) {
                    list.retain(|s| !(&*s.node == node && s.resource == resource));
                    if list.is_empty() {
                        map.remove(user);
                    }
                }
            }
            Some(state) => {
                let presence = state.presence.as_deref().and_then(|x| x.parse().ok());
                let list = map.entry(user.to_string()).or_default();
                match list
                    .iter_mut()
                    .find(|s| &*s.node == node && s.resource == resource)
                {
                    Some(s) => {
                        s.presence = presence;
                        s.state = state;
                    }
                    None => list.push(RemoteSession {
                        node: node.into(),
                        resource: resource.to_string(),
                        id: Self::id_of(node, resource),
                        presence,
                        state,
                    }),
                }
            }
        }
    }

    /// Node `node` is alive (`true`) or dead; a dead node's sessions are forgotten and
    /// returned (user, session).
    pub fn set_alive(&self, node: &str, alive: bool) -> Vec<(String, RemoteSession)> {
        let mut set = self.alive.write().unwrap_or_else(|e| e.into_inner());
        if alive {
            set.insert(node.into());
            return Vec::new();
        }
        set.remove(node);
        drop(set);
        let mut gone = Vec::new();
        let mut map = self.write();
        map.retain(|user, list| {
            list.retain(|s| {
                if &*s.node == node {
                    gone.push((user.clone(), s.clone()));
                    false
                } else {
                    true
                }
            });
            !list.is_empty()
        });
        gone
    }

    /// Node `owner` holds `room` now (`None`: nobody).
    pub fn note_room(&self, room: &str, owner: Option<&str>) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        match owner {
            Some(o) => rooms.insert(room.to_string(), o.into()),
            None => rooms.remove(room),
        };
    }

    /// The rooms node `node` holds.
    pub fn rooms_of(&self, node: &str) -> Vec<String> {
        self.rooms
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, o)| &***o == node)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// The node holding `room`, claiming it for this one when no live node does; this
    /// node when NATS does not answer (the room then lives here until it does).
    pub async fn room_owner(&self, room: &str) -> Arc<str> {
        let known = self
            .rooms
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(room)
            .cloned();
        if let Some(owner) = known
            && (owner == self.node || self.is_alive(&owner))
        {
            return owner;
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Outgoing::Claim {
            room: room.to_string(),
            reply,
        });
        match tokio::time::timeout(std::time::Duration::from_secs(3), answer).await {
            Ok(Ok(owner)) => {
                self.note_room(room, Some(&owner));
                owner
            }
            _ => self.node.clone(),
        }
    }

    /// Sends what `session` addressed to a room of node `node` there. Until that node
    /// says it is durable, an acknowledgement (XEP-0198) that covers it waits
    /// ([`Remote::forwards_durable`]).
    pub fn forward_muc(
        &self,
        node: &Arc<str>,
        session: &crate::session::Session,
        stanza: &Element,
        invitee: Option<&str>,
    ) {
        let seq = {
            let mut f = self.forwards.lock().unwrap_or_else(|e| e.into_inner());
            f.next += 1;
            let seq = f.next;
            f.outstanding.insert(seq, node.clone());
            seq
        };
        self.send(Outgoing::Deliver {
            node: node.clone(),
            envelope: Envelope {
                user: session.user.clone(),
                resource: session.resource().to_string(),
                what: What::Muc {
                    node: self.node.to_string(),
                    seq,
                    session: session.id(),
                    lang: session.lang.code().to_string(),
                    tu: session.register == causerie_ent::Register::Tu,
                    xml: causerie_proto::xml::to_string(stanza),
                    invitee: invitee.map(str::to_string),
                },
            },
        });
    }

    /// The room's node answered forward `seq` (see [`Remote::forward_muc`]).
    pub fn forward_done(&self, seq: u64, durable: bool) {
        let known = self
            .forwards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .outstanding
            .remove(&seq)
            .is_some();
        if known && !durable {
            self.forwards_lost
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        self.forwards_settled.notify_waiters();
    }

    /// Node `node` died: what was sent to its rooms and not answered is lost.
    pub fn forwards_lost_to(&self, node: &str) {
        let mut f = self.forwards.lock().unwrap_or_else(|e| e.into_inner());
        let before = f.outstanding.len();
        f.outstanding.retain(|_, n| &**n != node);
        let lost = (before - f.outstanding.len()) as u64;
        drop(f);
        if lost > 0 {
            self.forwards_lost
                .fetch_add(lost, std::sync::atomic::Ordering::AcqRel);
        }
        self.forwards_settled.notify_waiters();
    }

    /// How many forwards were lost so far (for a durability mark).
    pub fn forwards_lost(&self) -> u64 {
        self.forwards_lost
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether every stanza sent to another node's rooms before this call is durable
    /// there, and none was lost since the mark that saw `lost_at_mark` lost; waits for
    /// their answers at most `wait`.
    pub async fn forwards_durable(&self, lost_at_mark: u64, wait: std::time::Duration) -> bool {
        let upto = self.forwards.lock().unwrap_or_else(|e| e.into_inner()).next;
        let settled = async {
            loop {
                let notified = self.forwards_settled.notified();
                let pending = self
                    .forwards
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .outstanding
                    .range(..=upto)
                    .next()
                    .is_some();
                if !pending {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(wait, settled).await.is_ok() && self.forwards_lost() == lost_at_mark
    }

    /// Asks node `node` to do `kind` with `body` (see [`What::Request`]); its answer,
    /// or none within `wait` (the node is gone or overloaded).
    pub async fn request(
        &self,
        node: &Arc<str>,
        kind: &str,
        body: String,
        wait: std::time::Duration,
    ) -> Option<String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let seq = {
            let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            r.0 += 1;
            let seq = r.0;
            r.1.insert(seq, tx);
            seq
        };
        self.send(Outgoing::Deliver {
            node: node.clone(),
            envelope: Envelope {
                user: String::new(),
                resource: String::new(),
                what: What::Request {
                    node: self.node.to_string(),
                    seq,
                    kind: kind.to_string(),
                    body,
                },
            },
        });
        let answer = tokio::time::timeout(wait, rx)
            .await
            .ok()
            .and_then(Result::ok);
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .remove(&seq);
        answer
    }

    /// Another node answered this node's request `seq`.
    pub fn answered(&self, seq: u64, body: String) {
        let waiting = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .remove(&seq);
        if let Some(tx) = waiting {
            let _ = tx.send(body);
        }
    }

    /// Answers request `seq` of node `node`.
    pub fn reply(&self, node: &str, seq: u64, body: String) {
        self.send(Outgoing::Deliver {
            node: node.into(),
            envelope: Envelope {
                user: String::new(),
                resource: String::new(),
                what: What::Reply { seq, body },
            },
        });
    }

    /// `session` ended, or left every room: the other nodes' stand-ins for it leave
    /// theirs.
    pub fn session_left_rooms(&self, session: &crate::session::Session) {
        self.send(Outgoing::Invalidate(Invalidation::Session {
            node: self.node.to_string(),
            id: session.id(),
        }));
    }

    /// Whether node `node` is held alive.
    pub fn is_alive(&self, node: &str) -> bool {
        self.alive
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(node)
    }

    // -- asked by the registry ----------------------------------------------------------

    /// The sessions of `user` on live nodes that `keep` selects.
    pub fn select(&self, user: &str, keep: impl Fn(&RemoteSession) -> bool) -> Vec<RemoteSession> {
        let Some(list) = self.read().get(user).cloned() else {
            return Vec::new();
        };
        list.into_iter()
            .filter(|s| keep(s) && self.is_alive(&s.node))
            .collect()
    }

    /// Whether `user` has a session on a live node (that `keep` selects).
    pub fn any(&self, user: &str, keep: impl Fn(&RemoteSession) -> bool) -> bool {
        self.read()
            .get(user)
            .is_some_and(|l| l.iter().any(|s| keep(s) && self.is_alive(&s.node)))
    }

    /// Queues `stanza` for the remote session `s` of `user`.
    pub fn deliver(&self, user: &str, s: &RemoteSession, stanza: &Element, fallback: bool) {
        let answer =
            stanza.name() == "iq" && matches!(stanza.attr("type"), Some("result") | Some("error"));
        self.send(Outgoing::Deliver {
            node: s.node.clone(),
            envelope: Envelope {
                user: user.to_string(),
                resource: s.resource.clone(),
                what: What::Stanza {
                    xml: causerie_proto::xml::to_string(stanza),
                    fallback,
                    answer,
                },
            },
        });
    }

    /// Asks the remote session `s` of `user` to close.
    pub fn stop(&self, user: &str, s: &RemoteSession, condition: &str, text: Option<&str>) {
        self.send(Outgoing::Deliver {
            node: s.node.clone(),
            envelope: Envelope {
                user: user.to_string(),
                resource: s.resource.clone(),
                what: What::Stop {
                    condition: condition.to_string(),
                    text: text.map(str::to_string),
                },
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(priority: i32) -> SessionState {
        SessionState {
            presence: Some("<presence xmlns='jabber:client'/>".into()),
            priority,
            ..SessionState::default()
        }
    }

    #[test]
    fn a_remote_session_counts_only_while_its_node_lives() {
        let (r, _rx) = Remote::new("a-1");
        r.apply("b-1", "lea", "phone", Some(available(5)));
        assert!(!r.any("lea", |_| true), "node b-1 not heard yet");
        r.set_alive("b-1", true);
        let found = r.select("lea", |s| s.presence.is_some());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].state.priority, 5);
        assert!(Remote::is_remote_id(found[0].id));
        let gone = r.set_alive("b-1", false);
        assert_eq!(gone.len(), 1);
        assert!(!r.any("lea", |_| true));
        r.set_alive("b-1", true);
        assert!(!r.any("lea", |_| true), "forgotten, not merely hidden");
    }

    #[test]
    fn updates_replace_and_removals_remove() {
        let (r, _rx) = Remote::new("a-1");
        r.set_alive("b-1", true);
        r.apply("b-1", "lea", "phone", Some(SessionState::default()));
        assert!(r.select("lea", |s| s.presence.is_some()).is_empty());
        r.apply("b-1", "lea", "phone", Some(available(0)));
        assert_eq!(r.select("lea", |s| s.presence.is_some()).len(), 1);
        r.apply("a-1", "lea", "pc", Some(available(0)));
        assert_eq!(
            r.select("lea", |_| true).len(),
            1,
            "its own node is not remote"
        );
        r.apply("b-1", "lea", "phone", None);
        assert!(!r.any("lea", |_| true));
    }
}
