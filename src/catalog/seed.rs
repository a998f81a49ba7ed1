//! The seed catalog: a JSON file of product definitions loaded once, on the
//! first start of an empty store, in one atomic commit.

use super::input::ProductInput;
use super::service::Catalog;
use super::CatalogError;
use crate::store::{keys, Store, WriteGroup};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    pub products: Vec<ProductInput>,
}

/// What seeding did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    /// The store was seeded before; nothing was read.
    Already,
    /// No seed file is configured or it does not exist.
    NoFile,
    Loaded {
        products: usize,
        skus: usize,
    },
}

/// Loads `path` into an unseeded store. A seed file that does not parse is an
/// error: starting a shop with half a catalog would be worse than not starting.
pub async fn seed(catalog: &Catalog, store: &Store, path: &Path) -> anyhow::Result<Seeded> {
    if store.contains(keys::SEEDED)? {
        return Ok(Seeded::Already);
    }
    if path.as_os_str().is_empty() || !path.is_file() {
        return Ok(Seeded::NoFile);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading seed catalog {}: {e}", path.display()))?;
    let file: SeedFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("seed catalog {} is not valid: {e}", path.display()))?;
    let mut products = Vec::with_capacity(file.products.len());
    for (i, input) in file.products.into_iter().enumerate() {
        let parsed = input.parse().map_err(|errors| {
            anyhow::anyhow!("seed catalog {} product {i}: {errors:?}", path.display())
        })?;
        products.push(parsed);
    }
    let skus = products.iter().map(|p| p.variants.len()).sum();
    let count = products.len();
    // The marker commits with the products, so a crash cannot leave a
    // half-seeded store that would be seeded again.
    let mut marker = WriteGroup::new();
    marker.put(keys::SEEDED.to_vec(), &true)?;
    catalog
        .create_all(products, marker)
        .await
        .map_err(|e| match e {
            CatalogError::Store(e) => anyhow::Error::from(e),
            other => anyhow::anyhow!("seed catalog {}: {other}", path.display()),
        })?;
    Ok(Seeded::Loaded {
        products: count,
        skus,
    })
}
