//! OpenAPI links: where one answer's id feeds another call (product → SKU
//! → purchase → order → pay, fulfil, refund; cart → lines → checkout;
//! webhook → dead letters; backup → backup), so that a client, or a stateful test, can
//! follow them.

use serde_json::{json, Value};

/// One link: from an operation's answer with `status` to `target`, with
/// the target's path parameters taken from the answer (or the request).
struct Link {
    source: &'static str,
    status: &'static str,
    target: &'static str,
    params: &'static [(&'static str, &'static str)],
}

const fn link(
    source: &'static str,
    status: &'static str,
    target: &'static str,
    params: &'static [(&'static str, &'static str)],
) -> Link {
    Link {
        source,
        status,
        target,
        params,
    }
}

/// Where the ids are in each kind of answer.
const PRODUCT_ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const FIRST_VARIANT: &[(&str, &str)] = &[("sku", "$response.body#/variants/0/sku")];
const PAGE_PRODUCT: &[(&str, &str)] = &[("id", "$response.body#/items/0/id")];
const PAGE_SKU: &[(&str, &str)] = &[("sku", "$response.body#/items/0/variants/0/sku")];
const SKU: &[(&str, &str)] = &[("sku", "$response.body#/sku")];
const SKU_PRODUCT: &[(&str, &str)] = &[("id", "$response.body#/product_id")];
const ORDER: &[(&str, &str)] = &[("id", "$response.body#/order_id")];
const PAGE_ORDER: &[(&str, &str)] = &[("id", "$response.body#/items/0/order_id")];
const CART: &[(&str, &str)] = &[("id", "$response.body#/id")];
const CART_LINE: &[(&str, &str)] = &[
    ("id", "$response.body#/id"),
    ("sku", "$response.body#/lines/0/sku"),
];
const WEBHOOK: &[(&str, &str)] = &[("id", "$response.body#/id")];
const TICKET: &[(&str, &str)] = &[("ticket", "$response.body#/ticket")];
const PAGE_WEBHOOK: &[(&str, &str)] = &[("id", "$response.body#/items/0/id")];
const BACKUP: &[(&str, &str)] = &[("id", "$response.body#/id")];
const PAGE_BACKUP: &[(&str, &str)] = &[("id", "$response.body#/items/0/id")];
const DEAD_LETTER: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("event_id", "$response.body#/items/0/event_id"),
];

/// What a SKU leads to.
const SKU_TARGETS: &[&str] = &[
    "get_sku",
    "purchase",
    "join",
    "get_inventory",
    "restock",
    "set_stock",
    "set_sale",
];
/// What an order leads to.
const ORDER_TARGETS: &[&str] = &[
    "get_order",
    "pay",
    "cancel",
    "fulfil",
    "ship",
    "deliver",
    "admin_cancel",
    "refund",
];

fn links() -> Vec<Link> {
    let mut all = vec![
        link("create_product", "201", "get_product", PRODUCT_ID),
        link("create_product", "201", "replace_product", PRODUCT_ID),
        link("create_product", "201", "archive_product", PRODUCT_ID),
        link("replace_product", "200", "get_product", PRODUCT_ID),
        link("list_products", "200", "get_product", PAGE_PRODUCT),
        link("list_products", "200", "get_sku", PAGE_SKU),
        link("list_products", "200", "purchase", PAGE_SKU),
        link("get_sku", "200", "get_product", SKU_PRODUCT),
        link("list_orders", "200", "get_order", PAGE_ORDER),
        link("list_orders", "200", "refund", PAGE_ORDER),
        link("create_cart", "201", "get_cart", CART),
        link("create_cart", "201", "add_line", CART),
        link("create_cart", "201", "checkout", CART),
        link("add_line", "200", "get_cart", CART),
        link("add_line", "200", "set_quantity", CART_LINE),
        link("add_line", "200", "remove_line", CART_LINE),
        link("add_line", "200", "checkout", CART),
        link("set_quantity", "200", "checkout", CART),
        link("register", "201", "get", WEBHOOK),
        link("register", "201", "remove", WEBHOOK),
        link("register", "201", "dead_letters", WEBHOOK),
        link("register", "201", "replay_all", WEBHOOK),
        link("list", "200", "get", PAGE_WEBHOOK),
        link("dead_letters", "200", "replay_one", DEAD_LETTER),
        link("join", "201", "get_ticket", TICKET),
        link("join", "201", "ticket_stream", TICKET),
        link("get_ticket", "200", "ticket_stream", TICKET),
        link("create_backup", "201", "get_backup", BACKUP),
        link("list_backups", "200", "get_backup", PAGE_BACKUP),
    ];
    for (source, status, params) in [
        ("create_product", "201", FIRST_VARIANT),
        ("replace_product", "200", FIRST_VARIANT),
        ("get_product", "200", FIRST_VARIANT),
        ("get_sku", "200", SKU),
        ("get_inventory", "200", SKU),
        ("restock", "200", SKU),
        ("set_stock", "200", SKU),
        ("set_sale", "200", SKU),
    ] {
        for target in SKU_TARGETS.iter().filter(|t| **t != source) {
            all.push(link(source, status, target, params));
        }
    }
    for (source, status) in [
        ("purchase", "201"),
        ("checkout", "201"),
        ("get_order", "200"),
        ("pay", "200"),
        ("fulfil", "200"),
        ("ship", "200"),
        ("deliver", "200"),
        ("refund", "200"),
    ] {
        for target in ORDER_TARGETS.iter().filter(|t| **t != source) {
            all.push(link(source, status, target, ORDER));
        }
    }
    all
}

/// Adds every link to its source answer. A link whose source or target
/// is not in the document is left out (the tests make sure none is).
pub fn apply(doc: &mut Value) {
    let targets: Vec<String> = operations(doc)
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    for l in links() {
        if !targets.iter().any(|t| t == l.target) {
            continue;
        }
        let Some(op) = operations_mut(doc).find(|op| op["operationId"] == l.source) else {
            continue;
        };
        let Some(answer) = op["responses"].get_mut(l.status) else {
            continue;
        };
        let parameters: serde_json::Map<String, Value> = l
            .params
            .iter()
            .map(|(name, expr)| (format!("path.{name}"), json!(expr)))
            .collect();
        answer["links"][name(l.target)] = json!({
            "operationId": l.target,
            "parameters": parameters,
        });
    }
}

/// `get_order` → `GetOrder`.
fn name(operation_id: &str) -> String {
    operation_id
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|first| first.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn operations(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
        .filter(|op| op.get("responses").is_some())
}

fn operations_mut(doc: &mut Value) -> impl Iterator<Item = &mut Value> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .flat_map(|item| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
        })
        .filter(|op| op.get("responses").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_joins_two_documented_operations_by_their_parameters() {
        let doc = crate::http::openapi::document(&crate::http::openapi::tests::limits());
        let ops: Vec<&Value> = operations(&doc).collect();
        let find = |id: &str| {
            ops.iter()
                .find(|op| op["operationId"] == id)
                .unwrap_or_else(|| panic!("no operation {id}"))
        };
        for l in links() {
            let source = find(l.source);
            assert!(
                source["responses"][l.status].is_object(),
                "{} answers no {}",
                l.source,
                l.status
            );
            let target = find(l.target);
            for (name, _) in l.params {
                let declared = target["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == *name));
                assert!(declared, "{} has no path parameter {name}", l.target);
            }
            let written = &source["responses"][l.status]["links"][name(l.target)];
            assert_eq!(written["operationId"], l.target);
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = crate::http::openapi::document(&crate::http::openapi::tests::limits());
        let mut ids: Vec<&str> = operations(&doc)
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "duplicate operationIds");
    }
}
