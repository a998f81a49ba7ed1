//! Catalog export and import: JSON lines out, JSON lines or Shopify's
//! product CSV in, both streamed (neither side holds the whole catalog or
//! the whole body). Handlers only frame HTTP around `catalog::export` and
//! `catalog::import`.

use super::auth::Admin;
use crate::catalog::export::write_line;
use crate::catalog::import::{Format, Import, ImportError, ImportReport};
use crate::catalog::Snapshot;
use crate::domain::{Currency, FieldError, ProductId};
use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::inventory::stored_levels;
use crate::store::Store;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// The media type of JSON lines, as the export answers it.
const JSON_LINES: &str = "application/x-ndjson";
/// Products per chunk of the export.
const EXPORT_CHUNK_PRODUCTS: usize = 256;

#[utoipa::path(get, path = "/v1/admin/catalog/export", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "every live product, one JSON object per line in the shape POST /v1/admin/products takes (ProductInput); `stock` is each SKU's units not sold yet. Streamed.",
            content((String = "application/x-ndjson"))),
        (status = 401, body = Problem)))]
pub async fn export(_: Admin, state: web::Data<AppState>) -> HttpResponse {
    let chunks = Chunks {
        snapshot: state.catalog.snapshot(),
        store: state.store.clone(),
        after: None,
        done: false,
    };
    HttpResponse::Ok()
        .content_type(JSON_LINES)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(futures_util::stream::unfold(chunks, |mut c| async move {
            c.next().map(|chunk| (chunk, c))
        }))
}

/// The export as it goes: one snapshot of the catalog, read page by page.
struct Chunks {
    snapshot: Arc<Snapshot>,
    store: Store,
    /// The last product written.
    after: Option<ProductId>,
    done: bool,
}

impl Chunks {
    fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let page = self
            .snapshot
            .page(None, self.after.as_ref(), EXPORT_CHUNK_PRODUCTS);
        self.done = page.next_after.is_none();
        self.after = page.next_after;
        if page.items.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(page.items.len() * 512);
        for product in &page.items {
            let mut failed = None;
            let stock = |sku: &_| match stored_levels(&self.store, sku) {
                Ok(levels) => levels.map_or(0, |l| l.stocked.saturating_sub(l.sold)),
                Err(e) => {
                    failed = Some(e);
                    0
                }
            };
            let written = write_line(product, stock, &mut out);
            if let Some(e) = failed {
                // Ends the stream: the client sees a cut body, not a wrong stock.
                tracing::error!(error = %e, "catalog export: reading stock");
                return Some(Err(std::io::Error::other(e.to_string())));
            }
            if let Err(e) = written {
                return Some(Err(std::io::Error::other(e.to_string())));
            }
        }
        Some(Ok(Bytes::from(out)))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// ISO 4217 currency of a Shopify CSV's prices; the shop's
    /// `[cart] default_currency` when absent. (JSON lines carry theirs.)
    pub currency: Option<String>,
}

#[utoipa::path(post, path = "/v1/admin/catalog/import", tag = "admin", params(ImportQuery),
    security(("admin_token" = [])),
    request_body(description = "JSON lines (one ProductInput per line, each with an `id`) or Shopify's product CSV export (Handle, Title, Body (HTML), Vendor, Type, Tags, Option1..3 Value, Variant SKU, Variant Price, Variant Inventory Qty; other columns ignored). Streamed; at most `[catalog] import_body_max_bytes`.",
        content((String = "application/x-ndjson"), (String = "text/csv"))),
    responses(
        (status = 200, body = ImportReport, description = "products created, updated (stock kept) or unchanged, and every refused row; importing the same body again changes nothing"),
        (status = 400, body = Problem, description = "an invalid currency or query: nothing imported"),
        (status = 401, body = Problem),
        (status = 413, body = Problem, description = "over the body limit: said at once when Content-Length is over it; otherwise the batches read before the limit are in (`imported_so_far`)"),
        (status = 415, body = Problem, description = "neither JSON lines nor CSV"),
        (status = 422, body = Problem, description = "unreadable-import: a CSV without Shopify's columns; nothing imported"),
        (status = 503, body = Problem, description = "the store refused a batch; the batches before it are in (`imported_so_far`)")))]
pub async fn import(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ImportQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = format_of(&req, query.currency.as_deref(), state.default_currency)?;
    let limit = state.catalog_settings.import_body_max_bytes;
    if declared_length(&req).is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let mut import = Import::new(state.catalog.clone(), format);
    let mut read: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            let unreadable =
                ApiError::bad_request("body-unreadable", format!("reading the body: {e}"));
            with_so_far(unreadable, import.so_far())
        })?;
        read += chunk.len() as u64;
        if read > limit {
            return Err(with_so_far(too_large(limit), import.so_far()));
        }
        import.feed(&chunk).await.map_err(stopped)?;
    }
    let report = import.finish().await.map_err(stopped)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report))
}

/// The import's format from the body's media type (parameters ignored).
fn format_of(
    req: &HttpRequest,
    currency: Option<&str>,
    default: Currency,
) -> Result<Format, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" => Ok(Format::JsonLines),
        "text/csv" => {
            let currency = match currency {
                None => default,
                Some(raw) => Currency::parse(raw)
                    .map_err(|e| ApiError::invalid(vec![FieldError::new("currency", e.0)]))?,
            };
            Ok(Format::ShopifyCsv(currency))
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send JSON lines (Content-Type: application/x-ndjson) or Shopify's product CSV (text/csv)",
        )),
    }
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("an import is at most {limit} bytes (catalog.import_body_max_bytes)"),
    )
}

/// An import that stopped midway: the batches before are in, and the
/// problem says how much was done.
fn stopped(e: ImportError) -> ApiError {
    match e {
        // A well-formed body that is not the format named (a CSV without
        // Shopify's columns): it fits the document, so not a 400.
        ImportError::Unreadable(why) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unreadable-import", why)
        }
        ImportError::Failed { error, so_far } => with_so_far(error.into(), &so_far),
    }
}

fn with_so_far(e: ApiError, so_far: &ImportReport) -> ApiError {
    e.with(
        "imported_so_far",
        serde_json::json!({
            "created": so_far.created,
            "updated": so_far.updated,
            "unchanged": so_far.unchanged,
            "refused_count": so_far.refused_count,
        }),
    )
}
