//! Admin catalog writes: create, replace (with `If-Match`), archive. Each
//! answers only after its change is durable.

use super::auth::Admin;
use crate::catalog::ProductInput;
use crate::http::json::Json;
use crate::http::problem::{ApiError, Problem};
use crate::http::rendering::etag::if_match_accepts;
use crate::http::rendering::views::ProductView;
use crate::http::storefront::catalog::{parse_product_id, render_product};
use crate::http::{idempotency_key, AppState};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

#[utoipa::path(post, path = "/v1/admin/products", tag = "admin", request_body = ProductInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key creates nothing and answers the product it created")),
    security(("admin_token" = [])),
    responses((status = 201, body = ProductView, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem, description = "id or SKU already exists, or the key is in use"),
        (status = 410, body = Problem, description = "replayed: the product the key created is archived since"),
        (status = 422, body = Problem, description = "the key was used for another request")))]
pub async fn create_product(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key::optional(&req)?;
    let new = body.into_inner().parse().map_err(ApiError::invalid)?;
    let created = state.catalog.create(new, key.as_ref()).await?;
    let id = created.value;
    let snapshot = state.catalog.snapshot();
    // A replay answers the product as it is now.
    let entry = crate::catalog::live(&snapshot, &id)?;
    let rendering = render_product(&state, &snapshot, entry);
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, format!("/v1/products/{id}")));
    if created.replayed {
        res.insert_header(idempotency_key::REPLAYED);
    }
    Ok(rendering.respond(res))
}

#[utoipa::path(put, path = "/v1/admin/products/{id}", tag = "admin", request_body = ProductInput,
    params(("id" = crate::domain::ProductId, Path, description = "product id"),
        ("If-Match" = Option<String>, Header, description = "the ETag read; 412 if the product changed since")),
    security(("admin_token" = [])),
    responses((status = 200, body = ProductView, headers(("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 410, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem, description = "id-mismatch: the body's id is not the path's; stock-of-existing-sku: stock given to a SKU that exists")))]
pub async fn replace_product(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_product_id(&id)?;
    let new = body.into_inner().parse().map_err(ApiError::invalid)?;
    // Each value fits its schema; only together are they refused, so this
    // is a 422, not the 400 of a request that does not fit the document.
    if new.id.as_ref().is_some_and(|body_id| *body_id != id) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "id-mismatch",
            "the body's id differs from the path's; a product's id cannot change",
        ));
    }
    state
        .catalog
        .replace(&id, new, |tag| if_match_accepts(&req, tag))
        .await?;
    let snapshot = state.catalog.snapshot();
    let entry = crate::catalog::live(&snapshot, &id)?;
    let rendering = render_product(&state, &snapshot, entry);
    Ok(rendering.respond(HttpResponse::Ok()))
}

#[utoipa::path(delete, path = "/v1/admin/products/{id}", tag = "admin",
    params(("id" = crate::domain::ProductId, Path, description = "product id")),
    security(("admin_token" = [])),
    responses((status = 204, description = "archived (also when it already was)"),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn archive_product(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_product_id(&id)?;
    state.catalog.archive(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
