//! Bad routes, methods and paths: unknown routes are 404, wrong methods 405
//! with `Allow`, invalid ids 400, all problem+json; no request gets a 5xx and
//! none changes the catalog.

use crate::bad_input::{app_with_one_product, assert_unchanged};
use crate::helpers::{assert_problem, header, product_body, spawn_app};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_unknown_route_returns_404_problem() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/nope",
        "/v1",
        "/v1/product",
        "/v1/products/a/b",
        "/v2/products",
        // The edges of the route scopes: a prefix alone, one segment too
        // many, a prefix that only starts the same.
        "/v1/skus",
        "/v1/skus/EX-1/purchase/again",
        "/v1/products/",
        "/v1/productsx",
        "/v1/carts/c1/unknown",
        "/v1/admin",
    ] {
        let problem = assert_problem(app.get(path).await, 404).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(path),
            "{problem}"
        );
    }
    let res = app
        .admin(Method::POST, "/v1/admin/nothing")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_returns_405_problem_with_allow() {
    let (app, before) = app_with_one_product().await;
    let cases = [
        (Method::DELETE, "/v1/products"),
        (Method::POST, "/v1/products"),
        (Method::PUT, "/v1/products/existing"),
        (Method::DELETE, "/v1/skus/EX-1"),
        (Method::GET, "/v1/admin/products"),
        (Method::GET, "/v1/admin/products/existing"),
        (Method::POST, "/healthz"),
    ];
    for (method, path) in cases {
        let res = app
            .admin(method.clone(), path)
            .json(&product_body("fresh", &["FRESH-1"]))
            .send()
            .await
            .unwrap();
        assert!(header(&res, "allow").is_some(), "{method} {path}: no Allow");
        let problem = assert_problem(res, 405).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(path),
            "{problem}"
        );
    }
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn an_invalid_path_id_returns_400_problem_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let long = "x".repeat(65);
    for bad in ["a%20b", "a%2Fb", "%C3%A9", "a%00b", &long] {
        for path in [format!("/v1/products/{bad}"), format!("/v1/skus/{bad}")] {
            assert_problem(app.get(&path).await, 400).await;
        }
        let res = app
            .admin(Method::DELETE, &format!("/v1/admin/products/{bad}"))
            .send()
            .await
            .unwrap();
        assert_problem(res, 400).await;
        let res = app
            .admin(Method::PUT, &format!("/v1/admin/products/{bad}"))
            .json(&product_body("existing", &["EX-1"]))
            .send()
            .await
            .unwrap();
        assert_problem(res, 400).await;
    }
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn a_barrage_of_bad_requests_never_gets_a_5xx_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let bodies: Vec<String> = vec![
        String::new(),
        "{}".into(),
        "[]".into(),
        "\"text\"".into(),
        "{\"title\": null}".into(),
        "{\"variants\": {}}".into(),
        "{\"title\": 5, \"category\": [], \"variants\": [null]}".into(),
        json!({"title": "T", "category": "c", "variants": [{"sku": "S", "title": "t", "price": {}}]}).to_string(),
        json!({"title": "T", "category": "c", "attributes": {"k": 1}, "variants": []}).to_string(),
        json!({"title": "T\u{0}", "category": "c", "variants": []}).to_string(),
        "\u{feff}{}".into(),
        "{\"a\":".repeat(200),
        "[".repeat(10_000),
        String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x7b]).into_owned(),
    ];
    let paths = [
        "/v1/admin/products",
        "/v1/admin/products/existing",
        "/v1/admin/products/fresh",
        "/v1/products",
        "/v1/products/existing",
        "/v1/skus/EX-1",
        "/v1/products?limit=%FF",
        "/v1/products?cursor=%00&limit=1",
        "/v1/products?limit=18446744073709551616",
        "/v1/products/..%2F..%2Fetc",
        "/%",
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    for path in paths {
        for method in &methods {
            if *method == Method::DELETE && path == "/v1/admin/products/existing" {
                continue; // a valid archive, not bad input
            }
            for body in &bodies {
                for content_type in ["application/json", "text/plain"] {
                    let res = app
                        .admin(method.clone(), path)
                        .header("Content-Type", content_type)
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = res.status();
                    assert!(
                        !status.is_server_error(),
                        "{method} {path} ({content_type}) {body:.40}: {status}"
                    );
                    if !status.is_success() && status != 304 {
                        assert_problem(res, status.as_u16()).await;
                    }
                }
            }
        }
    }
    assert_unchanged(&app, &before).await;
}
