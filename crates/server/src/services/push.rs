//! The pace of push notifications (XEP-0357): which accounts have a notification coming,
//! and when each was last notified, so that the app server is told at most once per
//! `push.min_interval_secs` per account (and so per registration): what arrives in
//! between is coalesced into the next notification, which carries the latest summary.
//!
//! The feature (`features::push`) asks [`Pushes::wake`] on each message worth a
//! notification; the accounts woken come out of [`Pushes::take_receiver`]'s channel in
//! the push worker,
//! which waits [`Pushes::delay`], takes the summary ([`Pushes::take`]) and sends.
//! Bounded: at most [`MAX_PENDING`] accounts wait at once (past it, a notification is
//! dropped and logged), and the times of past notifications are pruned.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// Accounts with a notification coming, at most.
pub const MAX_PENDING: usize = 50_000;

/// What the last message worth a notification was (kept only where the deployment puts
/// it in notifications: `push.include_sender`, `push.include_body`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Last {
    pub sender: Option<String>,
    pub body: Option<String>,
}

#[derive(Default)]
struct Inner {
    pending: HashMap<String, Last>,
    sent: HashMap<String, Instant>,
}

/// See the module docs.
pub struct Pushes {
    interval: Duration,
    inner: Mutex<Inner>,
    tx: mpsc::Sender<String>,
    rx: Mutex<Option<mpsc::Receiver<String>>>,
}

impl Pushes {
    pub fn new(interval: Duration) -> Pushes {
        let (tx, rx) = mpsc::channel(MAX_PENDING);
        Pushes {
            interval,
            inner: Mutex::new(Inner::default()),
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A message worth a notification arrived for `user`: a notification is coming
    /// (returns true when this call scheduled it, false when it joins one already
    /// coming, or when too many are waiting).
    pub fn wake(&self, user: &str, last: Last) -> bool {
        let mut inner = self.lock();
        if let Some(p) = inner.pending.get_mut(user) {
            *p = last;
            return false;
        }
        if inner.pending.len() >= MAX_PENDING || self.tx.try_send(user.to_string()).is_err() {
            tracing::warn!("too many push notifications waiting: one dropped");
            return false;
        }
        inner.pending.insert(user.to_string(), last);
        true
    }

    /// The accounts woken, in order, for the one push worker (taken once); the channel
    /// closes when this service is dropped.
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<String>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// How long `user`'s coming notification waits: until the interval since his last
    /// one has passed.
    pub fn delay(&self, user: &str) -> Duration {
        match self.lock().sent.get(user) {
            Some(at) => self.interval.saturating_sub(at.elapsed()),
            None => Duration::ZERO,
        }
    }

    /// Takes `user`'s coming notification (its summary) and notes it sent now.
    pub fn take(&self, user: &str) -> Option<Last> {
        let mut inner = self.lock();
        let last = inner.pending.remove(user)?;
        let now = Instant::now();
        if inner.sent.len() >= MAX_PENDING {
            let interval = self.interval;
            inner
                .sent
                .retain(|_, at| now.duration_since(*at) < interval);
        }
        inner.sent.insert(user.to_string(), now);
        Some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_in_between_are_coalesced_and_paced() {
        let p = Pushes::new(Duration::from_secs(60));
        let one = Last {
            sender: Some("a".into()),
            body: None,
        };
        let two = Last {
            sender: Some("b".into()),
            body: None,
        };
        assert!(p.wake("lea", one));
        assert!(!p.wake("lea", two.clone()), "coalesced");
        let mut rx = p.take_receiver().unwrap();
        assert!(p.take_receiver().is_none());
        assert_eq!(rx.recv().await.as_deref(), Some("lea"));
        assert_eq!(p.delay("lea"), Duration::ZERO, "first one: at once");
        assert_eq!(p.take("lea"), Some(two), "the latest summary");
        assert_eq!(p.take("lea"), None);
        assert!(p.wake("lea", Last::default()));
        assert!(p.delay("lea") > Duration::from_secs(50), "then paced");
    }
}
