//! The writer of the archives: groupchat messages (the rooms' archive) and one-to-one
//! messages (the accounts' archive, XEP-0313 on accounts) are handed to one task that
//! writes them in batches, one transaction per batch (both archives in the same one), off
//! the message path.
//!
//! Writing each message before its fan-out, under the room's lock, cost a database round
//! trip per post (two thread hand-offs with SQLite) and serialised each room's posts on
//! it. Now a post is queued here, in the order of its fan-out, and the occupants get it
//! at once; a 1:1 message takes a place in the queue before it is delivered
//! ([`Archiver::reserve`], which waits for one while the queue is full: the sender is
//! slowed down rather than refused) and is queued once delivered ([`Slot::send`]). Whoever reads an
//! archive (a joiner's history, a XEP-0313 query) or deletes a room first calls
//! [`Archiver::flush`], which returns once every message queued before it is written:
//! readers never miss a message that was delivered before they asked.
//!
//! A batch the database refuses (a constraint: a room or an account deleted in between, a
//! taken id) is written again message by message, so one bad row does not lose the
//! others; a batch that fails for want of the database (timeout, connection) is tried
//! again three times, a second apart, then dropped with an error in the log. Posting never
//! waits for the writer: when it is [`QUEUE`] messages behind, [`Archiver::submit`]
//! refuses and [`Archiver::reserve`] waits up to [`RESERVE_WAIT`] then refuses; the sender
//! is told the message could not be stored (it is not delivered). A flush waits at most [`FLUSH_WAIT`]. Messages queued but not
//! yet written when the process is killed are lost (at most one batch); a clean shutdown
//! flushes first (`Running::shutdown`).
//!
//! **Durability** (for an acknowledgement that promises a stanza survives `kill -9`, such
//! as XEP-0198's `<a h=…/>`): take a [`Mark`] with [`Archiver::mark`] before routing the
//! stanzas the acknowledgement will cover, then `archiver.durable(mark).await`: it returns
//! `Ok` once every message queued before the call is committed and no message was lost
//! since the mark (whoever's: a loss is rare, and the answer errs on the safe side),
//! `Err(NotDurable)` otherwise (a batch dropped, the writer stopped or
//! [`DURABLE_WAIT`] passed) — then do not acknowledge. Offline messages need nothing more:
//! they are committed before the sender's stanza is handled (`features::message`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use causerie_store::{
    AccountArchiveEntry, AccountArchiveStore, ArchiveEntry, ArchiveWriter, Store,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// Messages queued at most; past that, posts are refused (the writer is stuck).
pub const QUEUE: usize = 8192;
/// Most entries (a room's message, or one account's copy of a 1:1 message) written in
/// one transaction. A commit writes every page the batch touched to the WAL, and the
/// owners' index pages are scattered: under load (the writer behind, batches full) the
/// commit was half the writer's time at 512 entries; at 4,096 the same pages carry
/// eight times the messages (BENCHMARKS.md, "Issue 14 again"). At a school's usual
/// pace a batch holds what came while the previous one was written: a few entries.
const BATCH: usize = 4096;
/// Longest wait of [`Archiver::reserve`] for a place in a full queue.
pub const RESERVE_WAIT: Duration = Duration::from_secs(5);
/// Longest wait of [`Archiver::flush`] (a reader then reads without the last messages).
pub const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// Longest wait of [`Archiver::durable`].
pub const DURABLE_WAIT: Duration = Duration::from_secs(30);
/// Attempts at a batch when the database cannot be reached, and the pause between.
const ATTEMPTS: u32 = 3;
const PAUSE: Duration = Duration::from_secs(1);

/// What the writer writes: a room's message, or a 1:1 message in its one or two archives.
#[derive(Debug)]
enum Entry {
    Room(ArchiveEntry),
    Accounts(Vec<AccountArchiveEntry>),
}

enum Job {
    Write(Box<Entry>),
    Flush(oneshot::Sender<()>),
}

/// A point in the writer's history, for [`Archiver::durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    lost: u64,
    /// Stanzas for other nodes' rooms known lost at the mark (`Remote::forwards_lost`;
    /// set by `Server::mark`).
    pub(crate) forwards_lost: u64,
}

/// Why [`Archiver::durable`] cannot promise that what was queued is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotDurable {
    /// A message queued since the mark could not be written.
    #[error("an archived message could not be written")]
    Lost,
    /// The writer did not catch up within [`DURABLE_WAIT`].
    #[error("the archive writer did not catch up in time")]
    Timeout,
    /// The writer has stopped.
    #[error("the archive writer has stopped")]
    Stopped,
}

/// The sending side of the archive writer (see the module docs).
#[derive(Debug, Clone)]
pub struct Archiver {
    tx: mpsc::Sender<Job>,
    /// Messages the writer could not write, since the start.
    lost: Arc<AtomicU64>,
}

/// A place reserved in the writer's queue for one 1:1 message ([`Archiver::reserve`]);
/// dropped unused, the place is given back.
pub struct Slot<'a> {
    permit: mpsc::Permit<'a, Job>,
}

impl Slot<'_> {
    /// Queues the message's entries (its sender's and its recipient's).
    pub fn send(self, entries: Vec<AccountArchiveEntry>) {
        self.permit
            .send(Job::Write(Box::new(Entry::Accounts(entries))));
    }
}

impl Archiver {
    /// Starts the writer task over `store`; it ends when every `Archiver` is dropped.
    pub fn start(store: Store) -> Archiver {
        let (tx, rx) = mpsc::channel(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        // On a SQLite file, batches go through a connection of the writer's own
        // (causerie_store::ArchiveWriter, on a blocking thread); else through the pool.
        let direct = store
            .archive_writer()
            .map(|w| Arc::new(std::sync::Mutex::new(w)));
        tokio::spawn(run(store, direct, rx, lost.clone()));
        Archiver { tx, lost }
    }

    /// Queues a room's message; false when the writer is [`QUEUE`] messages behind or
    /// gone (the caller then tells the sender the message could not be stored).
    pub fn submit(&self, entry: ArchiveEntry) -> bool {
        match self.tx.try_send(Job::Write(Box::new(Entry::Room(entry)))) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!("the archive writer is behind: a room message is refused");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                error!("the archive writer has stopped: a room message is refused");
                false
            }
        }
    }

    /// Reserves a place for a 1:1 message before it is delivered, waiting up to
    /// [`RESERVE_WAIT`] while the writer is [`QUEUE`] messages behind (the sender's
    /// stream is not read meanwhile: TCP slows the client down, as for any busy server);
    /// None when no place came in that time or the writer is gone (the message is then
    /// refused, not delivered).
    pub async fn reserve(&self) -> Option<Slot<'_>> {
        let permit = match self.tx.try_reserve() {
            Ok(permit) => Ok(permit),
            Err(mpsc::error::TrySendError::Full(())) => {
                match tokio::time::timeout(RESERVE_WAIT, self.tx.reserve()).await {
                    Ok(Ok(permit)) => Ok(permit),
                    Ok(Err(_)) => Err(true),
                    Err(_) => Err(false),
                }
            }
            Err(mpsc::error::TrySendError::Closed(())) => Err(true),
        };
        match permit {
            Ok(permit) => Some(Slot { permit }),
            Err(false) => {
                warn!("the archive writer is behind: a message is refused");
                None
            }
            Err(true) => {
                error!("the archive writer has stopped: a message is refused");
                None
            }
        }
    }

    /// Returns once every message queued before this call is written (or has failed),
    /// or after [`FLUSH_WAIT`].
    pub async fn flush(&self) {
        if tokio::time::timeout(FLUSH_WAIT, self.caught_up())
            .await
            .is_err()
        {
            warn!("the archive writer did not catch up in time; reading without its last messages");
        }
    }

    /// Waits until the writer has handled every job queued before; false when it stopped.
    async fn caught_up(&self) -> bool {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job::Flush(done)).await.is_ok() && wait.await.is_ok()
    }

    /// The writer's position now, to be taken before queuing the messages whose
    /// durability [`Archiver::durable`] will be asked.
    pub fn mark(&self) -> Mark {
        Mark {
            lost: self.lost.load(Ordering::Acquire),
            forwards_lost: 0,
        }
    }

    /// Returns `Ok` once every message queued before this call is committed to the
    /// database, and no message was lost since `since` (see the module docs).
    pub async fn durable(&self, since: Mark) -> Result<(), NotDurable> {
        match tokio::time::timeout(DURABLE_WAIT, self.caught_up()).await {
            Err(_) => Err(NotDurable::Timeout),
            Ok(false) => Err(NotDurable::Stopped),
            Ok(true) if self.lost.load(Ordering::Acquire) != since.lost => Err(NotDurable::Lost),
            Ok(true) => Ok(()),
        }
    }
}

/// The writer's own SQLite connection, when it has one.
type Direct = Option<Arc<std::sync::Mutex<ArchiveWriter>>>;

async fn run(store: Store, direct: Direct, mut rx: mpsc::Receiver<Job>, lost: Arc<AtomicU64>) {
    let mut rooms: Vec<ArchiveEntry> = Vec::new();
    let mut accounts: Vec<AccountArchiveEntry> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(e) => match *e {
                    Entry::Room(r) => rooms.push(r),
                    Entry::Accounts(a) => accounts.extend(a),
                },
                Job::Flush(done) => flushes.push(done),
            }
            if rooms.len() + accounts.len() >= BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        let (failed, r, a) = write(&store, &direct, rooms, accounts).await;
        if failed > 0 {
            lost.fetch_add(failed, Ordering::AcqRel);
        }
        (rooms, accounts) = (r, a);
        rooms.clear();
        rooms.shrink_to(BATCH);
        accounts.clear();
        accounts.shrink_to(BATCH);
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// One attempt at a batch: on the writer's own connection (a blocking thread) when it has
/// one, else through the store's pool. The batch is handed back with the outcome.
async fn write_once(
    store: &Store,
    direct: &Direct,
    rooms: Vec<ArchiveEntry>,
    accounts: Vec<AccountArchiveEntry>,
) -> (
    causerie_store::Result<u64>,
    Vec<ArchiveEntry>,
    Vec<AccountArchiveEntry>,
) {
    let Some(writer) = direct.clone() else {
        let r = store.write_archives(&rooms, &accounts).await;
        return (r, rooms, accounts);
    };
    let joined = tokio::task::spawn_blocking(move || {
        let r = writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(&rooms, &accounts);
        (r, rooms, accounts)
    })
    .await;
    match joined {
        Ok(done) => done,
        // The blocking task panicked (it does not): the batch is gone with it.
        Err(e) => (
            Err(causerie_store::StoreError::Corrupt(format!(
                "archive writer task: {e}"
            ))),
            Vec::new(),
            Vec::new(),
        ),
    }
}

/// Writes a batch; returns how many of its messages could not be written, and the
/// batch's vectors (to be reused).
async fn write(
    store: &Store,
    direct: &Direct,
    mut rooms: Vec<ArchiveEntry>,
    mut accounts: Vec<AccountArchiveEntry>,
) -> (u64, Vec<ArchiveEntry>, Vec<AccountArchiveEntry>) {
    let size = rooms.len() + accounts.len();
    if size == 0 {
        return (0, rooms, accounts);
    }
    let mut attempt = 1;
    let e = loop {
        let (r, back_rooms, back_accounts) = write_once(store, direct, rooms, accounts).await;
        (rooms, accounts) = (back_rooms, back_accounts);
        if rooms.len() + accounts.len() != size {
            // The batch went down with a failed blocking task: lost, and said so (a retry of
            // what is left, nothing, would report it written).
            error!(
                messages = size,
                "the archive writer's task failed; a batch is not archived"
            );
            return (size as u64, rooms, accounts);
        }
        match r {
            Ok(_) => return (0, rooms, accounts),
            // Refused by the database itself: one message is at fault, not the batch.
            Err(e) if e.is_refused() => break e,
            Err(e) if attempt < ATTEMPTS => {
                warn!(error = %e, messages = size, attempt, "cannot archive a batch of messages; trying again");
                attempt += 1;
                tokio::time::sleep(PAUSE).await;
            }
            Err(e) => {
                error!(error = %e, messages = size, "cannot archive a batch of messages; they are not archived");
                return (size as u64, rooms, accounts);
            }
        }
    };
    warn!(error = %e, messages = size, "a batch of messages was refused; writing them one by one");
    let mut failed = 0;
    for entry in &rooms {
        if let Err(e) = store.write_archives(std::slice::from_ref(entry), &[]).await {
            error!(error = %e, room = %entry.room, stanza_id = %entry.message.stanza_id, "cannot archive a room message");
            failed += 1;
        }
    }
    for entry in &accounts {
        if let Err(e) = store.write_archives(&[], std::slice::from_ref(entry)).await {
            error!(error = %e, owner = %entry.owner, stanza_id = %entry.message.stanza_id, "cannot archive a message");
            failed += 1;
        }
    }
    (failed, rooms, accounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use causerie_store::{AccountStore, ArchiveQuery, ArchivedMessage, CreateRoom, RoomStore};

    fn entry(room: &causerie_store::Room, n: usize) -> ArchiveEntry {
        ArchiveEntry {
            room_id: room.id,
            room: room.name.clone(),
            message: ArchivedMessage {
                stanza_id: format!("s{n}"),
                sender: "lea".into(),
                nick: "MARTIN Léa".into(),
                stanza: format!("<message><body>{n}</body></message>"),
                stamp_ms: 1,
            },
        }
    }

    #[tokio::test]
    async fn flushed_messages_are_all_in_the_archive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        let creds = crate::auth::credentials_for("x", 4096).unwrap();
        store.create_account("lea", &creds).await.unwrap();
        let mut rooms = Vec::new();
        for name in ["a", "b"] {
            match store.create_room(name, "lea", 1, 10).await.unwrap() {
                CreateRoom::Created(room) => rooms.push(room),
                other => panic!("{other:?}"),
            }
        }
        let archiver = Archiver::start(store.clone());
        // More than one batch, in the order given.
        for n in 0..1200 {
            assert!(archiver.submit(entry(&rooms[n % 2], n)));
        }
        archiver.flush().await;
        let all = ArchiveQuery {
            max: 2000,
            ..ArchiveQuery::default()
        };
        let page = store.archive_page(rooms[0].id, &all).await.unwrap();
        let ids: Vec<String> = page.messages.iter().map(|m| m.stanza_id.clone()).collect();
        let want: Vec<String> = (0..1200).step_by(2).map(|n| format!("s{n}")).collect();
        assert_eq!(ids, want);
        assert_eq!(
            store.archive_page(rooms[1].id, &all).await.unwrap().count,
            600
        );
        // A batch that fails (one message refers to no room) is written one by one:
        // only that message is lost, and durability is not promised past it.
        let mark = archiver.mark();
        let mut ghost = entry(&rooms[0], 7000);
        ghost.room_id = 999_999;
        assert!(archiver.submit(entry(&rooms[0], 5000)));
        assert!(archiver.submit(ghost));
        assert!(archiver.submit(entry(&rooms[0], 5001)));
        assert_eq!(archiver.durable(mark).await, Err(NotDurable::Lost));
        let page = store.archive_page(rooms[0].id, &all).await.unwrap();
        assert_eq!(page.count, 602);
        let mark = archiver.mark();
        assert!(archiver.submit(entry(&rooms[0], 5002)));
        assert_eq!(archiver.durable(mark).await, Ok(()));
        assert_eq!(
            store.archive_page(rooms[0].id, &all).await.unwrap().count,
            603
        );
        let last: Vec<&str> = page.messages[600..]
            .iter()
            .map(|m| m.stanza_id.as_str())
            .collect();
        assert_eq!(last, ["s5000", "s5001"]);
    }

    #[tokio::test]
    async fn one_to_one_messages_share_the_batches_and_a_dropped_slot_writes_nothing() {
        use causerie_store::{AccountMessage, ArchiveQuery};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        let creds = crate::auth::credentials_for("x", 4096).unwrap();
        for u in ["lea", "tom"] {
            store.create_account(u, &creds).await.unwrap();
        }
        let archiver = Archiver::start(store.clone());
        let message = |owner: &str, with: &str, n: usize| AccountArchiveEntry {
            owner: owner.into(),
            message: AccountMessage {
                stanza_id: format!("m{n}"),
                with: with.into(),
                outgoing: owner == "lea",
                stanza: format!("<message><body>{n}</body></message>"),
                stamp_ms: 1,
            },
        };
        let mark = archiver.mark();
        for n in 0..700 {
            let slot = archiver.reserve().await.unwrap();
            if n == 3 {
                drop(slot); // not delivered: not archived
                continue;
            }
            slot.send(vec![message("lea", "tom@x", n), message("tom", "lea@x", n)]);
        }
        assert_eq!(archiver.durable(mark).await, Ok(()));
        let all = ArchiveQuery {
            max: 1000,
            ..ArchiveQuery::default()
        };
        for u in ["lea", "tom"] {
            let page = store.account_archive_page(u, &all).await.unwrap();
            assert_eq!(page.count, 699);
            assert_eq!(page.messages[3].stanza_id, "m4");
        }
    }
}
