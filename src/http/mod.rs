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
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Resources are matched in this order, each pattern in turn: the hot
    // flash-sale and catalog paths come first.
    cfg.service(web::resource("/v1/skus/{sku}/purchase").post(purchase::purchase))
        .service(web::resource("/v1/skus/{sku}").get(catalog::get_sku))
        .service(web::resource("/v1/products/{id}").get(catalog::get_product))
        .service(web::resource("/v1/products").get(catalog::list_products))
        .service(web::resource("/healthz").get(ops::healthz))
        .service(web::resource("/readyz").get(ops::readyz))
        .service(web::resource("/metrics").get(ops::metrics))
        .service(web::resource("/v1/orders/{id}").get(orders::get_order))
        .service(web::resource("/v1/orders/{id}/pay").post(orders::pay))
        .service(web::resource("/v1/orders/{id}/cancel").post(orders::cancel))
        .service(web::resource("/v1/carts").post(carts::create_cart))
        .service(web::resource("/v1/carts/{id}").get(carts::get_cart))
        .service(web::resource("/v1/carts/{id}/lines").post(carts::add_line))
        .service(
            web::resource("/v1/carts/{id}/lines/{sku}")
                .patch(carts::set_quantity)
                .delete(carts::remove_line),
        )
        .service(web::resource("/v1/carts/{id}/checkout").post(carts::checkout))
        .service(web::resource("/v1/admin/orders").get(admin_orders::list_orders))
        .service(web::resource("/v1/admin/orders/{id}/fulfil").post(admin_orders::fulfil))
        .service(web::resource("/v1/admin/orders/{id}/ship").post(admin_orders::ship))
        .service(web::resource("/v1/admin/orders/{id}/deliver").post(admin_orders::deliver))
        .service(web::resource("/v1/admin/orders/{id}/cancel").post(admin_orders::cancel))
        .service(web::resource("/v1/admin/orders/{id}/refund").post(admin_orders::refund))
        .service(
            web::resource("/v1/admin/webhooks")
                .get(admin_webhooks::list)
                .post(admin_webhooks::register),
        )
        .service(
            web::resource("/v1/admin/webhooks/{id}")
                .get(admin_webhooks::get)
                .delete(admin_webhooks::remove),
        )
        .service(
            web::resource("/v1/admin/webhooks/{id}/dead-letters").get(admin_webhooks::dead_letters),
        )
        .service(
            web::resource("/v1/admin/webhooks/{id}/dead-letters/replay")
                .post(admin_webhooks::replay_all),
        )
        .service(
            web::resource("/v1/admin/webhooks/{id}/dead-letters/{event_id}/replay")
                .post(admin_webhooks::replay_one),
        )
        .service(web::resource("/v1/events/stream").get(stream::stream))
        .service(web::resource("/v1/admin/products").post(admin_catalog::create_product))
        .service(
            web::resource("/v1/admin/products/{id}")
                .put(admin_catalog::replace_product)
                .delete(admin_catalog::archive_product),
        )
        .service(web::resource("/v1/admin/stats").get(admin_inventory::stats))
        .service(
            web::resource("/v1/admin/skus/{sku}/inventory").get(admin_inventory::get_inventory),
        )
        .service(web::resource("/v1/admin/skus/{sku}/restock").post(admin_inventory::restock))
        .service(web::resource("/v1/admin/skus/{sku}/stock").put(admin_inventory::set_stock))
        .service(web::resource("/v1/admin/skus/{sku}/sale").put(admin_inventory::set_sale))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
        .default_service(web::to(edge::not_found));
}

pub use front::Front;
