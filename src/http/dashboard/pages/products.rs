//! Products: search by title or SKU, create, edit (prices, variants,
//! attributes) and archive. Forms become the same `ProductInput` the JSON
//! routes take and go to the same `Catalog` calls; an edit carries the
//! definition tag it was made from, so a product changed meanwhile is not
//! overwritten (the JSON route's `If-Match`).

use crate::catalog::{PriceInput, Product, ProductInput, VariantInput, VARIANTS_MAX};
use crate::domain::{Currency, FieldError, Money};
use crate::http::dashboard::layout::{
    after_form, checked, csrf, decimal, failed, form_key, idem, money, page, see_other, Fields,
    Flash, FormFields, Signed, UiError,
};
use crate::http::problem::ApiError;
use crate::http::storefront::catalog::parse_product_id;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use std::collections::BTreeMap;

/// Most products a search shows.
const RESULTS_MAX: usize = 50;
/// Products read per step of a search.
const SCAN_STEP: usize = 1000;
/// Empty variant rows an edit form offers for new variants.
const SPARE_ROWS: usize = 2;

/// Live products whose title or a SKU contains `q` (any case), in id order.
fn search(state: &AppState, q: &str) -> Vec<std::sync::Arc<Product>> {
    let q = q.to_lowercase();
    let snapshot = state.catalog.snapshot();
    let matches = |p: &Product| {
        q.is_empty()
            || p.title.as_str().to_lowercase().contains(&q)
            || p.id.as_str().to_lowercase().contains(&q)
            || p.variants
                .iter()
                .any(|v| v.sku.as_str().to_lowercase().contains(&q))
    };
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = snapshot.page(None, after.as_ref(), SCAN_STEP);
        found.extend(page.items.into_iter().filter(|p| matches(p)));
        if found.len() >= RESULTS_MAX || page.next_after.is_none() {
            break;
        }
        after = page.next_after;
    }
    found.truncate(RESULTS_MAX);
    found
}

/// `GET /admin/products?q=`.
pub async fn list(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let q = super::query(&req).get("q").unwrap_or_default().to_owned();
    let found = search(&state, &q);
    let body = html! {
        div class="card" {
            form method="get" action="/admin/products" class="inline" role="search" {
                label { "Search by title or SKU" input type="search" name="q" value=(q); }
                button type="submit" { "Search" }
                a class="button secondary" href="/admin/products/new" { "New product" }
            }
        }
        div class="card table-wrap" {
            @if found.is_empty() {
                p class="muted" { "No product matches." }
            } @else {
                table {
                    thead { tr { th { "Product" } th { "SKUs" } th class="num" { "Price" } th class="num" { "Available" } } }
                    tbody {
                        @for p in &found {
                            tr {
                                td { a href=(format!("/admin/products/{}", p.id)) { (p.title.as_str()) } br; span class="muted" { (p.id.as_str()) } }
                                td { @for v in &p.variants { code { (v.sku.as_str()) } " " } }
                                td class="num" { @if let Some(v) = p.variants.first() { (money(&v.price)) } }
                                td class="num" {
                                    (p.variants.iter().filter_map(|v| state.inventory.availability().get(&v.sku)).sum::<u64>())
                                }
                            }
                        }
                    }
                }
                @if found.len() == RESULTS_MAX { p class="muted" { "The first " (RESULTS_MAX) " matches; narrow the search for others." } }
            }
        }
    };
    page("Products", "Products", &session, &Flash::of(&req), body)
}

fn variant_row(
    sku: &str,
    title: &str,
    price: &str,
    currency: &str,
    stock: Option<u64>,
    existing: bool,
) -> Markup {
    html! {
        div class="row" {
            label { "SKU" input name="sku" value=(sku) readonly[existing] maxlength="64"; }
            label { "Variant title" input name="vtitle" value=(title); }
            label { "Price" input name="price" value=(price) inputmode="decimal" placeholder="19.99"; }
            label { "Currency" input name="currency" value=(currency) maxlength="3"; }
            @if existing {
                input type="hidden" name="stock" value="0";
                div class="muted" { "Stock: " a href=(format!("/admin/inventory/{sku}")) { "inventory" } }
            } @else {
                label { "Initial stock" input name="stock" type="number" min="0" value=(stock.unwrap_or(0)); }
            }
        }
    }
}

fn product_form(state: &AppState, product: Option<&Product>, tag: Option<&str>) -> Markup {
    let currency = state.default_currency.to_string();
    let attributes: String = product.map_or(String::new(), |p| {
        p.attributes
            .iter()
            .map(|(k, v)| format!("{}: {}\n", k.as_str(), v.as_str()))
            .collect()
    });
    html! {
        @if product.is_none() {
            label { "Id " span class="hint" { "optional; made from nothing if empty" } input name="id" maxlength="64"; }
        }
        @if let Some(tag) = tag { input type="hidden" name="tag" value=(tag); }
        label { "Title" input name="title" required value=(product.map_or("", |p| p.title.as_str())); }
        label { "Description" textarea name="description" { (product.map_or("", |p| p.description.as_str())) } }
        label { "Category" input name="category" value=(product.map_or("", |p| p.category.as_str())) placeholder="uncategorized"; }
        label { "Attributes " span class="hint" { "one per line: name: value" } textarea name="attributes" { (attributes) } }
        fieldset class="variants" {
            legend { "Variants " span class="hint" { "clear a new row's SKU to leave it out; an existing variant is removed by emptying its title" } }
            @if let Some(p) = product {
                @for v in &p.variants {
                    (variant_row(v.sku.as_str(), v.title.as_str(), &decimal(&v.price), v.price.currency.as_str(), None, true))
                }
            }
            @for _ in 0..(if product.is_some() { SPARE_ROWS } else { 3 }) {
                (variant_row("", "", "", &currency, Some(0), false))
            }
        }
    }
}

/// `GET /admin/products/new`.
pub async fn new(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body = html! {
        form method="post" action="/admin/products" class="card stack" {
            (csrf(&session)) (idem())
            (product_form(&state, None, None))
            div class="actions" { button type="submit" { "Create product" } }
        }
    };
    page("New product", "Products", &session, &Flash::of(&req), body)
}

/// `GET /admin/products/{id}`.
pub async fn edit(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let id = parse_product_id(&id).map_err(failed)?;
    let snapshot = state.catalog.snapshot();
    let entry = crate::catalog::live(&snapshot, &id).map_err(failed)?;
    let product = &entry.product;
    let body = html! {
        form method="post" action=(format!("/admin/products/{id}")) class="card stack" {
            (csrf(&session))
            (product_form(&state, Some(product), Some(&entry.definition_tag)))
            div class="actions" { button type="submit" { "Save changes" } }
        }
        form method="post" action=(format!("/admin/products/{id}/archive")) class="card inline"
            data-confirm=(format!("Archive {}? It leaves the storefront; its orders stay.", product.title.as_str())) {
            (csrf(&session))
            p class="muted" { "Archiving takes the product off the storefront; orders and stock records stay." }
            button type="submit" class="danger" { "Archive product" }
        }
    };
    Ok(page(
        product.title.as_str(),
        "Products",
        &session,
        &Flash::of(&req),
        body,
    ))
}

/// The product a form describes, as the JSON routes would receive it.
fn input_of(fields: &Fields, id: Option<String>) -> Result<ProductInput, ApiError> {
    let mut errors = Vec::new();
    let mut attributes = BTreeMap::new();
    for (n, line) in fields
        .get("attributes")
        .unwrap_or_default()
        .lines()
        .enumerate()
    {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) => {
                attributes.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            None => errors.push(FieldError::new(
                format!("attributes line {}", n + 1),
                "write name: value",
            )),
        }
    }
    let rows = fields
        .all("sku")
        .zip(fields.all("vtitle"))
        .zip(fields.all("price"))
        .zip(fields.all("currency"))
        .zip(fields.all("stock"));
    let mut variants = Vec::new();
    for (i, ((((sku, title), price), currency), stock)) in
        rows.enumerate().take(VARIANTS_MAX + SPARE_ROWS + 3)
    {
        // An empty row, or an existing one whose title was emptied: left out.
        if sku.trim().is_empty() || title.trim().is_empty() {
            continue;
        }
        let field = |name: &str| format!("variant {} ({}) {name}", i + 1, sku.trim());
        let amount = Currency::parse(currency.trim())
            .and_then(|c| Money::from_decimal(price, c))
            .map_err(|e| errors.push(FieldError::new(field("price"), e.0)))
            .map(|m| m.amount)
            .unwrap_or_default();
        let stock = match stock.trim() {
            "" => 0,
            s => s.parse::<u64>().unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    field("initial stock"),
                    "a whole number of units",
                ));
                0
            }),
        };
        variants.push(VariantInput {
            sku: sku.trim().to_owned(),
            title: title.trim().to_owned(),
            price: PriceInput {
                amount,
                currency: currency.trim().to_uppercase(),
            },
            stock,
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let category = fields
        .filled("category")
        .unwrap_or(crate::catalog::DEFAULT_CATEGORY);
    Ok(ProductInput {
        id,
        title: fields.get("title").unwrap_or_default().to_owned(),
        description: fields.get("description").unwrap_or_default().to_owned(),
        category: category.to_owned(),
        attributes,
        variants,
    })
}

/// `POST /admin/products`: create.
pub async fn create(
    Signed(session): Signed,
    state: web::Data<AppState>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = checked(&session, body)?;
    let key = form_key(&fields)?;
    let made = async {
        let input = input_of(&fields, fields.filled("id").map(str::to_owned))?;
        let new = input.parse().map_err(ApiError::invalid)?;
        Ok::<_, ApiError>(state.catalog.create(new, key.as_ref()).await?.value)
    };
    match made.await {
        Ok(id) => Ok(see_other(&format!(
            "/admin/products/{id}?notice=Product%20created"
        ))),
        Err(e) => Ok(after_form("/admin/products/new", Err(e))),
    }
}

/// `POST /admin/products/{id}`: replace the definition (stock untouched).
pub async fn update(
    Signed(session): Signed,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    let fields = checked(&session, body)?;
    let id = parse_product_id(&id).map_err(failed)?;
    let back = format!("/admin/products/{id}");
    let saved = async {
        let input = input_of(&fields, None)?;
        let new = input.parse().map_err(ApiError::invalid)?;
        let tag = fields.get("tag").unwrap_or_default();
        state
            .catalog
            .replace(&id, new, |current| current == tag)
            .await?;
        Ok::<_, ApiError>("Saved".to_owned())
    };
    Ok(after_form(&back, saved.await))
}

/// `POST /admin/products/{id}/archive`.
pub async fn archive(
    Signed(session): Signed,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: FormFields,
) -> Result<HttpResponse, UiError> {
    checked(&session, body)?;
    let id = parse_product_id(&id).map_err(failed)?;
    match state.catalog.archive(&id).await {
        Ok(()) => Ok(see_other("/admin/products?notice=Product%20archived")),
        Err(e) => Ok(after_form(&format!("/admin/products/{id}"), Err(e.into()))),
    }
}
