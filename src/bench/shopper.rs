//! The `mixed` scenario's shopper: one per connection, with the state a real
//! storefront session has (a cart, an order awaiting payment), so that
//! checkouts and payments act on what the same connection added or bought.
//! Each request is drawn from the mix; a step that needs state it lacks
//! (checkout without a cart, pay without an order) does what creates it.

use super::client::Call;
use bytes::Bytes;
use hyper::Method;

/// Weights of the storefront mix (`--mix browse=60,product=20,cart=12,checkout=6,pay=2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Mix {
    pub browse: u32,
    pub product: u32,
    pub cart: u32,
    pub checkout: u32,
    pub pay: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            browse: 60,
            product: 20,
            cart: 12,
            checkout: 6,
            pay: 2,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// `name=weight` pairs, comma-separated; names not given weigh 0.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut mix = Mix {
            browse: 0,
            product: 0,
            cart: 0,
            checkout: 0,
            pay: 0,
        };
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not name=weight"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("'{weight}' is not a whole number"))?;
            let slot = match name.trim() {
                "browse" => &mut mix.browse,
                "product" => &mut mix.product,
                "cart" => &mut mix.cart,
                "checkout" => &mut mix.checkout,
                "pay" => &mut mix.pay,
                other => {
                    return Err(format!(
                        "unknown step '{other}' (browse, product, cart, checkout, pay)"
                    ))
                }
            };
            *slot = weight;
        }
        if mix.total() == 0 {
            return Err("the mix needs a positive weight".into());
        }
        Ok(mix)
    }
}

impl Mix {
    fn total(&self) -> u32 {
        self.browse + self.product + self.cart + self.checkout + self.pay
    }
}

/// What one request of a connection is doing, so its answer can update the
/// shopper and count acknowledged units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Read,
    /// A flash-sale purchase of the SKU with this index.
    Purchase(usize),
    CreateCart,
    AddLine(usize),
    Checkout,
    Pay,
}

impl Step {
    /// The step's name in the report's per-step latencies.
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Purchase(_) => "purchase",
            Self::CreateCart => "create cart",
            Self::AddLine(_) => "add line",
            Self::Checkout => "checkout",
            Self::Pay => "pay",
        }
    }
}

/// One connection's session.
#[derive(Debug, Default)]
pub struct Shopper {
    cart: Option<String>,
    lines: u32,
    awaiting: Option<String>,
    /// Whether this session pays its flash-sale orders (the mix has pay
    /// steps); otherwise their answers are not even parsed, which keeps the
    /// client's cost per purchase down.
    pays: bool,
}

/// The one field the shopper reads from an answer, borrowed, without
/// building a JSON tree.
#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    id: Option<&'a str>,
    #[serde(borrow, default)]
    order_id: Option<&'a str>,
}

/// What the mix drew for one request.
pub enum Draw {
    Browse,
    Product,
    Cart,
    Checkout,
    Pay,
}

impl Mix {
    /// The step for a uniformly spread `roll`.
    pub fn draw(&self, roll: u64) -> Draw {
        let mut at = (roll % u64::from(self.total().max(1))) as u32;
        for (weight, draw) in [
            (self.browse, Draw::Browse),
            (self.product, Draw::Product),
            (self.cart, Draw::Cart),
            (self.checkout, Draw::Checkout),
        ] {
            if at < weight {
                return draw;
            }
            at -= weight;
        }
        Draw::Pay
    }
}

impl Shopper {
    pub fn new(pays: bool) -> Self {
        Self {
            pays,
            ..Self::default()
        }
    }

    /// The call for a cart step: a cart first, then lines of `sku`.
    pub fn cart_call(&self, sku: usize, sku_name: &str) -> (Call, Step) {
        match &self.cart {
            None => (
                post("/v1/carts".into(), None, "{}".into()),
                Step::CreateCart,
            ),
            Some(cart) => {
                let body = format!(r#"{{"sku":"{sku_name}","quantity":1}}"#);
                (
                    post(format!("/v1/carts/{cart}/lines"), None, body),
                    Step::AddLine(sku),
                )
            }
        }
    }

    /// Checks out a cart with lines; otherwise a cart step.
    pub fn checkout_call(&self, key: String) -> Option<(Call, Step)> {
        let cart = self.cart.as_ref().filter(|_| self.lines > 0)?;
        let body = r#"{"email":"bench@example.com","payment_token":"tok_ok"}"#.to_owned();
        Some((
            post(format!("/v1/carts/{cart}/checkout"), Some(key), body),
            Step::Checkout,
        ))
    }

    /// Pays the order awaiting payment, if there is one.
    pub fn pay_call(&self, key: String) -> Option<(Call, Step)> {
        let order = self.awaiting.as_ref()?;
        let body = r#"{"payment_token":"tok_ok"}"#.to_owned();
        Some((
            post(format!("/v1/orders/{order}/pay"), Some(key), body),
            Step::Pay,
        ))
    }

    /// Learns from an answer; the SKU index whose unit the server
    /// acknowledged holding or selling, if any.
    pub fn observe(&mut self, step: Step, status: u16, body: &[u8]) -> Option<usize> {
        let answer = || serde_json::from_slice::<Answer>(body).ok();
        match (step, status) {
            (Step::Purchase(i), 201) => {
                if self.pays {
                    self.awaiting = answer().and_then(|a| a.order_id.map(str::to_owned));
                }
                Some(i)
            }
            (Step::CreateCart, 201) => {
                self.cart = answer().and_then(|a| a.id.map(str::to_owned));
                self.lines = 0;
                None
            }
            (Step::AddLine(i), 200) => {
                self.lines += 1;
                Some(i)
            }
            // Refused (full, sold out, expired, gone): start another cart.
            (Step::AddLine(_), _) => {
                self.cart = None;
                self.lines = 0;
                None
            }
            // Done, or refused (e.g. a line sold out): start a new cart.
            (Step::Checkout, _) => {
                self.cart = None;
                self.lines = 0;
                None
            }
            (Step::Pay, _) => {
                self.awaiting = None;
                None
            }
            _ => None,
        }
    }
}

fn post(path: String, key: Option<String>, body: String) -> Call {
    Call {
        method: Method::POST,
        path,
        key,
        body: Some(Bytes::from(body)),
        ..Call::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_parses_and_draws_in_proportion() {
        let mix: Mix = "browse=60,product=20,cart=12,checkout=6,pay=2"
            .parse()
            .unwrap();
        assert_eq!(mix, Mix::default());
        let mut counts = [0u32; 5];
        for roll in 0..100 {
            let slot = match mix.draw(roll) {
                Draw::Browse => 0,
                Draw::Product => 1,
                Draw::Cart => 2,
                Draw::Checkout => 3,
                Draw::Pay => 4,
            };
            counts[slot] += 1;
        }
        assert_eq!(counts, [60, 20, 12, 6, 2]);
        assert!("browse=x".parse::<Mix>().is_err());
        assert!("shop=1".parse::<Mix>().is_err());
        assert!("browse=0".parse::<Mix>().is_err());
        let only: Mix = "checkout=1".parse().unwrap();
        assert!(matches!(only.draw(7), Draw::Checkout));
    }

    #[test]
    fn a_shopper_follows_its_cart_and_order() {
        let mut s = Shopper::new(true);
        assert!(s.checkout_call("k".into()).is_none());
        assert_eq!(s.cart_call(3, "S-3").1, Step::CreateCart);
        s.observe(Step::CreateCart, 201, br#"{"id":"cart_1"}"#);
        let (call, step) = s.cart_call(3, "S-3");
        assert_eq!(
            (call.path.as_str(), step),
            ("/v1/carts/cart_1/lines", Step::AddLine(3))
        );
        assert_eq!(s.observe(Step::AddLine(3), 200, b"{}"), Some(3));
        assert!(s.checkout_call("k".into()).is_some());
        s.observe(Step::Checkout, 201, b"{}");
        assert!(s.checkout_call("k".into()).is_none());
        assert!(s.pay_call("k".into()).is_none());
        assert_eq!(
            s.observe(Step::Purchase(1), 201, br#"{"order_id":"ord_9"}"#),
            Some(1)
        );
        assert_eq!(
            s.pay_call("k".into()).unwrap().0.path,
            "/v1/orders/ord_9/pay"
        );
        assert_eq!(s.observe(Step::AddLine(2), 409, b"{}"), None);
    }
}
