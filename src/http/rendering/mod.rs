//! Catalog reads as clients get them: the JSON views (`views`), their ETags
//! and conditional requests (`etag`), and the renderings kept and answered
//! again while nothing they show has changed (`cache`).

pub mod cache;
pub mod etag;
pub mod views;

pub use cache::Reads;
