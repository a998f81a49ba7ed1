//! `POST /v1/webhooks/stripe`: the endpoint to register in Stripe's
//! dashboard (events `payment_intent.succeeded`,
//! `payment_intent.amount_capturable_updated`,
//! `payment_intent.payment_failed`, `charge.refunded`). The body is read as
//! raw bytes: the signature covers them exactly as sent. Without
//! `[payment] provider = "stripe"` the route answers 404.

use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::payment::stripe::signature::SignatureError;
use crate::payment_events::{Received, StripeWebhookError};
use actix_web::{web, HttpRequest, HttpResponse};

/// The header Stripe signs its deliveries with.
const SIGNATURE_HEADER: &str = "Stripe-Signature";

#[utoipa::path(post, path = "/v1/webhooks/stripe", tag = "payments",
    request_body(content = Object, description = "a Stripe event, exactly as Stripe sent it"),
    params(("Stripe-Signature" = String, Header,
        description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the endpoint's signing secret>")),
    responses((status = 200, body = Received, description = "taken: applied, ignored, or a duplicate of an event already applied"),
        (status = 400, body = Problem, description = "stripe-signature-invalid (missing, forged, or outside the timestamp tolerance), stripe-event-invalid"),
        (status = 404, body = Problem, description = "stripe-not-configured: payments do not go through Stripe on this server"),
        (status = 409, body = Problem, description = "stripe-event-in-progress: another delivery of the same event is being applied; Stripe retries"),
        (status = 503, body = Problem, description = "stripe-event-unavailable: it cannot be applied now; Stripe delivers it again")))]
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Unsigned is malformed whatever this server's provider.
    let Some(signature) = req.headers().get(SIGNATURE_HEADER) else {
        return Err(StripeWebhookError::Signature(SignatureError::Malformed).into());
    };
    let signature = signature.to_str().unwrap_or("").to_owned();
    let Some(webhook) = state.stripe_webhook.clone() else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "stripe-not-configured",
            "this server does not take payments through Stripe ([payment] provider is not \"stripe\")",
        ));
    };
    // Applied to the end even if Stripe hangs up: a payment must not stop
    // between its steps.
    let received = actix_web::rt::spawn(async move { webhook.receive(&signature, &body).await })
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(HttpResponse::Ok().json(received))
}
