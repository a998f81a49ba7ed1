//! `Queues`, the handle: every SKU's waiting room, each owned by one
//! mutex-protected [`Line`]. A change is decided and its write queued to
//! the committer under the lock (so the store sees changes in the order
//! memory made them), then awaited outside it, so joins share group
//! commits instead of waiting for each other's fsync. Nobody is answered
//! before their change is durable: a join answers after its ticket is
//! written, and one that finds the customer's ticket still being written
//! waits for it (an empty group commits after every earlier one).
//!
//! A mutex rather than an actor: a room's work is bookkeeping that never
//! waits under the lock (a lookup, or for a lottery join an insertion into
//! a sorted vector, a memmove of at most `tickets_per_sku_max` entries),
//! and readers (ticket reads, streams) reach it from any worker without a
//! mailbox in between.

use super::error::{QueueError, Refusal};
use super::line::{Fresh, Line, Place};
use super::persist;
use super::settings::QueueSettings;
use super::ticket::{QueueRecord, TicketId};
use super::token::AdmissionKey;
use crate::clock::{Clock, Millis};
use crate::domain::{CustomerId, Sku};
use crate::inventory::Inventory;
use crate::store::{Store, StoreError, Ticket as Commit, WriteGroup};
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// What the waiting rooms need from the rest of the process.
pub struct QueueParts {
    pub store: Store,
    /// Units available per SKU (published counts; the SKU actor when a
    /// count is not known yet).
    pub inventory: Inventory,
    pub clock: Arc<dyn Clock>,
    pub settings: QueueSettings,
}

#[derive(Clone)]
pub struct Queues(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) parts: QueueParts,
    pub(super) key: AdmissionKey,
    /// The enabled rooms.
    pub(super) rooms: DashMap<Sku, Arc<Room>>,
    /// Which SKU each ticket of an enabled room waits for.
    tickets: DashMap<TicketId, Sku>,
    /// Held by whoever changes a room's rule (an admin, the admitter
    /// closing or reopening it), so two such writes never cross.
    pub(super) rules: tokio::sync::Mutex<()>,
}

/// One SKU's waiting room.
pub struct Room {
    pub(super) sku: Sku,
    pub(super) line: Mutex<Line>,
    /// Bumped when what tickets read may have changed; streams wait on it.
    changed: watch::Sender<u64>,
}

impl Room {
    fn new(sku: Sku, line: Line) -> Arc<Self> {
        Arc::new(Self {
            sku,
            line: Mutex::new(line),
            changed: watch::Sender::new(0),
        })
    }

    pub(super) fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A ticket as its holder reads it.
#[derive(Debug, Clone)]
pub struct TicketState {
    pub id: TicketId,
    pub place: Place,
    /// The admission token, while the ticket is admitted.
    pub token: Option<String>,
}

/// A sale's waiting-room setting, as an admin gives it.
#[derive(Debug, Clone, Copy)]
pub struct QueueChange {
    pub enabled: bool,
    /// `None`: `[queue] admit_per_sec_default`.
    pub admit_per_sec: Option<u32>,
}

impl Queues {
    /// Loads every waiting room (the admission key made on the first
    /// start) and purges the tickets of runs that ended.
    pub async fn load(parts: QueueParts) -> Result<Self, StoreError> {
        let key = AdmissionKey::load(&parts.store).await?;
        let (rooms, tickets) = (DashMap::new(), DashMap::new());
        let mut live = HashMap::new();
        for loaded in persist::load(&parts.store, parts.clock.now_ms())? {
            let Some(line) = loaded.line else { continue };
            for id in line.ids() {
                tickets.insert(id.clone(), loaded.sku.clone());
            }
            live.insert(loaded.sku.clone(), loaded.record.generation);
            rooms.insert(loaded.sku.clone(), Room::new(loaded.sku, line));
        }
        let purged = persist::purge_stale(&parts.store, &live).await?;
        tracing::info!(
            queues = rooms.len(),
            tickets = tickets.len(),
            purged,
            "loaded the waiting rooms"
        );
        Ok(Self(Arc::new(Inner {
            parts,
            key,
            rooms,
            tickets,
            rules: tokio::sync::Mutex::new(()),
        })))
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.0.parts.settings
    }

    pub(super) fn now(&self) -> Millis {
        self.0.parts.clock.now_ms()
    }

    /// The rule of `sku`'s waiting room, if it has one switched on.
    pub fn rule(&self, sku: &Sku) -> Option<QueueRecord> {
        let room = self.room(sku).ok()?;
        let rule = room.line.lock().rule().clone();
        Some(rule)
    }

    /// How many tickets `sku`'s waiting room holds, if it has one on.
    pub fn tickets(&self, sku: &Sku) -> Option<usize> {
        let room = self.room(sku).ok()?;
        let held = room.line.lock().len();
        Some(held)
    }

    /// Whether purchases of `sku` need an admission.
    pub fn gates(&self, sku: &Sku) -> bool {
        self.0.rooms.contains_key(sku)
    }

    /// A cart may not hold a SKU sold through a waiting room (that would
    /// be a way around it).
    pub fn refuse_cart_hold(&self, sku: &Sku) -> Result<(), QueueError> {
        match self.gates(sku) {
            true => Err(QueueError::AdmissionRequired(Refusal::NoCarts)),
            false => Ok(()),
        }
    }

    /// `customer`'s ticket for `sku`: the one it has, or a new one, durable
    /// on return.
    pub async fn join(&self, sku: &Sku, customer: &CustomerId) -> Result<TicketState, QueueError> {
        if self.0.parts.store.failed() {
            return Err(StoreError::Failed.into());
        }
        let room = self.room(sku)?;
        let (entry, pending) = self.take_ticket(&room, customer)?;
        if let Some(pending) = pending {
            // If this request is dropped while it waits, the ticket stays
            // marked as being written, and the customer's next join waits
            // for the disk again before answering.
            pending.commit.wait().await?;
            room.line.lock().made_durable(entry);
            if pending.new {
                metrics::counter!("surge_queue_joins_total").increment(1);
            }
            if pending.in_lottery {
                // A lottery ticket moves the places of those drawn after it.
                room.bump();
            }
        }
        let line = room.line.lock();
        Ok(self.state(&room, &line, entry))
    }

    /// Under the room's lock: `customer`'s ticket, and the write to wait
    /// for before answering (none if the ticket is on disk already). A new
    /// ticket whose write cannot be queued is taken back.
    fn take_ticket(
        &self,
        room: &Room,
        customer: &CustomerId,
    ) -> Result<(usize, Option<Pending>), QueueError> {
        let fresh = Fresh {
            id: TicketId::generate(),
            draw: random_draw(),
        };
        let committer = self.0.parts.store.committer();
        let mut line = room.line.lock();
        if !line.rule().enabled {
            return Err(QueueError::NotEnabled(room.sku.clone()));
        }
        let max = self.settings().tickets_per_sku_max;
        let (entry, new) = line
            .join(customer, fresh, self.now(), max)
            .map_err(|full| QueueError::Full { max: full.max })?;
        let mut group = WriteGroup::new();
        if !new {
            if line.is_durable(entry) {
                return Ok((entry, None));
            }
            // Its join is still being written: an empty group completes
            // after it.
            let commit = committer.submit(group)?;
            return Ok((
                entry,
                Some(Pending {
                    commit,
                    new,
                    in_lottery: false,
                }),
            ));
        }
        let generation = line.rule().generation;
        let queued = persist::put_ticket(&mut group, &room.sku, generation, line.record(entry))
            .and_then(|()| committer.submit(group));
        match queued {
            Ok(commit) => {
                let record = line.record(entry);
                self.0.tickets.insert(record.id.clone(), room.sku.clone());
                let in_lottery = record.draw.is_some();
                Ok((
                    entry,
                    Some(Pending {
                        commit,
                        new,
                        in_lottery,
                    }),
                ))
            }
            Err(e) => {
                line.undo_join(entry);
                Err(e.into())
            }
        }
    }

    /// Ticket `id` as it stands now.
    pub fn ticket(&self, id: &TicketId) -> Result<TicketState, QueueError> {
        if self.0.parts.store.failed() {
            return Err(StoreError::Failed.into());
        }
        let room = self.room_of(id)?;
        let line = room.line.lock();
        let entry = line
            .find(id)
            .filter(|_| line.rule().enabled)
            .ok_or_else(|| QueueError::TicketNotFound(id.to_string()))?;
        Ok(self.state(&room, &line, entry))
    }

    /// Follows ticket `id` as it changes.
    pub fn watch(&self, id: &TicketId) -> Result<TicketWatch, QueueError> {
        let room = self.room_of(id)?;
        let changes = room.changed.subscribe();
        Ok(TicketWatch {
            queues: self.clone(),
            id: id.clone(),
            changes,
        })
    }

    pub(super) fn room(&self, sku: &Sku) -> Result<Arc<Room>, QueueError> {
        self.room_if_any(sku)
            .ok_or_else(|| QueueError::NotEnabled(sku.clone()))
    }

    /// The SKU's waiting room, if it has one switched on.
    pub(super) fn room_if_any(&self, sku: &Sku) -> Option<Arc<Room>> {
        self.0.rooms.get(sku).map(|r| r.value().clone())
    }

    fn room_of(&self, id: &TicketId) -> Result<Arc<Room>, QueueError> {
        let not_found = || QueueError::TicketNotFound(id.to_string());
        let sku = self
            .0
            .tickets
            .get(id)
            .ok_or_else(not_found)?
            .value()
            .clone();
        self.room(&sku).map_err(|_| not_found())
    }

    pub(super) fn state(&self, room: &Room, line: &Line, entry: usize) -> TicketState {
        let record = line.record(entry);
        let place = line.place(entry, self.now());
        let token = place.admission.map(|a| {
            self.0
                .key
                .sign(&room.sku, &record.id, &record.customer, a.expires_at)
        });
        TicketState {
            id: record.id.clone(),
            place,
            token,
        }
    }

    /// Puts an enabled room in place (a rule switched on), or takes one
    /// away with its tickets' index entries.
    pub(super) fn install(&self, sku: &Sku, line: Option<Line>) {
        match line {
            Some(line) => drop(
                self.0
                    .rooms
                    .insert(sku.clone(), Room::new(sku.clone(), line)),
            ),
            None => {
                if let Some((_, room)) = self.0.rooms.remove(sku) {
                    let line = room.line.lock();
                    for id in line.ids() {
                        self.0.tickets.remove(id);
                    }
                    drop(line);
                    room.bump();
                }
            }
        }
    }
}

/// A join's write on its way to the disk.
struct Pending {
    commit: Commit,
    /// The ticket is new (not a customer's second join).
    new: bool,
    /// A new lottery ticket: the places of others moved.
    in_lottery: bool,
}

/// A lottery draw: from the OS, so that nobody can predict the next one.
fn random_draw() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => fastrand::u64(..),
    }
}

/// A ticket followed by a stream.
pub struct TicketWatch {
    queues: Queues,
    id: TicketId,
    changes: watch::Receiver<u64>,
}

impl TicketWatch {
    /// The ticket now; `None` once it is gone (its room switched off).
    pub fn current(&mut self) -> Option<TicketState> {
        drop(self.changes.borrow_and_update());
        self.queues.ticket(&self.id).ok()
    }

    /// Resolves when the ticket's room changed (possibly not the ticket).
    pub async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
