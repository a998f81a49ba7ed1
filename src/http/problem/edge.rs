//! The edge of the server: how malformed requests are answered before any
//! handler runs. JSON, query and path extractors turn their failures into
//! problem+json with a clear message, and a last-resort layer gives every
//! other empty error response (unknown route, wrong method, …) a problem body.

use super::api_error::{title, ApiError, Problem, PROBLEM_JSON};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

/// JSON bodies: limited in size, `application/json` required, unknown fields
/// and type errors reported with serde's message (which names the field).
pub fn json_config(body_limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(body_limit_bytes)
        .content_type_required(true)
        .error_handler(|err, _req| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the body is {length} bytes; the limit is {limit}"),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the body is over the limit of {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::bad_request(
            "invalid-body",
            format!("the body does not fit the schema: {e}"),
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request("malformed-json", format!("the body is not valid JSON: {e}"))
        }
        other => ApiError::bad_request("invalid-body", other.to_string()),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::bad_request("invalid-query", format!("invalid query string: {err}")).into()
    })
}

/// A list's `limit` query parameter: `default` when absent, else 1 to `max`.
pub fn page_limit(raw: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = raw.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(vec![crate::domain::FieldError::new(
            "limit",
            format!("limit must be between 1 and {max}"),
        )]));
    }
    Ok(limit)
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        ApiError::bad_request("invalid-path", format!("invalid path: {err}")).into()
    })
}

/// Unknown routes: 404 problem.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// Gives a 4xx/5xx response that is not already a problem a problem body,
/// keeping its status and headers (`Allow`, `Retry-After`, …). Anything
/// else passes as it is, and so do the dashboard's HTML error pages.
pub fn with_problem_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>> {
    let status = res.status();
    let is_problem = || {
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes().starts_with(PROBLEM_JSON.as_bytes())
                || v.as_bytes().starts_with(b"text/html")
        })
    };
    if !(status.is_client_error() || status.is_server_error()) || is_problem() {
        return res.map_into_left_body();
    }
    let (req, old) = res.into_parts();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{} is not allowed on {}", req.method(), req.path())
        }
        StatusCode::NOT_FOUND => format!("no route for {} {}", req.method(), req.path()),
        _ => title(status),
    };
    let problem = Problem {
        kind: format!("https://surge.dev/problems/{}", slug(status)),
        title: title(status),
        status: status.as_u16(),
        detail,
        errors: Vec::new(),
        extensions: serde_json::Map::new(),
    };
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let new: HttpResponse<BoxBody> = new.content_type(PROBLEM_JSON).json(problem);
    ServiceResponse::new(req, new).map_into_right_body()
}

/// A refused CORS preflight (origin, method or header not allowed) as a
/// problem, with the reason the CORS layer gave; anything else passes.
/// Browsers do not show a preflight's body to the page, but other clients
/// and the browser's network panel do.
pub fn cors_refusal<B>(res: ServiceResponse<EitherBody<B>>) -> ServiceResponse<EitherBody<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let Some(reason) = res
        .response()
        .error()
        .filter(|_| res.status().is_client_error() && !is_problem)
        .map(ToString::to_string)
    else {
        return res;
    };
    let (req, old) = res.into_parts();
    let problem =
        ApiError::bad_request("cors-refused", format!("CORS preflight refused: {reason}"));
    let mut new = actix_web::ResponseError::error_response(&problem);
    if let Some(vary) = old.headers().get(header::VARY) {
        new.headers_mut().insert(header::VARY, vary.clone());
    }
    ServiceResponse::new(req, new).map_into_right_body()
}

/// A problem code for a bare status.
fn slug(status: StatusCode) -> String {
    title(status).to_ascii_lowercase().replace(' ', "-")
}
