//! The OpenAPI document, served at `/openapi.json` and browsable at
//! `/docs/`. utoipa builds it from the handlers' annotations and the view
//! types; then what is true of every route alike is added once
//! (`contract`), with the rules of every field (`rules`, some of them from
//! the configuration) and the links between answers (`links`).
//! `scripts/conformance.sh` holds the server to it.

mod contract;
mod links;
mod rules;

pub use rules::Limits;

use super::admin;
use super::openapi_front::FrontDoorDocs;
use super::ops;
use super::storefront::{carts, catalog, orders, purchase, queue, stream, ticket_stream};
use crate::domain::{CartId, OrderId, ProductId, Sku};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "surge", description = "A commerce core in one binary: catalog, inventory, carts, orders.\n\n\
        Every error is an `application/problem+json` document whose `type` ends in a stable code. \
        A 400 means the request does not fit this document; a 422 that it does, but cannot be carried out \
        as asked (a limit, a currency, a combination of fields, an `Idempotency-Key` sent before with another request)."),
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
    // The id types of path parameters, whose schemas are their rules
    // (`rules`); utoipa refers to them without adding them.
    components(schemas(Sku, ProductId, CartId, OrderId)),
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

/// The document as served, for a server running with `limits`.
pub fn document(limits: &Limits) -> serde_json::Value {
    let mut api = ApiDoc::openapi();
    let front = FrontDoorDocs {
        tokens: limits.customer_tokens,
        rate_limits: limits.rate_limits,
    };
    front.modify(&mut api);
    // utoipa's types serialize to JSON without fail.
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    contract::apply(&mut doc, limits);
    links::apply(&mut doc);
    doc
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;

    pub fn limits() -> Limits {
        Limits {
            page_limit_max: 100,
            purchase_quantity_max: 7,
            cart_quantity_max: 9,
            body_limit_bytes: 65536,
            customer_tokens: false,
            rate_limits: false,
        }
    }

    #[test]
    fn without_customer_tokens_purchases_and_joins_must_name_the_customer() {
        for (tokens, required) in [(false, true), (true, false)] {
            let doc = document(&Limits {
                customer_tokens: tokens,
                ..limits()
            });
            for schema in ["PurchaseBody", "JoinBody"] {
                let body = &doc["components"]["schemas"][schema];
                let listed = body["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|p| p == "customer_id"));
                assert_eq!(listed, required, "{schema} with tokens {tokens}: {body}");
            }
        }
    }

    /// Every (path, method, operation) of the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut all = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                all.push((path.clone(), method.clone(), op.clone()));
            }
        }
        all
    }

    /// Where a JSON `null` sits in `v`, outside of the values schemas list.
    fn nulls(v: &Value, at: &str, found: &mut Vec<String>) {
        match v {
            Value::Null => found.push(at.to_owned()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    nulls(item, &format!("{at}/{i}"), found);
                }
            }
            Value::Object(members) => {
                for (k, item) in members {
                    if !matches!(k.as_str(), "enum" | "default" | "example" | "examples") {
                        nulls(item, &format!("{at}/{k}"), found);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every `$ref` in `v`.
    fn refs<'a>(v: &'a Value, found: &mut Vec<&'a str>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
            Value::Object(members) => {
                for (k, item) in members {
                    match (k.as_str(), item.as_str()) {
                        ("$ref", Some(r)) => found.push(r),
                        _ => refs(item, found),
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document(&limits());
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50);
        for r in found {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn the_document_has_no_stray_nulls() {
        let mut found = Vec::new();
        nulls(&document(&limits()), "", &mut found);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn every_problem_is_problem_json_and_every_answer_is_described() {
        let doc = document(&limits());
        let mut problems = 0;
        for (path, method, op) in operations(&doc) {
            for (status, res) in op["responses"].as_object().unwrap() {
                let what = format!("{method} {path} {status}");
                assert!(
                    res["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{what}: no description"
                );
                let content = res["content"].as_object().cloned().unwrap_or_default();
                for (media, c) in &content {
                    let is_problem = c["schema"]["$ref"] == "#/components/schemas/Problem";
                    assert_eq!(
                        is_problem,
                        media == "application/problem+json",
                        "{what}: {media}"
                    );
                    problems += usize::from(is_problem);
                }
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        content.contains_key("application/problem+json"),
                        "{what}: an error without a problem body"
                    );
                }
            }
        }
        assert!(problems > 100, "only {problems} problem answers");
    }

    #[test]
    fn every_admin_operation_documents_401_and_only_admin_ones_do() {
        let doc = document(&limits());
        for (path, method, op) in operations(&doc) {
            let admin = path.starts_with("/v1/admin/");
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("admin_token").is_some()));
            assert_eq!(admin, secured, "{method} {path}: security");
            assert_eq!(
                admin,
                op["responses"]["401"].is_object(),
                "{method} {path}: 401"
            );
            if admin {
                let header = &op["responses"]["401"]["headers"]["WWW-Authenticate"];
                assert_eq!(header["required"], true, "{method} {path}");
            }
        }
    }

    #[test]
    fn every_operation_documents_the_statuses_its_edges_answer() {
        let doc = document(&limits());
        for (path, method, op) in operations(&doc) {
            let what = format!("{method} {path}");
            let has = |s: &str| op["responses"][s].is_object();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let takes = |place: &str| params.iter().any(|p| p["in"] == place);
            if takes("path") {
                assert!(has("400") && has("404"), "{what}: path errors");
            }
            if takes("query") {
                assert!(has("400"), "{what}: query errors");
            }
            if op.get("requestBody").is_some() {
                assert!(has("400") && has("413"), "{what}: body errors");
                assert_eq!(
                    has("415"),
                    op["requestBody"]["required"] == true,
                    "{what}: 415"
                );
            }
            if method != "get" {
                assert!(has("503"), "{what}: 503");
                assert_eq!(
                    op["responses"]["503"]["headers"]["Retry-After"]["required"],
                    true
                );
            }
            for p in &params {
                assert!(
                    p["schema"]["type"].as_array().is_none(),
                    "{what}: parameter {} may be null",
                    p["name"]
                );
                if p["name"] == "Idempotency-Key" {
                    assert_eq!(p["schema"]["maxLength"], 255, "{what}");
                    assert!(has("409") && has("422"), "{what}: key errors");
                }
            }
        }
    }

    #[test]
    fn purchases_and_checkouts_require_an_idempotency_key() {
        let doc = document(&limits());
        for (path, method) in [
            ("/v1/skus/{sku}/purchase", "post"),
            ("/v1/carts/{id}/checkout", "post"),
        ] {
            let params = doc["paths"][path][method]["parameters"]
                .as_array()
                .cloned()
                .unwrap();
            let key = params
                .iter()
                .find(|p| p["name"] == "Idempotency-Key")
                .unwrap_or_else(|| panic!("{path}: no key"));
            assert_eq!(key["required"], true, "{path}");
            assert_eq!(key["in"], "header");
            assert_eq!(key["schema"]["pattern"], "^[\\x21-\\x7E]{1,255}$");
        }
    }

    #[test]
    fn configured_limits_are_the_documented_ones() {
        let doc = document(&limits());
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["PurchaseBody"]["properties"]["quantity"]["maximum"],
            7
        );
        assert_eq!(
            schemas["AddLineBody"]["properties"]["quantity"]["maximum"],
            9
        );
        assert_eq!(
            schemas["SetQuantityBody"]["properties"]["quantity"]["maximum"],
            9
        );
        let limit = doc["paths"]["/v1/products"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .cloned()
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], 100);
        assert_eq!(limit["schema"]["minimum"], 1);
    }

    #[test]
    fn every_body_rule_names_a_property_of_the_document() {
        let raw = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (schema, property, _) in rules::body_rules(&limits()) {
            assert!(
                raw["components"]["schemas"][schema]["properties"][property].is_object(),
                "{schema}.{property} is not in the document"
            );
        }
        for (path, name, _) in rules::query_rules(&limits()) {
            let operations = raw["paths"][path].as_object().into_iter().flatten();
            let declared = operations
                .filter_map(|(_, op)| op["parameters"].as_array())
                .any(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "query"));
            assert!(declared, "{path}?{name} is not in the document");
        }
    }
}
