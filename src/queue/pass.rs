//! The purchase side of a waiting room. A purchase of a SKU whose room is
//! on must carry a valid admission: signed for this customer and SKU, not
//! expired, not used. [`Queues::pass`] checks it and claims it for this one
//! purchase; the purchase writes the used admission in the same commit as
//! its order ([`Pass::write`]) and confirms it once durable
//! ([`Pass::used`]). A purchase that fails drops its pass, and the
//! admission may be used again until it expires.

use super::error::{QueueError, Refusal};
use super::line::Unusable;
use super::persist;
use super::queues::{Queues, Room};
use super::ticket::TicketRecord;
use crate::domain::{CustomerId, Sku};
use crate::store::{StoreError, WriteGroup};
use std::future::Future;
use std::sync::Arc;

/// A claimed admission, for one purchase.
pub struct Pass {
    room: Arc<Room>,
    entry: usize,
    generation: u64,
    /// The ticket with its admission used: what the purchase writes.
    used: TicketRecord,
    done: bool,
}

impl From<Unusable> for Refusal {
    fn from(u: Unusable) -> Self {
        match u {
            Unusable::Invalid => Refusal::Invalid,
            Unusable::Expired => Refusal::Expired,
            Unusable::Used => Refusal::Used,
            Unusable::InUse => Refusal::InUse,
        }
    }
}

impl Queues {
    /// Lets a purchase of `sku` by `customer` through: `None` when the SKU
    /// has no waiting room, a claimed admission when `token` is valid.
    pub fn pass(
        &self,
        sku: &Sku,
        customer: &CustomerId,
        token: Option<&str>,
    ) -> Result<Option<Pass>, QueueError> {
        // Most SKUs have no room: answered without building an error.
        let Some(room) = self.room_if_any(sku) else {
            return Ok(None);
        };
        let refused = |refusal: Refusal| {
            metrics::counter!("surge_queue_admission_refused_total", "reason" => refusal.as_str())
                .increment(1);
            QueueError::AdmissionRequired(refusal)
        };
        let token = token.ok_or_else(|| refused(Refusal::Missing))?;
        let claim = self
            .0
            .key
            .verify(token, sku, customer)
            .ok_or_else(|| refused(Refusal::Invalid))?;
        let mut line = room.line.lock();
        if !line.rule().enabled {
            return Ok(None);
        }
        let entry = line
            .claim(&claim.ticket, customer, claim.expires_at, self.now())
            .map_err(|unusable| refused(unusable.into()))?;
        let (used, generation) = (line.used_record(entry), line.rule().generation);
        drop(line);
        Ok(Some(Pass {
            room,
            entry,
            generation,
            used,
            done: false,
        }))
    }
}

impl Pass {
    /// Adds the used admission to the purchase's writes.
    pub fn write(&self, group: &mut WriteGroup) -> Result<(), StoreError> {
        persist::put_ticket(group, &self.room.sku, self.generation, &self.used)
    }

    /// Runs `purchase` (the step that commits the order with this pass's
    /// [`write`](Self::write)) and spends the admission if it succeeds.
    /// It runs to its end on a task of its own, even if the caller stops
    /// waiting (actix drops a handler whose client reset the connection):
    /// otherwise the order could commit with the admission written as used
    /// while memory still offered it for another purchase.
    /// `None` if that task died.
    pub async fn spend<T, E>(
        self,
        purchase: impl Future<Output = Result<T, E>> + 'static,
    ) -> Option<Result<T, E>>
    where
        T: 'static,
        E: 'static,
    {
        actix_rt::spawn(async move {
            let outcome = purchase.await;
            if outcome.is_ok() {
                self.used();
            }
            outcome
        })
        .await
        .ok()
    }

    /// The purchase is durable: the admission is spent.
    fn used(mut self) {
        self.room.line.lock().mark_used(self.entry);
        self.done = true;
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if !self.done {
            self.room.line.lock().unclaim(self.entry);
        }
    }
}
