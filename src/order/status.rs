//! The order state machine. Every change of an order's status goes through
//! [`Order::apply`](super::Order::apply), which asks
//! [`OrderStatus::after`], so an illegal move is refused in one place (the
//! API answers 409 naming the current state) and the table below is the
//! whole truth:
//!
//! ```text
//! awaiting_payment --pay--> paid --fulfil--> fulfilled --ship--> shipped --deliver--> delivered
//! awaiting_payment --cancel/expire--> cancelled/expired
//! paid, fulfilled --cancel--> cancelled         (stock returns, payment refunded)
//! paid .. delivered --refund--> same state (partial) or refunded (full)
//! ```

use super::OrderStatus;

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Pay,
    Fulfil,
    Ship,
    Deliver,
    Cancel,
    Expire,
    /// A refund; `full` when it brings the refunded total to what was paid.
    Refund {
        full: bool,
    },
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pay => "pay",
            Self::Fulfil => "fulfil",
            Self::Ship => "ship",
            Self::Deliver => "deliver",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
            Self::Refund { .. } => "refund",
        }
    }
}

/// A transition the current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} an order that is {}", .transition.name(), .from.as_str())]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub transition: Transition,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub const ALL: [OrderStatus; 8] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::Fulfilled,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
        Self::Expired,
        Self::Refunded,
    ];

    /// Whether the customer has paid and has not been paid back in full.
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            Self::Paid | Self::Fulfilled | Self::Shipped | Self::Delivered
        )
    }

    /// The status after `transition`, or why it is not allowed.
    pub fn after(self, transition: Transition) -> Result<OrderStatus, IllegalTransition> {
        use OrderStatus::*;
        use Transition::*;
        let next = match (self, transition) {
            (AwaitingPayment, Pay) => Paid,
            (AwaitingPayment, Expire) => Expired,
            (AwaitingPayment | Paid | Fulfilled, Cancel) => Cancelled,
            (Paid, Fulfil) => Fulfilled,
            (Fulfilled, Ship) => Shipped,
            (Shipped, Deliver) => Delivered,
            (status, Refund { full }) if status.is_paid() => {
                if full {
                    Refunded
                } else {
                    status
                }
            }
            (from, transition) => return Err(IllegalTransition { from, transition }),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use OrderStatus::*;

    /// The transition table, written out independently of `after`: (from,
    /// transition name, to). Anything not listed is illegal.
    const TABLE: &[(OrderStatus, &str, OrderStatus)] = &[
        (AwaitingPayment, "pay", Paid),
        (AwaitingPayment, "expire", Expired),
        (AwaitingPayment, "cancel", Cancelled),
        (Paid, "cancel", Cancelled),
        (Fulfilled, "cancel", Cancelled),
        (Paid, "fulfil", Fulfilled),
        (Fulfilled, "ship", Shipped),
        (Shipped, "deliver", Delivered),
        (Paid, "refund-partial", Paid),
        (Fulfilled, "refund-partial", Fulfilled),
        (Shipped, "refund-partial", Shipped),
        (Delivered, "refund-partial", Delivered),
        (Paid, "refund-full", Refunded),
        (Fulfilled, "refund-full", Refunded),
        (Shipped, "refund-full", Refunded),
        (Delivered, "refund-full", Refunded),
    ];

    fn key(t: Transition) -> &'static str {
        match t {
            Transition::Refund { full: true } => "refund-full",
            Transition::Refund { full: false } => "refund-partial",
            other => other.name(),
        }
    }

    fn transition() -> impl Strategy<Value = Transition> {
        prop_oneof![
            Just(Transition::Pay),
            Just(Transition::Fulfil),
            Just(Transition::Ship),
            Just(Transition::Deliver),
            Just(Transition::Cancel),
            Just(Transition::Expire),
            any::<bool>().prop_map(|full| Transition::Refund { full }),
        ]
    }

    proptest! {
        /// Any sequence of transitions, applied from any state, follows the
        /// table exactly: legal moves land where it says, illegal ones are
        /// refused and name the state they were refused in.
        #[test]
        fn every_walk_follows_the_table(
            start in proptest::sample::select(OrderStatus::ALL.to_vec()),
            walk in proptest::collection::vec(transition(), 0..24),
        ) {
            let mut status = start;
            for t in walk {
                let expected = TABLE.iter().find(|(from, name, _)| *from == status && *name == key(t));
                match (status.after(t), expected) {
                    (Ok(next), Some((_, _, to))) => { prop_assert_eq!(next, *to); status = next; }
                    (Err(e), None) => { prop_assert_eq!(e.from, status); prop_assert_eq!(e.transition, t); }
                    (got, want) => prop_assert!(false, "{status:?} --{t:?}--> {got:?}, table says {want:?}"),
                }
            }
        }
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for status in [Cancelled, Expired, Refunded] {
            for t in [
                Transition::Pay,
                Transition::Fulfil,
                Transition::Ship,
                Transition::Deliver,
                Transition::Cancel,
                Transition::Expire,
                Transition::Refund { full: true },
                Transition::Refund { full: false },
            ] {
                assert!(status.after(t).is_err(), "{status:?} allowed {t:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
    }
}
