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
//! A batch that fails is retried message by message, so one bad row (a room deleted in
//! between) does not lose the others; what still fails is logged. Messages queued but not
//! yet written when the process is killed are lost (at most one batch); a clean shutdown
//! flushes first (`Running::shutdown`).

use causerie_store::{ArchiveEntry, RoomStore, Store};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// Messages queued before posters wait for the writer (backpressure).
const QUEUE: usize = 8192;
/// Most messages written in one transaction.
const BATCH: usize = 512;

enum Job {
    Write(Box<ArchiveEntry>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the archive writer (see the module docs).
#[derive(Debug, Clone)]
pub struct Archiver {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Write(e) => write!(f, "Write({})", e.message.stanza_id),
            Job::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Archiver {
    /// Starts the writer task over `store`; it ends when every `Archiver` is dropped.
    pub fn start(store: Store) -> Archiver {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        Archiver { tx }
    }

    /// Queues a message (waits only when the writer is `QUEUE` messages behind).
    pub async fn submit(&self, entry: ArchiveEntry) {
        if self.tx.send(Job::Write(Box::new(entry))).await.is_err() {
            error!("the archive writer has stopped: a room message is not archived");
        }
    }

    /// Returns once every message queued before this call is written (or has failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
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
        write(&store, &batch).await;
        batch.clear();
        batch.shrink_to(BATCH);
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write(store: &Store, batch: &[ArchiveEntry]) {
    if batch.is_empty() {
        return;
    }
    let Err(e) = store.archive_messages(batch).await else {
        return;
    };
    warn!(error = %e, messages = batch.len(), "cannot archive a batch of room messages; writing them one by one");
    for entry in batch {
        if let Err(e) = store.archive_messages(std::slice::from_ref(entry)).await {
            error!(error = %e, room = %entry.room, stanza_id = %entry.message.stanza_id, "cannot archive a room message");
        }
    }
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
            archiver.submit(entry(&rooms[n % 2], n)).await;
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
        // only that message is lost.
        let mut ghost = entry(&rooms[0], 7000);
        ghost.room_id = 999_999;
        archiver.submit(entry(&rooms[0], 5000)).await;
        archiver.submit(ghost).await;
        archiver.submit(entry(&rooms[0], 5001)).await;
        archiver.flush().await;
        let page = store.archive_page(rooms[0].id, &all).await.unwrap();
        assert_eq!(page.count, 602);
        let last: Vec<&str> = page.messages[600..]
            .iter()
            .map(|m| m.stanza_id.as_str())
            .collect();
        assert_eq!(last, ["s5000", "s5001"]);
    }
}
