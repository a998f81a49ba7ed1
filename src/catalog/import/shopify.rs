//! Shopify's product CSV export, so that a shop can move over. Its rows are
//! grouped by `Handle`: the first row of a handle carries the product
//! (`Title`, `Body (HTML)`, `Vendor`, `Type`, `Tags`) and its first variant;
//! each following row of the handle is another variant (`Option1..3 Value`,
//! `Variant SKU`, `Variant Price`, `Variant Inventory Qty`), or only an
//! extra image (no variant column set), which is skipped. Other columns are
//! ignored.
//!
//! A product becomes a definition as `POST /v1/admin/products` takes it:
//! the handle is its id (so importing the file again finds the same
//! products), `Type` its category, vendor and tags attributes, each variant
//! titled by its option values ("Default Title" by the product's title), a
//! decimal price in minor units of the import's currency, and the quantity
//! the stock of a SKU that is new (a negative quantity, an oversold
//! Shopify variant, as 0). A product is imported whole or not at all: a
//! refused row refuses its product, and the report names every row.

use super::csv_rows::Record;
use super::{Parsed, RefusedRow};
use crate::catalog::{PriceInput, ProductInput, VariantInput, DEFAULT_CATEGORY};
use crate::domain::{Currency, FieldError, Money};
use std::collections::BTreeMap;

/// Where the columns used are; `None` for an optional one absent.
struct Columns {
    count: usize,
    handle: usize,
    title: usize,
    body: Option<usize>,
    vendor: Option<usize>,
    kind: Option<usize>,
    tags: Option<usize>,
    options: [Option<usize>; 3],
    sku: usize,
    price: usize,
    quantity: Option<usize>,
}

impl Columns {
    /// The header's columns, or why it is not a Shopify product export.
    fn parse(header: &[String]) -> Result<Self, String> {
        let find = |name: &str| {
            header.iter().position(|h| {
                h.trim_start_matches('\u{feff}')
                    .trim()
                    .eq_ignore_ascii_case(name)
            })
        };
        let required = |name: &str| {
            find(name).ok_or_else(|| {
                format!("not a Shopify product CSV: the header has no '{name}' column")
            })
        };
        Ok(Self {
            count: header.len(),
            handle: required("Handle")?,
            title: required("Title")?,
            body: find("Body (HTML)"),
            vendor: find("Vendor"),
            kind: find("Type"),
            tags: find("Tags"),
            options: [
                find("Option1 Value"),
                find("Option2 Value"),
                find("Option3 Value"),
            ],
            sku: required("Variant SKU")?,
            price: required("Variant Price")?,
            quantity: find("Variant Inventory Qty"),
        })
    }
}

/// The field at `index` of a row, trimmed; empty when absent.
fn at(row: &[String], index: Option<usize>) -> &str {
    index.and_then(|i| row.get(i)).map_or("", |f| f.trim())
}

/// The product of one handle, as its rows arrive.
struct Group {
    handle: String,
    first_row: u64,
    title: String,
    input: ProductInput,
    /// The row of each variant, in order.
    variant_rows: Vec<u64>,
    refused: Vec<RefusedRow>,
}

/// A Shopify CSV being read, record by record.
pub struct ShopifyCsv {
    columns: Option<Columns>,
    products: Products,
}

/// The product being read, and the currency of the prices.
struct Products {
    currency: Currency,
    group: Option<Group>,
}

impl ShopifyCsv {
    pub fn new(currency: Currency) -> Self {
        Self {
            columns: None,
            products: Products {
                currency,
                group: None,
            },
        }
    }

    /// Reads one record; products completed go to `out`. `Err` if the
    /// header is not a Shopify product export's (then nothing is imported).
    pub fn record(&mut self, (row, fields): Record, out: &mut Vec<Parsed>) -> Result<(), String> {
        let Some(columns) = &self.columns else {
            self.columns = Some(Columns::parse(&fields?)?);
            return Ok(());
        };
        match fields {
            Ok(fields) if fields.iter().all(|f| f.trim().is_empty()) => {}
            Ok(fields) => self.products.row(row, &fields, columns, out),
            Err(why) => out.push(Parsed::Refused(RefusedRow::one(row, None, "", why))),
        }
        Ok(())
    }

    /// The body ended: the last product is complete.
    pub fn finish(&mut self, out: &mut Vec<Parsed>) {
        self.products.finish(out);
    }
}

impl Products {
    fn row(&mut self, row: u64, fields: &[String], columns: &Columns, out: &mut Vec<Parsed>) {
        let handle = at(fields, Some(columns.handle)).to_owned();
        if handle.is_empty() {
            out.push(Parsed::Refused(RefusedRow::one(
                row,
                None,
                "Handle",
                "the row has no Handle",
            )));
            return;
        }
        if self.group.as_ref().is_none_or(|g| g.handle != handle) {
            self.finish(out);
            self.group = Some(start(row, handle, fields, columns));
        }
        let currency = self.currency;
        let Some(group) = self.group.as_mut() else {
            return;
        };
        if fields.len() != columns.count {
            let message = format!(
                "the row has {} fields, the header {}",
                fields.len(),
                columns.count
            );
            group.refused.push(RefusedRow::one(
                row,
                Some(group.handle.clone()),
                "",
                message,
            ));
            return;
        }
        add_variant(group, row, fields, columns, currency);
    }

    /// Another handle began, or the body ended: the current product is
    /// complete.
    fn finish(&mut self, out: &mut Vec<Parsed>) {
        if let Some(group) = self.group.take() {
            complete(group, out);
        }
    }
}

/// A product begun at `row`, the first of its handle.
fn start(row: u64, handle: String, fields: &[String], c: &Columns) -> Group {
    let mut attributes = BTreeMap::new();
    for (name, column) in [("vendor", c.vendor), ("tags", c.tags)] {
        let value = at(fields, column);
        if !value.is_empty() {
            attributes.insert(name.to_owned(), value.to_owned());
        }
    }
    let category = match at(fields, c.kind) {
        "" => DEFAULT_CATEGORY.to_owned(),
        kind => kind.to_owned(),
    };
    let title = at(fields, Some(c.title)).to_owned();
    Group {
        first_row: row,
        title: title.clone(),
        input: ProductInput {
            id: Some(handle.clone()),
            title,
            // Text may not hold a carriage return; HTML does not need one.
            description: at(fields, c.body).replace("\r\n", "\n").replace('\r', "\n"),
            category,
            attributes,
            variants: Vec::new(),
        },
        handle,
        variant_rows: Vec::new(),
        refused: Vec::new(),
    }
}

/// Adds the row's variant, if it has one (a row with only an image has not).
fn add_variant(group: &mut Group, row: u64, fields: &[String], c: &Columns, currency: Currency) {
    let options: Vec<&str> = c
        .options
        .iter()
        .map(|&column| at(fields, column))
        .filter(|v| !v.is_empty())
        .collect();
    let (sku, price) = (at(fields, Some(c.sku)), at(fields, Some(c.price)));
    if sku.is_empty() && price.is_empty() && options.is_empty() {
        return;
    }
    let mut errors = Vec::new();
    let amount = match Money::from_decimal(price, currency) {
        Ok(money) => money.amount,
        Err(e) => {
            errors.push(FieldError::new("Variant Price", e.0));
            0
        }
    };
    let stock = match at(fields, c.quantity) {
        "" => 0,
        raw => match raw.parse::<i64>() {
            Ok(n) => u64::try_from(n).unwrap_or(0),
            Err(_) => {
                errors.push(FieldError::new(
                    "Variant Inventory Qty",
                    format!("'{raw}' is not a whole number"),
                ));
                0
            }
        },
    };
    if !errors.is_empty() {
        group
            .refused
            .push(RefusedRow::new(row, Some(group.handle.clone()), errors));
        return;
    }
    let title = match options.join(" / ") {
        t if t.is_empty() || t == "Default Title" => group.title.clone(),
        t => t,
    };
    group.input.variants.push(VariantInput {
        sku: sku.to_owned(),
        title,
        price: PriceInput {
            amount,
            currency: currency.as_str().to_owned(),
        },
        stock,
    });
    group.variant_rows.push(row);
}

/// A complete product: a definition, or its rows refused.
fn complete(group: Group, out: &mut Vec<Parsed>) {
    let Group {
        handle,
        first_row,
        input,
        variant_rows,
        mut refused,
        ..
    } = group;
    let id = Some(handle.clone());
    if refused.is_empty() && input.variants.is_empty() {
        let message = "the product has no variant row (Variant SKU and Variant Price)";
        refused.push(RefusedRow::one(
            first_row,
            id.clone(),
            "Variant SKU",
            message,
        ));
    }
    if refused.is_empty() {
        match input.parse() {
            Ok(product) => {
                out.push(Parsed::Product {
                    row: first_row,
                    product,
                });
                return;
            }
            Err(errors) => refused = by_row(&handle, first_row, &variant_rows, errors),
        }
    }
    if refused.iter().all(|r| r.row != first_row) {
        let rows: Vec<String> = refused.iter().map(|r| r.row.to_string()).collect();
        let message = format!(
            "the product is not imported: its row(s) {} are refused",
            rows.join(", ")
        );
        out.push(Parsed::Refused(RefusedRow::one(
            first_row, id, "Handle", message,
        )));
    }
    refused.sort_by_key(|r| r.row);
    out.extend(refused.into_iter().map(Parsed::Refused));
}

/// Validation errors of a definition, as refused rows: a variant's on the
/// row it came from, the product's on its first row, named by CSV column.
fn by_row(
    handle: &str,
    first_row: u64,
    variant_rows: &[u64],
    errors: Vec<FieldError>,
) -> Vec<RefusedRow> {
    let mut rows: BTreeMap<u64, Vec<FieldError>> = BTreeMap::new();
    for e in errors {
        let (row, column) = match variant_field(&e.field) {
            Some((index, field)) => {
                let row = variant_rows.get(index).copied().unwrap_or(first_row);
                (row, variant_column(field))
            }
            None => (first_row, product_column(&e.field)),
        };
        rows.entry(row)
            .or_default()
            .push(FieldError::new(column, e.message));
    }
    rows.into_iter()
        .map(|(row, errors)| RefusedRow::new(row, Some(handle.to_owned()), errors))
        .collect()
}

/// `variants[3].price` as (3, "price").
fn variant_field(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("variants[")?;
    let (index, field) = rest.split_once("].")?;
    Some((index.parse().ok()?, field))
}

fn variant_column(field: &str) -> &'static str {
    match field {
        "sku" => "Variant SKU",
        "price" => "Variant Price",
        "stock" => "Variant Inventory Qty",
        _ => "Option1 Value",
    }
}

fn product_column(field: &str) -> &'static str {
    match field {
        "id" => "Handle",
        "description" => "Body (HTML)",
        "category" => "Type",
        "attributes.vendor" => "Vendor",
        f if f.starts_with("attributes") => "Tags",
        "variants" => "Variant SKU",
        _ => "Title",
    }
}

#[cfg(test)]
mod tests;
