//! Signing in with the admin token, and out. The sign-in form is protected
//! against cross-site posting by a signed nonce (see `session.rs`); a wrong
//! token is told so, with a 401 and the form again.

use crate::http::admin::auth::AdminToken;
use crate::http::dashboard::layout::{
    bare_page, checked, respond, see_other, Fields, FormFields, Signed, UiError,
};
use crate::http::dashboard::session::{SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::http::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, DOCTYPE};

/// Where to go after signing in: a dashboard path, nothing else (an open
/// redirect would let a link send a fresh session's owner anywhere).
fn next_of(raw: Option<&str>) -> String {
    match raw {
        Some(next)
            if next.starts_with("/admin")
                && !next.starts_with("/admin/sign-")
                && !next.contains("//")
                && !next.contains('\\') =>
        {
            next.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

/// The sign-in form, with a fresh nonce cookie.
fn form(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> HttpResponse {
    let (cookie, token) = state.dashboard.sessions.sign_in_form(req);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · surge" }
                link rel="stylesheet" href=(crate::http::dashboard::assets::CSS_PATH);
                link rel="icon" href=(crate::http::dashboard::assets::ICON_PATH);
            }
            body class="bare" {
                main id="main" class="card narrow" {
                    h1 { span class="logo" aria-hidden="true" { "⚡" } " surge" }
                    p class="muted" { "Sign in to the merchant dashboard." }
                    @if let Some(error) = error { p class="flash bad" role="alert" { (error) } }
                    form method="post" action="/admin/sign-in" class="stack" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label for="token" { "Admin token"
                            span class="hint" { "In data/store/admin_token, or SURGE_ADMIN_TOKEN." } }
                        input id="token" name="token" type="password" required autocomplete="current-password" autofocus;
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    let mut res = respond(status, markup);
    if let Ok(value) = header::HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res
}

/// `GET /admin/sign-in`.
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.dashboard.sessions.of(&req).is_some() {
        return see_other("/admin");
    }
    let next = next_of(super::query(&req).get("next"));
    form(&req, &state, StatusCode::OK, &next, None)
}

/// `POST /admin/sign-in`: a session for the admin token.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<AdminToken>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = Fields(body.into_inner());
    let sessions = &state.dashboard.sessions;
    if !sessions.sign_in_form_accepts(&req, fields.get("csrf")) {
        return Err(UiError::Forbidden);
    }
    let next = next_of(fields.get("next"));
    let Some(id) = sessions.sign_in(&admin, fields.get("token").unwrap_or_default()) else {
        tracing::info!("dashboard sign-in with a wrong token");
        let wrong = "That is not the admin token.";
        return Ok(form(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(wrong),
        ));
    };
    let mut res = see_other(&next);
    for cookie in [
        sessions.session_cookie(&req, &id),
        sessions.removal(&req, SIGN_IN_COOKIE),
    ] {
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(res)
}

/// `POST /admin/sign-out`: ends the session (its CSRF token required, so a
/// cross-site page cannot sign the merchant out either).
pub async fn sign_out(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    checked(&session, body)?;
    let sessions = &state.dashboard.sessions;
    sessions.sign_out(&req);
    let mut res = see_other("/admin/sign-in");
    if let Ok(value) = header::HeaderValue::from_str(&sessions.removal(&req, SESSION_COOKIE)) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(res)
}

/// A page for a path under /admin that does not exist.
pub async fn not_found(_: Signed) -> HttpResponse {
    bare_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page in the dashboard.",
    )
}
