//! The flash-sale purchase: one request, one SKU actor step, one commit. The
//! cheapest answers come first: a replayed Idempotency-Key is answered from
//! the store, a SKU sold through a waiting room without a valid admission
//! is refused by the queue, a sold-out SKU from its published count, and
//! only a purchase that may succeed reaches the SKU actor, which holds the
//! stock and writes the order (built here) and the used admission in the
//! same commit.

use super::{Order, OrderError, Orders};
use crate::catalog::{CatalogError, SkuStatus};
use crate::clock::Millis;
use crate::domain::{CustomerId, Money, OrderId, ProductId, Quantity, Sku};
use crate::events::EventKind;
use crate::idempotency::{request_digest, IdempotencyError, IdempotencyKey};
use crate::inventory::{InventoryError, Reserve, SkuError};
use crate::queue::Pass;
use crate::store::{StoreError, WriteGroup};

/// The Idempotency-Key scope of purchases.
const SCOPE: &str = "purchase";

/// A flash-sale purchase as the buyer asked for it.
#[derive(Debug, Clone)]
pub struct Purchase {
    pub key: IdempotencyKey,
    pub customer: CustomerId,
    pub quantity: Quantity,
    /// The waiting room's admission token, for a SKU sold through one.
    pub admission: Option<String>,
}

/// The order a purchase made, or found when its key was used before
/// (`replayed`).
pub struct Purchased {
    pub order: Order,
    pub replayed: bool,
}

impl Orders {
    /// Holds `req.quantity` units of `sku` and creates their order, awaiting
    /// payment; once per Idempotency-Key.
    pub async fn purchase(&self, sku: &Sku, req: Purchase) -> Result<Purchased, OrderError> {
        if self.store.failed() {
            // A replay could read a write that was never flushed: answer nothing.
            return Err(StoreError::Failed.into());
        }
        let listing = self.listed(sku)?;
        let order_id = self.idempotency.order_id(SCOPE, &req.key);
        let digest = request_digest(&[
            sku.as_str().as_bytes(),
            req.customer.as_str().as_bytes(),
            &req.quantity.get().to_be_bytes(),
        ]);
        let _claim = self
            .idempotency
            .claim(order_id.as_str())
            .ok_or(IdempotencyError::InUse)?;
        if let Some(order) = self.made_before(&order_id, &digest)? {
            return Ok(Purchased {
                order,
                replayed: true,
            });
        }
        let pass = self
            .queues
            .pass(sku, &req.customer, req.admission.as_deref())?;
        self.refuse_if_sold_out(sku, req.quantity.get())?;
        let (order, expires_at) = self.new_order(sku, listing, &req, order_id, digest)?;
        let mut attach = WriteGroup::new();
        self.put_with_event(
            &mut attach,
            &order,
            EventKind::OrderCreated,
            order.created_at,
        )?;
        if let Some(pass) = &pass {
            pass.write(&mut attach)?;
        }
        self.idempotency.remember(&order.id);
        let reserve = Reserve {
            holder: order.id.hold(),
            customer: Some(req.customer),
            quantity: req.quantity.get(),
            expires_at,
            attach,
        };
        self.hold(sku, reserve, pass).await?;
        super::count_placed(&order);
        Ok(Purchased {
            order,
            replayed: false,
        })
    }

    /// Holds the stock (writing the order), and spends the admission of a
    /// purchase that passed a waiting room once that is durable.
    async fn hold(
        &self,
        sku: &Sku,
        reserve: Reserve,
        pass: Option<Pass>,
    ) -> Result<(), InventoryError> {
        let Some(pass) = pass else {
            return self.inventory.reserve(sku, reserve).await.map(drop);
        };
        let (inventory, sku) = (self.inventory.clone(), sku.clone());
        let no_answer = InventoryError::NoAnswer(sku.clone());
        let held = pass.spend(async move { inventory.reserve(&sku, reserve).await });
        held.await.unwrap_or(Err(no_answer)).map(drop)
    }

    /// The order `req` makes, awaiting payment until the time returned.
    fn new_order(
        &self,
        sku: &Sku,
        (product_id, unit_price): (ProductId, Money),
        req: &Purchase,
        order_id: OrderId,
        digest: [u8; 32],
    ) -> Result<(Order, Millis), OrderError> {
        let now = self.now();
        let window_ms = self
            .inventory
            .settings()
            .payment_window_secs
            .saturating_mul(1000);
        let expires_at = now.saturating_add(window_ms);
        let line = (sku.clone(), product_id, unit_price, req.quantity.get());
        let order = Order::awaiting_payment(
            order_id,
            req.customer.clone(),
            line,
            digest,
            now,
            expires_at,
        )
        .ok_or(OrderError::TotalOverflow)?;
        Ok((order, expires_at))
    }

    /// The product and price of a SKU on sale.
    fn listed(&self, sku: &Sku) -> Result<(ProductId, Money), CatalogError> {
        match self.catalog.snapshot().sku(sku) {
            Some(SkuStatus::Listed(p, v)) => Ok((p.id.clone(), v.price)),
            Some(SkuStatus::Retired) => Err(CatalogError::SkuRetired(sku.clone())),
            None => Err(CatalogError::SkuNotFound(sku.to_string())),
        }
    }

    /// The order this key made before, if any; refused if it was made by a
    /// different request. The known-ids filter answers most fresh keys
    /// without a store read.
    fn made_before(&self, id: &OrderId, digest: &[u8; 32]) -> Result<Option<Order>, OrderError> {
        if !self.idempotency.may_exist(id) {
            return Ok(None);
        }
        match super::get(&self.store, id)? {
            Some(order) if order.request_digest != *digest => Err(IdempotencyError::Reused.into()),
            found => Ok(found),
        }
    }

    /// The cheapest "no": a SKU whose published count is zero is refused
    /// without a message to its actor.
    fn refuse_if_sold_out(&self, sku: &Sku, quantity: u64) -> Result<(), OrderError> {
        if self.inventory.availability().get(sku) != Some(0) {
            return Ok(());
        }
        metrics::counter!("surge_purchase_sold_out_fast_total").increment(1);
        let refused = SkuError::InsufficientStock {
            available: 0,
            requested: quantity,
        };
        Err(InventoryError::from(refused).into())
    }
}
