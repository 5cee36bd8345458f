//! The writer of the rooms' archive: groupchat messages are handed to one task that
//! writes them in batches, one transaction per batch, off the room's lock.
//!
//! Writing each message before its fan-out, under the room's lock, cost a database round
//! trip per post (two thread hand-offs with SQLite) and serialised each room's posts on
//! it. Now a post is queued here, in the order of its fan-out, and the occupants get it
//! at once. Whoever reads the archive (a joiner's history, a XEP-0313 query) or deletes
//! a room first calls [`Archiver::flush`], which returns once every message queued before
//! it is written: readers never miss a message that was delivered before they asked.
//!
//! A batch the database refuses (a constraint: a room deleted in between, a taken id) is
//! written again message by message, so one bad row does not lose the others; a batch
//! that fails for want of the database (timeout, connection) is tried again three times,
//! a second apart, then dropped with an error in the log. Posting never waits for the
//! writer: when it is [`QUEUE`] messages behind, [`Archiver::submit`] refuses and the
//! sender is told the message could not be stored (it is not delivered, as before when an
//! archive write failed). A flush waits at most [`FLUSH_WAIT`]. Messages queued but not
//! yet written when the process is killed are lost (at most one batch); a clean shutdown
//! flushes first (`Running::shutdown`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use causerie_store::{ArchiveEntry, RoomStore, Store};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// Messages queued at most; past that, posts are refused (the writer is stuck).
pub const QUEUE: usize = 8192;
/// Most messages written in one transaction.
const BATCH: usize = 512;
/// Longest wait of [`Archiver::flush`] (a reader then reads without the last messages).
pub const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// Attempts at a batch when the database cannot be reached, and the pause between.
const ATTEMPTS: u32 = 3;
const PAUSE: Duration = Duration::from_secs(1);

enum Job {
    Write(Box<ArchiveEntry>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the archive writer (see the module docs).
#[derive(Debug, Clone)]
pub struct Archiver {
    tx: mpsc::Sender<Job>,
    /// Messages the writer could not write (so [`Archiver::flush`] does not report as
    /// written what was lost).
    lost: Arc<AtomicU64>,
}

impl Archiver {
    /// Starts the writer task over `store`; it ends when every `Archiver` is dropped.
    pub fn start(store: Store) -> Archiver {
        let (tx, rx) = mpsc::channel(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(store, rx, lost.clone()));
        Archiver { tx, lost }
    }

    /// Queues a message; false when the writer is [`QUEUE`] messages behind or gone
    /// (the caller then tells the sender the message could not be stored).
    pub fn submit(&self, entry: ArchiveEntry) -> bool {
        match self.tx.try_send(Job::Write(Box::new(entry))) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!("the room archive writer is behind: a room message is refused");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                error!("the room archive writer has stopped: a room message is refused");
                false
            }
        }
    }

    /// Returns once every message queued before this call is written (or has failed),
    /// or after [`FLUSH_WAIT`]: true when every one of them is committed (none failed
    /// meanwhile, and the writer answered in time). Costs no database round trip of its
    /// own: it waits for the writer's next commit (or only for its answer when nothing
    /// is queued).
    pub async fn flush(&self) -> bool {
        let lost = self.lost.load(Ordering::Acquire);
        let (done, wait) = oneshot::channel();
        let flushed = async { self.tx.send(Job::Flush(done)).await.is_ok() && wait.await.is_ok() };
        match tokio::time::timeout(FLUSH_WAIT, flushed).await {
            Ok(answered) => answered && self.lost.load(Ordering::Acquire) == lost,
            Err(_) => {
                warn!(
                    "the room archive writer did not catch up in time; reading without its last messages"
                );
                false
            }
        }
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, lost: Arc<AtomicU64>) {
    let mut batch: Vec<ArchiveEntry> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(e) => batch.push(*e),
                Job::Flush(done) => flushes.push(done),
            }
            if batch.len() >= BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        let failed = write(&store, &batch).await;
        if failed > 0 {
            lost.fetch_add(failed, Ordering::AcqRel);
        }
        batch.clear();
        batch.shrink_to(BATCH);
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes a batch; how many of its messages could not be written.
async fn write(store: &Store, batch: &[ArchiveEntry]) -> u64 {
    if batch.is_empty() {
        return 0;
    }
    let mut attempt = 1;
    let e = loop {
        match store.archive_messages(batch).await {
            Ok(_) => return 0,
            // Refused by the database itself: one message is at fault, not the batch.
            Err(e) if e.is_refused() => break e,
            Err(e) if attempt < ATTEMPTS => {
                warn!(error = %e, messages = batch.len(), attempt, "cannot archive a batch of room messages; trying again");
                attempt += 1;
                tokio::time::sleep(PAUSE).await;
            }
            Err(e) => {
                error!(error = %e, messages = batch.len(), "cannot archive a batch of room messages; they are not archived");
                return batch.len() as u64;
            }
        }
    };
    warn!(error = %e, messages = batch.len(), "a batch of room messages was refused; writing them one by one");
    let mut failed = 0;
    for entry in batch {
        if let Err(e) = store.archive_messages(std::slice::from_ref(entry)).await {
            error!(error = %e, room = %entry.room, stanza_id = %entry.message.stanza_id, "cannot archive a room message");
            failed += 1;
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use causerie_store::{AccountStore, ArchiveQuery, ArchivedMessage, CreateRoom};

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
        assert!(archiver.flush().await);
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
        // only that message is lost.
        let mut ghost = entry(&rooms[0], 7000);
        ghost.room_id = 999_999;
        assert!(archiver.submit(entry(&rooms[0], 5000)));
        assert!(archiver.submit(ghost));
        assert!(archiver.submit(entry(&rooms[0], 5001)));
        assert!(!archiver.flush().await, "a lost message is reported");
        assert!(archiver.flush().await, "and only once");
        let page = store.archive_page(rooms[0].id, &all).await.unwrap();
        assert_eq!(page.count, 602);
        let last: Vec<&str> = page.messages[600..]
            .iter()
            .map(|m| m.stanza_id.as_str())
            .collect();
        assert_eq!(last, ["s5000", "s5001"]);
    }
}
