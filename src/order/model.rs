//! The order record, and the only ways an order comes to be or changes its
//! status: the constructors below and [`Order::apply`], which runs every
//! move through the state machine in [`status`](super::status).

use super::status::{IllegalTransition, Transition};
use crate::clock::Millis;
use crate::domain::{CartId, CustomerId, Email, Money, OrderId, ProductId, ShippingAddress, Sku};
use crate::payment::PaymentToken;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Fulfilled,
    Shipped,
    Delivered,
    Cancelled,
    Expired,
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub product_id: ProductId,
    pub quantity: u64,
    pub unit_price: Money,
    pub line_total: Money,
}

/// How an order was paid. Only the token and the gateway's references are
/// kept: never card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRef {
    pub gateway: String,
    pub authorization_id: String,
    pub token: PaymentToken,
    /// What was authorized (the order total).
    pub amount: Money,
    /// Whether the authorization was captured.
    pub captured: bool,
    /// Minor units paid back so far; never above `amount`.
    pub refunded: i64,
}

/// An order. Its status is private: it changes only through
/// [`Order::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    status: OrderStatus,
    pub customer_id: Option<CustomerId>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub created_at: Millis,
    /// When an unpaid order lapses and its stock returns.
    pub expires_at: Option<Millis>,
    /// Digest of the request that created the order: a retry with the same
    /// Idempotency-Key must carry the same request.
    pub request_digest: [u8; 32],
    /// Contact given at checkout (flash-sale orders have none).
    pub email: Option<Email>,
    /// The shipping address as the client sent it (a JSON object, as text).
    pub shipping_address: Option<ShippingAddress>,
    pub payment: Option<PaymentRef>,
    /// The cart a checkout order came from.
    pub cart_id: Option<CartId>,
    pub updated_at: Millis,
}

/// A checkout's order before it is paid: its lines priced from the cart.
pub struct CheckoutOrder {
    pub id: OrderId,
    pub cart_id: CartId,
    pub customer_id: Option<CustomerId>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub request_digest: [u8; 32],
    pub email: Email,
    pub shipping_address: Option<ShippingAddress>,
}

impl Order {
    /// A flash-sale order for one line, awaiting payment until `expires_at`.
    /// `None` if the line total overflows.
    pub(super) fn awaiting_payment(
        id: OrderId,
        customer: CustomerId,
        line: (Sku, ProductId, Money, u64),
        request_digest: [u8; 32],
        now: Millis,
        expires_at: Millis,
    ) -> Option<Self> {
        let (sku, product_id, unit_price, quantity) = line;
        let line_total = unit_price.times(quantity)?;
        Some(Self {
            id,
            status: OrderStatus::AwaitingPayment,
            customer_id: Some(customer),
            lines: vec![OrderLine {
                sku,
                product_id,
                quantity,
                unit_price,
                line_total,
            }],
            total: line_total,
            created_at: now,
            expires_at: Some(expires_at),
            request_digest,
            email: None,
            shipping_address: None,
            payment: None,
            cart_id: None,
            updated_at: now,
        })
    }

    /// The order a checkout makes: recorded as paid from the start, because
    /// its stock is sold only once its payment is authorized.
    pub fn checkout(order: CheckoutOrder, now: Millis) -> Self {
        Self {
            id: order.id,
            status: OrderStatus::Paid,
            customer_id: order.customer_id,
            lines: order.lines,
            total: order.total,
            created_at: now,
            expires_at: None,
            request_digest: order.request_digest,
            email: Some(order.email),
            shipping_address: order.shipping_address,
            payment: None,
            cart_id: Some(order.cart_id),
            updated_at: now,
        }
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// A checkout's order while its payment waits for the customer's action
    /// (3-D Secure), as its customer sees it: awaiting payment. Never
    /// stored: the checkout's record keeps the order until it is paid.
    pub fn awaiting_action(&self) -> Self {
        Self {
            status: OrderStatus::AwaitingPayment,
            ..self.clone()
        }
    }

    /// Moves the order through `transition` at `now`, or says why it may not.
    pub fn apply(
        &mut self,
        transition: Transition,
        now: Millis,
    ) -> Result<OrderStatus, IllegalTransition> {
        self.status = self.status.after(transition)?;
        self.updated_at = now;
        Ok(self.status)
    }

    /// Minor units refunded so far.
    pub fn refunded(&self) -> i64 {
        self.payment.as_ref().map_or(0, |p| p.refunded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    /// An order record as stored when its email, address and token were
    /// plain strings: the newtypes must encode exactly like this.
    #[derive(Serialize)]
    struct StringOrder {
        id: String,
        status: OrderStatus,
        customer_id: Option<String>,
        lines: Vec<OrderLine>,
        total: Money,
        created_at: Millis,
        expires_at: Option<Millis>,
        request_digest: [u8; 32],
        email: Option<String>,
        shipping_address: Option<String>,
        payment: Option<StringPaymentRef>,
        cart_id: Option<String>,
        updated_at: Millis,
    }

    #[derive(Serialize)]
    struct StringPaymentRef {
        gateway: String,
        authorization_id: String,
        token: String,
        amount: Money,
        captured: bool,
        refunded: i64,
    }

    fn paid_checkout_order() -> Order {
        let currency = Currency::parse("EUR").unwrap();
        let total = Money {
            amount: 1250,
            currency,
        };
        let address = serde_json::json!({"city": "Lyon"});
        let mut order = Order::checkout(
            CheckoutOrder {
                id: OrderId::parse("ord_1").unwrap(),
                cart_id: CartId::parse("cart_1").unwrap(),
                customer_id: None,
                lines: vec![OrderLine {
                    sku: Sku::parse("TEE").unwrap(),
                    product_id: ProductId::parse("prod_1").unwrap(),
                    quantity: 1,
                    unit_price: total,
                    line_total: total,
                }],
                total,
                request_digest: [3; 32],
                email: Email::parse("a@b.co").unwrap(),
                shipping_address: Some(ShippingAddress::parse(&address).unwrap()),
            },
            7,
        );
        order.payment = Some(PaymentRef {
            gateway: "simulated".into(),
            authorization_id: "auth_1".into(),
            token: PaymentToken::parse("tok_ok").unwrap(),
            amount: total,
            captured: true,
            refunded: 0,
        });
        order
    }

    #[test]
    fn an_order_is_stored_exactly_as_with_plain_strings() {
        let order = paid_checkout_order();
        let strings = StringOrder {
            id: "ord_1".into(),
            status: OrderStatus::Paid,
            customer_id: None,
            lines: order.lines.clone(),
            total: order.total,
            created_at: 7,
            expires_at: None,
            request_digest: [3; 32],
            email: Some("a@b.co".into()),
            shipping_address: Some(r#"{"city":"Lyon"}"#.into()),
            payment: Some(StringPaymentRef {
                gateway: "simulated".into(),
                authorization_id: "auth_1".into(),
                token: "tok_ok".into(),
                amount: order.total,
                captured: true,
                refunded: 0,
            }),
            cart_id: Some("cart_1".into()),
            updated_at: 7,
        };
        let stored = postcard::to_stdvec(&strings).unwrap();
        assert_eq!(postcard::to_stdvec(&order).unwrap(), stored);
        assert_eq!(postcard::from_bytes::<Order>(&stored).unwrap(), order);
    }
}
