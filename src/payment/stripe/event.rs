//! Stripe's webhook events, read for what surge acts on. An event is
//! `{"id": "evt_…", "type": "…", "data": {"object": {…}}}`; the object is a
//! PaymentIntent for `payment_intent.*` and a Charge for `charge.refunded`.
//! The order a PaymentIntent pays is in its `metadata.order_id` (surge puts
//! it there when it creates the PaymentIntent).

use serde_json::Value;

/// Longest event id accepted (Stripe's are about 30 characters).
pub const EVENT_ID_LEN_MAX: usize = 255;

/// An event: its id (to deduplicate), its type, and what it means here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The PaymentIntent is authorized (`payment_intent.amount_capturable_updated`)
    /// or paid (`payment_intent.succeeded`): a payment that waited for the
    /// customer can go on.
    Authorized {
        intent: String,
        order: Option<String>,
    },
    /// The customer's attempt failed (`payment_intent.payment_failed`).
    Failed {
        intent: String,
        order: Option<String>,
    },
    /// Money was paid back, possibly from Stripe's dashboard
    /// (`charge.refunded`): `amount_refunded` is the charge's total so far.
    Refunded {
        intent: String,
        amount_refunded: i64,
    },
    /// A type surge does not act on: acknowledged and forgotten.
    Ignored,
}

/// Reads an event; `Err` says what is missing.
pub fn parse(payload: &[u8]) -> Result<StripeEvent, String> {
    let event: Value =
        serde_json::from_slice(payload).map_err(|e| format!("not a JSON event: {e}"))?;
    let id = text(&event["id"]).ok_or("the event has no id")?;
    if id.len() > EVENT_ID_LEN_MAX || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the event id is not an id".into());
    }
    let kind = text(&event["type"]).ok_or("the event has no type")?;
    let object = &event["data"]["object"];
    let intent = || text(&object["id"]).map(str::to_owned);
    let order = || text(&object["metadata"]["order_id"]).map(str::to_owned);
    let action = match kind {
        "payment_intent.succeeded" | "payment_intent.amount_capturable_updated" => {
            Action::Authorized {
                intent: intent().ok_or("the PaymentIntent has no id")?,
                order: order(),
            }
        }
        "payment_intent.payment_failed" => Action::Failed {
            intent: intent().ok_or("the PaymentIntent has no id")?,
            order: order(),
        },
        "charge.refunded" => Action::Refunded {
            intent: text(&object["payment_intent"])
                .ok_or("the charge has no payment_intent")?
                .to_owned(),
            amount_refunded: object["amount_refunded"]
                .as_i64()
                .filter(|a| *a >= 0)
                .ok_or("the charge has no amount_refunded")?,
        },
        _ => Action::Ignored,
    };
    Ok(StripeEvent {
        id: id.to_owned(),
        kind: kind.to_owned(),
        action,
    })
}

fn text(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn the_events_surge_acts_on_are_read() {
        let succeeded = bytes(json!({"id": "evt_1", "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "metadata": {"order_id": "ord_1"}}}}));
        assert_eq!(
            parse(&succeeded).unwrap().action,
            Action::Authorized {
                intent: "pi_1".into(),
                order: Some("ord_1".into())
            }
        );
        let refunded = bytes(json!({"id": "evt_2", "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 500}}}));
        assert_eq!(
            parse(&refunded).unwrap().action,
            Action::Refunded {
                intent: "pi_1".into(),
                amount_refunded: 500
            }
        );
        let other =
            bytes(json!({"id": "evt_3", "type": "customer.created", "data": {"object": {}}}));
        assert_eq!(parse(&other).unwrap().action, Action::Ignored);
    }

    #[test]
    fn broken_events_are_refused() {
        for bad in [
            b"nonsense".to_vec(),
            bytes(json!({"type": "payment_intent.succeeded"})),
            bytes(json!({"id": "evt_1"})),
            bytes(
                json!({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}}),
            ),
            bytes(
                json!({"id": "evt_1", "type": "charge.refunded", "data": {"object": {"payment_intent": "pi_1"}}}),
            ),
        ] {
            assert!(parse(&bad).is_err(), "{}", String::from_utf8_lossy(&bad));
        }
    }
}
