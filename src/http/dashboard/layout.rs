//! What every dashboard page shares: the page shell (navigation, notices,
//! security headers), the signed-in extractor that sends others to the
//! sign-in page, form fields with their CSRF check, the answer to a form
//! (a 303 back with a notice), and how money and times are written.

pub use super::format::{bytes, decimal, encode, group, money, money_of, span, when};
use super::session::{csrf_accepts, Session};
use crate::http::problem::ApiError;
use crate::http::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup, DOCTYPE};
use std::fmt;
use std::future::{ready, Ready};

/// No script, style or image from anywhere but this server; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The navigation: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/admin", "Overview"),
    ("/admin/products", "Products"),
    ("/admin/inventory", "Inventory"),
    ("/admin/orders", "Orders"),
    ("/admin/webhooks", "Webhooks"),
    ("/admin/backups", "Backups"),
];

/// Proof of a signed-in session. Without one, a page answers 303 to the
/// sign-in page (which comes back here after).
pub struct Signed(pub Session);

impl FromRequest for Signed {
    type Error = UiError;
    type Future = Ready<Result<Self, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed(req))
    }
}

fn signed(req: &HttpRequest) -> Result<Signed, UiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| UiError::Failed(ApiError::internal()))?;
    match state.dashboard.sessions.of(req) {
        Some(session) => {
            state.dashboard.pulse.touch();
            Ok(Signed(session))
        }
        None => Err(UiError::SignIn {
            next: req
                .uri()
                .path_and_query()
                .map_or("/admin".to_owned(), |p| p.to_string()),
        }),
    }
}

/// A dashboard failure, answered as a page (never problem+json).
#[derive(Debug)]
pub enum UiError {
    /// No session: 303 to the sign-in page.
    SignIn { next: String },
    /// A form without this session's CSRF token: 403.
    Forbidden,
    /// What a capability refused, or a failure, with its status.
    Failed(ApiError),
}

/// `e` as a page.
pub fn failed(e: impl Into<ApiError>) -> UiError {
    UiError::Failed(e.into())
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignIn { .. } => f.write_str("sign in first"),
            Self::Forbidden => f.write_str("the form's CSRF token is missing or wrong"),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Failed(e) => e.status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn { next } => see_other(&format!("/admin/sign-in?next={}", encode(next))),
            Self::Forbidden => bare_page(
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form did not carry this session's security token (it may be from an \
                 older sign-in, or from another site). Go back, reload the page and try again.",
            ),
            Self::Failed(e) => {
                if e.status.is_server_error() {
                    tracing::warn!(error = %e, "dashboard page failed");
                }
                bare_page(e.status, "Something went wrong", &e.detail)
            }
        }
    }
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A form's fields as sent (`application/x-www-form-urlencoded`).
pub type FormFields = web::Form<Vec<(String, String)>>;

/// Reads a form's fields by name.
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }

    /// The value of `name` unless it is absent or empty.
    pub fn filled(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The fields of a form posted in `session`, once its CSRF token is checked.
pub fn checked(session: &Session, form: FormFields) -> Result<Fields, UiError> {
    let fields = Fields(form.into_inner());
    if csrf_accepts(session, fields.get("csrf")) {
        Ok(fields)
    } else {
        Err(UiError::Forbidden)
    }
}

/// The Idempotency-Key a form carries (`idem`), so that submitting it twice
/// (a double click, a reload) changes things once.
pub fn form_key(fields: &Fields) -> Result<Option<crate::idempotency::IdempotencyKey>, UiError> {
    fields
        .filled("idem")
        .map(|raw| {
            crate::idempotency::IdempotencyKey::parse(raw)
                .map_err(|e| failed(ApiError::bad_request("invalid-form", e.0)))
        })
        .transpose()
}

/// The answer to a form: back to `back` with what happened to tell.
pub fn after_form(back: &str, outcome: Result<String, ApiError>) -> HttpResponse {
    let sep = if back.contains('?') { '&' } else { '?' };
    match outcome {
        Ok(notice) => see_other(&format!("{back}{sep}notice={}", encode(&notice))),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(error = %e, "dashboard form failed");
            }
            see_other(&format!("{back}{sep}error={}", encode(&explain(&e))))
        }
    }
}

/// What to tell the merchant about a refusal: the detail and each field's.
pub fn explain(e: &ApiError) -> String {
    if e.errors.is_empty() {
        return e.detail.clone();
    }
    let fields: Vec<String> = e
        .errors
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect();
    fields.join("; ")
}

/// The notice or error a page was sent back with.
pub struct Flash {
    notice: Option<String>,
    error: Option<String>,
}

impl Flash {
    pub fn of(req: &HttpRequest) -> Self {
        let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(web::Query::into_inner)
            .unwrap_or_default();
        let find = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.chars().take(500).collect())
        };
        Self {
            notice: find("notice"),
            error: find("error"),
        }
    }
}

/// A dashboard page: the shell around `body`, with the navigation marking
/// `active`.
pub fn page(
    title: &str,
    active: &str,
    session: &Session,
    flash: &Flash,
    body: Markup,
) -> HttpResponse {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/admin" { span class="logo" aria-hidden="true" { "⚡" } "surge" }
                    nav aria-label="Sections" {
                        ul {
                            @for (path, label) in NAV {
                                li { a href=(path) aria-current=[(*label == active).then_some("page")] { (label) } }
                            }
                        }
                    }
                    form method="post" action="/admin/sign-out" class="sign-out" {
                        (csrf(session))
                        button type="submit" class="ghost" { "Sign out" }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    @if let Some(notice) = &flash.notice {
                        p class="flash ok" role="status" { (notice) }
                    }
                    @if let Some(error) = &flash.error {
                        p class="flash bad" role="alert" { (error) }
                    }
                    (body)
                }
            }
        }
    };
    respond(StatusCode::OK, markup)
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · surge" }
            link rel="stylesheet" href=(super::assets::CSS_PATH);
            link rel="icon" href=(super::assets::ICON_PATH);
            script src=(super::assets::JS_PATH) defer {}
        }
    }
}

/// A page outside the shell (sign-in, errors).
pub fn bare_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body class="bare" {
                main id="main" class="card narrow" {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/admin" { "Back to the dashboard" } }
                }
            }
        }
    };
    respond(status, markup)
}

/// An HTML answer with the dashboard's headers.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(markup.into_string())
}

/// The hidden CSRF field every form of a session carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A hidden, fresh Idempotency-Key for a form whose effect must happen once.
pub fn idem() -> Markup {
    html! { input type="hidden" name="idem" value=(format!("ui-{}", crate::domain::random_hex128())); }
}
