//! Records that name other records: products and the SKUs they own, carts
//! and the checkout or order they went to.

use super::report::Report;
use super::stock::Stock;
use super::{present, Source};
use crate::cart::{Cart, CartState};
use crate::catalog::Product;
use crate::store::{codec, keys};

/// Every variant of a product has its SKU's stock record, owned by that
/// product; every SKU's owner exists. (A variant removed from a product
/// keeps its record, owned by the product for history.)
pub fn check_catalog(source: &dyn Source, stock: &Stock, report: &mut Report) {
    let mut products = 0;
    for (key, bytes) in source.scan(keys::PRODUCT).flatten() {
        let Ok(product) = codec::decode_exact::<Product>(&key, &bytes) else {
            continue;
        };
        products += 1;
        let id = product.id.as_str();
        if key[keys::PRODUCT.len()..] != *id.as_bytes() {
            report.problem(&key, format!("the product inside is {id}"));
        }
        for variant in &product.variants {
            let sku = variant.sku.as_str();
            match stock.skus.get(sku) {
                None if stock.has(sku) => {}
                None => report.problem(&key, format!("variant {sku} has no inv/ record")),
                Some(facts) if facts.product_id != id => report.problem(
                    &key,
                    format!("variant {sku} is owned by product {}", facts.product_id),
                ),
                Some(_) => {}
            }
        }
    }
    for (sku, facts) in &stock.skus {
        if !present(source, &keys::product(&facts.product_id), report) {
            let owner = &facts.product_id;
            report.problem(
                &keys::inventory(sku),
                format!("owned by product {owner}, which does not exist"),
            );
        }
    }
    report.fact("products checked", products);
}

/// A cart checking out has its checkout recorded; a cart checked out has
/// its order.
pub fn check_carts(source: &dyn Source, report: &mut Report) {
    for (key, bytes) in source.scan(keys::CART).flatten() {
        let Ok(cart) = codec::decode_exact::<Cart>(&key, &bytes) else {
            continue;
        };
        if key[keys::CART.len()..] != *cart.id.as_str().as_bytes() {
            report.problem(&key, format!("the cart inside is {}", cart.id));
        }
        match &cart.state {
            CartState::Open => {}
            CartState::CheckingOut(order) => {
                if !present(source, &keys::checkout(order.as_str()), report) {
                    report.problem(
                        &key,
                        format!("checking out as order {order}, whose checkout is not recorded"),
                    );
                }
            }
            CartState::CheckedOut(order) => {
                if !present(source, &keys::order(order.as_str()), report) {
                    report.problem(
                        &key,
                        format!("checked out as order {order}, which does not exist"),
                    );
                }
            }
        }
    }
}
