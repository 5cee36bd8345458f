//! What the server remembers about quiet hours (docs/safety.md « Heures calmes »), in
//! memory: which senders were already told that a recipient is in quiet hours (once per
//! pair and window, not at every message), and, for the ticker (`features::quiet`), which
//! structure and profile pairs were in quiet hours at its last turn, so that it acts only
//! when a window begins or ends.
//!
//! Nothing here is needed to keep a message: held messages are in offline storage, and
//! a login after the window delivers them (a restart forgets only who was told).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use causerie_ent::Profile;

/// The most (sender, recipient) pairs remembered; beyond, the oldest windows are forgotten
/// (a sender may then be told twice).
const MAX_TOLD: usize = 100_000;

/// A structure and a profile whose quiet hours the ticker follows.
pub type Phase = (String, Profile);

#[derive(Default)]
pub struct QuietHold {
    /// (sender, recipient) → the end of the window he was told about (ms).
    told: Mutex<HashMap<(String, String), i64>>,
    /// The (structure, profile) pairs in quiet hours at the ticker's last turn; None
    /// before its first.
    phases: Mutex<Option<HashSet<(String, Profile)>>>,
}

impl QuietHold {
    /// Whether `sender` should be told that `recipient` is in quiet hours until
    /// `until_ms` (not yet told for this window); remembers that he was.
    pub fn tell(&self, sender: &str, recipient: &str, until_ms: i64, now_ms: i64) -> bool {
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        let key = (sender.to_string(), recipient.to_string());
        if told.get(&key) == Some(&until_ms) {
            return false;
        }
        if told.len() >= MAX_TOLD {
            told.retain(|_, until| *until > now_ms);
            if told.len() >= MAX_TOLD {
                told.clear();
            }
        }
        told.insert(key, until_ms);
        true
    }

    /// Forgets the windows that ended (the ticker, when one ends).
    pub fn forget_ended(&self, now_ms: i64) {
        self.told
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now_ms);
    }

    /// Records the pairs in quiet hours now; returns those that began and those that
    /// ended since the last turn (none at the first turn: logins tell those already in).
    pub fn turn(&self, now: HashSet<Phase>) -> (Vec<Phase>, Vec<Phase>) {
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        let Some(before) = phases.as_ref() else {
            *phases = Some(now);
            return (Vec::new(), Vec::new());
        };
        let began = now.difference(before).cloned().collect();
        let ended = before.difference(&now).cloned().collect();
        *phases = Some(now);
        (began, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_is_told_once_per_window() {
        let q = QuietHold::default();
        assert!(q.tell("marc", "lea", 100, 0));
        assert!(!q.tell("marc", "lea", 100, 10));
        assert!(q.tell("anne", "lea", 100, 10), "another sender");
        assert!(q.tell("marc", "lea", 200, 150), "the next window");
        q.forget_ended(300);
        assert!(q.tell("marc", "lea", 200, 300));
    }

    #[test]
    fn turns_tell_what_began_and_ended() {
        let q = QuietHold::default();
        let pair = |s: &str| (s.to_string(), Profile::Student);
        assert_eq!(q.turn([pair("A")].into()), (vec![], vec![]), "first turn");
        assert_eq!(q.turn([pair("A")].into()), (vec![], vec![]));
        assert_eq!(
            q.turn([pair("B")].into()),
            (vec![pair("B")], vec![pair("A")])
        );
        assert_eq!(q.turn(HashSet::new()), (vec![], vec![pair("B")]));
    }
}
