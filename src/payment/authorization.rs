//! An authorization: money reserved on the customer's payment method, to be
//! captured, voided or refunded later. It names the gateway that granted it,
//! because only that gateway can act on it (a fallback gateway's
//! authorization means nothing to the primary).

use crate::domain::Money;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The gateway's id for the authorization (e.g. `auth_3f9c…`).
    pub id: String,
    /// Name of the gateway that authorized; capture, void and refund go to it.
    pub gateway: String,
    /// The amount authorized: the most that can be captured.
    pub amount: Money,
}
