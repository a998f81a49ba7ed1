//! Inventory: find a SKU, then restock it, set its stock, and set its sale
//! (window, per-customer limit, waiting room). Each form calls the function
//! the JSON admin route calls (`http/admin/inventory.rs`).

use crate::catalog::SkuStatus;
use crate::clock::rfc3339;
use crate::domain::FieldError;
use crate::http::admin::inventory::{
    apply_sale, parse_sku, restock_sku, set_stock_of, QueueView, SaleView,
};
use crate::http::dashboard::layout::{
    after_form, checked, csrf, failed, form_key, group, idem, page, Fields, Flash, FormFields,
    Signed, UiError,
};
use crate::http::problem::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

const RESULTS_MAX: usize = 100;

/// `GET /admin/inventory?q=`: SKUs whose code or product title matches.
pub async fn list(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let q = super::query(&req)
        .get("q")
        .unwrap_or_default()
        .to_lowercase();
    let snapshot = state.catalog.snapshot();
    let mut rows = Vec::new();
    let mut after = None;
    'scan: loop {
        let page = snapshot.page(None, after.as_ref(), 1000);
        for p in &page.items {
            for v in &p.variants {
                let hit = q.is_empty()
                    || v.sku.as_str().to_lowercase().contains(&q)
                    || p.title.as_str().to_lowercase().contains(&q);
                if hit {
                    rows.push((
                        v.sku.clone(),
                        format!("{} · {}", p.title.as_str(), v.title.as_str()),
                    ));
                    if rows.len() >= RESULTS_MAX {
                        break 'scan;
                    }
                }
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let availability = state.inventory.availability();
    let body = html! {
        div class="card" {
            form method="get" action="/admin/inventory" class="inline" role="search" {
                label { "Find a SKU (code or product title)" input type="search" name="q" value=(q); }
                button type="submit" { "Find" }
            }
        }
        div class="card table-wrap" {
            table {
                thead { tr { th { "SKU" } th { "Product" } th class="num" { "Available" } th { "Waiting room" } } }
                tbody {
                    @for (sku, title) in &rows {
                        tr {
                            td { a href=(format!("/admin/inventory/{sku}")) { (sku.as_str()) } }
                            td { (title) }
                            td class="num" { (availability.get(sku).map_or("—".to_owned(), |a| group(a as i64))) }
                            td { @if let Some(n) = state.queues.tickets(sku) { span class="badge" { "on · " (n) " tickets" } } }
                        }
                    }
                }
            }
            @if rows.is_empty() { p class="muted" { "No SKU matches." } }
        }
    };
    page("Inventory", "Inventory", &session, &Flash::of(&req), body)
}

/// `GET /admin/inventory/{sku}`.
pub async fn sku(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let sku = parse_sku(&sku).map_err(failed)?;
    let (levels, sale) = state.inventory.inspect(&sku).await.map_err(failed)?;
    let title = match state.catalog.snapshot().sku(&sku) {
        Some(SkuStatus::Listed(p, v)) => format!("{} · {}", p.title.as_str(), v.title.as_str()),
        _ => "retired".to_owned(),
    };
    let room = state.queues.rule(&sku);
    let tickets = state.queues.tickets(&sku);
    let action = |what: &str| format!("/admin/inventory/{sku}/{what}");
    let body = html! {
        div class="grid halves" {
            div class="card" {
                h2 { (title) }
                dl class="facts" {
                    dt { "Stocked" } dd { (group(levels.stocked as i64)) }
                    dt { "Available" } dd data-metric="available" { (group(levels.available as i64)) }
                    dt { "Held (unpaid orders, carts)" } dd { (group(levels.reserved as i64)) }
                    dt { "Sold" } dd { (group(levels.sold as i64)) }
                    dt { "Waiting room" } dd {
                        @match (&room, tickets) {
                            (Some(r), Some(n)) => { "on: " (n) " tickets, admits " (r.admit_per_sec) "/s" @if r.sold_out { " · sold out" } }
                            _ => { "off" }
                        }
                    }
                }
            }
            div class="card stack" {
                form method="post" action=(action("restock")) class="inline" {
                    (csrf(&session)) (idem())
                    label { "Restock: add units" input name="quantity" type="number" min="1" required; }
                    button type="submit" { "Restock" }
                }
                form method="post" action=(action("stock")) class="inline" {
                    (csrf(&session))
                    label { "Set stocked to " span class="hint" { "at least held + sold (" (levels.reserved + levels.sold) ")" }
                        input name="stocked" type="number" min="0" required value=(levels.stocked); }
                    button type="submit" class="secondary" { "Set stock" }
                }
            }
        }
        form method="post" action=(action("sale")) class="card stack" {
            (csrf(&session))
            h2 { "Sale" }
            p class="muted" { "Times are RFC 3339 (e.g. 2026-11-27T09:00:00Z); empty for none. Saving replaces the whole sale." }
            div class="grid halves" {
                label { "Opens at" input name="starts_at" value=(sale.starts_at.map(rfc3339).unwrap_or_default()) placeholder="already open"; }
                label { "Closes at" input name="ends_at" value=(sale.ends_at.map(rfc3339).unwrap_or_default()) placeholder="never"; }
                label { "Per-customer limit" input name="per_customer_limit" type="number" min="1"
                    value=[sale.per_customer_limit] placeholder="no limit"; }
                label { "Waiting room admissions per second" input name="admit_per_sec" type="number" min="1" max="10000"
                    value=[room.as_ref().map(|r| r.admit_per_sec)] placeholder="server default"; }
            }
            label class="check" { input type="checkbox" name="queue" value="on" checked[room.is_some()]; "Send buyers through a waiting room" }
            div class="actions" { button type="submit" { "Save sale" } }
        }
    };
    Ok(page(
        &format!("Inventory · {sku}"),
        "Inventory",
        &session,
        &Flash::of(&req),
        body,
    ))
}

fn number(fields: &Fields, name: &str) -> Result<Option<u64>, ApiError> {
    fields
        .filled(name)
        .map(|raw| {
            raw.parse::<u64>()
                .map_err(|_| ApiError::invalid(vec![FieldError::new(name, "a whole number")]))
        })
        .transpose()
}

/// `POST /admin/inventory/{sku}/{restock|stock|sale}`.
pub async fn change(
    Signed(session): Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = checked(&session, body)?;
    let (raw, what) = path.into_inner();
    let sku = parse_sku(&raw).map_err(failed)?;
    let key = form_key(&fields)?;
    let outcome = async {
        match what.as_str() {
            "restock" => {
                let quantity = number(&fields, "quantity")?.unwrap_or(0);
                let (view, replayed) = restock_sku(&state, &sku, quantity, key).await?;
                Ok(if replayed {
                    format!("Already restocked; {} available", view.available)
                } else {
                    format!("Restocked {quantity}; {} available", view.available)
                })
            }
            "stock" => {
                let stocked = number(&fields, "stocked")?.unwrap_or(0);
                let view = set_stock_of(&state, &sku, stocked).await?;
                Ok(format!(
                    "Stocked set to {}; {} available",
                    view.stocked, view.available
                ))
            }
            "sale" => {
                let sale = SaleView {
                    per_customer_limit: number(&fields, "per_customer_limit")?,
                    starts_at: fields.filled("starts_at").map(str::to_owned),
                    ends_at: fields.filled("ends_at").map(str::to_owned),
                    queue: fields.filled("queue").map(|_| QueueView {
                        enabled: true,
                        admit_per_sec: None,
                    }),
                };
                let sale = match (sale.queue.is_some(), number(&fields, "admit_per_sec")?) {
                    (true, Some(n)) => SaleView {
                        queue: Some(QueueView {
                            enabled: true,
                            admit_per_sec: Some(u32::try_from(n).unwrap_or(u32::MAX)),
                        }),
                        ..sale
                    },
                    _ => sale,
                };
                apply_sale(&state, &sku, &sale).await?;
                Ok("Sale saved".to_owned())
            }
            _ => Err(ApiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "not-found",
                "no such inventory change",
            )),
        }
    };
    Ok(after_form(
        &format!("/admin/inventory/{sku}"),
        outcome.await,
    ))
}
