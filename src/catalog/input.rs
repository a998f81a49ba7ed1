//! Product definitions as clients (and the seed file) write them, and their
//! parsing into validated [`NewProduct`]s. Every problem found is reported
//! with its JSON path, all at once, so a client can fix a request in one go.

use super::model::{NewProduct, NewVariant, ATTRIBUTES_MAX, VARIANTS_MAX};
use crate::domain::FieldError;
use crate::domain::{BoundedText, Money, ProductId, Sku, TextRule};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Most units a SKU may be created with.
pub const INITIAL_STOCK_MAX: u64 = 1_000_000_000;

/// The category of a product defined without one, so that a title and one
/// variant are enough and such products can still be listed on their own.
pub const DEFAULT_CATEGORY: &str = "uncategorized";

fn default_category() -> String {
    DEFAULT_CATEGORY.to_owned()
}

/// A product definition: create (`POST`) or replace (`PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Optional on create (generated when absent); must be absent or equal to
    /// the path's id on replace.
    pub id: Option<String>,
    pub title: String,
    /// Empty when absent (also on replace, which sets the whole definition).
    #[serde(default)]
    #[schema(default = "")]
    pub description: String,
    /// What `GET /v1/products?category=` filters on; "uncategorized" when
    /// absent (also on replace, which sets the whole definition).
    #[serde(default = "default_category")]
    #[schema(default = default_category)]
    pub category: String,
    /// Free-form string attributes (brand, material, …); none when absent.
    #[serde(default)]
    #[schema(default = json!({}))]
    pub attributes: BTreeMap<String, String>,
    pub variants: Vec<VariantInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    pub sku: String,
    pub title: String,
    pub price: PriceInput,
    /// Units in stock when this SKU is first created (default 0).
    #[serde(default)]
    pub stock: u64,
}

/// A price in integer minor units of an ISO 4217 currency.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// Minor units (cents): 1999 is 19.99.
    pub amount: i64,
    /// ISO 4217 code, e.g. "EUR".
    pub currency: String,
}

/// Collects field errors while parsing.
#[derive(Default)]
struct Checker(Vec<FieldError>);

impl Checker {
    fn ok<T>(
        &mut self,
        field: impl Into<String>,
        r: Result<T, crate::domain::ParseError>,
    ) -> Option<T> {
        r.map_err(|e| self.0.push(FieldError::new(field, e.0))).ok()
    }

    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
}

impl ProductInput {
    /// Parses into a validated definition, or every field error found.
    pub fn parse(self) -> Result<NewProduct, Vec<FieldError>> {
        let mut c = Checker::default();
        let id = self.id.map(|raw| c.ok("id", ProductId::parse(&raw)));
        let title = c.ok("title", BoundedText::parse(&self.title, TextRule::TITLE));
        let description = c.ok(
            "description",
            BoundedText::parse(&self.description, TextRule::DESCRIPTION),
        );
        let category = c.ok(
            "category",
            BoundedText::parse(&self.category, TextRule::CATEGORY),
        );
        if self.attributes.len() > ATTRIBUTES_MAX {
            c.fail("attributes", format!("at most {ATTRIBUTES_MAX} attributes"));
        }
        let mut attributes = BTreeMap::new();
        for (k, v) in &self.attributes {
            let key = c.ok(
                format!("attributes.{k}"),
                BoundedText::parse(k, TextRule::ATTRIBUTE_KEY),
            );
            let value = c.ok(
                format!("attributes.{k}"),
                BoundedText::parse(v, TextRule::ATTRIBUTE_VALUE),
            );
            if let (Some(key), Some(value)) = (key, value) {
                attributes.insert(key, value);
            }
        }
        if self.variants.is_empty() || self.variants.len() > VARIANTS_MAX {
            c.fail(
                "variants",
                format!("a product has 1 to {VARIANTS_MAX} variants"),
            );
        }
        let variants: Vec<Option<NewVariant>> = self
            .variants
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.parse(i, &mut c))
            .collect();
        match (title, description, category, c.0.is_empty()) {
            (Some(title), Some(description), Some(category), true) => Ok(NewProduct {
                id: id.flatten(),
                title,
                description,
                category,
                attributes,
                variants: variants.into_iter().flatten().collect(),
            }),
            _ => Err(c.0),
        }
    }
}

impl VariantInput {
    fn parse(self, index: usize, c: &mut Checker) -> Option<NewVariant> {
        let at = |field: &str| format!("variants[{index}].{field}");
        let sku = c.ok(at("sku"), Sku::parse(&self.sku));
        let title = c.ok(
            at("title"),
            BoundedText::parse(&self.title, TextRule::TITLE),
        );
        let price = c.ok(
            at("price"),
            Money::price(self.price.amount, &self.price.currency),
        );
        if self.stock > INITIAL_STOCK_MAX {
            c.fail(
                at("stock"),
                format!("stock must be at most {INITIAL_STOCK_MAX}"),
            );
        }
        Some(NewVariant {
            sku: sku?,
            title: title?,
            price: price?,
            initial_stock: self.stock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> ProductInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_valid_definition_parses() {
        let p = input(serde_json::json!({
            "title": " Tee ", "category": "apparel",
            "variants": [{"sku": "T-1", "title": "S", "price": {"amount": 100, "currency": "EUR"}}]
        }))
        .parse()
        .unwrap();
        assert_eq!(p.title.as_str(), "Tee");
        assert_eq!(p.variants[0].initial_stock, 0);
    }

    #[test]
    fn a_title_and_one_variant_are_enough() {
        let p = input(serde_json::json!({
            "title": "Tee",
            "variants": [{"sku": "T-1", "title": "S", "price": {"amount": 100, "currency": "EUR"}}]
        }))
        .parse()
        .unwrap();
        assert_eq!(p.description.as_str(), "");
        assert_eq!(p.category.as_str(), DEFAULT_CATEGORY);
        assert!(p.attributes.is_empty());
    }

    #[test]
    fn a_given_empty_category_is_still_refused() {
        let errors = input(serde_json::json!({
            "title": "Tee", "category": " ",
            "variants": [{"sku": "T-1", "title": "S", "price": {"amount": 100, "currency": "EUR"}}]
        }))
        .parse()
        .unwrap_err();
        assert_eq!(errors[0].field, "category");
    }

    #[test]
    fn every_invalid_field_is_reported_with_its_path() {
        let errors = input(serde_json::json!({
            "id": "bad id", "title": "", "category": "apparel",
            "variants": [{"sku": "ok", "title": "S", "price": {"amount": -1, "currency": "XXX"}},
                         {"sku": "a/b", "title": "M", "price": {"amount": 1, "currency": "EUR"}, "stock": 2_000_000_000u64}]
        }))
        .parse()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "id",
                "title",
                "variants[0].price",
                "variants[1].sku",
                "variants[1].stock"
            ]
        );
    }
}
