//! The live view's counters (`admin`): messages per minute in a ring of 60 one-minute
//! slots, and the uptime. On a stanza's path it costs two relaxed atomic operations per
//! message ([`Stats::message`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Counters of the live view.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    /// Messages per minute: slot `m % 60` counts minute `m` (minutes since the epoch).
    slots: [Slot; 60],
}

#[derive(Debug, Default)]
struct Slot {
    minute: AtomicU64,
    count: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            slots: std::array::from_fn(|_| Slot::default()),
        }
    }
}

fn minute_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

impl Stats {
    /// Counts one message stanza.
    pub fn message(&self) {
        self.message_at(minute_now());
    }

    fn message_at(&self, minute: u64) {
        let slot = &self.slots[(minute % 60) as usize];
        let seen = slot.minute.load(Ordering::Relaxed);
        if seen != minute
            && slot
                .minute
                .compare_exchange(seen, minute, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // First message of a new minute in this slot: the old count was an hour ago.
            slot.count.store(0, Ordering::Relaxed);
        }
        slot.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages of each of the last 60 minutes, oldest first; the last value is the
    /// minute in progress.
    pub fn per_minute(&self) -> Vec<u64> {
        self.per_minute_at(minute_now())
    }

    fn per_minute_at(&self, now: u64) -> Vec<u64> {
        (0..60u64)
            .rev()
            .map(|ago| {
                let Some(minute) = now.checked_sub(ago) else {
                    return 0;
                };
                let slot = &self.slots[(minute % 60) as usize];
                if slot.minute.load(Ordering::Relaxed) == minute {
                    slot.count.load(Ordering::Relaxed)
                } else {
                    0
                }
            })
            .collect()
    }

    /// Time since the server started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_per_minute_in_a_ring() {
        let s = Stats::default();
        let now = 1_000_000;
        for _ in 0..3 {
            s.message_at(now);
        }
        s.message_at(now - 2);
        // Older than the window (its slot is that of a minute ago): not counted.
        s.message_at(now - 61);
        let v = s.per_minute_at(now);
        assert_eq!(v.len(), 60);
        assert_eq!(v[59], 3);
        assert_eq!(v[57], 1);
        assert_eq!(v.iter().sum::<u64>(), 4);
        // An hour later the slot starts again from zero.
        s.message_at(now + 60);
        assert_eq!(s.per_minute_at(now + 60)[59], 1);
        assert_eq!(s.per_minute_at(now + 60).iter().sum::<u64>(), 1);
    }
}
