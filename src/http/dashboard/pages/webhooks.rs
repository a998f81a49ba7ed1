//! Webhooks: the endpoints with their backlog, registering one, and a
//! webhook's dead letters with replay (one, or all). The same `Webhooks`
//! calls as the JSON admin routes.

use crate::events::{EventKind, WebhookError};
use crate::http::dashboard::layout::{
    after_form, checked, csrf, failed, form_key, idem, page, see_other, when, Flash, FormFields,
    Signed, UiError,
};
use crate::http::problem::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

/// Dead letters shown on a webhook's page.
const DEAD_LETTERS_SHOWN: usize = 100;

/// `GET /admin/webhooks`.
pub async fn list(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    let mut rows = Vec::new();
    for hook in state.webhooks.list() {
        let backlog = state.webhooks.backlog(&hook.id).map_err(failed)?;
        rows.push((hook, backlog));
    }
    let body = html! {
        div class="card table-wrap" {
            @if rows.is_empty() { p class="muted" { "No webhook yet." } } @else {
                table {
                    thead { tr { th { "Endpoint" } th { "Events" } th class="num" { "Pending" } th class="num" { "Dead letters" } th { "Since" } } }
                    tbody { @for (hook, (pending, dead)) in &rows { tr {
                        td { a href=(format!("/admin/webhooks/{}", hook.id)) { (hook.url) } }
                        td { @match &hook.events { None => "all", Some(kinds) => { @for k in kinds { code { (k.as_str()) } " " } } } }
                        td class="num" { (pending) }
                        td class="num" { @if *dead > 0 { span class="badge low" { (dead) } } @else { "0" } }
                        td { (when(hook.created_at)) }
                    } } }
                }
            }
        }
        form method="post" action="/admin/webhooks" class="card stack" {
            (csrf(&session)) (idem())
            h2 { "Register a webhook" }
            label { "URL " span class="hint" { "http://host[:port]/path" } input name="url" type="url" required placeholder="http://127.0.0.1:9000/hooks"; }
            label { "Signing secret " span class="hint" { "the key of Surge-Signature; not shown again" } input name="secret" type="password" required autocomplete="off"; }
            fieldset { legend { "Events " span class="hint" { "none ticked: all, including kinds added later" } }
                div class="grid halves" {
                    @for kind in EventKind::ALL {
                        label class="check" { input type="checkbox" name="events" value=(kind.as_str()); code { (kind.as_str()) } }
                    }
                }
            }
            div class="actions" { button type="submit" { "Register" } }
        }
    };
    Ok(page(
        "Webhooks",
        "Webhooks",
        &session,
        &Flash::of(&req),
        body,
    ))
}

/// `POST /admin/webhooks`.
pub async fn register(
    Signed(session): Signed,
    state: web::Data<AppState>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = checked(&session, body)?;
    let key = form_key(&fields)?;
    let events: Vec<String> = fields.all("events").map(str::to_owned).collect();
    let events = (!events.is_empty()).then_some(events);
    let url = fields.get("url").unwrap_or_default();
    let secret = fields.get("secret").unwrap_or_default();
    match state
        .webhooks
        .register(url, secret, events.as_deref(), key.as_ref())
        .await
    {
        Ok(made) => Ok(see_other(&format!(
            "/admin/webhooks/{}?notice=Webhook%20registered",
            made.value.id
        ))),
        Err(e) => Ok(after_form("/admin/webhooks", Err(e.into()))),
    }
}

/// `GET /admin/webhooks/{id}`: the webhook and its dead letters.
pub async fn detail(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let hook = state
        .webhooks
        .get(&id)
        .ok_or_else(|| failed(WebhookError::NotFound(id.to_string())))?;
    let (pending, dead) = state.webhooks.backlog(&hook.id).map_err(failed)?;
    let letters = state
        .webhooks
        .dead_letters(&hook.id, DEAD_LETTERS_SHOWN)
        .map_err(failed)?;
    let base = format!("/admin/webhooks/{}", hook.id);
    let body = html! {
        div class="card" {
            dl class="facts" {
                dt { "URL" } dd { (hook.url) }
                dt { "Events" } dd { @match &hook.events { None => "all", Some(kinds) => { @for k in kinds { code { (k.as_str()) } " " } } } }
                dt { "Pending deliveries" } dd { (pending) }
                dt { "Dead letters" } dd { (dead) }
                dt { "Registered" } dd { (when(hook.created_at)) }
            }
        }
        div class="card table-wrap" {
            h2 { "Dead letters" }
            @if letters.is_empty() { p class="muted" { "None: every event got through." } } @else {
                form method="post" action=(format!("{base}/replay")) class="inline" {
                    (csrf(&session))
                    button type="submit" { "Replay all" } span class="muted" { "(the oldest 1,000 at a time)" }
                }
                table {
                    thead { tr { th { "Event" } th { "Type" } th class="num" { "Tries" } th { "Last error" } th { "Failed" } th {} } }
                    tbody { @for d in &letters { tr {
                        td { code { (d.event.id) } } td { (d.event.kind.as_str()) } td class="num" { (d.attempts) }
                        td { (d.last_error.as_deref().unwrap_or("—")) } td { (when(d.next_at)) }
                        td { form method="post" action=(format!("{base}/dead-letters/{}/replay", d.event.id)) {
                            (csrf(&session)) button type="submit" class="secondary" { "Replay" } } }
                    } } }
                }
            }
        }
        form method="post" action=(format!("{base}/delete")) class="card inline"
            data-confirm="Remove this webhook with its pending deliveries and dead letters?" {
            (csrf(&session))
            button type="submit" class="danger" { "Remove webhook" }
        }
    };
    Ok(page(
        &format!("Webhook {}", hook.id),
        "Webhooks",
        &session,
        &Flash::of(&req),
        body,
    ))
}

/// `POST /admin/webhooks/{id}/replay`, `…/dead-letters/{event}/replay`,
/// `…/delete`.
pub async fn act(
    Signed(session): Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    checked(&session, body)?;
    let (id, what) = path.into_inner();
    let back = format!("/admin/webhooks/{id}");
    let outcome: Result<String, ApiError> = match what.as_str() {
        "replay" => state
            .webhooks
            .replay(&id, None, None)
            .await
            .map(|done| done.value)
            .map(|(n, left)| format!("Replayed {n}; {left} left"))
            .map_err(Into::into),
        "delete" => {
            return match state.webhooks.remove(&id).await {
                Ok(()) => Ok(see_other("/admin/webhooks?notice=Webhook%20removed")),
                Err(e) => Ok(after_form(&back, Err(e.into()))),
            }
        }
        _ => Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not-found",
            "no such webhook action",
        )),
    };
    Ok(after_form(&back, outcome))
}

/// `POST /admin/webhooks/{id}/dead-letters/{event}/replay`.
pub async fn replay_one(
    Signed(session): Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    checked(&session, body)?;
    let (id, event) = path.into_inner();
    let outcome = state
        .webhooks
        .replay(&id, Some(&event), None)
        .await
        .map(|done| done.value.0)
        .map(|n| format!("Replayed {n}"))
        .map_err(Into::into);
    Ok(after_form(&format!("/admin/webhooks/{id}"), outcome))
}
