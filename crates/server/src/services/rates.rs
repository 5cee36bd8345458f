//! Per-account rate limits (issue 16, « Limites »; docs/safety.md): how many messages a
//! minute, distinct recipients a minute, contact requests an hour, room creations a day
//! and invitations to one room an hour an account may send. The gate asks
//! ([`crate::services::gate::Gate`]); the limits come from `[rates.pupils]` or
//! `[rates.adults]` by the sender's profile.
//!
//! Counts are GCRA buckets (one instant per account and kind: the whole allowance may be
//! spent at once, then it comes back evenly over the period); distinct recipients are a
//! short list per account of whom it wrote to within the minute. Everything is in
//! memory, per node, and forgotten once an account is back to a full allowance.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Messages (one-to-one and in rooms), per minute.
    Message,
    /// Contact requests (subscriptions), per hour.
    ContactRequest,
    /// Rooms created, per day.
    RoomCreation,
    /// Invitations to one room, per hour.
    Invitation,
}

impl Kind {
    /// The period the limit is counted over.
    pub fn period(self) -> Duration {
        match self {
            Kind::Message => Duration::from_secs(60),
            Kind::ContactRequest | Kind::Invitation => Duration::from_secs(3600),
            Kind::RoomCreation => Duration::from_secs(86_400),
        }
    }
}

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub retry_after: Duration,
}

/// The buckets of every account that spent part of its allowance lately.
#[derive(Default)]
pub struct Rates {
    buckets: Mutex<Buckets>,
    recipients: Mutex<HashMap<String, VecDeque<(Instant, String)>>>,
}

#[derive(Default)]
struct Buckets {
    /// (account, kind, scope such as the room) → theoretical arrival time.
    tat: HashMap<(String, Kind, String), Instant>,
    /// Operations since the last sweep of full buckets.
    since_sweep: usize,
}

/// Operations between two sweeps of the buckets back to a full allowance.
const SWEEP_EVERY: usize = 4096;
/// One minute: the window of distinct recipients.
const MINUTE: Duration = Duration::from_secs(60);

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rates {
    /// Spends one of `user`'s `limit` per period of `kind` (in `scope`: a room for
    /// invitations, else empty). `limit` 0: no limit.
    pub fn spend(&self, user: &str, kind: Kind, scope: &str, limit: u32) -> Result<(), Exceeded> {
        self.spend_at(user, kind, scope, limit, Instant::now(), true)
    }

    /// Whether [`spend`](Self::spend) would succeed now, spending nothing (for what is
    /// counted only once done, such as a room created).
    pub fn check(&self, user: &str, kind: Kind, scope: &str, limit: u32) -> Result<(), Exceeded> {
        self.spend_at(user, kind, scope, limit, Instant::now(), false)
    }

    fn spend_at(
        &self,
        user: &str,
        kind: Kind,
        scope: &str,
        limit: u32,
        now: Instant,
        commit: bool,
    ) -> Result<(), Exceeded> {
        if limit == 0 {
            return Ok(());
        }
        let period = kind.period();
        let interval = period / limit;
        // The whole allowance at once, at most.
        let tolerance = period - interval;
        let mut b = guard(&self.buckets);
        b.since_sweep += 1;
        if b.since_sweep >= SWEEP_EVERY {
            b.since_sweep = 0;
            b.tat.retain(|_, tat| *tat > now);
        }
        let key = (user.to_string(), kind, scope.to_string());
        let tat = b.tat.get(&key).copied().unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > tolerance {
            return Err(Exceeded {
                retry_after: ahead - tolerance,
            });
        }
        if commit {
            b.tat.insert(key, tat + interval);
        }
        Ok(())
    }

    /// Whether `user` may write to `recipient`: at most `limit` distinct recipients
    /// within a minute (writing again to one of them is always allowed). 0: no limit.
    pub fn recipient(&self, user: &str, recipient: &str, limit: u32) -> Result<(), Exceeded> {
        self.recipient_at(user, recipient, limit, Instant::now())
    }

    fn recipient_at(
        &self,
        user: &str,
        recipient: &str,
        limit: u32,
        now: Instant,
    ) -> Result<(), Exceeded> {
        if limit == 0 {
            return Ok(());
        }
        let mut all = guard(&self.recipients);
        if all.len() >= SWEEP_EVERY {
            all.retain(|_, q| {
                q.back()
                    .is_some_and(|(t, _)| now.duration_since(*t) < MINUTE)
            });
        }
        let q = all.entry(user.to_string()).or_default();
        while q
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= MINUTE)
        {
            q.pop_front();
        }
        if q.iter().any(|(_, r)| r == recipient) {
            return Ok(());
        }
        if q.len() >= limit as usize {
            let oldest = q.front().map(|(t, _)| *t).unwrap_or(now);
            return Err(Exceeded {
                retry_after: MINUTE.saturating_sub(now.duration_since(oldest)),
            });
        }
        q.push_back((now, recipient.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_at_once_then_evenly() {
        let r = Rates::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(r.spend_at("a", Kind::Message, "", 10, t0, true).is_ok());
        }
        let e = r
            .spend_at("a", Kind::Message, "", 10, t0, true)
            .unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(6));
        // others are not concerned
        assert!(r.spend_at("b", Kind::Message, "", 10, t0, true).is_ok());
        assert!(
            r.spend_at("a", Kind::ContactRequest, "", 10, t0, true)
                .is_ok()
        );
        // one more every six seconds
        let t1 = t0 + Duration::from_secs(6);
        assert!(r.spend_at("a", Kind::Message, "", 10, t1, true).is_ok());
        assert!(r.spend_at("a", Kind::Message, "", 10, t1, true).is_err());
        // zero: no limit
        for _ in 0..100 {
            assert!(r.spend_at("c", Kind::Message, "", 0, t0, true).is_ok());
        }
    }

    #[test]
    fn a_check_spends_nothing() {
        let r = Rates::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(
                r.spend_at("a", Kind::RoomCreation, "", 1, t0, false)
                    .is_ok()
            );
        }
        assert!(r.spend_at("a", Kind::RoomCreation, "", 1, t0, true).is_ok());
        assert!(
            r.spend_at("a", Kind::RoomCreation, "", 1, t0, false)
                .is_err()
        );
    }

    #[test]
    fn invitations_count_per_room() {
        let r = Rates::default();
        let t0 = Instant::now();
        assert!(r.spend_at("a", Kind::Invitation, "r1", 1, t0, true).is_ok());
        assert!(
            r.spend_at("a", Kind::Invitation, "r1", 1, t0, true)
                .is_err()
        );
        assert!(r.spend_at("a", Kind::Invitation, "r2", 1, t0, true).is_ok());
    }

    #[test]
    fn distinct_recipients_per_minute() {
        let r = Rates::default();
        let t0 = Instant::now();
        assert!(r.recipient_at("a", "x", 2, t0).is_ok());
        assert!(
            r.recipient_at("a", "y", 2, t0 + Duration::from_secs(10))
                .is_ok()
        );
        // the same ones again: fine
        assert!(
            r.recipient_at("a", "x", 2, t0 + Duration::from_secs(20))
                .is_ok()
        );
        let e = r
            .recipient_at("a", "z", 2, t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(40));
        // a minute after the first, room for one more
        assert!(
            r.recipient_at("a", "z", 2, t0 + Duration::from_secs(60))
                .is_ok()
        );
    }
}
