//! The queue between the rest of the server and one connection task: what the session
//! must write (stanzas, or a stop), bounded, with many senders and the one receiver.
//!
//! Written here rather than taken from tokio (`mpsc::channel`, used before) for its size
//! while idle, the state most sessions of a school spend the day in: tokio's bounded
//! channel keeps its cache-padded shared state and blocks of 32 slots allocated for the
//! life of the channel (about 1.6 KiB per session in the benchmark's heap profile, once
//! the 30 presences of a login went through). This one is a mutex-guarded `VecDeque`
//! that the receiver takes whole ([`Inbox::next`] swaps it with its own spare buffer,
//! so a busy session reuses two buffers) and lets go of once the session is idle
//! ([`Inbox::release`]), plus a `Notify` to wake the receiver.
//! The per-session cost is about 100 bytes. It never blocks a sender: a full queue
//! refuses the item and flags an overflow, which closes the session (a client that does
//! not read must not make the server hold its stanzas without bound).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::outbound::Outbound;

#[derive(Debug)]
struct Shared {
    queue: Mutex<VecDeque<Outbound>>,
    notify: Notify,
    /// Most items queued at once (a stop is always accepted).
    cap: usize,
    /// A push was refused because the queue was full.
    overflow: AtomicBool,
    /// The receiver is gone: pushes are refused.
    closed: AtomicBool,
    /// Live [`Mailbox`] handles; the receiver sees the end when it reaches 0.
    senders: AtomicUsize,
    /// The session that read this queue has ended and every stanza left for it has its
    /// fate (re-routed or dropped): see [`Mailbox::settled`].
    settled: AtomicBool,
    settled_notify: Notify,
}

impl Shared {
    fn settle(&self) {
        self.settled.store(true, Ordering::Release);
        self.settled_notify.notify_waiters();
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        // Pushing and swapping cannot leave the queue inconsistent if a holder panicked.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side (cloned freely: one per place that may write to the session).
#[derive(Debug)]
pub struct Mailbox {
    shared: Arc<Shared>,
}

/// The receiving side, owned by the connection task.
#[derive(Debug)]
pub struct Inbox {
    shared: Arc<Shared>,
    /// Closed by [`Inbox::close`]: the [`Settle`] it returned says when it is settled.
    deferred: bool,
}

/// Held while a closed queue's last stanzas are given their fate; settles the queue
/// ([`Mailbox::settled`]) when dropped.
#[derive(Debug)]
pub struct Settle {
    shared: Arc<Shared>,
}

impl Drop for Settle {
    fn drop(&mut self) {
        self.shared.settle();
    }
}

/// What [`Inbox::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Items were moved into the caller's buffer, oldest first.
    Items,
    /// A push was refused: the queue was full.
    Overflow,
    /// Every sender is gone and nothing is left.
    Closed,
}

/// A new queue of at most `cap` items (at least 1).
pub fn mailbox(cap: usize) -> (Mailbox, Inbox) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        notify: Notify::new(),
        cap: cap.max(1),
        overflow: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        senders: AtomicUsize::new(1),
        settled: AtomicBool::new(false),
        settled_notify: Notify::new(),
    });
    (
        Mailbox {
            shared: shared.clone(),
        },
        Inbox {
            shared,
            deferred: false,
        },
    )
}

impl Mailbox {
    /// Queues `item`; false when the receiver is gone or the queue is full (then the
    /// receiver is told of the overflow).
    pub fn push(&self, item: Outbound) -> bool {
        let s = &self.shared;
        {
            let mut q = s.queue();
            // Under the lock: the receiver empties the queue under it when it goes.
            if s.closed.load(Ordering::Acquire) {
                return false;
            }
            if q.len() >= s.cap && !matches!(item, Outbound::Stop(_) | Outbound::Yield) {
                drop(q);
                s.overflow.store(true, Ordering::Release);
                s.notify.notify_one();
                return false;
            }
            q.push_back(item);
        }
        s.notify.notify_one();
        true
    }
}

impl Mailbox {
    /// Resolves once the receiving side is gone and what was left in the queue has its
    /// fate: a new session of the same resource waits for this before it is bound, so
    /// that the messages a replaced session leaves are re-routed (to offline storage,
    /// which the new session's initial presence then reads) before it can ask for them.
    pub async fn settled(&self) {
        let s = &self.shared;
        loop {
            let notified = s.settled_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if s.settled.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl Clone for Mailbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Mailbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.notify.notify_one();
        }
    }
}

impl Inbox {
    /// Waits for items, then moves all of them into `buf` (which must be empty; the
    /// queue keeps `buf`'s old allocation for the next items). An overflow is reported
    /// before the items, the end only once the queue is empty.
    pub async fn next(&self, buf: &mut VecDeque<Outbound>) -> Next {
        let s = &self.shared;
        loop {
            if s.overflow.load(Ordering::Acquire) {
                return Next::Overflow;
            }
            {
                let mut q = s.queue();
                if !q.is_empty() {
                    std::mem::swap(&mut *q, buf);
                    return Next::Items;
                }
            }
            if s.senders.load(Ordering::Acquire) == 0 {
                // The last sender may have pushed just before it went.
                let mut q = s.queue();
                if q.is_empty() {
                    return Next::Closed;
                }
                std::mem::swap(&mut *q, buf);
                return Next::Items;
            }
            // A push after the checks above leaves a permit: no wake-up is lost.
            s.notify.notified().await;
        }
    }

    /// Resolves when a push is refused for a full queue (used while a write is under
    /// way: a client that does not read is closed). Wake-ups for new items are consumed
    /// here; the items stay in the queue for [`Inbox::next`].
    pub async fn overflowed(&self) {
        let s = &self.shared;
        while !s.overflow.load(Ordering::Acquire) {
            s.notify.notified().await;
        }
    }
}

impl Inbox {
    /// Items waiting (for tests).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.shared.queue().len()
    }

    /// Moves whatever is queued into `buf` without waiting (a session that ends keeps
    /// what was still queued for it, to re-route it).
    pub fn take_now(&self, buf: &mut VecDeque<Outbound>) {
        buf.extend(self.shared.queue().drain(..));
    }

    /// Lets go of the queue's buffer if it is empty (the session went idle).
    pub fn release(&self) {
        let mut q = self.shared.queue();
        if q.is_empty() {
            *q = VecDeque::new();
        }
    }
}

impl Inbox {
    /// Closes the queue now (later pushes are refused, anything still queued is dropped:
    /// take it first with [`Inbox::take_now`]); the queue is settled when the returned
    /// [`Settle`] is dropped, once the caller gave what it took its fate.
    pub fn close(mut self) -> Settle {
        self.deferred = true;
        Settle {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Queued stanzas go now, not with the last sender; later pushes are refused.
        let mut q = self.shared.queue();
        self.shared.closed.store(true, Ordering::Release);
        let left = std::mem::take(&mut *q);
        drop(q);
        drop(left);
        if !self.deferred {
            self.shared.settle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Stop;
    use causerie_proto::Element;
    use std::time::Duration;

    fn stanza(id: &str) -> Outbound {
        let mut el = Element::bare("message", "jabber:client");
        causerie_proto::xml::set_attr(&mut el, "id", id);
        Outbound::Stanza(Box::new(el))
    }

    fn ids(buf: &VecDeque<Outbound>) -> Vec<String> {
        buf.iter()
            .map(|o| match o {
                Outbound::Stanza(el) => el.attr("id").unwrap_or("").to_string(),
                Outbound::Shared(_) => "shared".into(),
                Outbound::Stop(s) => format!("stop:{}", s.condition),
                Outbound::Yield => "yield".into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn items_come_out_in_order_and_an_idle_queue_holds_no_buffer() {
        let (tx, rx) = mailbox(8);
        let mut buf = VecDeque::new();
        for id in ["a", "b", "c"] {
            assert!(tx.push(stanza(id)));
        }
        assert_eq!(rx.next(&mut buf).await, Next::Items);
        assert_eq!(ids(&buf), ["a", "b", "c"]);
        assert_eq!(rx.shared.queue().capacity(), 0, "the queue kept no buffer");
        buf.clear();
        // A receiver waiting is woken by a push from another task.
        let tx2 = tx.clone();
        let pusher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx2.push(stanza("d"))
        });
        let got = tokio::time::timeout(Duration::from_secs(2), rx.next(&mut buf)).await;
        assert_eq!(got.unwrap(), Next::Items);
        assert!(pusher.await.unwrap());
        assert_eq!(ids(&buf), ["d"]);
        // The queue now holds the first buffer; an idle session lets go of it.
        buf.clear();
        assert!(rx.shared.queue().capacity() > 0);
        rx.release();
        assert_eq!(rx.shared.queue().capacity(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_reports_the_overflow_but_takes_a_stop() {
        let (tx, rx) = mailbox(2);
        assert!(tx.push(stanza("a")));
        assert!(tx.push(stanza("b")));
        let stop = Outbound::Stop(Box::new(Stop {
            condition: "conflict",
            text: None,
        }));
        assert!(tx.push(stop), "a stop is always queued");
        assert!(!tx.push(stanza("c")), "bounded");
        tokio::time::timeout(Duration::from_secs(1), rx.overflowed())
            .await
            .expect("overflow seen");
        let mut buf = VecDeque::new();
        assert_eq!(rx.next(&mut buf).await, Next::Overflow);
    }

    #[tokio::test]
    async fn the_end_comes_after_the_last_sender_and_the_last_item() {
        let (tx, rx) = mailbox(4);
        let tx2 = tx.clone();
        assert!(tx.push(stanza("a")));
        drop(tx);
        drop(tx2);
        let mut buf = VecDeque::new();
        assert_eq!(rx.next(&mut buf).await, Next::Items, "items first");
        buf.clear();
        let end = tokio::time::timeout(Duration::from_secs(1), rx.next(&mut buf)).await;
        assert_eq!(end.unwrap(), Next::Closed);
    }

    #[tokio::test]
    async fn pushes_after_the_receiver_is_gone_are_refused() {
        let (tx, rx) = mailbox(4);
        assert!(tx.push(stanza("a")));
        drop(rx);
        assert!(!tx.push(stanza("b")));
        assert!(
            tx.shared.queue().is_empty(),
            "queued items went with the receiver"
        );
    }
}
