//! The rooms service, the in-memory side of rooms: who is in which room right now (occupants, their
//! sessions, nicknames and show), which rooms each session is in, and the invitation
//! rate of each account.
//!
//! Everything that must survive a restart is in the store (`causerie_store::RoomStore`);
//! a room is loaded here when someone acts on it and dropped again as soon as nobody is in
//! it. Operations on one room run one at a time: [`Rooms::lock`] hands out the room's
//! async lock, held across the store calls of one operation, so that two joins, or a join
//! and a removal, never interleave. Locks of two rooms are never held together. Like
//! `sessions::Sessions`, this is the one place to replace with a shared implementation
//! for several nodes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use causerie_proto::Element;
use causerie_store::{Affiliation, Room, RoomStore, Store, StoreError};
use tokio::sync::OwnedMutexGuard;

use crate::outbound::Shared;
use crate::session::{Session, SessionHandle};

/// One session of an occupant. Its handle stays in the service: features reach occupants
/// through the room's fan-out only.
#[derive(Debug, Clone)]
pub struct OccupantSession {
    /// The session's full JID.
    pub jid: String,
    handle: SessionHandle,
}

impl OccupantSession {
    /// The session entering the room.
    pub fn of(session: &Session) -> OccupantSession {
        OccupantSession {
            jid: session.jid.to_string(),
            handle: session.handle().clone(),
        }
    }

    /// The session's id in the registry.
    pub fn id(&self) -> u64 {
        self.handle.id
    }
}

/// Someone in a room: one account under one nickname, from one or more sessions.
#[derive(Debug, Clone)]
pub struct Occupant {
    pub nick: String,
    /// The account's localpart.
    pub user: String,
    pub affiliation: Affiliation,
    pub sessions: Vec<OccupantSession>,
    /// `away`, `chat`, `dnd` or `xa`; None when simply available.
    pub show: Option<String>,
    pub status: Option<String>,
    /// When the occupant came in (milliseconds since the epoch).
    pub joined_ms: i64,
}

impl Occupant {
    /// The XEP-0045 role: the owner moderates, members participate.
    pub fn role(&self) -> &'static str {
        match self.affiliation {
            Affiliation::Owner => "moderator",
            Affiliation::Member => "participant",
        }
    }

    /// The full JID shown to the other occupants (the room is not anonymous).
    pub fn jid(&self) -> &str {
        self.sessions.first().map(|s| s.jid.as_str()).unwrap_or("")
    }

    pub fn has_session(&self, id: u64) -> bool {
        self.sessions.iter().any(|s| s.handle.id == id)
    }

    /// Sends `stanza` to each of the occupant's sessions, addressed to it.
    pub fn send(&self, stanza: &Element) {
        if let Some(shared) = shared(stanza) {
            self.send_shared(&shared);
        }
    }

    /// Sends a stanza serialised once to each of the occupant's sessions (each
    /// session's task addresses it to its own full JID, which is `s.jid`).
    pub fn send_shared(&self, shared: &Arc<Shared>) {
        for s in &self.sessions {
            s.handle.send_shared(shared);
        }
    }
}

/// A room loaded in memory, with its occupants.
#[derive(Debug)]
pub struct Live {
    pub room: Room,
    pub occupants: Vec<Occupant>,
}

impl Live {
    /// The occupant one of whose sessions is `id`.
    pub fn by_session(&self, id: u64) -> Option<usize> {
        self.occupants.iter().position(|o| o.has_session(id))
    }

    /// The occupant using `nick` (compared without case).
    pub fn by_nick(&self, nick: &str) -> Option<usize> {
        let nick = nick.to_lowercase();
        self.occupants
            .iter()
            .position(|o| o.nick.to_lowercase() == nick)
    }

    /// The occupant of account `user`.
    pub fn by_user(&self, user: &str) -> Option<usize> {
        self.occupants.iter().position(|o| o.user == user)
    }

    /// Sends `stanza` to every session of every occupant (never blocks).
    pub fn broadcast(&self, stanza: &Element) {
        if let Some(shared) = shared(stanza) {
            self.broadcast_shared(&shared);
        }
    }

    /// Sends a stanza serialised once to every session of every occupant.
    pub fn broadcast_shared(&self, shared: &Arc<Shared>) {
        for o in &self.occupants {
            o.send_shared(shared);
        }
    }

    /// Sends `stanza` to every occupant but the one at `except`.
    pub fn broadcast_except(&self, except: usize, stanza: &Element) {
        let Some(shared) = shared(stanza) else { return };
        for (i, o) in self.occupants.iter().enumerate() {
            if i != except {
                o.send_shared(&shared);
            }
        }
    }
}

/// `stanza` serialised once for its recipients; None (logged) when it cannot be
/// serialised, which a connection task serialising it would have met too.
fn shared(stanza: &Element) -> Option<Arc<Shared>> {
    let shared = Shared::new(stanza);
    if shared.is_none() {
        tracing::warn!("could not serialise a room stanza");
    }
    shared
}

/// What a room's lock protects.
#[derive(Debug, Default)]
pub struct Slot {
    /// Dropped from the registry: whoever waited on this lock must look the room up again.
    gone: bool,
    /// The room, once loaded from the store (None: not loaded, or does not exist).
    pub live: Option<Live>,
}

type SlotRef = Arc<tokio::sync::Mutex<Slot>>;

/// Occupants of the rooms, by room (see the module docs).
#[derive(Debug, Default)]
pub struct Rooms {
    slots: Mutex<HashMap<String, SlotRef>>,
    /// Rooms each session (by id) is in, to leave them when it ends.
    joined: Mutex<HashMap<u64, HashSet<String>>>,
    /// Recent invitations of each account.
    invitations: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a panic elsewhere while holding it; every update below is
    // a single operation, so the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rooms {
    /// Takes the lock of room `name` (waiting for the operation in progress on it).
    pub async fn lock(&self, name: &str) -> RoomLock<'_> {
        loop {
            let slot = guard(&self.slots)
                .entry(name.to_string())
                .or_default()
                .clone();
            let held = slot.clone().lock_owned().await;
            if held.gone {
                continue;
            }
            return RoomLock {
                rooms: self,
                name: name.to_string(),
                slot,
                held,
            };
        }
    }

    /// Remembers that session `id` is in `room`.
    pub fn note_joined(&self, id: u64, room: &str) {
        guard(&self.joined)
            .entry(id)
            .or_default()
            .insert(room.to_string());
    }

    /// Forgets that session `id` is in `room`.
    pub fn note_left(&self, id: u64, room: &str) {
        let mut joined = guard(&self.joined);
        if let Some(set) = joined.get_mut(&id) {
            set.remove(room);
            if set.is_empty() {
                joined.remove(&id);
            }
        }
    }

    /// Rooms with at least one occupant (for the administrator's live view).
    pub fn open_count(&self) -> usize {
        let joined = guard(&self.joined);
        let rooms: HashSet<&String> = joined.values().flatten().collect();
        rooms.len()
    }

    /// The rooms session `id` is in, sorted.
    pub fn joined_by(&self, id: u64) -> Vec<String> {
        let mut rooms: Vec<String> = guard(&self.joined)
            .get(&id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        rooms.sort_unstable();
        rooms
    }

    /// Counts one invitation of `user`; false (not counted) when `user` already sent
    /// `per_minute` in the last minute.
    pub fn allow_invitation(&self, user: &str, per_minute: usize) -> bool {
        self.allow_invitation_at(user, per_minute, Instant::now())
    }

    fn allow_invitation_at(&self, user: &str, per_minute: usize, now: Instant) -> bool {
        let mut all = guard(&self.invitations);
        // Forget accounts that have been quiet for a minute, so the map stays small.
        all.retain(|_, q| {
            q.back()
                .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60))
        });
        let q = all.entry(user.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            q.pop_front();
        }
        if q.len() >= per_minute {
            return false;
        }
        q.push_back(now);
        true
    }

    /// Rooms loaded in memory (someone is in them, or an operation is under way).
    pub fn loaded(&self) -> usize {
        guard(&self.slots).len()
    }

    /// The names of the rooms loaded in memory.
    pub fn names(&self) -> Vec<String> {
        guard(&self.slots).keys().cloned().collect()
    }
}

/// The lock of one room, held for one operation. When it is released and nobody is in
/// the room, the room leaves memory.
pub struct RoomLock<'a> {
    rooms: &'a Rooms,
    name: String,
    slot: SlotRef,
    held: OwnedMutexGuard<Slot>,
}

impl RoomLock<'_> {
    /// The room's name (localpart of its JID).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Loads the room from the store unless already loaded; None when it does not exist.
    pub async fn load(&mut self, store: &Store) -> Result<Option<&mut Live>, StoreError> {
        if self.held.live.is_none()
            && let Some(room) = store.room(&self.name).await?
        {
            self.held.live = Some(Live {
                room,
                occupants: Vec::new(),
            });
        }
        Ok(self.held.live.as_mut())
    }
}

impl Deref for RoomLock<'_> {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        &self.held
    }
}

impl DerefMut for RoomLock<'_> {
    fn deref_mut(&mut self) -> &mut Slot {
        &mut self.held
    }
}

impl Drop for RoomLock<'_> {
    fn drop(&mut self) {
        let empty = self
            .held
            .live
            .as_ref()
            .is_none_or(|l| l.occupants.is_empty());
        if empty {
            self.held.gone = true;
            let mut slots = guard(&self.rooms.slots);
            if slots
                .get(&self.name)
                .is_some_and(|s| Arc::ptr_eq(s, &self.slot))
            {
                slots.remove(&self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Room {
        Room {
            id: 1,
            name: name.into(),
            title: String::new(),
            description: String::new(),
            subject: String::new(),
            subject_by: String::new(),
            locked: false,
            created_ms: 0,
        }
    }

    fn occupant(nick: &str, user: &str, id_handle: &SessionHandle) -> Occupant {
        Occupant {
            nick: nick.into(),
            user: user.into(),
            affiliation: Affiliation::Member,
            sessions: vec![OccupantSession {
                jid: format!("{user}@x/r"),
                handle: id_handle.clone(),
            }],
            show: None,
            status: None,
            joined_ms: 0,
        }
    }

    #[tokio::test]
    async fn an_empty_room_leaves_memory_when_released() {
        let rooms = Rooms::default();
        {
            let _lock = rooms.lock("a").await;
            assert_eq!(rooms.loaded(), 1);
        }
        assert_eq!(rooms.loaded(), 0);
        let (h, _rx) = SessionHandle::new("r".into(), 8);
        {
            let mut lock = rooms.lock("a").await;
            lock.live = Some(Live {
                room: room("a"),
                occupants: vec![occupant("Léa", "lea", &h)],
            });
        }
        assert_eq!(rooms.loaded(), 1, "an occupied room stays");
        {
            let lock = rooms.lock("a").await;
            let live = lock.live.as_ref().unwrap();
            assert_eq!(live.by_nick("LÉA"), Some(0));
            assert_eq!(live.by_session(h.id), Some(0));
            assert_eq!(live.by_user("lea"), Some(0));
            assert_eq!(live.occupants[0].role(), "participant");
        }
        {
            let mut lock = rooms.lock("a").await;
            lock.live.as_mut().unwrap().occupants.clear();
        }
        assert_eq!(rooms.loaded(), 0);
    }

    #[tokio::test]
    async fn waiters_on_a_dropped_room_find_the_new_one() {
        let rooms = Arc::new(Rooms::default());
        let first = rooms.lock("a").await;
        let r2 = rooms.clone();
        let waiter = tokio::spawn(async move {
            let mut lock = r2.lock("a").await;
            let (h, _rx) = SessionHandle::new("r".into(), 8);
            lock.live = Some(Live {
                room: room("a"),
                occupants: vec![occupant("x", "x", &h)],
            });
        });
        tokio::task::yield_now().await;
        drop(first);
        waiter.await.unwrap();
        let lock = rooms.lock("a").await;
        assert!(lock.live.is_some(), "the waiter's work is in the registry");
    }

    #[test]
    fn joined_rooms_are_tracked_per_session() {
        let rooms = Rooms::default();
        rooms.note_joined(7, "b");
        rooms.note_joined(7, "a");
        rooms.note_joined(8, "a");
        assert_eq!(rooms.joined_by(7), vec!["a".to_string(), "b".to_string()]);
        rooms.note_left(7, "a");
        rooms.note_left(7, "b");
        assert!(rooms.joined_by(7).is_empty());
        assert_eq!(rooms.joined_by(8), vec!["a".to_string()]);
    }

    #[test]
    fn invitations_are_limited_per_minute() {
        let rooms = Rooms::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rooms.allow_invitation_at("lea", 3, t0));
        }
        assert!(!rooms.allow_invitation_at("lea", 3, t0 + Duration::from_secs(30)));
        assert!(rooms.allow_invitation_at("hugo", 3, t0), "per account");
        assert!(rooms.allow_invitation_at("lea", 3, t0 + Duration::from_secs(61)));
    }
}
