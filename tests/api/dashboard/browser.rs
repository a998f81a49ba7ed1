//! The dashboard in a real browser (headless chromium over WebDriver): a
//! merchant signs in, creates a product, restocks it, watches a purchase
//! made over the API reach the overview, refunds an order, takes a backup
//! and signs out; a tampered form and an expired session are refused.

use super::webdriver::Browser;
use crate::helpers::{spawn_app, TestApp, ADMIN_TOKEN};
use crate::inventory::purchase;
use crate::orders::pay;
use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    let found = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await;
    match found {
        Ok(element) => element,
        Err(e) => panic!("no {css} on {:?}: {e}", c.current_url().await.ok()),
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let input = find(c, css).await;
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.expect("click");
}

async fn path(c: &Client) -> String {
    c.current_url().await.expect("url").path().to_owned()
}

/// The text of `css` once `ok` accepts it, within `within`.
async fn text_when(c: &Client, css: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = match c.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ok(&text) {
            return text;
        }
        if Instant::now() >= deadline {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = c.source().await.unwrap_or_default();
            panic!("{css} still reads {text:?} after {within:?} on {url}:\n{source}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn notice(c: &Client) -> String {
    text_when(c, ".flash", Duration::from_secs(10), |t| !t.is_empty()).await
}

async fn sign_in(c: &Client, app: &TestApp) {
    fill(c, "#token", ADMIN_TOKEN).await;
    click(c, "main form button[type=submit]").await;
    text_when(c, "h1", Duration::from_secs(10), |t| {
        !t.ends_with("surge") && !t.is_empty()
    })
    .await;
    assert!(
        !path(c).await.starts_with("/admin/sign-in"),
        "still at sign-in on {}",
        app.address
    );
}

async fn create_and_restock(c: &Client, app: &TestApp) {
    c.goto(&app.url("/admin/products/new")).await.unwrap();
    fill(c, "input[name=id]", "aurora").await;
    fill(c, "input[name=title]", "Aurora trail runner").await;
    fill(c, "input[name=sku]", "AUR-42").await;
    fill(c, "input[name=vtitle]", "EU 42").await;
    fill(c, "input[name=price]", "129.00").await;
    click(c, "main form button[type=submit]").await;
    assert_eq!(notice(c).await, "Product created");
    assert_eq!(path(c).await, "/admin/products/aurora");

    c.goto(&app.url("/admin/inventory/AUR-42")).await.unwrap();
    fill(c, "form[action$='/restock'] input[name=quantity]", "50").await;
    click(c, "form[action$='/restock'] button").await;
    assert_eq!(notice(c).await, "Restocked 50; 50 available");
}

/// Milliseconds since the epoch, the clock the page's `Date.now()` reads.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Once `css` reads what `ok` accepts (within 10 s), how many ms after
/// `since` the page changed it, by the page's own stamp (`data-at`): the
/// dashboard's latency, not this test's polling of it.
async fn shown_after(c: &Client, css: &str, since: u64, ok: impl Fn(&str) -> bool) -> u64 {
    text_when(c, css, Duration::from_secs(10), ok).await;
    let at = find(c, css).await.attr("data-at").await.expect("attribute");
    let at: u64 = at
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("{css} has no data-at stamp"));
    at.saturating_sub(since)
}

/// A purchase over the API shows on the overview (stock and orders) within
/// two seconds, as the page stamps its changes; the order's id.
async fn purchase_shows_live(c: &Client, app: &TestApp) -> String {
    c.goto(&app.url("/admin")).await.unwrap();
    text_when(c, ".live", Duration::from_secs(10), |t| t == "Live").await;
    let res = purchase(app, "AUR-42", "browser-buy-1", "alice", 2).await;
    assert_eq!(res.status(), 201);
    let bought = epoch_ms();
    let order: serde_json::Value = res.json().await.unwrap();
    let stock = shown_after(c, "tr[data-sku='AUR-42'] .stock", bought, |t| t == "48").await;
    let orders = shown_after(c, "[data-metric=orders_per_min]", bought, |t| {
        t.parse::<u64>().is_ok_and(|n| n >= 1)
    })
    .await;
    assert!(
        stock <= 2_000 && orders <= 2_000,
        "shown {stock} ms (stock) and {orders} ms (orders) after the purchase"
    );
    order["order_id"].as_str().expect("order id").to_owned()
}

async fn refund(c: &Client, app: &TestApp, order: &str) {
    assert_eq!(pay(app, order, "tok_ok").await.status(), 200);
    c.goto(&app.url("/admin/orders?status=paid")).await.unwrap();
    click(c, &format!("a[href='/admin/orders/{order}']")).await;
    click(c, "a[href$='/refund']").await;
    click(c, "input[name=confirm]").await;
    click(c, "main form button.danger").await;
    assert_eq!(notice(c).await, "Order is refunded");
    let api: serde_json::Value = app
        .get(&format!("/v1/orders/{order}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "refunded");
}

/// "Take a backup now" makes the API's backup, listed on the page.
async fn take_a_backup(c: &Client, app: &TestApp) {
    c.goto(&app.url("/admin/backups")).await.unwrap();
    click(c, "form[action='/admin/backups'] button").await;
    let said = notice(c).await;
    let listed = app.admin_json("/v1/admin/backups").await;
    let id = listed["items"][0]["id"].as_str().expect("a backup");
    assert_eq!(said, format!("Backup {id} taken"));
    text_when(c, "main table tbody", Duration::from_secs(10), |t| {
        t.contains(id)
    })
    .await;
}

#[tokio::test]
async fn a_merchant_runs_a_sale_from_the_dashboard_in_a_real_browser() {
    let app = spawn_app().await;
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;

    c.goto(&app.url("/admin/orders")).await.unwrap();
    assert_eq!(
        path(c).await,
        "/admin/sign-in",
        "no session: sent to sign in"
    );
    sign_in(c, &app).await;
    assert_eq!(
        path(c).await,
        "/admin/orders",
        "and back where it was going"
    );

    create_and_restock(c, &app).await;
    let order = purchase_shows_live(c, &app).await;
    refund(c, &app, &order).await;
    take_a_backup(c, &app).await;

    // A form whose CSRF token was tampered with is refused; nothing changes.
    c.goto(&app.url("/admin/inventory/AUR-42")).await.unwrap();
    c.execute(
        "document.querySelector(\"form[action$='/restock'] input[name=csrf]\").value = 'forged';",
        vec![],
    )
    .await
    .unwrap();
    fill(c, "form[action$='/restock'] input[name=quantity]", "5").await;
    click(c, "form[action$='/restock'] button").await;
    text_when(c, "h1", Duration::from_secs(10), |t| t == "Form refused").await;
    let inv = app.admin_json("/v1/admin/skus/AUR-42/inventory").await;
    assert_eq!(inv["stocked"], 50);

    // Sign out: back to the sign-in page, and the dashboard is closed.
    c.goto(&app.url("/admin")).await.unwrap();
    click(c, ".sign-out button").await;
    text_when(c, "main p.muted", Duration::from_secs(10), |t| {
        t == "Sign in to the merchant dashboard."
    })
    .await;
    c.goto(&app.url("/admin/products")).await.unwrap();
    assert_eq!(path(c).await, "/admin/sign-in");

    // An expired session is refused the same way.
    sign_in(c, &app).await;
    c.goto(&app.url("/admin/products")).await.unwrap();
    assert_eq!(path(c).await, "/admin/products");
    app.advance(Duration::from_secs(8 * 3600 + 1));
    c.refresh().await.unwrap();
    assert_eq!(path(c).await, "/admin/sign-in");
    browser.close().await;
}

#[tokio::test]
async fn the_dashboard_fits_a_phone_and_is_usable_by_keyboard() {
    let app = spawn_app().await;
    let browser = Browser::start(390, 844).await;
    let c = &browser.client;
    c.goto(&app.url("/admin")).await.unwrap();
    sign_in(c, &app).await;
    for page in [
        "/admin",
        "/admin/products/new",
        "/admin/orders",
        "/admin/webhooks",
        "/admin/inventory",
        "/admin/backups",
    ] {
        c.goto(&app.url(page)).await.unwrap();
        let overflow = c
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().is_some_and(|px| px <= 0),
            "{page} scrolls sideways by {overflow}px"
        );
        // Every form control has a label (its own <label>, or aria-label).
        let unlabelled = c
            .execute(
                "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                   .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                   .map(e => e.name);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unlabelled, serde_json::json!([]), "{page}");
    }
    // Tab reaches the skip link first, then the navigation.
    c.goto(&app.url("/admin/orders")).await.unwrap();
    let body = find(c, "body").await;
    body.send_keys("\u{E004}").await.unwrap();
    let first = c
        .execute("return document.activeElement.textContent;", vec![])
        .await
        .unwrap();
    assert_eq!(first, "Skip to content");
    browser.close().await;
}

/// The README's screenshot: the overview during a sale of five SKUs (one
/// sells out), taken by the browser after about forty seconds of buying.
/// `SURGE_SCREENSHOT=docs/admin-overview.png cargo test --test api
/// dashboard::browser::overview_screenshot -- --ignored` refreshes it
/// (without the variable it goes to `target/admin-overview.png`).
#[tokio::test]
#[ignore = "takes 50 s to run a sale for the README's screenshot"]
async fn overview_screenshot() {
    let app = spawn_app().await;
    let drop = [
        (
            "aurora",
            "Aurora trail runner",
            "AUR-42",
            "EU 42",
            12900,
            400,
        ),
        (
            "aurora-43",
            "Aurora trail runner",
            "AUR-43",
            "EU 43",
            12900,
            300,
        ),
        (
            "nimbus",
            "Nimbus hoodie",
            "NIM-M",
            "Medium / Slate",
            7900,
            250,
        ),
        ("tote", "Canvas tote", "TOTE-SAND", "Sand", 2400, 500),
        ("cap", "Six-panel cap", "CAP-BLK", "Black", 2900, 60),
    ];
    for (id, title, sku, variant, price, stock) in drop {
        let body = serde_json::json!({"id": id, "title": title, "variants": [
            {"sku": sku, "title": variant, "price": {"amount": price, "currency": "EUR"}, "stock": stock}]});
        app.created(&body).await;
    }
    let browser = Browser::start(1440, 960).await;
    let c = &browser.client;
    c.goto(&app.url("/admin")).await.unwrap();
    sign_in(c, &app).await;
    text_when(c, ".live", Duration::from_secs(10), |t| t == "Live").await;
    // Buyers arrive in a wave: slow, a rush, then tailing off; the hottest
    // SKUs take most of them.
    let weights = [
        ("AUR-42", 5),
        ("AUR-43", 3),
        ("NIM-M", 2),
        ("TOTE-SAND", 1),
        ("CAP-BLK", 2),
    ];
    let picks: Vec<&str> = weights
        .iter()
        .flat_map(|(s, w)| std::iter::repeat_n(*s, *w))
        .collect();
    let mut n = 0u64;
    for second in 0..42u64 {
        let rate = match second {
            0..=9 => 4 + second,
            10..=24 => 20 + (second - 10) * 3,
            _ => 60u64.saturating_sub((second - 24) * 3),
        };
        let started = Instant::now();
        let buys = (0..rate).map(|_| {
            n += 1;
            let sku = picks[(n as usize * 7) % picks.len()];
            let key = format!("shot-{n}");
            let customer = format!("buyer-{n}");
            let app = &app;
            async move { purchase(app, sku, &key, &customer, 1).await.status() }
        });
        futures_util::future::join_all(buys).await;
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let png = c.screenshot().await.expect("screenshot");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::var_os("SURGE_SCREENSHOT")
        .map_or_else(|| root.join("target/admin-overview.png"), |p| root.join(p));
    std::fs::write(&path, png).unwrap();
    browser.close().await;
}
