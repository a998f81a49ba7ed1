//! The closed list of ways a payment operation ends without success. The
//! split matters to callers: a decline is the customer's answer (show it,
//! never retry), a timeout or failure is the gateway's trouble (safe to retry
//! with the same op key), unavailable means stop asking for a while, and
//! invalid is a bug or a misuse on our side; action required means the
//! customer must act (3-D Secure) before the payment can be authorized.
//! `code()` is the stable machine-readable name.

use super::Authorization;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The payment method was refused. Final: never retried, and not a
    /// gateway failure (it does not count towards opening a circuit).
    #[error("payment declined: {reason}")]
    Declined {
        reason: String,
        /// The provider's reason code (Stripe's `decline_code`, e.g.
        /// `insufficient_funds`), when it gives one.
        decline_code: Option<String>,
    },
    /// The customer must act (authenticate with their bank) before the
    /// payment is authorized: not a failure, and not the gateway's trouble.
    /// The payment stays pending at the gateway; `Payments::resume` tells
    /// later where it stands.
    #[error("the customer must complete an action (3-D Secure) to authorize the payment")]
    ActionRequired(Box<PendingAction>),
    /// The gateway did not answer in time. The operation may or may not have
    /// happened; retrying with the same op key is safe.
    #[error("the payment gateway did not answer in time")]
    Timeout,
    /// The gateway reported an error. Retrying with the same op key is safe.
    #[error("the payment gateway failed: {0}")]
    Failed(String),
    /// No gateway is taking calls (circuit open, or every retry failed).
    #[error("payments are unavailable; retry after {retry_after_secs} s")]
    Unavailable { retry_after_secs: u64 },
    /// The operation cannot succeed as asked (unknown authorization, amount
    /// above what was authorized or captured, op key reused for another
    /// request...).
    #[error("invalid payment operation: {0}")]
    Invalid(String),
}

impl PaymentError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Declined { .. } => "payment-declined",
            Self::Timeout => "payment-timeout",
            Self::Failed(_) => "payment-failed",
            Self::Unavailable { .. } => "payment-unavailable",
            Self::Invalid(_) => "payment-invalid",
            Self::ActionRequired(_) => "payment-action-required",
        }
    }

    /// True for the gateway's own trouble (timeouts and failures), which is
    /// worth retrying and counts against the gateway's circuit breaker.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout | Self::Failed(_))
    }
}

/// A payment waiting for the customer: the gateway's pending authorization
/// and what the storefront needs to let the customer act.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingAction {
    /// The pending authorization (for Stripe, the PaymentIntent).
    pub auth: Authorization,
    /// The gateway's `next_action` object, as JSON text.
    pub next_action: String,
    /// What the storefront's SDK needs to handle the action (Stripe's
    /// PaymentIntent `client_secret`), if any.
    pub client_secret: Option<String>,
}
