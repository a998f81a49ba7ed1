//! Admin authentication: `Authorization: Bearer <token>` or a 401 problem
//! with `WWW-Authenticate`, and nothing changed; the generated token file.

use crate::helpers::{
    assert_problem, catalog_state, header, json_body, product_body, spawn_app, spawn_with,
    test_settings, TestApp, ADMIN_TOKEN,
};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use std::sync::Arc;

/// Authorization header values that must not open admin routes; `None` is no header.
const REFUSED: &[Option<&str>] = &[
    None,
    Some(""),
    Some("Bearer"),
    Some("Bearer "),
    Some("Bearer wrong-token"),
    Some("Bearer test-admin-toke"),
    Some("Bearer test-admin-token-and-more"),
    Some("test-admin-token"),
    Some("Token test-admin-token"),
    Some("Basic dGVzdC1hZG1pbi10b2tlbjo="),
    Some("Basic YWRtaW46dGVzdC1hZG1pbi10b2tlbg=="),
];

fn with_authorization(req: RequestBuilder, value: Option<&str>) -> RequestBuilder {
    match value {
        Some(v) => req.header("Authorization", v),
        None => req,
    }
}

/// The three admin catalog writes, each valid apart from its credentials.
fn writes(app: &TestApp) -> Vec<(&'static str, RequestBuilder)> {
    let mut replacement = product_body("guarded", &["G-1"]);
    replacement["title"] = "Changed".into();
    replacement["variants"][0]
        .as_object_mut()
        .unwrap()
        .remove("stock");
    vec![
        (
            "POST",
            app.request(Method::POST, "/v1/admin/products")
                .json(&product_body("intruder", &["INTR-1"])),
        ),
        (
            "PUT",
            app.request(Method::PUT, "/v1/admin/products/guarded")
                .json(&replacement),
        ),
        (
            "DELETE",
            app.request(Method::DELETE, "/v1/admin/products/guarded"),
        ),
    ]
}

async fn assert_unauthorized(res: Response, what: &str) {
    let challenge = header(&res, "www-authenticate")
        .unwrap_or_else(|| panic!("{what}: 401 without WWW-Authenticate"));
    assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
    let problem = assert_problem(res, 401).await;
    assert!(
        !problem["detail"].as_str().unwrap().contains(ADMIN_TOKEN),
        "{what}: the token leaks in {problem}"
    );
}

#[tokio::test]
async fn admin_writes_without_the_right_bearer_token_return_401_and_change_nothing() {
    let app = spawn_app().await;
    app.created(&product_body("guarded", &["G-1"])).await;
    let probe = [
        "/v1/products/guarded",
        "/v1/products/intruder",
        "/v1/skus/G-1",
        "/v1/skus/INTR-1",
    ];
    let before = catalog_state(&app, &probe).await;

    for value in REFUSED {
        for (method, req) in writes(&app) {
            let res = with_authorization(req, *value).send().await.unwrap();
            assert_unauthorized(res, &format!("{method} with {value:?}")).await;
        }
    }
    assert_eq!(catalog_state(&app, &probe).await, before);
}

#[tokio::test]
async fn an_unauthenticated_request_with_a_bad_body_gets_401_not_400() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/v1/admin/products")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_unauthorized(res, "bad body").await;
    let res = app
        .request(Method::PUT, "/v1/admin/products/a%20b")
        .send()
        .await
        .unwrap();
    assert_unauthorized(res, "bad path").await;
}

#[tokio::test]
async fn admin_writes_with_the_right_bearer_token_succeed() {
    let app = spawn_app().await;
    let authorized =
        |req: RequestBuilder| req.header("Authorization", format!("Bearer {ADMIN_TOKEN}"));
    let res = authorized(app.request(Method::POST, "/v1/admin/products"))
        .json(&product_body("guarded", &["G-1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    for (method, req) in writes(&app).into_iter().skip(1) {
        let res = authorized(req).send().await.unwrap();
        assert!(res.status().is_success(), "{method}: {}", res.status());
    }
    assert_problem(app.get("/v1/products/guarded").await, 410).await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["bearer", "BEARER"] {
        let res = app
            .request(Method::POST, "/v1/admin/products")
            .header("Authorization", format!("{scheme} {ADMIN_TOKEN}"))
            .json(&product_body(
                &format!("p-{scheme}"),
                &[&format!("S-{scheme}")],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{scheme}");
    }
}

#[tokio::test]
async fn every_admin_route_in_the_openapi_document_requires_the_token() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/openapi.json").await, 200).await;
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/v1/admin")) {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let what = format!("{method} {path} with a wrong token");
            let res = app
                .request(method.clone(), &concrete)
                .bearer_auth("wrong")
                .json(&Value::Object(Default::default()))
                .send()
                .await
                .unwrap();
            assert_unauthorized(res, &what).await;
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} admin operations documented");
}

#[cfg(unix)]
#[tokio::test]
async fn without_a_configured_token_one_is_generated_into_a_0600_file_and_accepted() {
    use std::os::unix::fs::PermissionsExt;

    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_with(test_settings(dir.path()), dir.clone(), None).await;
    let path = dir.path().join("admin_token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode {mode:o}");
    let token = std::fs::read_to_string(&path).unwrap();
    let token = token.trim();
    assert!(token.len() >= 32, "a short token: {} chars", token.len());
    assert_ne!(token, ADMIN_TOKEN);

    let res = app
        .request(Method::POST, "/v1/admin/products")
        .bearer_auth(token)
        .json(&product_body("minted", &["MINT-1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .request(Method::DELETE, "/v1/admin/products/minted")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_unauthorized(res, "the test token on a generated-token server").await;

    // The next start on the same store reuses the file's token.
    let (settings, dir) = app.stop().await;
    let app = spawn_with(settings, dir, None).await;
    assert_eq!(app.admin_token.trim(), token);
    let res = app
        .request(Method::DELETE, "/v1/admin/products/minted")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}
