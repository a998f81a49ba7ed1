//! The OpenAPI document, generated from the handlers' annotations and the
//! view types, served at `/openapi.json` and browsable at `/docs/`.

use super::{
    admin_catalog, admin_inventory, admin_orders, admin_webhooks, carts, catalog, ops, orders,
    purchase, stream,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "surge", description = "A commerce core in one binary: catalog, inventory, carts, orders."),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        catalog::list_products, catalog::get_product, catalog::get_sku,
        purchase::purchase, orders::get_order, orders::pay, orders::cancel,
        carts::create_cart, carts::get_cart, carts::add_line, carts::set_quantity,
        carts::remove_line, carts::checkout,
        admin_orders::list_orders, admin_orders::fulfil, admin_orders::ship,
        admin_orders::deliver, admin_orders::cancel, admin_orders::refund,
        admin_catalog::create_product, admin_catalog::replace_product, admin_catalog::archive_product,
        admin_inventory::get_inventory, admin_inventory::restock, admin_inventory::set_stock,
        admin_inventory::set_sale, admin_inventory::stats,
        admin_webhooks::register, admin_webhooks::list, admin_webhooks::get, admin_webhooks::remove,
        admin_webhooks::dead_letters, admin_webhooks::replay_all, admin_webhooks::replay_one,
        stream::stream,
    ),
    modifiers(&AdminSecurity),
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
