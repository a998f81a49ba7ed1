//! What runs around every handler: the one [`Front`] middleware, which
//! passes storefront requests through the front door (customer tokens,
//! rate limits per client address and per customer: `front_door`,
//! `buckets`, `client_ip`), admits storefront writes against an adaptive
//! limit (`admission`, `write_limit`), gives bare error responses a problem
//! body, and counts every request under its route pattern
//! (`route_metrics`); and outside it, when origins are configured, CORS for
//! the storefront (`cors`).

mod admission;
mod buckets;
mod client_ip;
mod cors;
mod front;
mod front_door;
mod route_metrics;
mod write_limit;

pub use admission::Admission;
pub use cors::storefront_cors;
pub use front::Front;
pub use front_door::FrontDoor;
