//! Public catalog reads, served from the snapshot and published availability
//! without touching the store or any actor.

use crate::catalog::{CatalogError, Entry, SkuStatus, Snapshot};
use crate::domain::{ProductId, Sku};
use crate::http::problem::{ApiError, Problem};
use crate::http::rendering::cache::{PageKey, Rendering, Shown};
use crate::http::rendering::etag::{json_bytes, product_etag};
use crate::http::rendering::views::{
    decode_cursor, encode_cursor, ProductPage, ProductView, SkuView,
};
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20). Taken as text so that a bad value
    /// is reported by name.
    #[param(value_type = Option<usize>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only products in this category.
    pub category: Option<String>,
}

#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(ListQuery),
    responses((status = 200, body = ProductPage), (status = 400, body = Problem)))]
pub async fn list_products(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.catalog_settings;
    let query = query.into_inner();
    let limit = match &query.limit {
        None => settings.page_limit_default,
        Some(raw) => raw.parse::<usize>().unwrap_or(0),
    };
    if limit == 0 || limit > settings.page_limit_max {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!(
                "limit must be an integer between 1 and {}",
                settings.page_limit_max
            ),
        ));
    }
    let after = match &query.cursor {
        None => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| {
            ApiError::bad_request("invalid-cursor", "cursor is not one this server gave out")
        })?),
    };
    let key = PageKey {
        category: query.category,
        after,
        limit,
    };
    let snapshot = state.catalog.snapshot();
    let reads = &state.reads;
    let rendering = reads
        .pages
        .get_or_render(key, snapshot.generation(), |key| {
            let page = snapshot.page(key.category.as_deref(), key.after.as_ref(), limit);
            let mut shown = Shown::new(state.catalog.availability());
            let body = ProductPage {
                items: page
                    .items
                    .iter()
                    .map(|p| ProductView::new(p, &mut shown))
                    .collect(),
                next_cursor: page.next_after.as_ref().map(encode_cursor),
            };
            let body = json_bytes(&body);
            Ok::<_, ApiError>(Rendering::by_body(snapshot.generation(), shown, body))
        })?;
    Ok(reads.reply(&req, &rendering))
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalog",
    params(("id" = crate::domain::ProductId, Path, description = "product id")),
    responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 304),
        (status = 404, body = Problem), (status = 410, body = Problem, description = "archived")))]
pub async fn get_product(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_product_id(&id)?;
    let snapshot = state.catalog.snapshot();
    let reads = &state.reads;
    let rendering = reads
        .products
        .get_or_render(id, snapshot.generation(), |id| {
            let entry = crate::catalog::live(&snapshot, id)?;
            Ok::<_, ApiError>(render_product(&state, &snapshot, entry))
        })?;
    Ok(reads.reply(&req, &rendering))
}

#[utoipa::path(get, path = "/v1/skus/{sku}", tag = "catalog",
    params(("sku" = crate::domain::Sku, Path, description = "SKU")),
    responses((status = 200, body = SkuView), (status = 304), (status = 404, body = Problem),
        (status = 410, body = Problem, description = "no longer sold")))]
pub async fn get_sku(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    let snapshot = state.catalog.snapshot();
    let reads = &state.reads;
    let rendering = reads
        .skus
        .get_or_render(sku, snapshot.generation(), |sku| match snapshot.sku(sku) {
            Some(SkuStatus::Listed(p, v)) => {
                let mut shown = Shown::new(state.catalog.availability());
                let body = json_bytes(&SkuView::new(p, v, &mut shown));
                Ok(Rendering::by_body(snapshot.generation(), shown, body))
            }
            Some(SkuStatus::Retired) => Err(ApiError::from(CatalogError::SkuRetired(sku.clone()))),
            None => Err(CatalogError::SkuNotFound(sku.to_string()).into()),
        })?;
    Ok(reads.reply(&req, &rendering))
}

pub fn parse_product_id(raw: &str) -> Result<ProductId, ApiError> {
    ProductId::parse(raw).map_err(|e| ApiError::bad_request("invalid-path", e.0))
}

/// A product's JSON and its two-part ETag, as it stands in `snapshot` and
/// the current availability.
pub fn render_product(state: &AppState, snapshot: &Snapshot, entry: &Entry) -> Rendering {
    let mut shown = Shown::new(state.catalog.availability());
    let view = ProductView::new(&entry.product, &mut shown);
    let etag = product_etag(&entry.definition_tag, shown.values());
    Rendering::new(snapshot.generation(), shown, json_bytes(&view), etag)
}
