//! The pace of report attempts (XEP-0377, `features::report`): one account tries at most
//! [`PER_MINUTE`] reports a minute, stored or refused, before anything is read or
//! written. A refused report still costs a write transaction and an archive flush, so
//! refusals are paced too; how many reports are stored per hour is the store's limit
//! (`[reports] per_hour`). In memory, per node; the table is bounded (old windows are
//! dropped when it grows).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Report attempts one account may make per minute.
pub const PER_MINUTE: u32 = 10;

const WINDOW: Duration = Duration::from_secs(60);

/// Accounts remembered before old windows are dropped.
const MAX_ENTRIES: usize = 10_000;

/// Each account's attempts in its current minute.
#[derive(Default)]
pub struct ReportPace {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl ReportPace {
    /// Counts an attempt by `user` at `now`; false when he made [`PER_MINUTE`] already in
    /// the minute that started with his first one.
    pub fn allow(&self, user: &str, now: Instant) -> bool {
        let mut w = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.len() >= MAX_ENTRIES {
            w.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = w.entry(user.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= PER_MINUTE {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_minute_per_account() {
        let pace = ReportPace::default();
        let t0 = Instant::now();
        for _ in 0..PER_MINUTE {
            assert!(pace.allow("lea", t0));
        }
        assert!(!pace.allow("lea", t0 + Duration::from_secs(59)));
        assert!(pace.allow("hugo", t0), "another account has its own count");
        assert!(pace.allow("lea", t0 + WINDOW));
    }
}
