//! The problem document and [`ApiError`], the one error type handlers
//! return: a status, a stable code (the tail of the problem `type`), what to
//! tell the client, and `Retry-After` for 429/503.

use crate::domain::FieldError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://surge.dev/problems/";

/// The problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://surge.dev/problems/<code>`: stable, for machines.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Per-field validation errors, when the request body was invalid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Facts about this kind of problem (e.g. `available` for `sold-out`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// An HTTP-facing error: a status, a code and what to tell the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Seconds for `Retry-After` on 429/503.
    pub retry_after_secs: Option<u32>,
    /// More headers for the answer (a 429's `RateLimit` fields, a customer
    /// 401's `WWW-Authenticate`). A boxed slice: empty, it allocates
    /// nothing, and it keeps every `Result<_, ApiError>` small.
    pub headers: Box<[(HeaderName, HeaderValue)]>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
            retry_after_secs: None,
            headers: Box::default(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            errors,
            ..Self::bad_request("invalid-request", detail)
        }
    }

    pub fn unavailable(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_secs: u32,
    ) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        }
    }

    /// Adds a fact to the problem body.
    pub fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// Adds a header to the answer (replacing one of the same name the
    /// problem would set by itself, such as `WWW-Authenticate`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        let mut headers = std::mem::take(&mut self.headers).into_vec();
        headers.push((name, value));
        self.headers = headers.into_boxed_slice();
        self
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request; it has been logged",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("{TYPE_BASE}{}", self.code),
            title: title(self.status),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

/// The reason phrase of a status, as the problem's short title.
pub fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_owned()
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type(PROBLEM_JSON);
        if let Some(secs) = self.retry_after_secs {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"surge-admin\""));
        }
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        res.json(self.problem())
    }
}
