//! Storefront routes, one file per resource: catalog reads, the flash-sale
//! purchase, a drop's waiting room and its ticket stream, carts and
//! checkout, orders, and the live stock stream. Catalog reads are public,
//! and an unguessable id (a cart's, an order's, a ticket's) is the
//! capability to use what it names; with customer tokens on
//! (`http::customer`), writes act for the token's customer and carts and
//! orders are their own customer's only.

pub mod carts;
pub mod catalog;
pub mod orders;
pub mod purchase;
pub mod queue;
pub mod stream;
pub mod ticket_stream;
