//! The OpenAPI document, generated from the handlers' annotations and the
//! view types, served at `/openapi.json` and browsable at `/docs/`.

use super::admin;
use super::openapi_front::FrontDoorDocs;
use super::ops;
use super::storefront::{carts, catalog, orders, purchase, queue, stream, ticket_stream};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "surge", description = "A commerce core in one binary: catalog, inventory, carts, orders."),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        catalog::list_products, catalog::get_product, catalog::get_sku,
        purchase::purchase, queue::join, queue::get_ticket, ticket_stream::stream,
        orders::get_order, orders::pay, orders::cancel,
        carts::create_cart, carts::get_cart, carts::add_line, carts::set_quantity,
        carts::remove_line, carts::checkout,
        admin::orders::list_orders, admin::orders::fulfil, admin::orders::ship,
        admin::orders::deliver, admin::orders::cancel, admin::orders::refund,
        admin::catalog::create_product, admin::catalog::replace_product, admin::catalog::archive_product,
        admin::catalog_transfer::export, admin::catalog_transfer::import,
        admin::inventory::get_inventory, admin::inventory::restock, admin::inventory::set_stock,
        admin::inventory::set_sale, admin::inventory::stats,
        admin::webhooks::register, admin::webhooks::list, admin::webhooks::get, admin::webhooks::remove,
        admin::webhooks::dead_letters, admin::webhooks::replay_all, admin::webhooks::replay_one,
        stream::stream,
    ),
    modifiers(&AdminSecurity, &FrontDoorDocs),
    tags((name = "catalog"), (name = "flash sale"), (name = "carts"), (name = "orders"), (name = "admin"), (name = "ops"))
)]
pub struct ApiDoc;

struct AdminSecurity;

impl Modify for AdminSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
