//! What the load generator asks for. Every run creates its own SKUs (named
//! with a random run id) so that a run against a live server starts from a
//! known state and its invariant check covers exactly what it touched.

use super::client::Call;
use super::shopper::{Draw, Mix, Shopper, Step};
use bytes::Bytes;
use hyper::Method;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// One hot SKU with `--stock` units: buy until sold out, then a moment more.
    FlashSale,
    /// Purchases spread over `--skus` SKUs: no contention.
    Spread,
    /// Catalog reads: product list, product, SKU.
    Browse,
    /// A storefront: browse, view products, fill carts, check out, pay
    /// flash-sale orders, in the proportions of `--mix`.
    Mixed,
    /// A drop through a waiting room: humans who wait as told and bots
    /// that do not (`--humans`, `--bot-ratio`, `--admit-per-sec`); who got
    /// the `--stock` units, and in which order.
    Drop,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::FlashSale => "flash-sale",
            Self::Spread => "spread",
            Self::Browse => "browse",
            Self::Mixed => "mixed",
            Self::Drop => "drop",
        }
    }
}

/// Variants per setup product: few for browsing, like a real catalog page;
/// the catalog's maximum for purchases, so that setup needs few calls.
const BROWSE_VARIANTS: usize = 4;
const PURCHASE_VARIANTS: usize = 100;

/// The SKUs of one run and how requests are built for them.
pub struct Plan {
    pub scenario: Scenario,
    run: String,
    pub skus: usize,
    pub mix: Mix,
    /// Every request is `GET` of this path (a baseline run): no SKUs.
    fixed: Option<String>,
}

impl Plan {
    pub fn new(scenario: Scenario, skus: usize, mix: Mix) -> Self {
        let mut bytes = [0u8; 4];
        // Run ids only keep runs apart; a clock-based fallback is fine.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = (crate::clock::Clock::now_ms(&crate::clock::SystemClock) as u32).to_be_bytes();
        }
        let skus = match scenario {
            Scenario::FlashSale | Scenario::Drop => 1,
            Scenario::Spread | Scenario::Browse | Scenario::Mixed => skus.max(1),
        };
        Self {
            scenario,
            run: hex::encode(bytes),
            skus,
            mix,
            fixed: None,
        }
    }

    /// A baseline run: `GET path` over and over, counted as reads.
    pub fn fixed(path: String) -> Self {
        Self {
            fixed: Some(path),
            ..Self::new(Scenario::Browse, 1, Mix::default())
        }
    }

    /// The run's id, which its SKUs (and a drop's customers) carry.
    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// The SKU with index `i` (the hot SKU is index 0 of a flash sale).
    pub fn sku(&self, i: usize) -> String {
        match self.scenario {
            Scenario::FlashSale | Scenario::Drop => format!("B{}-HOT", self.run),
            _ => format!("B{}-{i}", self.run),
        }
    }

    fn variants_per_product(&self) -> usize {
        match self.scenario {
            Scenario::Browse | Scenario::Mixed => BROWSE_VARIANTS,
            _ => PURCHASE_VARIANTS,
        }
    }

    fn product(&self, p: usize) -> String {
        format!("bench-{}-{p}", self.run)
    }

    /// Admin bodies creating every SKU of the run with `stock` units each.
    pub fn setup_products(&self, stock: u64) -> Vec<Bytes> {
        let per = self.variants_per_product();
        (0..self.skus.div_ceil(per))
            .map(|p| {
                let variants: Vec<_> = (p * per..((p + 1) * per).min(self.skus))
                    .map(|i| {
                        json!({"sku": self.sku(i), "title": format!("Variant {i}"),
                        "price": {"amount": 1999, "currency": "EUR"}, "stock": stock})
                    })
                    .collect();
                let body = json!({"id": self.product(p), "title": format!("Bench product {p}"),
                    "category": "bench", "variants": variants});
                Bytes::from(body.to_string())
            })
            .collect()
    }

    /// The `seq`-th request of connection `conn` (whose session is
    /// `shopper`), and what it does.
    pub fn call(&self, conn: usize, seq: u64, shopper: &Shopper) -> (Call, Step) {
        if let Some(path) = &self.fixed {
            return (Call::get(path.clone()), Step::Read);
        }
        let spread = |n: u64| (n.wrapping_mul(2_654_435_761) % self.skus as u64) as usize;
        let i = spread(seq.wrapping_mul(1_000_003).wrapping_add(conn as u64));
        match self.scenario {
            Scenario::FlashSale | Scenario::Drop => {
                (self.purchase(0, conn, seq), Step::Purchase(0))
            }
            Scenario::Spread => (self.purchase(i, conn, seq), Step::Purchase(i)),
            Scenario::Browse => (
                self.read(seq, spread(seq.wrapping_add(conn as u64))),
                Step::Read,
            ),
            Scenario::Mixed => {
                let roll = seq
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(conn as u64 * 40_503);
                match self.mix.draw(roll >> 7) {
                    Draw::Browse => (self.read(seq * 2, i), Step::Read),
                    Draw::Product => (self.read(1, i), Step::Read),
                    Draw::Cart => shopper.cart_call(i, &self.sku(i)),
                    Draw::Checkout => shopper
                        .checkout_call(self.key(conn, seq))
                        .unwrap_or_else(|| shopper.cart_call(i, &self.sku(i))),
                    Draw::Pay => shopper
                        .pay_call(self.key(conn, seq))
                        .unwrap_or_else(|| (self.purchase(i, conn, seq), Step::Purchase(i))),
                }
            }
        }
    }

    /// A catalog read: the list, a product or a SKU, by `n % 3`.
    fn read(&self, n: u64, i: usize) -> Call {
        let path = match n % 3 {
            0 => "/v1/products?category=bench&limit=20".to_owned(),
            1 => format!("/v1/products/{}", self.product(i / BROWSE_VARIANTS)),
            _ => format!("/v1/skus/{}", self.sku(i)),
        };
        Call::get(path)
    }

    fn key(&self, conn: usize, seq: u64) -> String {
        format!("{}-{conn}-{seq}", self.run)
    }

    fn purchase(&self, sku: usize, conn: usize, seq: u64) -> Call {
        let key = self.key(conn, seq);
        let body = format!(r#"{{"customer_id":"c{key}","quantity":1}}"#);
        Call {
            method: Method::POST,
            path: format!("/v1/skus/{}/purchase", self.sku(sku)),
            key: Some(key),
            body: Some(Bytes::from(body)),
            ..Call::default()
        }
    }
}
