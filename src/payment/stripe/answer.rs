//! What Stripe's answers mean to surge: a PaymentIntent's status becomes an
//! authorization, an action for the customer or a decline; an error object
//! becomes the [`PaymentError`] that tells the caller what to do next
//! (a card error is the customer's answer; 429, 409 and 5xx are Stripe's
//! trouble, retried with the same Idempotency-Key; other 4xx are ours).

use super::client::Answer;
use super::GATEWAY;
use crate::domain::Money;
use crate::payment::{Authorization, PaymentError, PendingAction};
use serde_json::Value;

/// The error an unsuccessful answer stands for; `None` for a 2xx.
pub(super) fn error(answer: &Answer) -> Option<PaymentError> {
    if (200..300).contains(&answer.status) {
        return None;
    }
    let error = &answer.body["error"];
    let message = text(&error["message"]).unwrap_or("no message");
    let kind = text(&error["type"]).unwrap_or("");
    let status = answer.status;
    Some(match status {
        402 => declined(error),
        _ if kind == "card_error" => declined(error),
        409 | 429 | 500.. => PaymentError::Failed(format!("stripe answered {status}: {message}")),
        // A bad key is our trouble, not the request's: counted against the
        // circuit, answered 503 (the log says why).
        401 | 403 => {
            PaymentError::Failed(format!("stripe refused the API key ({status}): {message}"))
        }
        _ => PaymentError::Invalid(format!("stripe answered {status}: {message}")),
    })
}

/// A decline from an error object or a PaymentIntent's
/// `last_payment_error`.
fn declined(error: &Value) -> PaymentError {
    let code = text(&error["decline_code"]).or_else(|| text(&error["code"]));
    PaymentError::Declined {
        reason: text(&error["message"])
            .unwrap_or("the card was declined")
            .to_owned(),
        decline_code: code.map(str::to_owned),
    }
}

/// The PaymentIntent of a successful answer, as an authorization, an
/// action for the customer or a decline. `amount` is what was asked.
pub(super) fn intent(body: &Value, amount: Money) -> Result<Authorization, PaymentError> {
    let id = text(&body["id"])
        .ok_or_else(|| PaymentError::Failed("stripe answered no PaymentIntent id".into()))?;
    let auth = Authorization {
        id: id.to_owned(),
        gateway: GATEWAY.to_owned(),
        amount,
    };
    match text(&body["status"]).unwrap_or("") {
        // Authorized (manual capture), or already captured.
        "requires_capture" | "succeeded" => Ok(auth),
        "requires_action" => Err(PaymentError::ActionRequired(Box::new(PendingAction {
            auth,
            next_action: body["next_action"].to_string(),
            client_secret: text(&body["client_secret"]).map(str::to_owned),
        }))),
        "requires_payment_method" => Err(declined(&body["last_payment_error"])),
        "canceled" => Err(PaymentError::Declined {
            reason: "the payment was canceled".into(),
            decline_code: text(&body["cancellation_reason"]).map(str::to_owned),
        }),
        // `processing`, `requires_confirmation`: not settled yet; asking
        // again (same key, or `resume`) finds out.
        other => Err(PaymentError::Failed(format!(
            "the PaymentIntent is {other}, not settled yet"
        ))),
    }
}

/// Whether an error answer says the PaymentIntent is already in `status`
/// (a capture or cancel that had happened before: the retry is done).
pub(super) fn already(answer: &Answer, status: &str) -> bool {
    let error = &answer.body["error"];
    text(&error["code"]) == Some("payment_intent_unexpected_state")
        && text(&error["payment_intent"]["status"]) == Some(status)
}

fn text(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;
    use serde_json::json;

    fn eur(amount: i64) -> Money {
        Money {
            amount,
            currency: Currency::parse("EUR").unwrap(),
        }
    }

    fn answer(status: u16, body: Value) -> Answer {
        Answer { status, body }
    }

    #[test]
    fn card_errors_are_declines_with_their_code() {
        let body = json!({"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}});
        assert_eq!(
            error(&answer(402, body)),
            Some(PaymentError::Declined {
                reason: "Your card has insufficient funds.".into(),
                decline_code: Some("insufficient_funds".into()),
            })
        );
        let expired =
            json!({"error": {"type": "card_error", "code": "expired_card", "message": "x"}});
        let Some(PaymentError::Declined { decline_code, .. }) = error(&answer(402, expired)) else {
            panic!("not a decline");
        };
        assert_eq!(decline_code.as_deref(), Some("expired_card"));
    }

    #[test]
    fn stripes_trouble_is_transient_and_our_mistakes_are_not() {
        for status in [409, 429, 500, 502, 503] {
            let e = error(&answer(status, Value::Null)).unwrap();
            assert!(e.is_transient(), "{status}: {e:?}");
        }
        let bad =
            json!({"error": {"type": "invalid_request_error", "message": "No such PaymentMethod"}});
        assert!(
            matches!(error(&answer(400, bad)), Some(PaymentError::Invalid(m)) if m.contains("No such"))
        );
        assert!(error(&answer(200, Value::Null)).is_none());
    }

    #[test]
    fn a_payment_intent_becomes_an_authorization_an_action_or_a_decline() {
        let authorized =
            intent(&json!({"id": "pi_1", "status": "requires_capture"}), eur(5)).unwrap();
        assert_eq!(
            (authorized.id.as_str(), authorized.gateway.as_str()),
            ("pi_1", "stripe")
        );
        let action = json!({"id": "pi_2", "status": "requires_action", "client_secret": "pi_2_secret_x",
            "next_action": {"type": "use_stripe_sdk", "use_stripe_sdk": {}}});
        let Err(PaymentError::ActionRequired(pending)) = intent(&action, eur(5)) else {
            panic!("no action");
        };
        assert_eq!(pending.auth.id, "pi_2");
        assert_eq!(pending.client_secret.as_deref(), Some("pi_2_secret_x"));
        assert!(pending.next_action.contains("use_stripe_sdk"));
        let failed = json!({"id": "pi_3", "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "do_not_honor", "message": "no"}});
        assert!(matches!(intent(&failed, eur(5)),
            Err(PaymentError::Declined { decline_code: Some(c), .. }) if c == "do_not_honor"));
        assert!(
            intent(&json!({"id": "pi_4", "status": "processing"}), eur(5))
                .unwrap_err()
                .is_transient()
        );
    }
}
