//! When each pending webhook delivery is due, in memory, owned by the
//! delivery worker alone. The stored deliveries are the truth; this is
//! their index by due time (rebuilt from them at start and after a replay),
//! with at most one entry per delivery and a count per webhook so the
//! delivery worker can keep each webhook's backlog bounded.

use super::Delivery;
use crate::clock::Millis;
use crate::store::{keys, Store, StoreError, Unreadable};
use std::collections::{BTreeSet, HashMap};

#[derive(Default)]
pub struct Schedule {
    /// (due, webhook, event sequence), earliest first.
    due: BTreeSet<(Millis, String, u64)>,
    /// When each delivery is due: keeps one entry per delivery.
    at: HashMap<(String, u64), Millis>,
    pending: HashMap<String, usize>,
}

impl Schedule {
    /// Rebuilds the schedule from the stored deliveries, and returns the
    /// ones that cannot be decoded (for the caller to set aside: they must
    /// not keep the others from being scheduled). On an error the schedule
    /// is left as it was.
    pub fn reload(&mut self, store: &Store) -> Result<Vec<Unreadable>, StoreError> {
        let read = store.scan_salvaging::<Delivery>(keys::DELIVERY)?;
        let mut fresh = Self::default();
        for d in read.records {
            fresh.insert(d.next_at, d.webhook, d.event.seq);
        }
        *self = fresh;
        Ok(read.unreadable)
    }

    /// Schedules (or moves) the delivery of event `seq` to `hook` at `at`.
    pub fn insert(&mut self, at: Millis, hook: String, seq: u64) {
        match self.at.insert((hook.clone(), seq), at) {
            Some(old) => {
                self.due.remove(&(old, hook.clone(), seq));
            }
            None => *self.pending.entry(hook.clone()).or_default() += 1,
        }
        self.due.insert((at, hook, seq));
    }

    /// Takes up to `max` deliveries due at `now`, earliest first.
    pub fn take_due(&mut self, now: Millis, max: usize) -> Vec<(String, u64)> {
        let mut taken = Vec::new();
        while taken.len() < max {
            match self.due.first() {
                Some((at, _, _)) if *at <= now => {}
                _ => break,
            }
            let Some((_, hook, seq)) = self.due.pop_first() else {
                break;
            };
            self.at.remove(&(hook.clone(), seq));
            if let Some(n) = self.pending.get_mut(&hook) {
                *n = n.saturating_sub(1);
            }
            taken.push((hook, seq));
        }
        taken
    }

    pub fn next_due(&self) -> Option<Millis> {
        self.due.first().map(|(at, _, _)| *at)
    }

    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// Deliveries of `hook` scheduled now (taken ones are not counted).
    pub fn pending_of(&self, hook: &str) -> usize {
        self.pending.get(hook).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_scheduled_once_and_taken_when_due() {
        let mut s = Schedule::default();
        s.insert(50, "a".into(), 1);
        s.insert(10, "a".into(), 2);
        s.insert(30, "b".into(), 3);
        s.insert(20, "a".into(), 1); // moved earlier, not added twice
        assert_eq!((s.len(), s.pending_of("a"), s.pending_of("b")), (3, 2, 1));
        assert_eq!(s.next_due(), Some(10));
        assert_eq!(
            s.take_due(25, 10),
            [("a".to_owned(), 2), ("a".to_owned(), 1)]
        );
        assert_eq!((s.len(), s.pending_of("a")), (1, 0));
        assert_eq!(s.take_due(100, 0), Vec::<(String, u64)>::new());
        assert_eq!(s.take_due(100, 5), [("b".to_owned(), 3)]);
        assert_eq!(s.next_due(), None);
    }
}
