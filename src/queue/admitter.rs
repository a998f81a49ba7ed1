//! The admitter: a background round, every [`ROUND`], over every enabled
//! waiting room. Each round admits from the front of the line as many as
//! the rate allows (at most `admit_per_sec` in any second) and the units
//! allow (outstanding admissions never above the units available), closes
//! a room with no unit left and no admission outstanding (every waiting
//! ticket then reads `sold_out`), and reopens it if units come back (an
//! unpaid order expired, a restock). Admissions are written before anyone
//! can see them, so a token shown to a customer survives a crash.
//!
//! Time is the injected clock's, read each round, so a test that moves the
//! clock sees the next round act on it (a tenth of a second later at most).

use super::error::QueueError;
use super::line::Plan;
use super::persist;
use super::queues::{Queues, Room};
use super::ticket::QueueRecord;
use crate::clock::Millis;
use crate::store::WriteGroup;
use std::sync::Arc;
use std::time::Duration;

/// How often the admitter looks at every room.
pub const ROUND: Duration = Duration::from_millis(100);

/// Admits, closes and reopens, round after round, for as long as it runs.
pub async fn run(queues: Queues) {
    let mut every = tokio::time::interval(ROUND);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        queues.admit_round().await;
    }
}

impl Queues {
    /// One round over every enabled room.
    pub async fn admit_round(&self) {
        let rooms: Vec<Arc<Room>> = self.0.rooms.iter().map(|r| r.value().clone()).collect();
        for room in rooms {
            if let Err(e) = self.step(&room).await {
                tracing::warn!(sku = %room.sku, error = %e, "the admitter could not move a waiting room");
            }
        }
    }

    /// Plans one room's step, writes it, then applies it. Holding the
    /// rules lock keeps an admin's change of the rule from crossing a close
    /// or reopen written here.
    async fn step(&self, room: &Room) -> Result<(), QueueError> {
        let inventory = &self.0.parts.inventory;
        if inventory.availability().get(&room.sku).is_none() {
            // Not published yet: activating the SKU publishes it.
            inventory.inspect(&room.sku).await?;
        }
        let _rules = self.0.rules.lock().await;
        let now = self.now();
        let expires_at = now.saturating_add(self.settings().admission_ttl_ms());
        let (plan, group) = self.plan(room, now, expires_at)?;
        if plan == Plan::Idle {
            return Ok(());
        }
        self.0.parts.store.commit(group).await?;
        let mut line = room.line.lock();
        match plan {
            Plan::Admit(entries) => {
                line.admit(&entries, expires_at, now);
                metrics::counter!("surge_queue_admissions_total").increment(entries.len() as u64);
            }
            Plan::Close => {
                line.set_sold_out(true);
                tracing::info!(sku = %room.sku, "waiting room closed: sold out");
            }
            Plan::Reopen => line.set_sold_out(false),
            Plan::Idle => {}
        }
        drop(line);
        room.bump();
        Ok(())
    }

    /// Under the room's lock: what to do now, and what that writes.
    fn plan(
        &self,
        room: &Room,
        now: Millis,
        expires_at: Millis,
    ) -> Result<(Plan, WriteGroup), QueueError> {
        let mut group = WriteGroup::new();
        let mut line = room.line.lock();
        // Read under the lock: a purchase marks its admission used under it
        // only after its units left `available`, so the two counts are
        // never read half-way through a purchase.
        let available = self.0.parts.inventory.availability().get(&room.sku);
        let plan = match (line.rule().enabled, available) {
            (true, Some(available)) => line.plan(now, available),
            _ => Plan::Idle,
        };
        let generation = line.rule().generation;
        match &plan {
            Plan::Idle => {}
            Plan::Admit(entries) => {
                for &entry in entries {
                    let record = line.admitted_record(entry, expires_at);
                    persist::put_ticket(&mut group, &room.sku, generation, &record)?;
                }
            }
            Plan::Close | Plan::Reopen => {
                let rule = QueueRecord {
                    sold_out: plan == Plan::Close,
                    ..line.rule().clone()
                };
                persist::put_queue(&mut group, &room.sku, &rule)?;
            }
        }
        Ok((plan, group))
    }
}
