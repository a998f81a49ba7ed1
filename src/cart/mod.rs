//! Carts. One actor per cart ([`actor`]) owns its lines; each line holds
//! stock on its SKU for `cart.reservation_ttl_secs`, made durable together
//! with the cart. [`Carts`] reaches the actors, activating them from the
//! store on demand. Checkout runs inside the cart's actor ([`checkout`], driving the
//! `checkout` saga),
//! so nothing else can change the cart while it is being paid for.

mod actor;
mod checkout;
mod error;
mod model;
mod registry;

pub use actor::LineChange;
pub use checkout::{CheckoutDetails, StoredCarts};
pub use error::CartError;
pub use model::{Cart, CartLine, CartState};
pub use registry::{CartParts, Carts};
