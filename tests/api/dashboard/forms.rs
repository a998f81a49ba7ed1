//! The dashboard over plain HTTP: sessions, cookies, CSRF, redirects.

use super::web_session::{client, cookie_pair, form_body, location, set_cookies, WebSession};
use crate::helpers::{product_body, spawn_app, spawn_with, test_settings, ADMIN_TOKEN};
use reqwest::Method;
use std::sync::Arc;
use std::time::Duration;

async fn available(app: &crate::helpers::TestApp, sku: &str) -> u64 {
    let inv = app
        .admin_json(&format!("/v1/admin/skus/{sku}/inventory"))
        .await;
    inv["available"].as_u64().expect("available")
}

#[tokio::test]
async fn pages_without_a_session_redirect_303_to_sign_in_and_forms_change_nothing() {
    let app = spawn_app().await;
    app.created(&product_body("p1", &["P1-A"])).await;
    let c = client();
    for path in [
        "/admin",
        "/admin/orders?status=paid",
        "/admin/products",
        "/admin/live",
    ] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert!(
            location(&res).starts_with("/admin/sign-in?next=%2Fadmin"),
            "{path}"
        );
    }
    let res = c
        .post(app.url("/admin/inventory/P1-A/restock"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("quantity", "5")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(available(&app, "P1-A").await, 10);
    // The stylesheet and script need no session (the sign-in page uses them).
    let css = c
        .get(app.url("/admin/assets/admin.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test]
async fn signing_in_sets_an_httponly_samesite_strict_cookie_with_an_expiry() {
    let app = spawn_app().await;
    let session = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let attributes: Vec<&str> = session.set_cookie.split(';').map(str::trim).collect();
    for wanted in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=28800",
    ] {
        assert!(
            attributes.contains(&wanted),
            "{wanted} in {}",
            session.set_cookie
        );
    }
    assert!(
        !attributes.contains(&"Secure"),
        "plain HTTP, not configured"
    );
    let page = session.get("/admin").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    // The bearer API is as it was: a session cookie is no admin token.
    let res = app
        .request(Method::GET, "/v1/admin/stats")
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.admin(Method::GET, "/v1/admin/stats")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_wrong_token_is_401_and_a_sign_in_without_its_form_token_is_403() {
    let app = spawn_app().await;
    let refused = WebSession::sign_in(&app, "not-the-token")
        .await
        .expect_err("refused");
    assert_eq!(refused.status(), 401);
    assert!(cookie_pair(&set_cookies(&refused), "surge_admin_session").is_none());
    // A cross-site post has neither the nonce cookie nor its signed token.
    let c = client();
    let post = |fields: Vec<(&'static str, &'static str)>, cookie: Option<&'static str>| {
        let mut req = c
            .post(app.url("/admin/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&fields));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.send()
    };
    let res = post(vec![("token", ADMIN_TOKEN)], None).await.unwrap();
    assert_eq!(res.status(), 403);
    let res = post(
        vec![("token", ADMIN_TOKEN), ("csrf", "forged")],
        Some("surge_admin_sign_in=abc"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    assert!(cookie_pair(&set_cookies(&res), "surge_admin_session").is_none());
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    app.created(&product_body("p1", &["P1-A"])).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let path = "/admin/inventory/P1-A/restock";
    let missing = s.post(path, &[("quantity", "5")]).await;
    assert_eq!(missing.status(), 403);
    let wrong = s
        .post(path, &[("quantity", "5"), ("csrf", "0123456789abcdef")])
        .await;
    assert_eq!(wrong.status(), 403);
    assert!(wrong.text().await.unwrap().contains("Form refused"));
    assert_eq!(available(&app, "P1-A").await, 10);
    // The right token, twice with one form's key: restocked once.
    let fields = [
        ("quantity", "5"),
        ("csrf", s.csrf.as_str()),
        ("idem", "ui-form-1"),
    ];
    for _ in 0..2 {
        let ok = s.post(path, &fields).await;
        assert_eq!(ok.status(), 303);
        assert!(
            location(&ok).starts_with("/admin/inventory/P1-A?notice="),
            "{}",
            location(&ok)
        );
    }
    assert_eq!(available(&app, "P1-A").await, 15);
    // Signing out needs the token too.
    assert_eq!(s.post("/admin/sign-out", &[]).await.status(), 403);
    assert_eq!(s.get("/admin").await.status(), 200);
}

#[tokio::test]
async fn an_expired_or_signed_out_session_is_refused() {
    let app = spawn_app().await;
    app.created(&product_body("p1", &["P1-A"])).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    app.advance(Duration::from_secs(8 * 3600 - 10));
    assert_eq!(s.get("/admin/products").await.status(), 200);
    app.advance(Duration::from_secs(11));
    let res = s.get("/admin/products").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/admin/sign-in"));
    let res = s
        .post(
            "/admin/inventory/P1-A/restock",
            &[("quantity", "5"), ("csrf", s.csrf.as_str())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(available(&app, "P1-A").await, 10);

    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let out = s
        .post("/admin/sign-out", &[("csrf", s.csrf.as_str())])
        .await;
    assert_eq!(out.status(), 303);
    let cleared = set_cookies(&out);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("surge_admin_session=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(
        s.get("/admin").await.status(),
        303,
        "the old cookie opens nothing"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_when_configured_and_admin_pages_are_not_in_the_api_document() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.admin_ui.secure_cookies = true;
    settings.admin_ui.session_ttl_secs = 600;
    let app = spawn_with(settings, dir, Some(ADMIN_TOKEN)).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    assert!(s.set_cookie.contains("; Secure"), "{}", s.set_cookie);
    assert!(s.set_cookie.contains("Max-Age=600"), "{}", s.set_cookie);
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|p| !p.starts_with("/admin")),
        "{:?}",
        paths.keys()
    );
}

#[tokio::test]
async fn a_product_made_and_edited_in_the_dashboard_is_the_apis_product() {
    let app = spawn_app().await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let csrf = s.csrf.clone();
    let res = s
        .post(
            "/admin/products",
            &[
                ("csrf", &csrf),
                ("idem", "ui-new-1"),
                ("id", "mug"),
                ("title", "Enamel mug"),
                ("description", "Holds coffee."),
                ("category", "kitchen"),
                ("attributes", "brand: Acme\ncolour: teal"),
                ("sku", "MUG-S"),
                ("vtitle", "Small"),
                ("price", "12.50"),
                ("currency", "EUR"),
                ("stock", "7"),
                ("sku", ""),
                ("vtitle", ""),
                ("price", ""),
                ("currency", "EUR"),
                ("stock", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", location(&res));
    assert_eq!(
        location(&res),
        "/admin/products/mug?notice=Product%20created"
    );
    let product: serde_json::Value = app.get("/v1/products/mug").await.json().await.unwrap();
    assert_eq!(product["variants"][0]["price"]["amount"], 1250);
    assert_eq!(product["attributes"]["colour"], "teal");
    assert_eq!(available(&app, "MUG-S").await, 7);
    // A bad price is refused with its reason, and nothing changes.
    let edit = s.get("/admin/products/mug").await.text().await.unwrap();
    let tag = super::web_session::hidden(&edit, "tag").expect("tag");
    let fields = |price: &'static str| -> Vec<(&'static str, String)> {
        let mut f = vec![("csrf", csrf.clone()), ("tag", tag.clone())];
        for (name, value) in [
            ("title", "Enamel mug"),
            ("sku", "MUG-S"),
            ("vtitle", "Small"),
            ("price", price),
            ("currency", "EUR"),
            ("stock", "0"),
            ("sku", "MUG-L"),
            ("vtitle", "Large"),
            ("price", "15"),
            ("currency", "EUR"),
            ("stock", "3"),
        ] {
            f.push((name, value.to_owned()));
        }
        f
    };
    let bad = fields("12,5");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = s.post("/admin/products/mug", &bad).await;
    assert!(location(&res).contains("error="), "{}", location(&res));
    let good = fields("13.00");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = s.post("/admin/products/mug", &good).await;
    assert_eq!(location(&res), "/admin/products/mug?notice=Saved");
    let product: serde_json::Value = app.get("/v1/products/mug").await.json().await.unwrap();
    assert_eq!(product["variants"][0]["price"]["amount"], 1300);
    assert_eq!(product["variants"][1]["sku"], "MUG-L");
    assert_eq!(
        available(&app, "MUG-S").await,
        7,
        "an edit leaves stock alone"
    );
    // The same form again is stale: its tag is no longer the product's.
    let res = s.post("/admin/products/mug", &good).await;
    assert!(location(&res).contains("error="), "{}", location(&res));
    // Search by SKU finds it.
    let found = s.get("/admin/products?q=mug-l").await.text().await.unwrap();
    assert!(found.contains("/admin/products/mug"));
}

#[tokio::test]
async fn orders_move_and_webhooks_register_through_the_dashboards_forms() {
    let app = spawn_app().await;
    app.created(&product_body("p1", &["P1-A"])).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let csrf = s.csrf.as_str();
    let res = crate::inventory::purchase(&app, "P1-A", "form-buy", "bob", 1).await;
    let order: serde_json::Value = res.json().await.unwrap();
    let id = order["order_id"].as_str().unwrap().to_owned();
    assert_eq!(crate::orders::pay(&app, &id, "tok_ok").await.status(), 200);
    let listed = s
        .get("/admin/orders?status=paid")
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&id));
    // A refund needs its confirmation ticked.
    let res = s
        .post(
            &format!("/admin/orders/{id}/refund"),
            &[("csrf", csrf), ("idem", "ui-r1")],
        )
        .await;
    assert!(
        location(&res).starts_with(&format!("/admin/orders/{id}/refund?error=")),
        "{}",
        location(&res)
    );
    for (step, status) in [
        ("fulfil", "fulfilled"),
        ("ship", "shipped"),
        ("deliver", "delivered"),
    ] {
        let res = s
            .post(
                &format!("/admin/orders/{id}/{step}"),
                &[("csrf", csrf), ("idem", step)],
            )
            .await;
        assert_eq!(
            location(&res),
            format!("/admin/orders/{id}?notice=Order%20is%20{status}")
        );
    }
    let api: serde_json::Value = app
        .get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "delivered");
    let res = s
        .post(&format!("/admin/orders/{id}/ship"), &[("csrf", csrf)])
        .await;
    assert!(
        location(&res).contains("error="),
        "an illegal move is refused: {}",
        location(&res)
    );

    let res = s
        .post(
            "/admin/webhooks",
            &[
                ("csrf", csrf),
                ("idem", "ui-w1"),
                ("url", "http://127.0.0.1:9/hooks"),
                ("secret", "whsec_0123456789"),
                ("events", "order.paid"),
                ("events", "order.refunded"),
            ],
        )
        .await;
    let hook_page = location(&res);
    assert!(hook_page.starts_with("/admin/webhooks/wh_"), "{hook_page}");
    let hooks = app.admin_json("/v1/admin/webhooks").await;
    assert_eq!(
        hooks["items"][0]["events"],
        serde_json::json!(["order.paid", "order.refunded"])
    );
    let detail = s.get(&hook_page).await.text().await.unwrap();
    assert!(
        detail.contains("http://127.0.0.1:9/hooks")
            && detail.contains("None: every event got through.")
    );
    let hook = hooks["items"][0]["id"].as_str().unwrap();
    let res = s
        .post(&format!("/admin/webhooks/{hook}/replay"), &[("csrf", csrf)])
        .await;
    assert_eq!(
        location(&res),
        format!("/admin/webhooks/{hook}?notice=Replayed%200%3B%200%20left")
    );
    let res = s
        .post(&format!("/admin/webhooks/{hook}/delete"), &[("csrf", csrf)])
        .await;
    assert_eq!(location(&res), "/admin/webhooks?notice=Webhook%20removed");
    assert_eq!(
        app.admin_json("/v1/admin/webhooks").await["items"],
        serde_json::json!([])
    );
}
