//! Public catalog reads, served from the snapshot and published availability
//! without touching the store or any actor.

use super::caching::{cached, cached_by_body, json_bytes, product_etag};
use super::problem::{ApiError, Problem};
use super::views::{decode_cursor, encode_cursor, ProductPage, ProductView, SkuView};
use super::AppState;
use crate::catalog::{CatalogError, SkuStatus};
use crate::domain::{ProductId, Sku};
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
    let snapshot = state.catalog.snapshot();
    let page = snapshot.page(query.category.as_deref(), after.as_ref(), limit);
    let availability = state.catalog.availability();
    let body = ProductPage {
        items: page
            .items
            .iter()
            .map(|p| ProductView::new(p, availability))
            .collect(),
        next_cursor: page.next_after.as_ref().map(encode_cursor),
    };
    Ok(cached_by_body(
        &req,
        settings.cache_max_age_secs,
        json_bytes(&body),
    ))
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalog",
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 304),
        (status = 404, body = Problem), (status = 410, body = Problem, description = "archived")))]
pub async fn get_product(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_product_id(&id)?;
    let snapshot = state.catalog.snapshot();
    let entry = crate::catalog::live(&snapshot, &id)?;
    let (body, etag) = product_body(&state, entry);
    Ok(cached(
        &req,
        etag,
        state.catalog_settings.cache_max_age_secs,
        body,
    ))
}

#[utoipa::path(get, path = "/v1/skus/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "SKU")),
    responses((status = 200, body = SkuView), (status = 304), (status = 404, body = Problem),
        (status = 410, body = Problem, description = "no longer sold")))]
pub async fn get_sku(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    let snapshot = state.catalog.snapshot();
    let view = match snapshot.sku(&sku) {
        Some(SkuStatus::Listed(p, v)) => SkuView::new(p, v, state.catalog.availability()),
        Some(SkuStatus::Retired) => return Err(CatalogError::SkuRetired(sku).into()),
        None => return Err(CatalogError::SkuNotFound(sku.to_string()).into()),
    };
    Ok(cached_by_body(
        &req,
        state.catalog_settings.cache_max_age_secs,
        json_bytes(&view),
    ))
}

pub fn parse_product_id(raw: &str) -> Result<ProductId, ApiError> {
    ProductId::parse(raw).map_err(|e| ApiError::bad_request("invalid-path", e.0))
}

/// A product's JSON and its two-part ETag.
pub fn product_body(state: &AppState, entry: &crate::catalog::Entry) -> (Vec<u8>, String) {
    let availability = state.catalog.availability();
    let view = ProductView::new(&entry.product, availability);
    let etag = product_etag(
        &entry.definition_tag,
        view.variants.iter().map(|v| v.available),
    );
    (json_bytes(&view), etag)
}
