//! Restocks an admin can retry safely. A restock sent with an
//! Idempotency-Key leaves a receipt (`restock/<id>`, the id derived from the
//! key) committed with the stock change, so a retry (a timeout, a delivery
//! script run twice) adds nothing and answers with the current standing.

use super::error::InventoryError;
use super::registry::Inventory;
use super::sku_actor::Standing;
use crate::clock::Millis;
use crate::domain::Sku;
use crate::idempotency::{request_digest, IdempotencyError, IdempotencyKey};
use crate::store::{keys, WriteGroup};
use serde::{Deserialize, Serialize};

/// What a keyed restock leaves in the store (`surge check` reads it too).
#[derive(Debug, Serialize, Deserialize)]
pub struct RestockReceipt {
    request_digest: [u8; 32],
    /// When the restock was made (for an operator reading the store).
    at: Millis,
}

/// The outcome of a restock: where the SKU stands, and whether the call was
/// a retry that changed nothing.
pub struct Restocked {
    pub standing: Standing,
    pub replayed: bool,
}

impl Inventory {
    /// Adds `units` to `sku`, once per `key` when one is given: the same key
    /// again answers the current standing (`replayed`), with another
    /// quantity or SKU it is refused.
    pub async fn restock_once(
        &self,
        sku: &Sku,
        units: u64,
        key: Option<&IdempotencyKey>,
    ) -> Result<Restocked, InventoryError> {
        let Some(key) = key else {
            let standing = self.restock(sku, units, WriteGroup::new()).await?;
            return Ok(Restocked {
                standing,
                replayed: false,
            });
        };
        let env = &self.env;
        let receipt_id = env.idempotency.receipt_id("restock", key);
        let _claim = env
            .idempotency
            .claim(&receipt_id)
            .ok_or(IdempotencyError::InUse)?;
        let digest = request_digest(&[sku.as_str().as_bytes(), &units.to_be_bytes()]);
        let receipt_key = keys::restock(&receipt_id);
        if let Some(receipt) = env.store.get::<RestockReceipt>(&receipt_key)? {
            if receipt.request_digest != digest {
                return Err(IdempotencyError::Reused.into());
            }
            let standing = self.inspect(sku).await?;
            return Ok(Restocked {
                standing,
                replayed: true,
            });
        }
        let receipt = RestockReceipt {
            request_digest: digest,
            at: env.clock.now_ms(),
        };
        let mut attach = WriteGroup::new();
        attach.put(receipt_key, &receipt)?;
        let standing = self.restock(sku, units, attach).await?;
        Ok(Restocked {
            standing,
            replayed: false,
        })
    }
}
