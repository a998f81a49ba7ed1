//! Backups: the backup directory's files (newest first), the recovery point
//! and the schedule, "take a backup now", and how to restore one. The same
//! `Backups` calls as the JSON admin routes.

use crate::backup::{BackupInfo, Backups};
use crate::http::dashboard::layout::{
    after_form, bytes, checked, csrf, failed, form_key, group, idem, page, span, Flash, FormFields,
    Signed, UiError,
};
use crate::http::problem::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

/// `GET /admin/backups`.
pub async fn list(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    let backups = state.backups.clone();
    let listing = web::block(move || backups.list())
        .await
        .map_err(|_| failed(ApiError::internal()))?;
    // An unreadable directory is said on the page, which still offers a
    // backup (whose failure then says what it can).
    let items = listing.as_deref().unwrap_or_default();
    if let Err(e) = &listing {
        tracing::warn!(error = %e, "backup directory unreadable");
    }
    let body = html! {
        (status(&state.backups, items))
        form method="post" action="/admin/backups" class="card inline" {
            (csrf(&session)) (idem())
            button type="submit" { "Take a backup now" }
            span class="muted" { "a consistent copy of the whole store, taken while the node serves" }
        }
        @if listing.is_err() {
            p class="card flash bad" role="alert" { "The backup directory could not be read; the cause is logged." }
        } @else { (table(items)) }
        (restore_help(&state.backups, items.first()))
    };
    Ok(page("Backups", "Backups", &session, &Flash::of(&req), body))
}

/// `POST /admin/backups`: one backup per form (its Idempotency-Key), so a
/// double submit makes one.
pub async fn take(
    Signed(session): Signed,
    state: web::Data<AppState>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = checked(&session, body)?;
    let key = form_key(&fields)?;
    let outcome = state
        .backups
        .create(key.as_ref())
        .await
        .map(|made| format!("Backup {} taken", made.value.id))
        .map_err(Into::into);
    Ok(after_form("/admin/backups", outcome))
}

/// The recovery point and the schedule.
fn status(backups: &Backups, items: &[BackupInfo]) -> Markup {
    let settings = backups.settings();
    let age = backups.newest_age_ms().filter(|_| !items.is_empty());
    html! {
        div class="card" {
            dl class="facts" {
                dt { "Newest backup" }
                dd { @match age { Some(ms) => { (span(ms / 1000)) " ago " span class="hint" { "(the recovery point)" } }, None => "none yet" } }
                dt { "Schedule" }
                dd { @if settings.every_secs == 0 { "none " span class="hint" { "([backup] every_secs = 0)" } } @else { "every " (span(settings.every_secs)) } }
                dt { "Kept" } dd { "the newest " (settings.keep) }
                dt { "Directory" } dd { code { (backups.dir().display()) } }
            }
        }
    }
}

fn table(items: &[BackupInfo]) -> Markup {
    html! {
        div class="card table-wrap" {
            @if items.is_empty() { p class="muted" { "No backup yet." } } @else {
                table {
                    thead { tr { th { "Backup" } th { "Taken" } th class="num" { "Size" } th class="num" { "Last commit" } th class="num" { "Records" } } }
                    tbody { @for b in items { tr {
                        td { code { (b.id) } }
                        td { (b.created_at) }
                        td class="num" { (bytes(b.size_bytes)) }
                        td class="num" { (b.last_commit_seq) }
                        td class="num" { (group(i64::try_from(b.records).unwrap_or(i64::MAX))) }
                    } } }
                }
            }
        }
    }
}

/// Restoring is done offline, by the binary: shown, not run from here.
fn restore_help(backups: &Backups, newest: Option<&BackupInfo>) -> Markup {
    let file = newest.map_or_else(
        || format!("{}/<id>.backup", backups.dir().display()),
        |b| b.file.clone(),
    );
    html! {
        div class="card" {
            h2 { "Restore" }
            p { "Restore into a new, empty data directory with the binary, then start the node on it:" }
            pre class="command" { code { "surge restore " (file) " --data-dir DIR" } }
            p class="muted" { "Every checksum is verified before anything is written. A non-empty directory is refused unless --force. "
                code { "surge check " (file) } " verifies a backup without restoring it." }
        }
    }
}
