//! How waiting rooms are laid out in the store: one record per queue
//! (`queue/<sku>`) and one per ticket (`qticket/<sku>/<generation><id>`).
//! The generation in the ticket keys lets a queue that is switched off and
//! on again start empty at once: the old run's tickets are left behind a
//! prefix nobody reads and are purged in bounded groups.

use super::line::Line;
use super::ticket::{QueueRecord, TicketRecord};
use crate::clock::Millis;
use crate::domain::Sku;
use crate::store::{keys, Store, StoreError, WriteGroup};
use std::collections::HashMap;

/// Removals per commit when purging stale tickets.
const PURGE_BATCH: usize = 1_000;

/// A waiting room as loaded.
pub struct Loaded {
    pub sku: Sku,
    pub record: QueueRecord,
    /// Its line, if it is enabled.
    pub line: Option<Line>,
}

/// Every waiting room in the store, with the lines of the enabled ones
/// rebuilt as they were. A record that cannot be read stops the start: a
/// ticket that was acknowledged must not silently vanish.
pub fn load(store: &Store, now: Millis) -> Result<Vec<Loaded>, StoreError> {
    let mut loaded = Vec::new();
    for (key, record) in store.scan::<QueueRecord>(keys::QUEUE)? {
        let sku = sku_of(&key[keys::QUEUE.len()..], &key)?;
        let line = match record.enabled {
            true => {
                let prefix = keys::queue_generation(sku.as_str(), record.generation);
                let tickets = store.scan::<TicketRecord>(&prefix)?;
                let tickets = tickets.into_iter().map(|(_, t)| t).collect();
                Some(Line::restore(record.clone(), tickets, now))
            }
            false => None,
        };
        loaded.push(Loaded { sku, record, line });
    }
    Ok(loaded)
}

fn sku_of(raw: &[u8], key: &[u8]) -> Result<Sku, StoreError> {
    Sku::parse(&String::from_utf8_lossy(raw)).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.0,
    })
}

/// Removes every ticket that belongs to no enabled run of a queue (left by
/// queues switched off, possibly by a crash in the middle of a purge).
/// Returns how many.
pub async fn purge_stale(store: &Store, live: &HashMap<Sku, u64>) -> Result<usize, StoreError> {
    let mut stale = Vec::new();
    store.for_each_key(keys::QUEUE_TICKET, |rest| {
        let live_prefix = rest.iter().position(|&b| b == b'/').and_then(|slash| {
            let sku = Sku::parse(&String::from_utf8_lossy(&rest[..slash])).ok()?;
            Some(keys::queue_generation(sku.as_str(), *live.get(&sku)?))
        });
        let key = [keys::QUEUE_TICKET, rest].concat();
        if !live_prefix.is_some_and(|prefix| key.starts_with(&prefix)) {
            stale.push(key);
        }
    })?;
    remove_all(store, stale).await
}

/// Removes the tickets of run `generation` of `sku`'s queue.
pub async fn purge_generation(
    store: &Store,
    sku: &Sku,
    generation: u64,
) -> Result<usize, StoreError> {
    let prefix = keys::queue_generation(sku.as_str(), generation);
    let mut keys = Vec::new();
    store.for_each_key(&prefix, |rest| {
        keys.push([prefix.as_slice(), rest].concat())
    })?;
    remove_all(store, keys).await
}

async fn remove_all(store: &Store, keys: Vec<Vec<u8>>) -> Result<usize, StoreError> {
    for chunk in keys.chunks(PURGE_BATCH) {
        let mut group = WriteGroup::new();
        for key in chunk {
            group.remove(key.clone());
        }
        store.commit(group).await?;
    }
    Ok(keys.len())
}

pub fn put_queue(
    group: &mut WriteGroup,
    sku: &Sku,
    record: &QueueRecord,
) -> Result<(), StoreError> {
    group.put(keys::queue(sku.as_str()), record)
}

pub fn put_ticket(
    group: &mut WriteGroup,
    sku: &Sku,
    generation: u64,
    record: &TicketRecord,
) -> Result<(), StoreError> {
    let key = keys::queue_ticket(sku.as_str(), generation, record.id.as_str());
    group.put(key, record)
}
