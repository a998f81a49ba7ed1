//! Orders: the list by status, one order's detail, and the merchant's moves
//! (fulfil, ship, deliver, cancel, refund). A move is the same `Orders`
//! call the JSON admin route makes, run to its end even if the browser goes
//! away, with the form's Idempotency-Key; a refund asks first on a page of
//! its own (how much, then confirm), so it works without JavaScript too.

use crate::domain::{FieldError, Money, OrderId};
use crate::http::dashboard::layout::{
    after_form, checked, csrf, decimal, failed, form_key, idem, money, page, when, Flash,
    FormFields, Signed, UiError,
};
use crate::http::problem::ApiError;
use crate::http::storefront::orders::order_id;
use crate::http::AppState;
use crate::idempotency::IdempotencyKey;
use crate::order::{Canceller, Order, OrderStatus, Transition};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

const PAGE_SIZE: usize = 50;

fn badge(status: OrderStatus) -> Markup {
    html! { span class=(format!("badge {}", status.as_str())) { (status.as_str().replace('_', " ")) } }
}

/// `GET /admin/orders?status=&cursor=`.
pub async fn list(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    let query = super::query(&req);
    let status = query.filled("status").and_then(OrderStatus::parse);
    let cursor = query.filled("cursor");
    let page_of = state
        .orders
        .list(status, cursor, PAGE_SIZE)
        .map_err(failed)?;
    let body = html! {
        div class="card" {
            form method="get" action="/admin/orders" class="inline" {
                label { "Status"
                    select name="status" {
                        option value="" { "any" }
                        @for s in OrderStatus::ALL {
                            option value=(s.as_str()) selected[status == Some(s)] { (s.as_str().replace('_', " ")) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
        }
        div class="card table-wrap" {
            @if page_of.orders.is_empty() { p class="muted" { "No orders." } } @else {
                table {
                    thead { tr { th { "Order" } th { "Status" } th { "Items" } th class="num" { "Total" } th { "Customer" } th { "Placed" } } }
                    tbody {
                        @for o in &page_of.orders {
                            tr {
                                td { a href=(format!("/admin/orders/{}", o.id)) { (o.id.as_str()) } }
                                td { (badge(o.status())) }
                                td { @for l in &o.lines { code { (l.sku.as_str()) } " × " (l.quantity) " " } }
                                td class="num" { (money(&o.total)) }
                                td { (o.customer_id.as_ref().map_or("—", |c| c.as_str())) }
                                td { (when(o.created_at)) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &page_of.next_cursor {
                p class="pager" {
                    a class="button secondary" href=(format!("/admin/orders?status={}&cursor={}",
                        status.map_or("", |s| s.as_str()), crate::http::dashboard::layout::encode(next.as_str()))) { "Next page" }
                }
            }
        }
    };
    Ok(page("Orders", "Orders", &session, &Flash::of(&req), body))
}

fn step_form(
    session: &crate::http::dashboard::session::Session,
    order: &Order,
    step: &str,
    label: &str,
    confirm: Option<&str>,
) -> Markup {
    html! {
        form method="post" action=(format!("/admin/orders/{}/{step}", order.id)) data-confirm=[confirm] {
            (csrf(session)) (idem())
            button type="submit" class=(if step == "cancel" { "danger" } else { "" }) { (label) }
        }
    }
}

fn actions(session: &crate::http::dashboard::session::Session, order: &Order) -> Markup {
    let status = order.status();
    let can = |t: Transition| status.after(t).is_ok();
    html! {
        div class="actions" {
            @if can(Transition::Fulfil) { (step_form(session, order, "fulfil", "Mark fulfilled", None)) }
            @if can(Transition::Ship) { (step_form(session, order, "ship", "Mark shipped", None)) }
            @if can(Transition::Deliver) { (step_form(session, order, "deliver", "Mark delivered", None)) }
            @if status.is_paid() { a class="button secondary" href=(format!("/admin/orders/{}/refund", order.id)) { "Refund…" } }
            @if can(Transition::Cancel) {
                (step_form(session, order, "cancel", "Cancel order",
                    Some("Cancel this order? Its stock goes back on sale and any payment is returned.")))
            }
        }
    }
}

fn find(state: &AppState, raw: &str) -> Result<Order, UiError> {
    let id = order_id(raw).map_err(failed)?;
    state.orders.get(&id).map_err(failed)
}

/// `GET /admin/orders/{id}`.
pub async fn detail(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let order = find(&state, &id)?;
    let refunded = Money {
        amount: order.refunded(),
        currency: order.total.currency,
    };
    let body = html! {
        div class="grid two" {
            div class="card" {
                h2 { "Items" }
                div class="table-wrap" { table {
                    thead { tr { th { "SKU" } th class="num" { "Qty" } th class="num" { "Unit" } th class="num" { "Total" } } }
                    tbody { @for l in &order.lines { tr {
                        td { a href=(format!("/admin/inventory/{}", l.sku)) { (l.sku.as_str()) } }
                        td class="num" { (l.quantity) } td class="num" { (money(&l.unit_price)) } td class="num" { (money(&l.line_total)) }
                    } } }
                } }
                (actions(&session, &order))
            }
            div class="card" {
                dl class="facts" {
                    dt { "Status" } dd { (badge(order.status())) }
                    dt { "Total" } dd { (money(&order.total)) }
                    dt { "Refunded" } dd { (money(&refunded)) }
                    dt { "Customer" } dd { (order.customer_id.as_ref().map_or("—", |c| c.as_str())) }
                    @if let Some(email) = &order.email { dt { "Email" } dd { (email.to_string()) } }
                    dt { "Placed" } dd { (when(order.created_at)) }
                    dt { "Updated" } dd { (when(order.updated_at)) }
                    @if let Some(at) = order.expires_at { dt { "Lapses" } dd { (when(at)) } }
                    @if let Some(p) = &order.payment {
                        dt { "Payment" } dd { (p.gateway) " · " code { (p.authorization_id) } @if p.captured { " · captured" } }
                    }
                }
            }
        }
    };
    Ok(page(
        &format!("Order {}", order.id),
        "Orders",
        &session,
        &Flash::of(&req),
        body,
    ))
}

/// `GET /admin/orders/{id}/refund`: how much, and a confirmation.
pub async fn confirm_refund(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (id, step) = path.into_inner();
    if step != "refund" {
        return Err(failed(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not-found",
            "no such page",
        )));
    }
    let order = find(&state, &id)?;
    let left = Money {
        amount: order.total.amount - order.refunded(),
        currency: order.total.currency,
    };
    let body = html! {
        form method="post" action=(format!("/admin/orders/{}/refund", order.id)) class="card stack narrowish" {
            (csrf(&session)) (idem())
            p { "Order " strong { (order.id.as_str()) } " was paid " (money(&order.total)) "; " (money(&left)) " can still be paid back." }
            label { "Amount to refund (" (order.total.currency.as_str()) ")"
                span class="hint" { "everything refundable when left as is" }
                input name="amount" inputmode="decimal" value=(decimal(&left)); }
            label class="check" { input type="checkbox" name="confirm" value="yes" required; "I want to pay this money back to the customer" }
            div class="actions" {
                button type="submit" class="danger" { "Confirm refund" }
                a class="button secondary" href=(format!("/admin/orders/{}", order.id)) { "Keep the money" }
            }
        }
    };
    Ok(page(
        &format!("Refund order {}", order.id),
        "Orders",
        &session,
        &Flash::of(&req),
        body,
    ))
}

/// Runs an order move to its end, even if the browser hangs up midway.
async fn run<F, Fut>(
    state: &AppState,
    id: OrderId,
    key: Option<IdempotencyKey>,
    f: F,
) -> Result<Order, ApiError>
where
    F: FnOnce(crate::order::Orders, OrderId, Option<IdempotencyKey>) -> Fut,
    Fut: std::future::Future<
            Output = Result<crate::idempotency::Answered<Order>, crate::order::OrderError>,
        > + 'static,
{
    let answered = actix_web::rt::spawn(f(state.orders.clone(), id, key))
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(answered.value)
}

/// `POST /admin/orders/{id}/{fulfil|ship|deliver|cancel|refund}`.
pub async fn step(
    Signed(session): Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = checked(&session, body)?;
    let (raw, what) = path.into_inner();
    let id = order_id(&raw).map_err(failed)?;
    let key = form_key(&fields)?;
    let back = format!("/admin/orders/{id}");
    let advance = |t: Transition| {
        move |o: crate::order::Orders, id: OrderId, key: Option<IdempotencyKey>| async move {
            o.advance(&id, t, key.as_ref()).await
        }
    };
    let moved = match what.as_str() {
        "fulfil" => run(&state, id, key, advance(Transition::Fulfil)).await,
        "ship" => run(&state, id, key, advance(Transition::Ship)).await,
        "deliver" => run(&state, id, key, advance(Transition::Deliver)).await,
        "cancel" => {
            run(&state, id, key, |o, id, key| async move {
                o.cancel(&id, Canceller::Admin, key.as_ref()).await
            })
            .await
        }
        "refund" => {
            if fields.get("confirm") != Some("yes") {
                return Ok(after_form(
                    &format!("{back}/refund"),
                    Err(ApiError::invalid(vec![FieldError::new(
                        "confirm",
                        "tick the box to confirm the refund",
                    )])),
                ));
            }
            let order = find(&state, &raw)?;
            let amount = match fields.filled("amount") {
                None => None,
                Some(raw) => match Money::from_decimal(raw, order.total.currency) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        return Ok(after_form(
                            &format!("{back}/refund"),
                            Err(ApiError::invalid(vec![FieldError::new("amount", e.0)])),
                        ))
                    }
                },
            };
            let key = key.ok_or_else(|| {
                failed(ApiError::bad_request(
                    "invalid-form",
                    "the refund form lost its key; reload it",
                ))
            })?;
            run(&state, id, Some(key), move |o, id, key| async move {
                o.refund(&id, amount, key.as_ref()).await
            })
            .await
        }
        _ => Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not-found",
            "no such order move",
        )),
    };
    Ok(after_form(
        &back,
        moved.map(|o| format!("Order is {}", o.status().as_str().replace('_', " "))),
    ))
}
