//! A drop's waiting room: join it (`POST /v1/skus/{sku}/queue`), read a
//! ticket (`GET /v1/queue/{ticket}`) or follow it as Server-Sent Events
//! (`GET /v1/queue/{ticket}/stream`). A ticket id is the capability to
//! read the ticket, also with customer tokens on: a browser's EventSource
//! cannot send a token, and the admission a ticket shows buys only for the
//! ticket's customer. See `queue` for the rules.

use crate::catalog::CatalogError;
use crate::clock::rfc3339;
use crate::domain::{CustomerId, FieldError, Sku};
use crate::http::customer::{claimed_customer, Buyer};
use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::queue::{Status, TicketId, TicketState};
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// The merchant's id of the customer: one ticket per customer and SKU.
    /// Required unless customer tokens are on; then the token's customer,
    /// and another one is refused (403).
    pub customer_id: Option<String>,
}

/// A ticket as its holder reads it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketView {
    /// `tkt_<32 hex>`; whoever has it can read the ticket.
    #[schema(pattern = "^tkt_[0-9a-f]{32}$")]
    pub ticket: String,
    pub status: TicketStatus,
    /// Place among those waiting, 1 for the next admitted; 0 unless waiting.
    /// Before the sale starts it is the place the lottery gives so far
    /// (later joiners may draw ahead); from the start it only moves up.
    pub position: u64,
    /// Tickets waiting ahead of this one; 0 unless waiting.
    pub ahead: u64,
    /// Estimated seconds until admission: the time to the start plus
    /// `ahead / admit_per_sec`, rounded up. A lower bound: admissions also
    /// wait for units to be free. 0 unless waiting.
    pub eta_secs: u64,
    /// Present once admitted: buy with the token before `expires_at` (once).
    pub admission: Option<AdmissionView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Waiting,
    /// It was this ticket's turn (also after its admission was used or expired).
    Admitted,
    /// No unit is left for those waiting (or the sale ended). Reverts to
    /// `waiting` if units come back.
    SoldOut,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdmissionView {
    /// Send it as `admission` in the purchase body.
    pub token: String,
    /// RFC 3339; unused by then, the place goes to the next in line.
    pub expires_at: String,
}

impl TicketView {
    pub fn new(ticket: &TicketState) -> Self {
        let place = &ticket.place;
        let status = match place.status {
            Status::Waiting => TicketStatus::Waiting,
            Status::Admitted => TicketStatus::Admitted,
            Status::SoldOut => TicketStatus::SoldOut,
        };
        let admission = place
            .admission
            .zip(ticket.token.clone())
            .map(|(a, token)| AdmissionView {
                token,
                expires_at: rfc3339(a.expires_at),
            });
        Self {
            ticket: ticket.id.to_string(),
            status,
            position: place.position,
            ahead: place.ahead,
            eta_secs: place.eta_secs,
            admission,
        }
    }
}

/// The customer a join is for: the body's with customer tokens off, the
/// token's with them on (403 when the body names another).
fn customer_of(body: &JoinBody, buyer: &Buyer) -> Result<CustomerId, ApiError> {
    let mut errors = Vec::new();
    let customer = match claimed_customer(body.customer_id.as_deref(), &mut errors) {
        Some(claimed) => buyer.customer(claimed)?,
        None => return Err(ApiError::invalid(errors)),
    };
    customer.ok_or_else(|| {
        ApiError::invalid(vec![FieldError::new(
            "customer_id",
            "customer_id is required",
        )])
    })
}

pub(super) fn parse_ticket(raw: &str) -> Result<TicketId, ApiError> {
    TicketId::parse(raw).map_err(|e| ApiError::bad_request("invalid-path", e.0))
}

#[utoipa::path(post, path = "/v1/skus/{sku}/queue", tag = "flash sale", request_body = JoinBody,
    params(("sku" = crate::domain::Sku, Path, description = "SKU")),
    responses(
        (status = 201, body = TicketView, description = "the customer's ticket: a new one, or the one it already has",
            headers(("Location" = String, description = "/v1/queue/{ticket}"))),
        (status = 400, body = Problem),
        (status = 404, body = Problem, description = "sku-not-found"),
        (status = 409, body = Problem, description = "queue-not-enabled (the SKU is bought directly), or queue-full"),
        (status = 503, body = Problem, description = "overloaded; retry after Retry-After")))]
pub async fn join(
    state: web::Data<AppState>,
    buyer: Buyer,
    sku: web::Path<String>,
    body: web::Json<JoinBody>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    let customer = customer_of(&body, &buyer)?;
    if state.catalog.snapshot().sku(&sku).is_none() {
        return Err(CatalogError::SkuNotFound(sku.to_string()).into());
    }
    let ticket = state.queues.join(&sku, &customer).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/queue/{}", ticket.id)))
        .json(TicketView::new(&ticket)))
}

#[utoipa::path(get, path = "/v1/queue/{ticket}", tag = "flash sale",
    params(("ticket" = String, Path, description = "ticket id", pattern = "^tkt_[0-9a-f]{32}$")),
    responses((status = 200, body = TicketView), (status = 400, body = Problem),
        (status = 404, body = Problem, description = "ticket-not-found (also once its waiting room is switched off)"),
        (status = 503, body = Problem)))]
pub async fn get_ticket(
    state: web::Data<AppState>,
    ticket: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_ticket(&ticket)?;
    let ticket = state.queues.ticket(&id)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TicketView::new(&ticket)))
}
