//! The HTTP API: the only module that knows HTTP. Handlers parse the request
//! into domain types, delegate to one capability, and render the answer.
//!
//! - `storefront/`, `admin/`, `ops.rs`: the routes, one file per resource
//!   (admin ones behind the bearer token of `admin/auth.rs`);
//! - `middleware/`: what runs around every handler (write admission,
//!   per-route metrics, CORS for the storefront);
//! - `problem/`: every error as problem+json, mapped once;
//! - `rendering/`: catalog views, ETags and the cache of rendered reads;
//! - `idempotency_key.rs`: the `Idempotency-Key` header;
//! - `customer.rs`: who a storefront request acts for (customer tokens);
//! - `bearer.rs`: the `Authorization: Bearer` header;
//! - `json.rs`: JSON request bodies, read as the API document says;
//! - `openapi/`: the OpenAPI document (`openapi_front.rs`: what the front
//!   door adds to it).
//!
//! This file holds what handlers share ([`AppState`]) and the route table.

mod admin;
mod bearer;
pub(crate) mod customer;
mod dashboard;
mod idempotency_key;
mod json;
mod middleware;
mod openapi;
mod openapi_front;
mod ops;
mod problem;
mod rendering;
mod storefront;
mod stripe_webhook;

pub use admin::auth::AdminToken;
pub use dashboard::Dashboard;
pub use middleware::{storefront_cors, Admission, Front, FrontDoor};
pub use openapi::{document as api_document, ApiDoc, Limits as ApiLimits};
pub use problem::{ApiError, Problem};
pub use rendering::Reads;
pub use storefront::stream::Streams;

use crate::cart::Carts;
use crate::catalog::Catalog;
use crate::config::{CatalogSettings, InventorySettings};
use crate::events::{Outbox, Webhooks};
use crate::inventory::Inventory;
use crate::order::Orders;
use crate::queue::Queues;
use crate::store::Store;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use storefront::{carts, catalog, orders, purchase, queue, stream, ticket_stream};
use utoipa_swagger_ui::SwaggerUi;

/// What handlers share. Built once by `startup`.
pub struct AppState {
    pub catalog: Arc<Catalog>,
    pub catalog_settings: CatalogSettings,
    /// The shop's currency (`[cart] default_currency`): what a Shopify CSV's
    /// prices are in unless the import says otherwise.
    pub default_currency: crate::domain::Currency,
    /// Catalog reads as last rendered.
    pub reads: Reads,
    pub inventory: Inventory,
    pub inventory_settings: InventorySettings,
    pub outbox: Outbox,
    pub webhooks: Webhooks,
    /// Limits and shutdown of the live event streams.
    pub streams: Streams,
    /// Bounds storefront writes in flight (503 beyond).
    pub admission: Admission,
    /// Customer tokens and rate limits (see `customer`).
    pub front: Arc<FrontDoor>,
    pub carts: Carts,
    pub orders: Orders,
    /// The waiting rooms of drops.
    pub queues: Queues,
    /// Online backups of this node.
    pub backups: crate::backup::Backups,
    pub store: Store,
    /// Stripe's webhook deliveries, when Stripe is the payment provider.
    pub stripe_webhook: Option<Arc<crate::payment_events::StripeWebhook>>,
    /// True once the store is open and recovered; false again at shutdown.
    pub ready: Arc<AtomicBool>,
    /// When writes are acknowledged (reported by `/readyz`).
    pub durability: crate::store::Durability,
    pub metrics: PrometheusHandle,
    /// The merchant dashboard's sessions and live figures.
    pub dashboard: Dashboard,
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
        .app_data(problem::edge::json_config(body_limit_bytes))
        .app_data(web::PayloadConfig::new(body_limit_bytes))
        .app_data(problem::edge::query_config())
        .app_data(problem::edge::path_config());
}

/// Every route. Resources are declared with their methods so that a wrong
/// method on a known path is a 405, not a 404.
///
/// Routes are matched in order, and each pattern with a `{…}` segment costs
/// a regex match; grouping them under static prefixes means a request is
/// tried only against its own resource's patterns (routing was about a
/// twentieth of a catalog read's CPU before). The hot flash-sale and catalog
/// paths come first. A path that no scope's resource matches falls back to
/// the app's default (the 404 problem). A storefront scope added here
/// belongs in `middleware/cors.rs` too (the paths CORS covers).
/// `doc` is the OpenAPI document served at `/openapi.json` ([`api_document`]).
pub fn routes(cfg: &mut web::ServiceConfig, doc: &serde_json::Value) {
    cfg.service(
        web::scope("/v1/skus")
            // Reads first: a purchase waits for a commit anyway, a read is
            // a tenth of its cost and pays for every pattern tried.
            .service(web::resource("/{sku}").get(catalog::get_sku))
            .service(web::resource("/{sku}/purchase").post(purchase::purchase))
            .service(web::resource("/{sku}/queue").post(queue::join)),
    )
    .service(
        web::scope("/v1/queue")
            .service(web::resource("/{ticket}").get(queue::get_ticket))
            .service(web::resource("/{ticket}/stream").get(ticket_stream::stream)),
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
    .service(web::resource("/v1/webhooks/stripe").post(stripe_webhook::receive))
    .service(web::scope("/v1/admin").configure(admin_routes))
    .configure(dashboard::routes)
    .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", doc.clone()))
    .default_service(web::to(problem::edge::not_found));
}

/// Under `/v1/admin`.
fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orders").get(admin::orders::list_orders))
        .service(web::resource("/orders/{id}/fulfil").post(admin::orders::fulfil))
        .service(web::resource("/orders/{id}/ship").post(admin::orders::ship))
        .service(web::resource("/orders/{id}/deliver").post(admin::orders::deliver))
        .service(web::resource("/orders/{id}/cancel").post(admin::orders::cancel))
        .service(web::resource("/orders/{id}/refund").post(admin::orders::refund))
        .service(
            web::resource("/webhooks")
                .get(admin::webhooks::list)
                .post(admin::webhooks::register),
        )
        .service(
            web::resource("/webhooks/{id}")
                .get(admin::webhooks::get)
                .delete(admin::webhooks::remove),
        )
        .service(web::resource("/webhooks/{id}/dead-letters").get(admin::webhooks::dead_letters))
        .service(
            web::resource("/webhooks/{id}/dead-letters/replay").post(admin::webhooks::replay_all),
        )
        .service(
            web::resource("/webhooks/{id}/dead-letters/{event_id}/replay")
                .post(admin::webhooks::replay_one),
        )
        .service(web::resource("/products").post(admin::catalog::create_product))
        .service(web::resource("/catalog/export").get(admin::catalog_transfer::export))
        .service(web::resource("/catalog/import").post(admin::catalog_transfer::import))
        .service(
            web::resource("/products/{id}")
                .put(admin::catalog::replace_product)
                .delete(admin::catalog::archive_product),
        )
        .service(web::resource("/stats").get(admin::inventory::stats))
        .service(
            web::resource("/backups")
                .get(admin::backups::list_backups)
                .post(admin::backups::create_backup),
        )
        .service(web::resource("/backups/{id}").get(admin::backups::get_backup))
        .service(web::resource("/skus/{sku}/inventory").get(admin::inventory::get_inventory))
        .service(web::resource("/skus/{sku}/restock").post(admin::inventory::restock))
        .service(web::resource("/skus/{sku}/stock").put(admin::inventory::set_stock))
        .service(web::resource("/skus/{sku}/sale").put(admin::inventory::set_sale));
}
