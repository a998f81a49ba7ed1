//! The catalog: products and their variants (SKUs) with prices. Read-mostly,
//! so reads are served from an immutable in-memory [`Snapshot`] that a single
//! writer replaces after each durable change; readers never wait on writers.
//! Bulk changes ([`import`], through `batch`) put many products in one
//! change; [`export`] writes them out in the shape the import reads.

mod batch;
mod error;
pub mod export;
pub mod import;
mod input;
mod model;
mod seed;
mod service;
mod snapshot;

pub use batch::Put;
pub use error::CatalogError;
pub use input::{PriceInput, ProductInput, VariantInput, DEFAULT_CATEGORY, INITIAL_STOCK_MAX};
pub use model::{NewProduct, NewVariant, Product, Variant, ATTRIBUTES_MAX, VARIANTS_MAX};
pub use seed::{seed, SeedFile, Seeded};
pub use service::{live, Catalog};
pub use snapshot::{Entry, Page, SkuStatus, Snapshot};
