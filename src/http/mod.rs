//! The HTTP API: routes per resource, validation at the edge, one error
//! mapping to problem+json. This is the only module that knows HTTP; handlers
//! parse, delegate to a capability, and render.

mod admin_catalog;
mod admin_inventory;
mod admin_orders;
mod admin_webhooks;
mod admission;
mod auth;
mod caching;
mod carts;
mod catalog;
mod commerce_errors;
mod edge;
mod front;
mod inventory_errors;
mod keys;
mod observe;
mod openapi;
mod ops;
mod orders;
mod problem;
mod purchase;
mod rendered;
mod stream;
mod views;
mod write_limit;

pub use admission::Admission;
pub use auth::AdminToken;
pub use openapi::ApiDoc;
pub use problem::{ApiError, Problem};
pub use rendered::Reads;
pub use stream::Streams;

use crate::cart::Carts;
use crate::catalog::Catalog;
use crate::config::{CatalogSettings, InventorySettings};
use crate::events::{Outbox, Webhooks};
use crate::idempotency::Idempotency;
use crate::inventory::Inventory;
use crate::order::Orders;
use crate::store::Store;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// What handlers share. Built once by `startup`.
pub struct AppState {
    pub catalog: Arc<Catalog>,
    pub catalog_settings: CatalogSettings,
    /// Catalog reads as last rendered.
    pub reads: Reads,
    pub inventory: Inventory,
    pub inventory_settings: InventorySettings,
    pub idempotency: Idempotency,
    pub outbox: Outbox,
    pub webhooks: Webhooks,
    /// Limits and shutdown of the live event streams.
    pub streams: Streams,
    /// Bounds storefront writes in flight (503 beyond).
    pub admission: Admission,
    pub carts: Carts,
    pub orders: Orders,
    pub store: Store,
    /// True once the store is open and recovered; false again at shutdown.
    pub ready: Arc<AtomicBool>,
    /// When writes are acknowledged (reported by `/readyz`).
    pub durability: crate::store::Durability,
    pub metrics: PrometheusHandle,
}

/// Everything the app needs besides routes: shared state and extractor limits.
pub fn app_data(
    cfg: &mut web::ServiceConfig,
    state: web::Data<AppState>,
    token: AdminToken,
    body_limit_bytes: usize,
) {
    cfg.app_data(state)
        .app_data(web::Data::new(token))
        .app_data(edge::json_config(body_limit_bytes))
        .app_data(web::PayloadConfig::new(body_limit_bytes))
        .app_data(edge::query_config())
        .app_data(edge::path_config());
}

/// Every route. Resources are declared with their methods so that a wrong
/// method on a known path is a 405, not a 404.
///
/// Routes are matched in order, and each pattern with a `{…}` segment costs
/// a regex match; grouping them under static prefixes means a request is
/// tried only against its own resource's patterns (routing was about a
/// twentieth of a catalog read's CPU before). The hot flash-sale and catalog
/// paths come first. A path that no scope's resource matches falls back to
/// the app's default (the 404 problem).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/skus")
            // Reads first: a purchase waits for a commit anyway, a read is
            // a tenth of its cost and pays for every pattern tried.
            .service(web::resource("/{sku}").get(catalog::get_sku))
            .service(web::resource("/{sku}/purchase").post(purchase::purchase)),
    )
    .service(
        web::scope("/v1/products")
            .service(web::resource("").get(catalog::list_products))
            .service(web::resource("/{id}").get(catalog::get_product)),
    )
    .service(web::resource("/healthz").get(ops::healthz))
    .service(web::resource("/readyz").get(ops::readyz))
    .service(web::resource("/metrics").get(ops::metrics))
    .service(
        web::scope("/v1/orders")
            .service(web::resource("/{id}").get(orders::get_order))
            .service(web::resource("/{id}/pay").post(orders::pay))
            .service(web::resource("/{id}/cancel").post(orders::cancel)),
    )
    .service(
        web::scope("/v1/carts")
            .service(web::resource("").post(carts::create_cart))
            .service(web::resource("/{id}").get(carts::get_cart))
            .service(web::resource("/{id}/lines").post(carts::add_line))
            .service(
                web::resource("/{id}/lines/{sku}")
                    .patch(carts::set_quantity)
                    .delete(carts::remove_line),
            )
            .service(web::resource("/{id}/checkout").post(carts::checkout)),
    )
    .service(web::resource("/v1/events/stream").get(stream::stream))
    .service(web::scope("/v1/admin").configure(admin_routes))
    .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
    .default_service(web::to(edge::not_found));
}

/// Under `/v1/admin`.
fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orders").get(admin_orders::list_orders))
        .service(web::resource("/orders/{id}/fulfil").post(admin_orders::fulfil))
        .service(web::resource("/orders/{id}/ship").post(admin_orders::ship))
        .service(web::resource("/orders/{id}/deliver").post(admin_orders::deliver))
        .service(web::resource("/orders/{id}/cancel").post(admin_orders::cancel))
        .service(web::resource("/orders/{id}/refund").post(admin_orders::refund))
        .service(
            web::resource("/webhooks")
                .get(admin_webhooks::list)
                .post(admin_webhooks::register),
        )
        .service(
            web::resource("/webhooks/{id}")
                .get(admin_webhooks::get)
                .delete(admin_webhooks::remove),
        )
        .service(web::resource("/webhooks/{id}/dead-letters").get(admin_webhooks::dead_letters))
        .service(
            web::resource("/webhooks/{id}/dead-letters/replay").post(admin_webhooks::replay_all),
        )
        .service(
            web::resource("/webhooks/{id}/dead-letters/{event_id}/replay")
                .post(admin_webhooks::replay_one),
        )
        .service(web::resource("/products").post(admin_catalog::create_product))
        .service(
            web::resource("/products/{id}")
                .put(admin_catalog::replace_product)
                .delete(admin_catalog::archive_product),
        )
        .service(web::resource("/stats").get(admin_inventory::stats))
        .service(web::resource("/skus/{sku}/inventory").get(admin_inventory::get_inventory))
        .service(web::resource("/skus/{sku}/restock").post(admin_inventory::restock))
        .service(web::resource("/skus/{sku}/stock").put(admin_inventory::set_stock))
        .service(web::resource("/skus/{sku}/sale").put(admin_inventory::set_sale));
}

pub use front::Front;
