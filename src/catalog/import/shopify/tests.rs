//! Shopify CSV rows grouped into products, and refused rows named.

use super::super::csv_rows::CsvRecords;
use super::super::Parsed;
use super::ShopifyCsv;
use crate::domain::Currency;

const HEADER: &str = "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,\
Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Grams,\
Variant Inventory Qty,Variant Price,Image Src\n";

fn parse(body: &str) -> Result<Vec<Parsed>, String> {
    let mut records = Vec::new();
    let mut csv = CsvRecords::default();
    csv.feed(body.as_bytes(), &mut records);
    csv.finish(&mut records);
    let mut shopify = ShopifyCsv::new(Currency::parse("USD").unwrap());
    let mut out = Vec::new();
    for record in records {
        shopify.record(record, &mut out)?;
    }
    shopify.finish(&mut out);
    Ok(out)
}

#[test]
fn rows_of_a_handle_are_one_product_with_a_variant_per_row() {
    let body = format!(
        "{HEADER}\
tee,Cotton Tee,\"<p>Soft.</p>\r\n<p>Warm.</p>\",Acme,,Shirts,\"summer, cotton\",TRUE,Size,S,Color,Red,TEE-S,200,5,19.99,http://img/1\n\
tee,,,,,,,,,M,,Red,TEE-M,200,-2,19.99,\n\
tee,,,,,,,,,L,,Blue,TEE-L,200,0,21,\n\
tee,,,,,,,,,,,,,,,,http://img/2\n\
mug,Mug,,,,,,TRUE,Title,Default Title,,,MUG-1,300,12,8.5,\n"
    );
    let parsed = parse(&body).unwrap();
    assert_eq!(parsed.len(), 2);
    let Parsed::Product { row, product } = &parsed[0] else {
        panic!("the tee is a product")
    };
    assert_eq!(*row, 2);
    assert_eq!(product.id.as_ref().unwrap().as_str(), "tee");
    assert_eq!(product.category.as_str(), "Shirts");
    assert_eq!(product.description.as_str(), "<p>Soft.</p>\n<p>Warm.</p>");
    let attribute = |k: &str| {
        product
            .attributes
            .iter()
            .find(|(key, _)| key.as_str() == k)
            .map(|(_, v)| v.as_str().to_owned())
    };
    assert_eq!(attribute("vendor").as_deref(), Some("Acme"));
    assert_eq!(attribute("tags").as_deref(), Some("summer, cotton"));
    let variants: Vec<(&str, &str, i64, u64)> = product
        .variants
        .iter()
        .map(|v| {
            (
                v.sku.as_str(),
                v.title.as_str(),
                v.price.amount,
                v.initial_stock,
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            ("TEE-S", "S / Red", 1999, 5),
            ("TEE-M", "M / Red", 1999, 0),
            ("TEE-L", "L / Blue", 2100, 0)
        ]
    );
    assert_eq!(product.variants[0].price.currency.as_str(), "USD");
    let Parsed::Product { product: mug, .. } = &parsed[1] else {
        panic!("the mug is a product")
    };
    assert_eq!(
        mug.variants[0].title.as_str(),
        "Mug",
        "Default Title is the product's"
    );
    assert_eq!(mug.category.as_str(), "uncategorized");
}

#[test]
fn a_malformed_row_refuses_its_product_with_every_row_named_and_not_the_others() {
    let body = format!(
        "{HEADER}\
hat,Hat,,,,,,TRUE,Size,S,,,HAT-S,1,1,9.00,\n\
hat,,,,,,,,,M,,,HAT-M,1,1,nine,\n\
cap,Cap,,,,,,TRUE,,,,,CAP-1,1,1,5.00\n\
sock,Sock,,,,,,TRUE,,,,,SOCK-1,1,1,3.00,\n"
    );
    let parsed = parse(&body).unwrap();
    let refused: Vec<(u64, &str, &str)> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Refused(r) => Some((
                r.row,
                r.id.as_deref().unwrap_or(""),
                r.errors[0].field.as_str(),
            )),
            Parsed::Product { .. } => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            (2, "hat", "Handle"),
            (3, "hat", "Variant Price"),
            (4, "cap", "")
        ]
    );
    let products: Vec<&str> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Product { product, .. } => product.id.as_ref().map(|id| id.as_str()),
            Parsed::Refused(_) => None,
        })
        .collect();
    assert_eq!(products, ["sock"]);
}

#[test]
fn validation_errors_are_named_by_row_and_column() {
    let body = format!(
        "{HEADER}\
bad,,,,,,,TRUE,Size,S,,,OK-1,1,1,1.00,\n\
bad,,,,,,,,,M,,,no/slash,1,1,1.00,\n"
    );
    let parsed = parse(&body).unwrap();
    let named: Vec<(u64, String)> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Refused(r) => Some((r.row, r.errors[0].field.clone())),
            Parsed::Product { .. } => None,
        })
        .collect();
    assert_eq!(
        named,
        [(2, "Title".to_owned()), (3, "Variant SKU".to_owned())]
    );
}

#[test]
fn a_csv_without_shopify_columns_is_not_read() {
    let err = match parse("sku,price\nA,1\n") {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    assert!(err.contains("'Handle'"), "{err}");
}
