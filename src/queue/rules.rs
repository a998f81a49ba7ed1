//! An admin switching a SKU's waiting room on or off, or changing its rate
//! or window (with the sale, in the same admin call). Switching on a room
//! that was off starts a new run (a new generation): it starts empty.
//! Switching it off makes purchases open to everyone again and drops its
//! tickets (their records are purged behind the generation prefix; one
//! left by a crash is purged at the next start).

use super::error::QueueError;
use super::line::Line;
use super::persist;
use super::queues::{QueueChange, Queues};
use super::ticket::QueueRecord;
use crate::clock::Millis;
use crate::domain::Sku;
use crate::store::{keys, WriteGroup};

impl Queues {
    /// Applies `change` to `sku`'s waiting room, with the sale window
    /// `starts_at`..`ends_at`; the rule in force after it (`None`: off).
    /// Durable on return.
    pub async fn configure(
        &self,
        sku: &Sku,
        change: QueueChange,
        starts_at: Option<Millis>,
        ends_at: Option<Millis>,
    ) -> Result<Option<QueueRecord>, QueueError> {
        let _rules = self.0.rules.lock().await;
        let admit_per_sec = change
            .admit_per_sec
            .unwrap_or(self.settings().admit_per_sec_default);
        let Ok(room) = self.room(sku) else {
            if !change.enabled {
                return Ok(None);
            }
            return self
                .start_room(sku, admit_per_sec, starts_at, ends_at)
                .await
                .map(Some);
        };
        let current = room.line.lock().rule().clone();
        let rule = QueueRecord {
            enabled: change.enabled,
            admit_per_sec,
            starts_at,
            ends_at,
            ..current
        };
        self.write_rule(sku, &rule).await?;
        room.line.lock().set_rule(rule.clone());
        room.bump();
        if rule.enabled {
            return Ok(Some(rule));
        }
        self.install(sku, None);
        let store = &self.0.parts.store;
        match persist::purge_generation(store, sku, rule.generation).await {
            Ok(purged) => tracing::info!(sku = %sku, purged, "waiting room switched off"),
            Err(e) => {
                tracing::warn!(sku = %sku, error = %e, "purging a switched-off waiting room; the next start finishes it")
            }
        }
        Ok(None)
    }

    /// Switches on a room that was off: a new, empty run.
    async fn start_room(
        &self,
        sku: &Sku,
        admit_per_sec: u32,
        starts_at: Option<Millis>,
        ends_at: Option<Millis>,
    ) -> Result<QueueRecord, QueueError> {
        let stored: Option<QueueRecord> = self.0.parts.store.get(&keys::queue(sku.as_str()))?;
        let rule = QueueRecord {
            generation: stored.map_or(1, |r| r.generation.saturating_add(1)),
            enabled: true,
            admit_per_sec,
            starts_at,
            ends_at,
            sold_out: false,
        };
        self.write_rule(sku, &rule).await?;
        self.install(sku, Some(Line::new(rule.clone())));
        Ok(rule)
    }

    async fn write_rule(&self, sku: &Sku, rule: &QueueRecord) -> Result<(), QueueError> {
        let mut group = WriteGroup::new();
        persist::put_queue(&mut group, sku, rule)?;
        self.0.parts.store.commit(group).await?;
        Ok(())
    }
}
